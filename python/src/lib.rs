//! The native half of the `imflow` Python package (`imflow._imflow`); the Python half
//! is `python/imflow/`. Thin over the library: numpy arrays become imflow images, ops
//! are the CLI's spec strings, and every computation runs with the GIL released.

mod arrays;
mod errors;
mod files;
mod flows;

use arrays::{to_array, with_frames};
use errors::to_py;
use imflow::{Backend, Op, OutputType, Processor, SampleType};
use pyo3::prelude::*;
use pyo3::types::PyAny;
use std::sync::{Arc, Mutex, OnceLock};

/// One processor per backend for the process: the GPU device is made once and shared
/// (device creation costs far more than any kernel), and processors are thread-safe.
fn processor(backend: &str) -> PyResult<Arc<Processor>> {
    type Processors = Mutex<Vec<(String, Arc<Processor>)>>;
    static CACHE: OnceLock<Processors> = OnceLock::new();
    let b = parse_backend(backend)?;
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = cache.iter().find(|(k, _)| k == backend) {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(Processor::new(b).map_err(to_py)?);
    cache.push((backend.to_string(), Arc::clone(&p)));
    Ok(p)
}

pub(crate) fn parse_backend(backend: &str) -> PyResult<Backend> {
    match backend {
        "auto" => Ok(Backend::Auto),
        "gpu" => Ok(Backend::Gpu),
        "cpu" => Ok(Backend::Cpu),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "backend: expected 'auto', 'gpu' or 'cpu', got {other:?}"
        ))),
    }
}

pub(crate) fn parse_dtype(dtype: Option<&str>) -> PyResult<OutputType> {
    match dtype {
        None | Some("same") => Ok(OutputType::Same),
        Some(d) => {
            let name = match d {
                "uint8" => "u8",
                "uint16" => "u16",
                "uint32" => "u32",
                "int8" => "i8",
                "int16" => "i16",
                "int32" => "i32",
                "float32" => "f32",
                "float64" => "f64",
                other => other,
            };
            name.parse::<SampleType>()
                .map(OutputType::Exactly)
                .map_err(pyo3::exceptions::PyValueError::new_err)
        }
    }
}

fn parse_ops(ops: &Bound<'_, PyAny>) -> PyResult<Vec<Op>> {
    let specs: Vec<String> = match ops.extract::<String>() {
        Ok(one) => vec![one],
        Err(_) => ops.extract()?,
    };
    specs.iter().map(|s| Op::parse(s).map_err(to_py)).collect()
}

/// Runs `ops` on the array's frames with the GIL released; the result and the
/// threshold each threshold op used, per frame.
fn run<'py>(
    array: &Bound<'py, PyAny>,
    ops: Vec<Op>,
    dtype: OutputType,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<(Bound<'py, PyAny>, Vec<Vec<f64>>)> {
    let py = array.py();
    let p = processor(backend)?;
    let (done, layout) = with_frames(array, stack, |frames, layout| {
        let done = py
            .detach(|| p.run_views(frames, &ops, dtype))
            .map_err(to_py)?;
        Ok((done, layout))
    })?;
    let (images, thresholds) = done.into_iter().map(|d| (d.image, d.thresholds)).unzip();
    Ok((to_array(py, images, &layout)?, thresholds))
}

/// Applies ops in order (CLI specs, e.g. ["gaussian:sigma=2", "threshold:method=otsu"])
/// to an array, as one upload and one download per frame.
#[pyfunction]
#[pyo3(signature = (array, ops, *, dtype=None, backend="auto", stack=None))]
fn apply<'py>(
    array: &Bound<'py, PyAny>,
    ops: &Bound<'py, PyAny>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(run(array, parse_ops(ops)?, parse_dtype(dtype)?, backend, stack)?.0)
}

/// `scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate)` per channel;
/// float32 out by default (`dtype='same'` rounds back to the input's type).
#[pyfunction]
#[pyo3(signature = (array, sigma, *, truncate=4.0, int_mode=None, dtype="float32", backend="auto", stack=None))]
#[allow(clippy::too_many_arguments)]
fn gaussian<'py>(
    array: &Bound<'py, PyAny>,
    sigma: &Bound<'py, PyAny>,
    truncate: f64,
    int_mode: Option<&str>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let sigma = match sigma.extract::<f64>() {
        Ok(s) => format!("sigma={s}"),
        Err(_) => {
            let (sy, sx): (f64, f64) = sigma.extract()?;
            format!("sigma_x={sx},sigma_y={sy}")
        }
    };
    let int = int_mode.map(|m| format!(",int={m}")).unwrap_or_default();
    let op = Op::parse(&format!("gaussian:{sigma},truncate={truncate}{int}")).map_err(to_py)?;
    let dtype = match int_mode {
        Some("scipy") if dtype == Some("float32") => OutputType::Same,
        _ => parse_dtype(dtype)?,
    };
    Ok(run(array, vec![op], dtype, backend, stack)?.0)
}

