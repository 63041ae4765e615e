//! numpy arrays in and out: 2-D (H, W), colour (H, W, C) and stacks (N, H, W[, C]),
//! of any dtype [`crate::accept`] takes.
//!
//! A C-ordered input of a dtype imflow reads as is is borrowed without a copy for the
//! call ([`with_frames`]); other layouts and dtypes are made so once by
//! [`crate::accept::accept`], and inputs that outlive the call (a flow's sources, files)
//! are copied into images of their own ([`to_frames`]). Outputs are handed to numpy
//! without a copy (the result's Vec becomes the array's buffer).

use crate::accept::{accept, Accepted, Role};
use crate::errors::{shape, value_error};
use imflow::{Image, ImageView, SampleType, Samples, SamplesRef};
use numpy::{Element, PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// What the array's axes are.
pub struct Layout {
    /// Frames (1 for a single image).
    pub frames: usize,
    /// Whether the result is returned with a channel axis.
    pub channel_axis: bool,
    /// Whether the result is returned with a frame axis.
    pub frame_axis: bool,
}

/// An array's shape read as frames: the layout, and each frame's width, height and
/// channels. A 3-D array is colour (H, W, C) when C is 1, 3 or 4, frames of gray
/// (N, H, W) otherwise; `stack` forces either reading.
pub fn dims(
    input: &Accepted<'_>,
    param: &str,
    stack: Option<bool>,
) -> PyResult<(Layout, [u32; 3])> {
    let dims = input.shape.as_slice();
    let (frames, h, w, c, frame_axis, channel_axis) = match (dims, stack) {
        ([h, w], None | Some(false)) => (1, *h, *w, 1, false, false),
        ([h, w, c], None) if [1, 3, 4].contains(c) => (1, *h, *w, *c, false, true),
        ([h, w, c], Some(false)) => (1, *h, *w, *c, false, true),
        ([n, h, w], _) => (*n, *h, *w, 1, true, false),
        ([n, h, w, c], None | Some(true)) => (*n, *h, *w, *c, true, true),
        _ => {
            return Err(value_error(
                param,
                format!(
                    "expected a 2-D (H, W), 3-D (H, W, C) or (N, H, W), or 4-D (N, H, W, C) \
                     array, got shape {}{}",
                    shape(dims),
                    if stack == Some(false) && dims.len() == 4 {
                        " with stack=False"
                    } else {
                        ""
                    }
                ),
            ))
        }
    };
    let dim = |v: usize| {
        u32::try_from(v).map_err(|_| {
            value_error(
                param,
                format!("shape {}: axis of {v} is too long", shape(dims)),
            )
        })
    };
    let layout = Layout {
        frames,
        channel_axis,
        frame_axis,
    };
    Ok((layout, [dim(w)?, dim(h)?, dim(c)?]))
}

/// An array's frames as images of their own (a copy, in C order): for what outlives
/// the call (a flow's source, a file to write). An array with no samples is refused:
/// an image file holds at least one pixel.
pub fn to_frames(
    array: &Bound<'_, PyAny>,
    param: &str,
    stack: Option<bool>,
) -> PyResult<(Vec<Image>, Layout)> {
    let input = accept(array, param, Role::Values)?;
    let (layout, [w, h, c]) = dims(&input, param, stack)?;
    if input.is_empty() {
        return Err(value_error(
            param,
            format!(
                "shape {} holds no pixels; an image holds at least one",
                shape(&input.shape)
            ),
        ));
    }
    with_samples(&input, |all| {
        let per = w as usize * h as usize * c as usize;
        (0..layout.frames)
            .map(|f| {
                let frame = all.slice(f * per..(f + 1) * per).to_samples();
                Image::new(w, h, c, frame).map_err(crate::errors::to_py)
            })
            .collect::<PyResult<Vec<_>>>()
    })
    .map(|images| (images, layout))
}

/// Calls `f` with the array's frames as views of its memory, borrowed where it lies
/// (numpy's read-only borrow held for the call): no copy, whatever its size. The caller
/// may release the GIL inside `f`; Python code that writes to the array meanwhile races
/// with the read, as with any C extension that reads a buffer without the GIL. A
/// zero-sized array is the caller's to answer first ([`crate::accept::empty_result`]).
pub fn with_frames<R>(
    input: &Accepted<'_>,
    param: &str,
    stack: Option<bool>,
    f: impl FnOnce(&[ImageView<'_>], Layout) -> PyResult<R>,
) -> PyResult<R> {
    let (layout, [w, h, c]) = dims(input, param, stack)?;
    if input.is_empty() {
        return Err(value_error(
            param,
            format!("shape {} holds no pixels", shape(&input.shape)),
        ));
    }
    with_samples(input, |all| {
        let per = w as usize * h as usize * c as usize;
        let views = (0..layout.frames)
            .map(|k| {
                ImageView::new(w, h, c, all.slice(k * per..(k + 1) * per))
                    .map_err(crate::errors::to_py)
            })
            .collect::<PyResult<Vec<_>>>()?;
        f(&views, layout)
    })
}

/// Calls `f` with every sample of an accepted array, borrowed.
fn with_samples<R>(
    input: &Accepted<'_>,
    f: impl FnOnce(SamplesRef<'_>) -> PyResult<R>,
) -> PyResult<R> {
    fn borrow<T: Element, R>(
        a: &Bound<'_, numpy::PyUntypedArray>,
        f: impl FnOnce(&[T]) -> PyResult<R>,
    ) -> PyResult<R> {
        let ro = a.cast::<numpy::PyArrayDyn<T>>()?.try_readonly()?;
        let all = ro
            .as_slice()
            .map_err(|e| crate::errors::error(&format!("cannot read the array's memory: {e}")))?;
        f(all)
    }
    let a = &input.array;
    match input.sample_type {
        SampleType::U8 => borrow::<u8, R>(a, |s| f(SamplesRef::from(s))),
        SampleType::U16 => borrow::<u16, R>(a, |s| f(SamplesRef::from(s))),
        SampleType::U32 => borrow::<u32, R>(a, |s| f(SamplesRef::from(s))),
        SampleType::I8 => borrow::<i8, R>(a, |s| f(SamplesRef::from(s))),
        SampleType::I16 => borrow::<i16, R>(a, |s| f(SamplesRef::from(s))),
        SampleType::I32 => borrow::<i32, R>(a, |s| f(SamplesRef::from(s))),
        SampleType::F32 => borrow::<f32, R>(a, |s| f(SamplesRef::from(s))),
        SampleType::F64 => borrow::<f64, R>(a, |s| f(SamplesRef::from(s))),
    }
}

/// Frames back as one numpy array shaped as the input was (the result's own type).
pub fn to_array<'py>(
    py: Python<'py>,
    frames: Vec<Image>,
    layout: &Layout,
) -> PyResult<Bound<'py, PyAny>> {
    let first = frames
        .first()
        .ok_or_else(|| crate::errors::error("no frames came back"))?;
    let (h, w, c) = (
        first.height() as usize,
        first.width() as usize,
        first.channels() as usize,
    );
    let mut dims = Vec::new();
    if layout.frame_axis {
        dims.push(layout.frames);
    }
    dims.extend([h, w]);
    if layout.channel_axis {
        dims.push(c);
    }
    let t = first.sample_type();
    let samples = join(frames, t)?;
    fn shaped<'py, T: Element>(
        py: Python<'py>,
        v: Vec<T>,
        dims: &[usize],
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyArray1::from_vec(py, v).reshape(dims)?.into_any())
    }
    match samples {
        Samples::U8(v) => shaped(py, v, &dims),
        Samples::U16(v) => shaped(py, v, &dims),
        Samples::F32(v) => shaped(py, v, &dims),
        Samples::I8(v) => shaped(py, v, &dims),
        Samples::I16(v) => shaped(py, v, &dims),
        Samples::I32(v) => shaped(py, v, &dims),
        Samples::U32(v) => shaped(py, v, &dims),
        Samples::F64(v) => shaped(py, v, &dims),
    }
}

/// The frames' samples, one after another (no copy for a single frame).
fn join(mut frames: Vec<Image>, t: SampleType) -> PyResult<Samples> {
    if frames.len() == 1 {
        return Ok(frames.pop().expect("one frame").into_samples());
    }
    let total = frames.iter().map(|f| f.samples().len()).sum();
    let mut out = Samples::with_capacity(t, total);
    for f in &frames {
        out.extend_from(f.samples(), 0..f.samples().len())
            .map_err(crate::errors::to_py)?;
    }
    Ok(out)
}
