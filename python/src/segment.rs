//! Splitting and cleaning objects from Python: the Euclidean distance transform
//! (`scipy.ndimage.distance_transform_edt`), filling holes
//! (`scipy.ndimage.binary_fill_holes`) and clearing the border
//! (`skimage.segmentation.clear_border`). Each builds the op's spec and runs it like
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for f in [
        wrap_pyfunction!(distance, m)?,
        wrap_pyfunction!(fill_holes, m)?,
        wrap_pyfunction!(clear_border, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
