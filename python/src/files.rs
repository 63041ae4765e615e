//! Files and bytes: reading and writing images as imflow does (every TIFF type, PNG,
//! JPEG, GIF with timing, WebP, BMP), running ops on encoded bytes (the web service's
//! path: decode, compute, encode in the source's format, animation kept), and the
//! content keys a Prefect cache policy needs (blake3 of files and arrays, op versions).

use crate::arrays::{to_array, to_frames, Axes, Layout};
use crate::errors::{to_py, DecodeError, TooLargeError, UnsupportedFormatError};
use imflow::io::{self, Format, Stack};
use imflow::Op;
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBytes};
use std::path::PathBuf;

fn frames_layout(stack: &Stack) -> Layout {
    Layout::of_frames(&stack.frames)
}

/// How a multi-page TIFF is read: by its axes, or `volume=True`: its pages one volume.
fn reading(volume: bool) -> io::Reading {
    if volume {
        io::Reading::Volume
    } else {
        io::Reading::Auto
    }
}

/// Every frame of an image file: (H, W[, C]), or (N, H, W[, C]) for several pages; a
/// volume (an ImageJ hyperstack's or OME-TIFF's slices, or with `volume=True` a plain
/// multi-page TIFF's pages) as (Z, Y, X[, C]), several time points (T, Z, Y, X[, C]).
#[pyfunction]
#[pyo3(signature = (path, *, volume=false))]
fn imread<'py>(py: Python<'py>, path: PathBuf, volume: bool) -> PyResult<Bound<'py, PyAny>> {
    let stack = py
        .detach(|| io::load_stack_as(&path, reading(volume)))
        .map_err(decode_err)?;
    let layout = frames_layout(&stack);
    to_array(py, stack.frames, &layout)
}

/// Sizes along z, y and x.
type Zyx = (f64, f64, f64);

/// The voxel size a file records, `((z, y, x), unit)` (ImageJ's spacing and
/// resolution, OME's PhysicalSize), or None.
#[pyfunction]
fn voxel_size(py: Python<'_>, path: PathBuf) -> PyResult<Option<(Zyx, String)>> {
    let stack = py.detach(|| io::load_stack(&path)).map_err(decode_err)?;
    Ok(stack.voxel.map(|v| ((v.z, v.y, v.x), v.unit)))
}

/// Writes an array as the format its extension names (`.tif` for every type, `.png`,
/// `.jpg`, `.gif`, `.webp`, `.bmp`); atomically (a temporary file, then a rename). A
/// volume (`volume=True`) is written as an ImageJ hyperstack, with `voxel_size`
/// ((z, y, x) in `unit`) where given.
#[pyfunction]
#[pyo3(signature = (path, array, *, stack=None, volume=false, voxel_size=None, unit="\u{b5}m"))]
fn imwrite(
    path: PathBuf,
    array: &Bound<'_, PyAny>,
    stack: Option<bool>,
    volume: bool,
    voxel_size: Option<(f64, f64, f64)>,
    unit: &str,
) -> PyResult<()> {
    let (frames, _) = to_frames(array, "array", Axes { stack, volume })?;
    let format = Format::from_path(&path).map_err(to_py)?;
    let voxel = voxel_size.map(|(z, y, x)| imflow::VoxelSize {
        z,
        y,
        x,
        unit: unit.to_string(),
    });
    let s = Stack {
        frames,
        animation: None,
        format: None,
        voxel,
    };
    array
        .py()
        .detach(|| io::save_stack(&s, format, &path))
        .map_err(to_py)
}

/// An array encoded as `format` ('tif', 'png', ...): the bytes of the file imwrite
/// writes.
#[pyfunction]
#[pyo3(signature = (array, format="tif", *, stack=None, volume=false))]
fn encode<'py>(
    array: &Bound<'py, PyAny>,
    format: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let (frames, _) = to_frames(array, "array", Axes { stack, volume })?;
    let format = parse_format(format)?;
    let s = Stack {
        frames,
        animation: None,
        format: None,
        voxel: None,
    };
    let py = array.py();
    let bytes = py.detach(|| io::encode_stack(&s, format)).map_err(to_py)?;
    Ok(PyBytes::new(py, &bytes))
}

/// The array encoded bytes hold (every frame).
#[pyfunction]
fn decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let stack = py.detach(|| io::decode_stack(data)).map_err(decode_err)?;
    let layout = frames_layout(&stack);
    to_array(py, stack.frames, &layout)
}

