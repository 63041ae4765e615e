//! Filters built from gaussians, from Python: the difference of gaussians, the
//! Laplacian of a gaussian and the gradient magnitude.

use super::{accept, run, to_py, value_error, Axes, Op, OutputType, Role};
use imflow::SampleType;
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// `gaussian_filter(x, low_sigma) - gaussian_filter(x, high_sigma)` per channel, in
/// float32: `skimage.filters.difference_of_gaussians(x, low_sigma, high_sigma,
/// mode, cval, truncate)` on float input (scikit-image scales integer input to
/// [0, 1] first; this keeps the data's units).
#[pyfunction]
#[pyo3(signature = (array, low_sigma, high_sigma=None, *, truncate=4.0, mode=None, cval=0.0, backend="auto", stack=None, volume=false))]
#[allow(clippy::too_many_arguments)]
fn difference_of_gaussians<'py>(
    array: &Bound<'py, PyAny>,
    low_sigma: f64,
    high_sigma: Option<f64>,
    truncate: f64,
    mode: Option<&Bound<'py, PyAny>>,
    cval: f64,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if !low_sigma.is_finite() {
        return Err(value_error(
            "low_sigma",
            format!("must be a finite number, got {low_sigma}"),
        ));
    }
    let high = high_sigma.unwrap_or(low_sigma * 1.6);
    let spec = format!(
        "dog:low={low_sigma},high={high},truncate={truncate}{}",
        super::params::boundary(mode, cval, volume)?
    );
    float_result(array, &spec, backend, Axes { stack, volume })
}

/// `scipy.ndimage.gaussian_laplace(x, sigma, mode, cval, truncate)` per channel, in
/// float32; isotropic (`sigma` one number), in 3-D with `volume=True`.
#[pyfunction]
#[pyo3(signature = (array, sigma, *, truncate=4.0, mode=None, cval=0.0, backend="auto", stack=None, volume=false))]
#[allow(clippy::too_many_arguments)]
fn gaussian_laplace<'py>(
    array: &Bound<'py, PyAny>,
    sigma: f64,
    truncate: f64,
    mode: Option<&Bound<'py, PyAny>>,
    cval: f64,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = format!(
        "log:sigma={sigma},truncate={truncate}{}",
        super::params::boundary(mode, cval, volume)?
    );
    float_result(array, &spec, backend, Axes { stack, volume })
}

/// `scipy.ndimage.gaussian_gradient_magnitude(x, sigma, mode, cval, truncate)` per
/// channel, in float32; isotropic, in 3-D with `volume=True`.
#[pyfunction]
#[pyo3(signature = (array, sigma, *, truncate=4.0, mode=None, cval=0.0, backend="auto", stack=None, volume=false))]
#[allow(clippy::too_many_arguments)]
fn gaussian_gradient_magnitude<'py>(
    array: &Bound<'py, PyAny>,
    sigma: f64,
    truncate: f64,
    mode: Option<&Bound<'py, PyAny>>,
    cval: f64,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = format!(
        "gradient:sigma={sigma},truncate={truncate}{}",
        super::params::boundary(mode, cval, volume)?
    );
    float_result(array, &spec, backend, Axes { stack, volume })
}

/// The op of `spec` on `array`, as float32 (these results are signed or fractional
/// whatever the input).
fn float_result<'py>(
    array: &Bound<'py, PyAny>,
    spec: &str,
    backend: &str,
    axes: Axes,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let op = Op::parse(spec).map_err(to_py)?;
    Ok(run(
        &input,
        vec![op],
        OutputType::Exactly(SampleType::F32),
        backend,
        axes,
    )?
    .0)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gaussian_gradient_magnitude, m)?)?;
    m.add_function(wrap_pyfunction!(difference_of_gaussians, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian_laplace, m)?)
}
