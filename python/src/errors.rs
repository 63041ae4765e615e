//! imflow's errors as Python exceptions: a bad parameter is a `ValueError` naming it, an
//! unsupported dtype a `TypeError`, and everything else an `imflow.Error` whose message
//! names the file, parameter or limit.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    _imflow,
    Error,
    pyo3::exceptions::PyException,
    "imflow's errors that are not a bad parameter (ValueError) or dtype (TypeError): \
     undecodable files, GPU errors, store problems."
);

pyo3::create_exception!(
    _imflow,
    DecodeError,
    Error,
    "An image imflow reads, but broken: truncated, a header that lies, bad data."
);
pyo3::create_exception!(
    _imflow,
    UnsupportedFormatError,
    Error,
    "Bytes that are no image format imflow reads."
);
pyo3::create_exception!(
    _imflow,
    TooLargeError,
    Error,
    "An image over a pixel limit the caller set."
);

/// Adds the exception types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add(
        "UnsupportedFormatError",
        py.get_type::<UnsupportedFormatError>(),
    )?;
    m.add("TooLargeError", py.get_type::<TooLargeError>())?;
    Ok(())
}

/// The Python exception for an imflow error.
pub fn to_py(e: imflow::Error) -> PyErr {
    use imflow::Error as E;
    match e.root() {
        E::InvalidParam { .. } | E::UnknownOp { .. } | E::Usage { .. } | E::FlowFile { .. } => {
            PyValueError::new_err(e.to_string())
        }
        _ => Error::new_err(e.to_string()),
    }
}

pub fn type_error(message: String) -> PyErr {
    PyTypeError::new_err(message)
}

pub fn error(message: &str) -> PyErr {
    Error::new_err(message.to_string())
}