/// Runs ops on an encoded image and encodes the result in the source's format (a GIF
/// keeps its frames, delays and loop count), or in `format`. Returns (bytes, format
/// name). Raises UnsupportedFormatError for bytes that are no image imflow reads,
/// DecodeError for a broken one, TooLargeError past `max_pixels` (checked on the
/// header, before decoding).
#[pyfunction]
#[pyo3(signature = (data, ops, *, format=None, max_pixels=None, backend="auto"))]
fn apply_bytes<'py>(
    py: Python<'py>,
    data: &[u8],
    ops: Vec<String>,
    format: Option<&str>,
    max_pixels: Option<u64>,
    backend: &str,
) -> PyResult<(Bound<'py, PyBytes>, String)> {
    let ops: Vec<Op> = ops
        .iter()
        .map(|s| Op::parse(s).map_err(to_py))
        .collect::<PyResult<_>>()?;
    let Some(source_format) = io::sniff(data) else {
        return Err(UnsupportedFormatError::new_err(
            "not an image imflow reads (TIFF, PNG, JPEG, GIF, WebP or BMP)",
        ));
    };
    let (w, h) = io::dimensions(data).map_err(decode_err)?;
    if let Some(limit) = max_pixels {
        let px = u64::from(w) * u64::from(h);
        if px > limit {
            return Err(TooLargeError::new_err(format!(
                "{w}x{h} = {px} pixels, over the limit of {limit}"
            )));
        }
    }
    let out_format = match format {
        Some(f) => parse_format(f)?,
        None => source_format,
    };
    let p = crate::processor(backend)?;
    let bytes = py.detach(|| -> imflow::Result<Vec<u8>> {
        let stack = io::decode_stack(data)?;
        let (out, _) = p.run_stack(&stack, &ops, imflow::OutputType::Same)?;
        io::encode_stack(&out, out_format)
    });
    let bytes = bytes.map_err(|e| match e {
        imflow::Error::Decode { .. } => decode_err(e),
        e => to_py(e),
    })?;
    Ok((PyBytes::new(py, &bytes), out_format.extension().to_string()))
}

/// blake3 of a file's bytes, as `b3sum` prints it (read with the GIL released).
#[pyfunction]
fn hash_file(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let key = py
        .detach(|| imflow::key::hash_file(&path))
        .map_err(|e| to_py(imflow::Error::io(&path, e)))?;
    Ok(key.hex())
}

/// blake3 of bytes, as `b3sum` prints it.
#[pyfunction]
fn hash_bytes(data: &[u8]) -> String {
    imflow::key::Key::of_bytes(data).hex()
}

/// The key imflow gives an array source: its shape, sample type and samples.
#[pyfunction]
fn array_key(array: &Bound<'_, PyAny>) -> PyResult<String> {
    let (frames, _) = to_frames(array, "array", Axes::plain(None))?;
    let keys: Vec<String> = (frames.iter())
        .map(|f| imflow::key::image_source(f).hex())
        .collect();
    Ok(match keys.as_slice() {
        [one] => one.clone(),
        many => imflow::key::Key::of_bytes(many.join(",").as_bytes()).hex(),
    })
}

/// An op spec in canonical form (what imflow keys), or ValueError.
#[pyfunction]
fn canonical_op(spec: &str) -> PyResult<String> {
    Ok(Op::parse(spec).map_err(to_py)?.to_string())
}

/// The version of an op: its shaders' and CPU twin's, so a changed kernel misses.
#[pyfunction]
fn op_version(spec: &str) -> PyResult<String> {
    let op = Op::parse(spec).map_err(to_py)?;
    Ok(imflow::key::op_version(&op).hex())
}

fn parse_format(f: &str) -> PyResult<Format> {
    Format::from_extension(f).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "format: unknown `{f}` (tif, png, jpg, gif, webp, bmp)"
        ))
    })
}

fn decode_err(e: imflow::Error) -> PyErr {
    match e {
        imflow::Error::Decode { .. } => DecodeError::new_err(e.to_string()),
        e => to_py(e),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for f in [
        wrap_pyfunction!(imread, m)?,
        wrap_pyfunction!(imwrite, m)?,
        wrap_pyfunction!(voxel_size, m)?,
        wrap_pyfunction!(encode, m)?,
        wrap_pyfunction!(decode, m)?,
        wrap_pyfunction!(apply_bytes, m)?,
        wrap_pyfunction!(hash_file, m)?,
        wrap_pyfunction!(hash_bytes, m)?,
        wrap_pyfunction!(array_key, m)?,
        wrap_pyfunction!(canonical_op, m)?,
        wrap_pyfunction!(op_version, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
