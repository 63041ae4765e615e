//! The native half of the `imflow` Python package (`imflow._imflow`); the Python half
//! is `python/imflow/`. Thin over the library: numpy arrays become imflow images, ops
//! are the CLI's spec strings, and every computation runs with the GIL released.

mod accept;
mod arrays;
mod errors;
mod files;
mod flows;
mod params;

use accept::{accept, empty_result, follows_source, Accepted, Role};
use arrays::{to_array, with_frames};
use errors::{to_py, value_error};
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
        other => Err(value_error(
            "backend",
            format!("expected 'auto', 'gpu' or 'cpu', got {other:?}"),
        )),
    }
}

pub(crate) fn parse_dtype(dtype: Option<&str>) -> PyResult<OutputType> {
    match dtype {
        None | Some("same") => Ok(OutputType::Same),
        Some(d) => SampleType::ALL
            .into_iter()
            .find(|t| errors::dtype_name(*t) == d || t.name() == d)
            .map(OutputType::Exactly)
            .ok_or_else(|| {
                value_error(
                    "dtype",
                    format!(
                        "expected 'same', 'uint8', 'uint16', 'uint32', 'int8', 'int16', \
                         'int32', 'float32' or 'float64', got {d:?}"
                    ),
                )
            }),
    }
}

/// An `int_mode` argument: None, 'round' or 'scipy', as the op spec's `int=` suffix.
fn parse_int_mode(int_mode: Option<&str>) -> PyResult<String> {
    match int_mode {
        None => Ok(String::new()),
        Some(m @ ("round" | "scipy")) => Ok(format!(",int={m}")),
        Some(other) => Err(value_error(
            "int_mode",
            format!("expected 'round' or 'scipy', got {other:?}"),
        )),
    }
}

fn parse_ops(ops: &Bound<'_, PyAny>) -> PyResult<Vec<Op>> {
    let specs: Vec<String> = match ops.extract::<String>() {
        Ok(one) => vec![one],
        Err(_) => ops.extract().map_err(|_| {
            errors::type_error("ops: expected an op spec string or a list of them".into())
        })?,
    };
    specs.iter().map(|s| Op::parse(s).map_err(to_py)).collect()
}

/// Runs `ops` on an accepted array's frames with the GIL released; the result (in the
/// caller's dtype where its type follows the source's) and the threshold each threshold
/// op used, per frame. A zero-sized array gives a zero-sized result and no thresholds.
fn run<'py>(
    input: &Accepted<'py>,
    ops: Vec<Op>,
    dtype: OutputType,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<(Bound<'py, PyAny>, Vec<Vec<f64>>)> {
    let py = input.array.py();
    if input.is_empty() {
        parse_backend(backend)?;
        arrays::dims(input, "array", stack)?;
        return Ok((empty_result(input, &ops, dtype)?, Vec::new()));
    }
    let p = processor(backend)?;
    let (done, layout) = with_frames(input, "array", stack, |frames, layout| {
        let done = py.detach(|| p.run_views(frames, &ops, dtype));
        Ok((done.map_err(|e| in_context(py, to_py(e), input))?, layout))
    })?;
    let (images, thresholds) = done.into_iter().map(|d| (d.image, d.thresholds)).unzip();
    let out = to_array(py, images, &layout)?;
    Ok((input.restore(out, follows_source(&ops, dtype))?, thresholds))
}

/// `e` saying which type a narrowed array was read as (its message names that type).
fn in_context(py: Python<'_>, e: PyErr, input: &Accepted<'_>) -> PyErr {
    match input.read_as() {
        Some(note) => {
            let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
            PyErr::from_type(e.get_type(py), format!("{message} {note}"))
        }
        None => e,
    }
}

/// Applies ops in order (CLI specs, e.g. ["gaussian:sigma=2", "threshold:method=otsu"])
/// to an array, as one upload and one download per frame. Result dtype: `dtype`, or
/// with None the input's (bool: uint8), except a mask (uint8) or labels (uint32).
#[pyfunction]
#[pyo3(signature = (array, ops, *, dtype=None, backend="auto", stack=None))]
fn apply<'py>(
    array: &Bound<'py, PyAny>,
    ops: &Bound<'py, PyAny>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    Ok(run(&input, parse_ops(ops)?, parse_dtype(dtype)?, backend, stack)?.0)
}