/// `scipy.ndimage.uniform_filter(x, size, mode='reflect')` per channel.
#[pyfunction(name = "box")]
#[pyo3(signature = (array, size, *, int_mode=None, dtype="float32", backend="auto", stack=None))]
fn box_filter<'py>(
    array: &Bound<'py, PyAny>,
    size: u32,
    int_mode: Option<&str>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let int = int_mode.map(|m| format!(",int={m}")).unwrap_or_default();
    let op = Op::parse(&format!("box:size={size}{int}")).map_err(to_py)?;
    let dtype = match int_mode {
        Some("scipy") if dtype == Some("float32") => OutputType::Same,
        _ => parse_dtype(dtype)?,
    };
    Ok(run(array, vec![op], dtype, backend, stack)?.0)
}

/// `x > value` as a uint8 mask of 0/255; `value='otsu'` uses
/// `skimage.filters.threshold_otsu(x)`.
#[pyfunction]
#[pyo3(signature = (array, value, *, backend="auto", stack=None))]
fn threshold<'py>(
    array: &Bound<'py, PyAny>,
    value: &Bound<'py, PyAny>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = match value.extract::<f64>() {
        Ok(v) => format!("threshold:value={v}"),
        Err(_) => match value.extract::<String>()?.as_str() {
            "otsu" => "threshold:method=otsu".to_string(),
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "value: expected a number or 'otsu', got {other:?}"
                )))
            }
        },
    };
    let op = Op::parse(&spec).map_err(to_py)?;
    Ok(run(array, vec![op], OutputType::Same, backend, stack)?.0)
}

/// `skimage.filters.threshold_otsu(x)` of a single image (all channels together).
#[pyfunction]
#[pyo3(signature = (array, *, backend="auto"))]
fn threshold_otsu(array: &Bound<'_, PyAny>, backend: &str) -> PyResult<f64> {
    let op = Op::parse("threshold:method=otsu").map_err(to_py)?;
    let (_, thresholds) = run(array, vec![op], OutputType::Same, backend, Some(false))?;
    thresholds
        .first()
        .and_then(|t| t.first())
        .copied()
        .ok_or_else(|| errors::error("no threshold came back"))
}

/// Connected components of a mask (nonzero is foreground), numbered as
/// `scipy.ndimage.label` (connectivity 1) or `skimage.measure.label` (2): uint32.
#[pyfunction]
#[pyo3(signature = (array, *, connectivity=1, backend="auto", stack=None))]
fn label<'py>(
    array: &Bound<'py, PyAny>,
    connectivity: u8,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let op = Op::parse(&format!("label:connectivity={connectivity}")).map_err(to_py)?;
    Ok(run(array, vec![op], OutputType::Same, backend, stack)?.0)
}

/// `skimage.morphology.remove_small_objects`: give `min_size` (objects smaller than it
/// go) or `max_size` (objects of at most that many pixels go).
#[pyfunction]
#[pyo3(signature = (array, *, min_size=None, max_size=None, connectivity=1, backend="auto", stack=None))]
fn remove_small_objects<'py>(
    array: &Bound<'py, PyAny>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    connectivity: u8,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let size = match (min_size, max_size) {
        (Some(n), None) => format!("min_size={n}"),
        (None, Some(n)) => format!("max_size={n}"),
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "give exactly one of min_size and max_size",
            ))
        }
    };
    let spec = format!("remove_small_objects:{size},connectivity={connectivity}");
    let op = Op::parse(&spec).map_err(to_py)?;
    Ok(run(array, vec![op], OutputType::Same, backend, stack)?.0)
}

/// `skimage.measure.regionprops_table(labels, intensity, properties=[...])` for one
/// image: a dict of column name to float64 array.
#[pyfunction]
fn measure<'py>(
    labels: &Bound<'py, PyAny>,
    intensity: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let py = labels.py();
    // Both arrays borrowed for the call where their layout allows.
    let table = with_frames(labels, Some(false), |l, _| {
        with_frames(intensity, Some(false), |i, _| {
            py.detach(|| imflow::measure::measure(l[0], i[0]))
                .map_err(to_py)
        })
    })?;
    let dict = pyo3::types::PyDict::new(py);
    for (k, name) in imflow::measure::columns(table.channels).iter().enumerate() {
        let col: Vec<f64> = table.rows.iter().map(|r| r[k]).collect();
        dict.set_item(name, numpy::PyArray1::from_vec(py, col))?;
    }
    Ok(dict)
}

/// The device a backend runs on: 'cpu' or the adapter's name (a notice says why 'auto'
/// fell back to the CPU).
#[pyfunction]
#[pyo3(signature = (backend="auto"))]
fn device(backend: &str) -> PyResult<(String, Option<String>)> {
    let p = processor(backend)?;
    Ok((p.device_name(), p.notice().map(str::to_string)))
}

#[pymodule]
fn _imflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    for f in [
        wrap_pyfunction!(apply, m)?,
        wrap_pyfunction!(gaussian, m)?,
        wrap_pyfunction!(box_filter, m)?,
        wrap_pyfunction!(threshold, m)?,
        wrap_pyfunction!(threshold_otsu, m)?,
        wrap_pyfunction!(label, m)?,
        wrap_pyfunction!(remove_small_objects, m)?,
        wrap_pyfunction!(measure, m)?,
        wrap_pyfunction!(device, m)?,
    ] {
        m.add_function(f)?;
    }
    flows::register(m)?;
    files::register(m)?;
    Ok(())
}
