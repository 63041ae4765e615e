//! imflow's errors as Python exceptions: a bad parameter is a `ValueError` naming it, an
//! unsupported dtype a `TypeError`, and everything else an `imflow.Error` whose message
//! names the file, parameter or limit.
//!
//! Messages speak numpy's language: shapes are the caller's tuples ([`shape`], the one
//! place that renders them), sample types numpy's dtype names ([`dtype_name`]; the
//! crate's own messages are translated by [`to_py`]).

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

/// The Python exception for an imflow error. Parameter and usage messages name sample
/// types as numpy does (`uint16`, not the CLI's `u16`).
pub fn to_py(e: imflow::Error) -> PyErr {
    use imflow::Error as E;
    match e.root() {
        E::InvalidParam { .. } | E::Usage { .. } => {
            PyValueError::new_err(numpy_terms(&e.to_string()))
        }
        E::UnknownOp { .. } | E::FlowFile { .. } => PyValueError::new_err(e.to_string()),
        _ => Error::new_err(e.to_string()),
    }
}

/// A shape as numpy prints it: `(0, 5)`, `(5,)`, `()`. Every message that shows a
/// caller's shape goes through here, with the caller's own axes (not imflow's W×H×C).
pub fn shape(dims: &[usize]) -> String {
    match dims {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// numpy's name of a sample type.
pub fn dtype_name(t: imflow::SampleType) -> &'static str {
    use imflow::SampleType as T;
    match t {
        T::U8 => "uint8",
        T::U16 => "uint16",
        T::U32 => "uint32",
        T::I8 => "int8",
        T::I16 => "int16",
        T::I32 => "int32",
        T::F32 => "float32",
        T::F64 => "float64",
    }
}

/// `message` with the crate's sample-type names (`u16`, `f32`: whole words only)
/// replaced by numpy's.
fn numpy_terms(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.parse::<imflow::SampleType>() {
            Ok(t) => out.push_str(dtype_name(t)),
            Err(_) => out.push_str(word),
        }
        word.clear();
    };
    for ch in message.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A `ValueError` about parameter `param`.
pub fn value_error(param: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{param}: {message}"))
}

pub fn type_error(message: String) -> PyErr {
    PyTypeError::new_err(message)
}

pub fn error(message: &str) -> PyErr {
    Error::new_err(message.to_string())
}