/// `scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate)` per channel;
/// float32 out for every input dtype by default; `dtype='same'` (or `int_mode='scipy'`)
/// gives the input's dtype (bool: uint8). `sigma` is one number or one per axis in the
/// array's order, (y, x) as scipy's; 0 on every axis is the identity (a copy in `dtype`).
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
    let input = accept(array, "array", Role::Values)?;
    let [sy, sx] = params::per_axis("sigma", sigma, &["y", "x"])?[..] else {
        unreachable!("per_axis gives one value per axis")
    };
    let int = parse_int_mode(int_mode)?;
    // scipy skips an axis whose sigma is 0; with every axis skipped nothing is left to
    // run but the conversion to `dtype`.
    let ops = if sx == 0.0 && sy == 0.0 {
        Vec::new()
    } else {
        let spec = format!("gaussian:sigma_x={sx},sigma_y={sy},truncate={truncate}{int}");
        vec![Op::parse(&spec).map_err(to_py)?]
    };
    let dtype = match int_mode {
        Some("scipy") if dtype == Some("float32") => OutputType::Same,
        _ => parse_dtype(dtype)?,
    };
    Ok(run(&input, ops, dtype, backend, stack)?.0)
}

/// `scipy.ndimage.uniform_filter(x, size, mode='reflect')` per channel, one `size` for
/// both axes (y and x). float32 out for every input dtype by default; `dtype='same'`
/// (or `int_mode='scipy'`) gives the input's dtype (bool: uint8).
#[pyfunction(name = "box")]
#[pyo3(signature = (array, size, *, int_mode=None, dtype="float32", backend="auto", stack=None))]
fn box_filter<'py>(
    array: &Bound<'py, PyAny>,
    size: &Bound<'py, PyAny>,
    int_mode: Option<&str>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let size: u32 = params::int("size", size, "an integer >= 1")?;
    let int = parse_int_mode(int_mode)?;
    let op = Op::parse(&format!("box:size={size}{int}")).map_err(to_py)?;
    let dtype = match int_mode {
        Some("scipy") if dtype == Some("float32") => OutputType::Same,
        _ => parse_dtype(dtype)?,
    };
    Ok(run(&input, vec![op], dtype, backend, stack)?.0)
}

/// `x > value` as a uint8 mask of 0/255, for every input dtype; `value='otsu'` uses
/// `skimage.filters.threshold_otsu(x)` per frame.
#[pyfunction]
#[pyo3(signature = (array, value, *, backend="auto", stack=None))]
fn threshold<'py>(
    array: &Bound<'py, PyAny>,
    value: &Bound<'py, PyAny>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let spec = match (value.extract::<f64>(), value.extract::<String>()) {
        (Ok(v), _) => format!("threshold:value={v}"),
        (_, Ok(s)) if s == "otsu" => "threshold:method=otsu".to_string(),
        _ => {
            let got = value.repr().map(|r| r.to_string()).unwrap_or_default();
            return Err(value_error(
                "value",
                format!("expected a number or 'otsu', got {got}"),
            ));
        }
    };
    let op = Op::parse(&spec).map_err(to_py)?;
    Ok(run(&input, vec![op], OutputType::Same, backend, stack)?.0)
}

/// `skimage.filters.threshold_otsu(x)` of a single image (all channels together).
#[pyfunction]
#[pyo3(signature = (array, *, backend="auto"))]
fn threshold_otsu(array: &Bound<'_, PyAny>, backend: &str) -> PyResult<f64> {
    let input = accept(array, "array", Role::Values)?;
    if input.is_empty() {
        return Err(value_error(
            "array",
            format!(
                "shape {} holds no pixels; Otsu's threshold needs at least one",
                errors::shape(&input.shape)
            ),
        ));
    }
    let op = Op::parse("threshold:method=otsu").map_err(to_py)?;
    let (_, thresholds) = run(&input, vec![op], OutputType::Same, backend, Some(false))?;
    thresholds
        .first()
        .and_then(|t| t.first())
        .copied()
        .ok_or_else(|| errors::error("no threshold came back"))
}

