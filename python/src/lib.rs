//! The native half of the `imflow` Python package (`imflow._imflow`); the Python half
//! is `python/imflow/`. Thin over the library: numpy arrays become imflow images, ops
//! are the CLI's spec strings, and every computation runs with the GIL released.

mod accept;
mod arrays;
mod edges;
mod errors;
mod files;
mod filters;
mod flows;
mod params;
mod rank;
mod segment;

use accept::{accept, empty_result, follows_source, Accepted, Role};
use arrays::{to_array, with_frames, Axes};
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

fn parse_ops(ops: &Bound<'_, PyAny>) -> PyResult<Vec<Op>> {
    let specs: Vec<String> = match ops.extract::<String>() {
        Ok(one) => vec![one],
        Err(_) => ops.extract().map_err(|_| {
            errors::type_error("ops: expected an op spec string or a list of them".into())
        })?,
    };
    specs.iter().map(|s| Op::parse(s).map_err(to_py)).collect()
}

/// A `connectivity` argument (1 by default): up to the image's dimensions, as
/// skimage's `label` takes it (3, corners too, needs a volume).
fn connectivity_of(value: Option<&Bound<'_, PyAny>>, volume: bool) -> PyResult<u8> {
    let c: u8 = params::opt_int("connectivity", value, "1, 2 or 3")?.unwrap_or(1);
    if c == 3 && !volume {
        return Err(value_error(
            "connectivity",
            "expected 1 or 2 for a 2-D image, got 3 (3, corners too, needs volume=True)",
        ));
    }
    Ok(c)
}

/// Per-axis sigmas in numpy's order `(z, y, x)`: a number for every axis, or one per
/// axis of the array, (y, x), or (z, y, x) with `volume=True`. A 2-D image has no z.
fn sigmas(name: &str, value: &Bound<'_, PyAny>, volume: bool) -> PyResult<[f64; 3]> {
    Ok(if volume {
        let v = params::per_axis(name, value, &["z", "y", "x"])?;
        [v[0], v[1], v[2]]
    } else {
        let v = params::per_axis(name, value, &["y", "x"])?;
        [0.0, v[0], v[1]]
    })
}

/// Per-axis box sizes in numpy's order `(z, y, x)`, as [`sigmas`]: each an integer >= 1.
fn sizes(value: &Bound<'_, PyAny>, volume: bool) -> PyResult<[u32; 3]> {
    let axes: &[&str] = if volume {
        &["z", "y", "x"]
    } else {
        &["y", "x"]
    };
    let got = || value.repr().map(|r| r.to_string()).unwrap_or_default();
    let each: Vec<u32> = match value.extract::<Vec<Bound<'_, PyAny>>>() {
        Ok(seq) if seq.len() == axes.len() => seq
            .iter()
            .map(|v| params::int("size", v, "an integer >= 1 on every axis"))
            .collect::<PyResult<_>>()?,
        Ok(_) => {
            return Err(value_error(
                "size",
                format!(
                    "expected an integer or {} of them, one per axis ({}), got {}",
                    axes.len(),
                    axes.join(", "),
                    got()
                ),
            ))
        }
        Err(_) => vec![params::int("size", value, "an integer >= 1")?; axes.len()],
    };
    Ok(if volume {
        [each[0], each[1], each[2]]
    } else {
        [1, each[0], each[1]]
    })
}

/// Runs `ops` on an accepted array's frames with the GIL released; the result (in the
/// caller's dtype where its type follows the source's) and the threshold each threshold
/// op used, per frame. A zero-sized array gives a zero-sized result and no thresholds.
fn run<'py>(
    input: &Accepted<'py>,
    ops: Vec<Op>,
    dtype: OutputType,
    backend: &str,
    axes: Axes,
) -> PyResult<(Bound<'py, PyAny>, Vec<Vec<f64>>)> {
    let py = input.array.py();
    if input.is_empty() {
        parse_backend(backend)?;
        arrays::dims(input, "array", axes)?;
        return Ok((empty_result(input, &ops, dtype)?, Vec::new()));
    }
    let p = processor(backend)?;
    let (done, layout) = with_frames(input, "array", axes, |frames, layout| {
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
#[pyo3(signature = (array, ops, *, dtype=None, backend="auto", stack=None, volume=false))]
fn apply<'py>(
    array: &Bound<'py, PyAny>,
    ops: &Bound<'py, PyAny>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    Ok(run(
        &input,
        parse_ops(ops)?,
        parse_dtype(dtype)?,
        backend,
        Axes { stack, volume },
    )?
    .0)
}

