//! numpy arrays in and out: any sample type imflow reads, C- or Fortran-ordered or
//! strided, 2-D (H, W), colour (H, W, C) and stacks (N, H, W[, C]).
//!
//! A C-ordered input of a dtype imflow reads as is is borrowed without a copy for the
//! call ([`with_frames`]); other layouts, and inputs that outlive the call (a flow's
//! sources), are copied once into C order. Outputs are handed to numpy without a copy
//! (the result's Vec becomes the array's buffer).

use crate::errors::type_error;
use imflow::{Image, ImageView, SampleType, Samples, SamplesRef};
use numpy::{Element, PyArray1, PyArrayDescrMethods, PyArrayMethods, PyUntypedArrayMethods};
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
fn dims(array: &Bound<'_, PyAny>, stack: Option<bool>) -> PyResult<(Layout, [u32; 3])> {
    let untyped = untyped(array)?;
    let shape = untyped.shape().to_vec();
    let (frames, h, w, c, frame_axis, channel_axis) = match (shape.as_slice(), stack) {
        ([h, w], None | Some(false)) => (1, *h, *w, 1, false, false),
        ([h, w, c], None) if [1, 3, 4].contains(c) => (1, *h, *w, *c, false, true),
        ([h, w, c], Some(false)) => (1, *h, *w, *c, false, true),
        ([n, h, w], _) => (*n, *h, *w, 1, true, false),
        ([n, h, w, c], None | Some(true)) => (*n, *h, *w, *c, true, true),
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "expected a 2-D (H, W), 3-D (H, W, C) or (N, H, W), or 4-D (N, H, W, C) array, \
                 got shape {shape:?}{}",
                if stack == Some(false) && shape.len() == 4 {
                    " with stack=False"
                } else {
                    ""
                }
            )))
        }
    };
    let dim = |v: usize| {
        u32::try_from(v).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!("dimension {v} is too large"))
        })
    };
    let layout = Layout {
        frames,
        channel_axis,
        frame_axis,
    };
    Ok((layout, [dim(w)?, dim(h)?, dim(c)?]))
}