/// Connected components of a mask (nonzero is foreground), numbered as
/// `scipy.ndimage.label` (connectivity 1) or `skimage.measure.label` (2): uint32 for
/// every input dtype.
#[pyfunction]
#[pyo3(signature = (array, *, connectivity=None, backend="auto", stack=None))]
fn label<'py>(
    array: &Bound<'py, PyAny>,
    connectivity: Option<&Bound<'py, PyAny>>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let c: u8 = params::opt_int("connectivity", connectivity, "1 or 2")?.unwrap_or(1);
    let op = Op::parse(&format!("label:connectivity={c}")).map_err(to_py)?;
    Ok(run(&input, vec![op], OutputType::Same, backend, stack)?.0)
}

/// `skimage.morphology.remove_small_objects`: give `min_size` (objects smaller than it
/// go) or `max_size` (objects of at most that many pixels go). Labels come back in
/// their own dtype (int64 from scikit-image stays int64), masks as uint8 0/255.
#[pyfunction]
#[pyo3(signature = (array, *, min_size=None, max_size=None, connectivity=None, backend="auto", stack=None))]
fn remove_small_objects<'py>(
    array: &Bound<'py, PyAny>,
    min_size: Option<&Bound<'py, PyAny>>,
    max_size: Option<&Bound<'py, PyAny>>,
    connectivity: Option<&Bound<'py, PyAny>>,
    backend: &str,
    stack: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Labels)?;
    let min_size: Option<u64> = params::opt_int("min_size", min_size, "an integer >= 0")?;
    let max_size: Option<u64> = params::opt_int("max_size", max_size, "an integer >= 0")?;
    let c: u8 = params::opt_int("connectivity", connectivity, "1 or 2")?.unwrap_or(1);
    let size = match (min_size, max_size) {
        (Some(n), None) => format!("min_size={n}"),
        (None, Some(n)) => format!("max_size={n}"),
        _ => {
            return Err(value_error(
                "min_size",
                "give exactly one of min_size and max_size",
            ))
        }
    };
    let spec = format!("remove_small_objects:{size},connectivity={c}");
    let op = Op::parse(&spec).map_err(to_py)?;
    Ok(run(&input, vec![op], OutputType::Same, backend, stack)?.0)
}

/// `skimage.measure.regionprops_table(labels, intensity, properties=[...])` for one
/// image: the same dict of numpy arrays (keys, their order and dtypes: int64 label and
/// bbox, float64 otherwise).
#[pyfunction]
fn measure<'py>(
    labels: &Bound<'py, PyAny>,
    intensity: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let py = labels.py();
    let l = accept(labels, "labels", Role::Labels)?;
    let i = accept(intensity, "intensity", Role::Values)?;
    if l.shape.len() != 2 || !(2..=3).contains(&i.shape.len()) || i.shape[..2] != l.shape[..] {
        return Err(value_error(
            "intensity",
            format!(
                "expected labels (H, W) and intensity (H, W) or (H, W, C) over the same \
                 (H, W), got labels {} and intensity {}",
                errors::shape(&l.shape),
                errors::shape(&i.shape)
            ),
        ));
    }
    let channels = i.shape.get(2).copied().unwrap_or(1);
    let table = if l.is_empty() || i.is_empty() {
        imflow::measure::FrameTable {
            channels,
            ndim: 2,
            physical: false,
            rows: Vec::new(),
        }
    } else {
        // Both arrays borrowed for the call.
        with_frames(&l, "labels", Some(false), |l, _| {
            with_frames(&i, "intensity", Some(false), |i, _| {
                py.detach(|| imflow::measure::measure(l[0], i[0]))
                    .map_err(to_py)
            })
        })?
    };
    let dict = pyo3::types::PyDict::new(py);
    for c in table.regionprops_columns() {
        let values = table.rows.iter().map(|r| r[c.index]);
        let column = match c.integer {
            true => numpy::PyArray1::from_iter(py, values.map(|v| v as i64)).into_any(),
            false => numpy::PyArray1::from_iter(py, values).into_any(),
        };
        dict.set_item(c.name, column)?;
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
