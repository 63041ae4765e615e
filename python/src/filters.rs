//! The separable filters from Python: the gaussian (with scipy's derivative `order`)
//! and the box, each with scipy's boundary `mode` and the integer mode.

use super::{
    accept, errors, params, parse_dtype, run, sigmas, sizes, to_py, value_error, Axes, Op,
    OutputType, Role,
};
use pyo3::prelude::*;
use pyo3::types::PyAny;

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

/// `scipy.ndimage.gaussian_filter(x, sigma, order, mode, cval, truncate)` per channel;
/// float32 out for every input dtype by default; `dtype='same'` (or `int_mode='scipy'`)
/// gives the input's dtype (bool: uint8). `sigma` is one number or one per axis in the
/// array's order, (y, x) as scipy's; 0 on every axis is the identity (a copy in `dtype`).
#[pyfunction]
#[pyo3(signature = (array, sigma, *, order=None, truncate=4.0, mode=None, cval=0.0, int_mode=None, dtype="float32", backend="auto", stack=None, volume=false))]
#[allow(clippy::too_many_arguments)]
fn gaussian<'py>(
    array: &Bound<'py, PyAny>,
    sigma: &Bound<'py, PyAny>,
    order: Option<&Bound<'py, PyAny>>,
    truncate: f64,
    mode: Option<&Bound<'py, PyAny>>,
    cval: f64,
    int_mode: Option<&str>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let [sz, sy, sx] = sigmas("sigma", sigma, volume)?;
    let int = parse_int_mode(int_mode)?;
    // scipy skips an axis whose sigma is 0; with every axis skipped nothing is left to
    // run but the conversion to `dtype`.
    let ops = if sx == 0.0 && sy == 0.0 && sz == 0.0 {
        Vec::new()
    } else {
        let spec = format!(
            "gaussian:sigma_z={sz},sigma_y={sy},sigma_x={sx},truncate={truncate}{int}{}{}",
            orders(order, volume)?,
            params::boundary(mode, cval, volume)?
        );
        vec![Op::parse(&spec).map_err(to_py)?]
    };
    let dtype = match int_mode {
        Some("scipy") if dtype == Some("float32") => OutputType::Same,
        _ => parse_dtype(dtype)?,
    };
    Ok(run(&input, ops, dtype, backend, Axes { stack, volume })?.0)
}

/// scipy's `order` (one integer, or one per axis in the array's order) as a spec's
/// suffix (nothing for 0).
fn orders(order: Option<&Bound<'_, PyAny>>, volume: bool) -> PyResult<String> {
    let Some(order) = order.filter(|o| !o.is_none()) else {
        return Ok(String::new());
    };
    let axes: &[&str] = if volume {
        &["z", "y", "x"]
    } else {
        &["y", "x"]
    };
    let what = "an integer >= 0";
    if order.hasattr("__index__")? {
        let o: u32 = params::int("order", order, what)?;
        return Ok(format!(",order={o}"));
    }
    let seq: Vec<Bound<'_, PyAny>> = order.extract().map_err(|_| {
        errors::type_error(format!(
            "order: expected an integer or one per axis ({}), got {}",
            axes.join(", "),
            order.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })?;
    if seq.len() != axes.len() {
        return Err(value_error(
            "order",
            format!(
                "expected one order per axis ({}), got {}",
                axes.join(", "),
                seq.len()
            ),
        ));
    }
    let mut s = String::new();
    for (a, o) in axes.iter().zip(&seq) {
        let o: u32 = params::int("order", o, what)?;
        s += &format!(",order_{a}={o}");
    }
    Ok(s)
}

/// `scipy.ndimage.uniform_filter(x, size, mode, cval)` per channel, one `size` for
/// both axes (y and x). float32 out for every input dtype by default; `dtype='same'`
/// (or `int_mode='scipy'`) gives the input's dtype (bool: uint8).
#[pyfunction(name = "box")]
#[pyo3(signature = (array, size, *, mode=None, cval=0.0, int_mode=None, dtype="float32", backend="auto", stack=None, volume=false))]
#[allow(clippy::too_many_arguments)]
fn box_filter<'py>(
    array: &Bound<'py, PyAny>,
    size: &Bound<'py, PyAny>,
    mode: Option<&Bound<'py, PyAny>>,
    cval: f64,
    int_mode: Option<&str>,
    dtype: Option<&str>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let [sz, sy, sx] = sizes(size, volume)?;
    let int = parse_int_mode(int_mode)?;
    let spec = format!(
        "box:size_z={sz},size_y={sy},size_x={sx}{int}{}",
        params::boundary(mode, cval, volume)?
    );
    let op = Op::parse(&spec).map_err(to_py)?;
    let dtype = match int_mode {
        Some("scipy") if dtype == Some("float32") => OutputType::Same,
        _ => parse_dtype(dtype)?,
    };
    Ok(run(&input, vec![op], dtype, backend, Axes { stack, volume })?.0)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gaussian, m)?)?;
    m.add_function(wrap_pyfunction!(box_filter, m)?)
}
