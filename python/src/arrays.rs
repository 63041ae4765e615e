//! numpy arrays in and out: 2-D (H, W), colour (H, W, C), stacks (N, H, W[, C]) and,
//! with `volume=True`, volumes (Z, Y, X[, C]), of any dtype [`crate::accept`] takes.
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

/// How to read an array's axes: `stack` forces a 3-D array to be frames (True) or one
/// colour image (False); `volume` reads it as a volume.
#[derive(Clone, Copy, Debug, Default)]
pub struct Axes {
    pub stack: Option<bool>,
    pub volume: bool,
}

impl Axes {
    /// Frames or colour as the array's shape says (the default reading).
    pub fn plain(stack: Option<bool>) -> Self {
        Axes {
            stack,
            volume: false,
        }
    }
}

/// What the array's axes are.
pub struct Layout {
    /// Frames (1 for a single image).
    pub frames: usize,
    /// Whether the result is returned with a channel axis.
    pub channel_axis: bool,
    /// Whether the result is returned with a frame axis.
    pub frame_axis: bool,
    /// Whether the result is returned with a z axis (a volume's).
    pub z_axis: bool,
}

impl Layout {
    /// The layout numpy gives a stack of `frames` like the first.
    pub fn of_frames(frames: &[Image]) -> Layout {
        Layout {
            frames: frames.len(),
            frame_axis: frames.len() > 1,
            channel_axis: frames.first().is_some_and(|f| f.channels() > 1),
            z_axis: frames.first().is_some_and(|f| f.shape().is_volume()),
        }
    }
}

/// An array's shape read as frames: the layout, and each frame's width, height, depth
/// and channels. Without `volume`: (H, W) one image; (H, W, C) one colour image when C
/// is 1, 3 or 4, else (N, H, W) frames of gray; (N, H, W, C) frames; `stack` forces
/// either reading of a 3-D array. With `volume`: (Z, Y, X) one volume, (Z, Y, X, C) one
/// of C channels, and with `stack=True` (N, Z, Y, X[, C]) frames of volumes; a 2-D
/// array is one slice.
pub fn dims(input: &Accepted<'_>, param: &str, axes: Axes) -> PyResult<(Layout, [u32; 4])> {
    let dims = input.shape.as_slice();
    let one = |f, h, w, d, c, fa, ca, za| Some((f, h, w, d, c, fa, ca, za));
    let read = match (dims, axes.stack, axes.volume) {
        ([h, w], None | Some(false), _) => one(1, *h, *w, 1, 1, false, false, false),
        ([h, w, c], None, false) if [1, 3, 4].contains(c) => {
            one(1, *h, *w, 1, *c, false, true, false)
        }
        ([h, w, c], Some(false), false) => one(1, *h, *w, 1, *c, false, true, false),
        ([n, h, w], _, false) => one(*n, *h, *w, 1, 1, true, false, false),
        ([n, h, w, c], None | Some(true), false) => one(*n, *h, *w, 1, *c, true, true, false),
        ([z, y, x], None | Some(false), true) => one(1, *y, *x, *z, 1, false, false, true),
        ([z, y, x, c], None | Some(false), true) => one(1, *y, *x, *z, *c, false, true, true),
        ([n, z, y, x], Some(true), true) => one(*n, *y, *x, *z, 1, true, false, true),
        ([n, z, y, x, c], Some(true), true) => one(*n, *y, *x, *z, *c, true, true, true),
        _ => None,
    };
    let Some((frames, h, w, d, c, frame_axis, channel_axis, z_axis)) = read else {
        let expected = if axes.volume {
            "with volume=True a 3-D (Z, Y, X) or 4-D (Z, Y, X, C) array (or with stack=True \
             4-D (N, Z, Y, X) or 5-D (N, Z, Y, X, C))"
        } else {
            "a 2-D (H, W), 3-D (H, W, C) or (N, H, W), or 4-D (N, H, W, C) array"
        };
        let stack = match axes.stack {
            Some(s) if dims.len() >= 3 => {
                format!(" with stack={}", if s { "True" } else { "False" })
            }
            _ => String::new(),
        };
        return Err(value_error(
            param,
            format!("expected {expected}, got shape {}{stack}", shape(dims)),
        ));
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
        z_axis,
    };
    Ok((layout, [dim(w)?, dim(h)?, dim(d)?, dim(c)?]))
}

/// The shape of each frame, checked (a zero-sized one is the caller's to refuse first).
fn frame_shape(param: &str, [w, h, d, c]: [u32; 4]) -> PyResult<imflow::Shape> {
    imflow::Shape::volume(w, h, d, c).map_err(|e| value_error(param, e.to_string()))
}

/// An array's frames as images of their own (a copy, in C order): for what outlives
/// the call (a flow's source, a file to write). An array with no samples is refused:
/// an image file holds at least one pixel.
pub fn to_frames(
    array: &Bound<'_, PyAny>,
    param: &str,
    axes: Axes,
) -> PyResult<(Vec<Image>, Layout)> {
    let input = accept(array, param, Role::Values)?;
    let (layout, sizes) = dims(&input, param, axes)?;
    if input.is_empty() {
        return Err(value_error(
            param,
            format!(
                "shape {} holds no pixels; an image holds at least one",
                shape(&input.shape)
            ),
        ));
    }
    let frame = frame_shape(param, sizes)?;
    with_samples(&input, |all| {
        let per = frame.samples();
        (0..layout.frames)
            .map(|f| {
                let samples = all.slice(f * per..(f + 1) * per).to_samples();
                Image::with_shape(frame, samples).map_err(crate::errors::to_py)
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
    axes: Axes,
    f: impl FnOnce(&[ImageView<'_>], Layout) -> PyResult<R>,
) -> PyResult<R> {
    let (layout, sizes) = dims(input, param, axes)?;
    if input.is_empty() {
        return Err(value_error(
            param,
            format!("shape {} holds no pixels", shape(&input.shape)),
        ));
    }
    let frame = frame_shape(param, sizes)?;
    with_samples(input, |all| {
        let per = frame.samples();
        let views = (0..layout.frames)
            .map(|k| {
                ImageView::with_shape(frame, all.slice(k * per..(k + 1) * per))
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
    let (h, w, d, c) = (
        first.height() as usize,
        first.width() as usize,
        first.depth() as usize,
        first.channels() as usize,
    );
    let mut dims = Vec::new();
    if layout.frame_axis {
        dims.push(layout.frames);
    }
    if layout.z_axis {
        dims.push(d);
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