fn untyped<'a, 'py>(
    array: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, numpy::PyUntypedArray>> {
    array.cast::<numpy::PyUntypedArray>().map_err(|_| {
        type_error(format!(
            "expected a numpy array, got {}",
            array
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

/// An array's frames as images of their own (a copy, in C order): for what outlives
/// the call (a flow's source, a file to write).
pub fn to_frames(array: &Bound<'_, PyAny>, stack: Option<bool>) -> PyResult<(Vec<Image>, Layout)> {
    let (layout, [w, h, c]) = dims(array, stack)?;
    let samples = read_samples(array)?;
    let per = w as usize * h as usize * c as usize;
    let images = (0..layout.frames)
        .map(|f| {
            Image::new(w, h, c, samples.range(f * per..(f + 1) * per)).map_err(crate::errors::to_py)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((images, layout))
}

/// `frames` frames of `w`x`h`x`c` over `all`, borrowed.
fn views(all: SamplesRef<'_>, frames: usize, [w, h, c]: [u32; 3]) -> PyResult<Vec<ImageView<'_>>> {
    let per = w as usize * h as usize * c as usize;
    (0..frames)
        .map(|k| {
            ImageView::new(w, h, c, all.slice(k * per..(k + 1) * per)).map_err(crate::errors::to_py)
        })
        .collect()
}

/// Calls `f` with the array's frames as views. A C-ordered, aligned array of a dtype
/// imflow reads as is is borrowed where it lies (numpy's read-only borrow held for the
/// call): no copy, whatever its size. Any other layout (Fortran order, strides, an odd
/// offset) is first copied by numpy into one that is, and bool masks into u8. The
/// caller may release the GIL inside `f`; Python code that writes to the array
/// meanwhile races with the read, as with any C extension that reads a buffer without
/// the GIL.
pub fn with_frames<R>(
    array: &Bound<'_, PyAny>,
    stack: Option<bool>,
    f: impl FnOnce(&[ImageView<'_>], Layout) -> PyResult<R>,
) -> PyResult<R> {
    let (layout, [w, h, c]) = dims(array, stack)?;
    let array = c_aligned(array)?;
    let dtype = untyped(&array)?.dtype();
    let py = array.py();
    let is = |d: Bound<'_, numpy::PyArrayDescr>| dtype.is_equiv_to(&d);
    macro_rules! borrow {
        ($($t:ty),*) => {$(
            if is(numpy::dtype::<$t>(py)) {
                let ro = array.cast::<numpy::PyArrayDyn<$t>>()?.try_readonly()?;
                let all = ro.as_slice().map_err(|e| {
                    crate::errors::error(&format!("cannot read the array's memory: {e}"))
                })?;
                return f(&views(SamplesRef::from(all), layout.frames, [w, h, c])?, layout);
            }
        )*};
    }
    borrow!(u8, u16, f32, i8, i16, i32, u32, f64);
    // bool, or a dtype read_samples refuses with the reason.
    let (images, layout) = to_frames(&array, stack)?;
    let views: Vec<ImageView<'_>> = images.iter().map(Image::view).collect();
    f(&views, layout)
}

/// The array itself when it is C-ordered and aligned, else numpy's copy that is
/// (`numpy.require(a, requirements="CA")`): memory a slice may be made of.
fn c_aligned<'py>(array: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = array.py();
    py.import("numpy")?
        .call_method1("require", (array, py.None(), ("C", "A")))
}

/// The samples of an array of any supported dtype, in C order.
fn read_samples(array: &Bound<'_, PyAny>) -> PyResult<SamplesBuf> {
    fn read<T: Element + Copy>(a: &Bound<'_, PyAny>) -> PyResult<Vec<T>> {
        // In C order from aligned memory (numpy copies any other layout first): a slice,
        // then our own copy.
        let c = c_aligned(a)?;
        let c = c.cast::<numpy::PyArrayDyn<T>>()?.readonly();
        let s = c
            .as_slice()
            .map_err(|e| crate::errors::error(&format!("cannot read the array's memory: {e}")))?;
        Ok(s.to_vec())
    }
    let untyped = array.cast::<numpy::PyUntypedArray>()?;
    let dtype = untyped.dtype();
    let py = array.py();
    let is = |d: Bound<'_, numpy::PyArrayDescr>| dtype.is_equiv_to(&d);
    Ok(if is(numpy::dtype::<u8>(py)) {
        SamplesBuf(Samples::U8(read::<u8>(array)?))
    } else if is(numpy::dtype::<bool>(py)) {
        // A boolean mask: 0 and 1 (numpy's astype(uint8)).
        SamplesBuf(Samples::U8(
            read::<bool>(array)?.into_iter().map(u8::from).collect(),
        ))
    } else if is(numpy::dtype::<u16>(py)) {
        SamplesBuf(Samples::U16(read::<u16>(array)?))
    } else if is(numpy::dtype::<f32>(py)) {
        SamplesBuf(Samples::F32(read::<f32>(array)?))
    } else if is(numpy::dtype::<i8>(py)) {
        SamplesBuf(Samples::I8(read::<i8>(array)?))
    } else if is(numpy::dtype::<i16>(py)) {
        SamplesBuf(Samples::I16(read::<i16>(array)?))
    } else if is(numpy::dtype::<i32>(py)) {
        SamplesBuf(Samples::I32(read::<i32>(array)?))
    } else if is(numpy::dtype::<u32>(py)) {
        SamplesBuf(Samples::U32(read::<u32>(array)?))
    } else if is(numpy::dtype::<f64>(py)) {
        SamplesBuf(Samples::F64(read::<f64>(array)?))
    } else {
        return Err(type_error(format!(
            "unsupported dtype {}: imflow reads bool, uint8, uint16, uint32, int8, int16, \
             int32, float32 and float64",
            dtype.str().map(|s| s.to_string()).unwrap_or_default()
        )));
    })
}

/// Samples of every frame, in C order.
struct SamplesBuf(Samples);

impl SamplesBuf {
    /// The samples in `r`, as their own vector.
    fn range(&self, r: std::ops::Range<usize>) -> Samples {
        match &self.0 {
            Samples::U8(v) => Samples::U8(v[r].to_vec()),
            Samples::U16(v) => Samples::U16(v[r].to_vec()),
            Samples::F32(v) => Samples::F32(v[r].to_vec()),
            Samples::I8(v) => Samples::I8(v[r].to_vec()),
            Samples::I16(v) => Samples::I16(v[r].to_vec()),
            Samples::I32(v) => Samples::I32(v[r].to_vec()),
            Samples::U32(v) => Samples::U32(v[r].to_vec()),
            Samples::F64(v) => Samples::F64(v[r].to_vec()),
        }
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
