//! Splitting and cleaning objects from Python: the Euclidean distance transform
//! (`scipy.ndimage.distance_transform_edt`), filling holes
//! (`scipy.ndimage.binary_fill_holes`) and clearing the border
//! (`skimage.segmentation.clear_border`), filling small holes
//! (`skimage.morphology.remove_small_holes`) and expanding labels
//! (`skimage.segmentation.expand_labels`). Each builds the op's spec and runs it like
//! every one-image call.

use super::rank::same_dtype;
use super::{accept, run, sigmas, to_py, Axes, Op, OutputType, Role};
use imflow::SampleType;
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// `scipy.ndimage.distance_transform_edt(x != 0, sampling)` as float32: `sampling` one
/// number for every axis, or one per axis ((y, x), or (z, y, x) with `volume=True`).
#[pyfunction]
#[pyo3(signature = (array, sampling=None, *, backend="auto", stack=None, volume=false))]
fn distance<'py>(
    array: &Bound<'py, PyAny>,
    sampling: Option<&Bound<'py, PyAny>>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let spec = match sampling {
        None => "distance".to_string(),
        Some(s) => {
            let [sz, sy, sx] = sigmas("sampling", s, volume)?;
            // A 2-D image has no z; 1 stands for it (it plays no part).
            let sz = if volume { sz } else { 1.0 };
            format!("distance:sampling_z={sz},sampling_y={sy},sampling_x={sx}")
        }
    };
    let op = Op::parse(&spec).map_err(to_py)?;
    let out = OutputType::Exactly(SampleType::F32);
    Ok(run(&input, vec![op], out, backend, Axes { stack, volume })?.0)
}

/// `scipy.ndimage.binary_fill_holes(x != 0)` as a uint8 mask of 0/255.
#[pyfunction]
#[pyo3(signature = (array, *, backend="auto", stack=None, volume=false))]
fn fill_holes<'py>(
    array: &Bound<'py, PyAny>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let out = OutputType::Exactly(SampleType::U8);
    Ok(run(
        &input,
        vec![Op::FillHoles],
        out,
        backend,
        Axes { stack, volume },
    )?
    .0)
}

/// `skimage.segmentation.clear_border(labels)`: objects (equal values, full
/// connectivity) touching the border set to 0; the input's dtype (bool stays bool).
#[pyfunction]
#[pyo3(signature = (array, *, backend="auto", stack=None, volume=false))]
fn clear_border<'py>(
    array: &Bound<'py, PyAny>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Labels)?;
    let result = run(
        &input,
        vec![Op::ClearBorder],
        OutputType::Same,
        backend,
        Axes { stack, volume },
    )?
    .0;
    same_dtype(array, result)
}

/// `skimage.morphology.remove_small_holes(x != 0, max_size=max_size,
/// connectivity=connectivity)` as a uint8 mask of 0/255: holes (background components,
/// touching the border or not) of at most `max_size` pixels are filled. The deprecated
/// `area_threshold` (holes smaller than it) may stand in for `max_size`.
#[pyfunction]
#[pyo3(signature = (array, *, max_size=None, connectivity=None, area_threshold=None, backend="auto", stack=None, volume=false))]
#[allow(clippy::too_many_arguments)]
fn remove_small_holes<'py>(
    array: &Bound<'py, PyAny>,
    max_size: Option<&Bound<'py, PyAny>>,
    connectivity: Option<&Bound<'py, PyAny>>,
    area_threshold: Option<&Bound<'py, PyAny>>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let max_size: Option<u64> = super::params::opt_int("max_size", max_size, "an integer >= 0")?;
    let area_threshold: Option<u64> =
        super::params::opt_int("area_threshold", area_threshold, "an integer >= 0")?;
    let c = super::connectivity_of(connectivity, volume)?;
    let size = match (max_size, area_threshold) {
        (Some(n), None) => format!("max_size={n},"),
        (None, Some(n)) => format!("area_threshold={n},"),
        (None, None) => String::new(),
        (Some(_), Some(_)) => {
            return Err(super::value_error(
                "area_threshold",
                "give max_size or the deprecated area_threshold, not both",
            ))
        }
    };
    let op = Op::parse(&format!("remove_small_holes:{size}connectivity={c}")).map_err(to_py)?;
    let out = OutputType::Exactly(SampleType::U8);
    Ok(run(&input, vec![op], out, backend, Axes { stack, volume })?.0)
}

/// `skimage.segmentation.expand_labels(labels, distance)`: every zero sample within
/// `distance` of a label takes the nearest label (equally near labels as scipy's
/// feature transform picks them); the input's dtype. `spacing` one number, or one per
/// axis ((y, x), or (z, y, x) with `volume=True`).
#[pyfunction]
#[pyo3(signature = (label_image, distance=1.0, spacing=None, *, backend="auto", stack=None, volume=false))]
fn expand_labels<'py>(
    label_image: &Bound<'py, PyAny>,
    distance: f64,
    spacing: Option<&Bound<'py, PyAny>>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(label_image, "label_image", Role::Labels)?;
    let spec = match spacing {
        None => format!("expand_labels:distance={distance}"),
        Some(s) => {
            let [sz, sy, sx] = sigmas("spacing", s, volume)?;
            // A 2-D image has no z; 1 stands for it (it plays no part).
            let sz = if volume { sz } else { 1.0 };
            format!(
                "expand_labels:distance={distance},spacing_z={sz},spacing_y={sy},spacing_x={sx}"
            )
        }
    };
    let op = Op::parse(&spec).map_err(to_py)?;
    let result = run(
        &input,
        vec![op],
        OutputType::Same,
        backend,
        Axes { stack, volume },
    )?
    .0;
    same_dtype(label_image, result)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for f in [
        wrap_pyfunction!(distance, m)?,
        wrap_pyfunction!(fill_holes, m)?,
        wrap_pyfunction!(clear_border, m)?,
        wrap_pyfunction!(remove_small_holes, m)?,
        wrap_pyfunction!(expand_labels, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
