//! Python arguments to op parameters, each error naming the parameter: a negative size
//! is `ValueError: size: …`, not pyo3's nameless `OverflowError`. The op validates the
//! values themselves (and names them too); these only convert.

use crate::errors::{type_error, value_error};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBool, PyInt};

/// An integer argument as `T`: `what` says what is accepted ("an integer >= 1").
pub fn int<T: TryFrom<i64>>(name: &str, value: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    let got = || value.repr().map(|r| r.to_string()).unwrap_or_default();
    if value.is_instance_of::<PyBool>() || !value.hasattr("__index__")? {
        return Err(type_error(format!(
            "{name}: expected {what}, got {}",
            got()
        )));
    }
    value
        .extract::<i64>()
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| value_error(name, format!("expected {what}, got {}", got())))
}

/// An optional integer argument (see [`int`]).
pub fn opt_int<T: TryFrom<i64>>(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Option<T>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| int(name, v, what))
        .transpose()
}

/// A per-axis float argument: one number for every axis, or one per axis in the
/// caller's axis order (`axes`, e.g. `["y", "x"]`, as scipy orders them). Each must be
/// finite and >= 0. Returned in `axes`' order.
pub fn per_axis(name: &str, value: &Bound<'_, PyAny>, axes: &[&str]) -> PyResult<Vec<f64>> {
    let order = format!("({})", axes.join(", "));
    let got = || value.repr().map(|r| r.to_string()).unwrap_or_default();
    let values = if value.is_instance_of::<PyInt>() || value.extract::<f64>().is_ok() {
        vec![value.extract::<f64>()?; axes.len()]
    } else {
        let seq: Vec<f64> = value.extract().map_err(|_| {
            type_error(format!(
                "{name}: expected a number or one per axis {order}, got {}",
                got()
            ))
        })?;
        if seq.len() != axes.len() {
            return Err(value_error(
                name,
                format!(
                    "expected a number or {} numbers, one per axis {order}, got {}",
                    axes.len(),
                    got()
                ),
            ));
        }
        seq
    };
    if let Some((axis, v)) =
        (axes.iter().zip(&values)).find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return Err(value_error(
            name,
            format!("must be a finite number >= 0 on every axis {order}, got {v} for {axis}"),
        ));
    }
    Ok(values)
}

/// scipy's `mode` (one name, or one per axis in the array's order: (y, x), or (z, y, x)
/// with `volume`; `None`: reflect) and `cval` as a spec's suffix (nothing for the
/// default, reflect); the op checks the names and the value and names them in its
/// errors.
pub fn boundary(mode: Option<&Bound<'_, PyAny>>, cval: f64, volume: bool) -> PyResult<String> {
    let mut s = match mode
        .filter(|m| !m.is_none())
        .map(|m| (m, m.extract::<String>()))
    {
        None => String::new(),
        Some((_, Ok(m))) if m == "reflect" => String::new(),
        Some((_, Ok(m))) => format!(",mode={m}"),
        Some((mode, Err(_))) => {
            let axes: &[&str] = if volume {
                &["z", "y", "x"]
            } else {
                &["y", "x"]
            };
            let got = || mode.repr().map(|r| r.to_string()).unwrap_or_default();
            let modes: Vec<String> = mode.extract().map_err(|_| {
                type_error(format!(
                    "mode: expected a mode name or one per axis ({}), got {}",
                    axes.join(", "),
                    got()
                ))
            })?;
            if modes.len() != axes.len() {
                return Err(value_error(
                    "mode",
                    format!(
                        "expected one mode per axis ({}), got {}",
                        axes.join(", "),
                        got()
                    ),
                ));
            }
            (axes.iter().zip(&modes))
                .map(|(a, m)| format!(",mode_{a}={m}"))
                .collect()
        }
    };
    if cval != 0.0 || cval.is_nan() {
        s += &format!(",cval={cval}");
    }
    Ok(s)
}