/// `x > value` as a uint8 mask of 0/255, for every input dtype. `value` may name a
/// method instead: 'otsu', 'li', 'triangle', 'yen', 'isodata', 'mean', 'minimum' use
/// `skimage.filters.threshold_<method>(x)` per frame; 'local' is
/// `x > skimage.filters.threshold_local(x, block, offset=offset)`.
#[pyfunction]
#[pyo3(signature = (array, value, *, block=None, offset=0.0, backend="auto", stack=None, volume=false))]
#[allow(clippy::too_many_arguments)]
fn threshold<'py>(
    array: &Bound<'py, PyAny>,
    value: &Bound<'py, PyAny>,
    block: Option<u32>,
    offset: f64,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let spec = match (value.extract::<f64>(), value.extract::<String>()) {
        (Ok(v), _) => format!("threshold:value={v}"),
        (_, Ok(s)) if s == "local" => match block {
            Some(b) => format!("threshold:method=local,block={b},offset={offset}"),
            None => {
                return Err(value_error(
                    "block",
                    "value='local' needs an odd block size (e.g. block=51)",
                ))
            }
        },
        (_, Ok(s)) if imflow::ops::METHODS.iter().any(|(name, _)| *name == s) => {
            format!("threshold:method={s}")
        }
        _ => {
            let got = value.repr().map(|r| r.to_string()).unwrap_or_default();
            let names: Vec<String> = (imflow::ops::METHODS.iter())
                .map(|(name, _)| format!("'{name}'"))
                .chain(["'local'".to_string()])
                .collect();
            return Err(value_error(
                "value",
                format!(
                    "expected a number or a method ({}), got {got}",
                    names.join(", ")
                ),
            ));
        }
    };
    if block.is_some() && !spec.contains("method=local") {
        return Err(value_error(
            "block",
            "only value='local' takes a block size",
        ));
    }
    let op = Op::parse(&spec).map_err(to_py)?;
    Ok(run(
        &input,
        vec![op],
        OutputType::Same,
        backend,
        Axes { stack, volume },
    )?
    .0)
}

/// `skimage.filters.threshold_otsu(x)` of a single image (all channels together), or of
/// a volume (`volume=True`: one histogram of every voxel).
#[pyfunction]
#[pyo3(signature = (array, *, backend="auto", volume=false))]
fn threshold_otsu(array: &Bound<'_, PyAny>, backend: &str, volume: bool) -> PyResult<f64> {
    threshold_value(array, "otsu", backend, volume)
}

/// `skimage.filters.threshold_<method>(x)` of a single image (all channels together),
/// or of a volume (`volume=True`): method is 'otsu', 'li', 'triangle', 'yen',
/// 'isodata', 'mean' or 'minimum'.
#[pyfunction]
#[pyo3(signature = (array, method, *, backend="auto", volume=false))]
fn threshold_value(
    array: &Bound<'_, PyAny>,
    method: &str,
    backend: &str,
    volume: bool,
) -> PyResult<f64> {
    let input = accept(array, "array", Role::Values)?;
    if input.is_empty() {
        return Err(value_error(
            "array",
            format!(
                "shape {} holds no pixels; a threshold needs at least one",
                errors::shape(&input.shape)
            ),
        ));
    }
    let op = Op::parse(&format!("threshold:method={method}")).map_err(to_py)?;
    if let Op::Threshold(t) = &op {
        if !t.is_whole_frame() {
            return Err(value_error(
                "method",
                format!("{method} gives no single value (use threshold(x, '{method}', ...))"),
            ));
        }
    }
    let axes = Axes {
        stack: Some(false),
        volume,
    };
    let (_, thresholds) = run(&input, vec![op], OutputType::Same, backend, axes)?;
    thresholds
        .first()
        .and_then(|t| t.first())
        .copied()
        .ok_or_else(|| errors::error("no threshold came back"))
}

/// Connected components of a mask (nonzero is foreground), numbered as
/// `scipy.ndimage.label(x, generate_binary_structure(ndim, connectivity))` =
/// `skimage.measure.label(x, connectivity=connectivity)` (3 needs `volume=True`):
/// uint32 for every input dtype.
#[pyfunction]
#[pyo3(signature = (array, *, connectivity=None, backend="auto", stack=None, volume=false))]
fn label<'py>(
    array: &Bound<'py, PyAny>,
    connectivity: Option<&Bound<'py, PyAny>>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let c = connectivity_of(connectivity, volume)?;
    let op = Op::parse(&format!("label:connectivity={c}")).map_err(to_py)?;
    Ok(run(
        &input,
        vec![op],
        OutputType::Same,
        backend,
        Axes { stack, volume },
    )?
    .0)
}

/// `skimage.morphology.remove_small_objects`: give `min_size` (objects smaller than it
/// go) or `max_size` (objects of at most that many pixels go). Labels come back in
/// their own dtype (int64 from scikit-image stays int64), masks as uint8 0/255.
#[pyfunction]
#[pyo3(signature = (array, *, min_size=None, max_size=None, connectivity=None, backend="auto", stack=None, volume=false))]
fn remove_small_objects<'py>(
    array: &Bound<'py, PyAny>,
    min_size: Option<&Bound<'py, PyAny>>,
    max_size: Option<&Bound<'py, PyAny>>,
    connectivity: Option<&Bound<'py, PyAny>>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Labels)?;
    let min_size: Option<u64> = params::opt_int("min_size", min_size, "an integer >= 0")?;
    let max_size: Option<u64> = params::opt_int("max_size", max_size, "an integer >= 0")?;
    let c = connectivity_of(connectivity, volume)?;
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
    Ok(run(
        &input,
        vec![op],
        OutputType::Same,
        backend,
        Axes { stack, volume },
    )?
    .0)
}

/// `skimage.measure.regionprops_table(labels, intensity, properties=[...], spacing=)`
/// for one image: the same dict of numpy arrays (keys, their order and dtypes: int64
/// label and bbox, float64 otherwise). Labels (H, W), or (Z, Y, X) for a volume (three
/// centroid and six bbox columns); intensity of the same shape, or with a trailing
/// channel axis. With `spacing` (one number per axis, numpy's order) area, centroid and
/// equivalent_diameter_area are physical, as skimage's with `spacing=`.
#[pyfunction]
#[pyo3(signature = (labels, intensity, *, spacing=None))]
fn measure<'py>(
    labels: &Bound<'py, PyAny>,
    intensity: &Bound<'py, PyAny>,
    spacing: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let py = labels.py();
    let l = accept(labels, "labels", Role::Labels)?;
    let i = accept(intensity, "intensity", Role::Values)?;
    let nd = l.shape.len();
    let same_grid = i.shape.len() >= nd && i.shape[..nd] == l.shape[..];
    if !(2..=3).contains(&nd) || !same_grid || !(nd..=nd + 1).contains(&i.shape.len()) {
        return Err(value_error(
            "intensity",
            format!(
                "expected labels (H, W) or (Z, Y, X), and intensity of the same shape or \
                 with a channel axis after it, got labels {} and intensity {}",
                errors::shape(&l.shape),
                errors::shape(&i.shape)
            ),
        ));
    }
    let volume = nd == 3;
    let voxel = match spacing {
        None => None,
        Some(s) => {
            let axes: &[&str] = if volume {
                &["z", "y", "x"]
            } else {
                &["y", "x"]
            };
            let v = params::per_axis("spacing", s, axes)?;
            let (z, y, x) = if volume {
                (v[0], v[1], v[2])
            } else {
                (1.0, v[0], v[1])
            };
            Some(imflow::VoxelSize {
                z,
                y,
                x,
                unit: String::new(),
            })
        }
    };
    let channels = i.shape.get(nd).copied().unwrap_or(1);
    let axes = Axes {
        stack: Some(false),
        volume,
    };
    let table = if l.is_empty() || i.is_empty() {
        imflow::measure::FrameTable {
            channels,
            ndim: nd,
            physical: voxel.is_some(),
            rows: Vec::new(),
        }
    } else {
        // Both arrays borrowed for the call.
        with_frames(&l, "labels", axes, |l, _| {
            with_frames(&i, "intensity", axes, |i, _| {
                py.detach(|| imflow::measure::measure_with(l[0], i[0], voxel.as_ref()))
                    .map_err(to_py)
            })
        })?
    };
    let all = table.columns();
    let dict = pyo3::types::PyDict::new(py);
    for c in table.regionprops_columns() {
        if c.name.contains("_physical") {
            continue;
        }
        // skimage with `spacing` reports these in physical units under their own names.
        let physical = match c.name.as_str() {
            "area" => Some("area_physical".to_string()),
            "equivalent_diameter_area" => Some("equivalent_diameter_area_physical".to_string()),
            n if n.starts_with("centroid-") => Some(n.replace("centroid", "centroid_physical")),
            _ => None,
        };
        let index = match physical.filter(|_| table.physical) {
            Some(p) => all.iter().position(|n| *n == p).unwrap_or(c.index),
            None => c.index,
        };
        let values = table.rows.iter().map(|r| r[index]);
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
        wrap_pyfunction!(threshold, m)?,
        wrap_pyfunction!(threshold_otsu, m)?,
        wrap_pyfunction!(threshold_value, m)?,
        wrap_pyfunction!(label, m)?,
        wrap_pyfunction!(remove_small_objects, m)?,
        wrap_pyfunction!(measure, m)?,
        wrap_pyfunction!(device, m)?,
    ] {
        m.add_function(f)?;
    }
    flows::register(m)?;
    files::register(m)?;
    filters::register(m)?;
    rank::register(m)?;
    edges::register(m)?;
    segment::register(m)?;
    Ok(())
}
