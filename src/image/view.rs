//! Borrowed images: samples that live elsewhere (a numpy array's buffer, one frame of a
//! stack) which the engine reads without copying them first. An [`Image`] lends one
//! with [`Image::view`]; an embedder builds one over its own memory with
//! [`ImageView::new`].

use super::{Image, Rect, SampleType, Samples, Shape};
use crate::{Error, Result};
use std::borrow::Cow;

/// Borrowed interleaved samples of one type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplesRef<'a> {
    /// 8-bit samples.
    U8(&'a [u8]),
    /// 16-bit samples.
    U16(&'a [u16]),
    /// 32-bit float samples.
    F32(&'a [f32]),
    /// 8-bit signed samples.
    I8(&'a [i8]),
    /// 16-bit signed samples.
    I16(&'a [i16]),
    /// 32-bit signed samples.
    I32(&'a [i32]),
    /// 32-bit unsigned samples.
    U32(&'a [u32]),
    /// 64-bit float samples.
    F64(&'a [f64]),
}

/// Calls `$f` on the slice inside any [`SamplesRef`].
macro_rules! with_slice {
    ($s:expr, $v:ident => $f:expr) => {
        match $s {
            SamplesRef::U8($v) => $f,
            SamplesRef::U16($v) => $f,
            SamplesRef::F32($v) => $f,
            SamplesRef::I8($v) => $f,
            SamplesRef::I16($v) => $f,
            SamplesRef::I32($v) => $f,
            SamplesRef::U32($v) => $f,
            SamplesRef::F64($v) => $f,
        }
    };
}

impl<'a> SamplesRef<'a> {
    /// The sample type.
    pub fn sample_type(&self) -> SampleType {
        match self {
            SamplesRef::U8(_) => SampleType::U8,
            SamplesRef::U16(_) => SampleType::U16,
            SamplesRef::F32(_) => SampleType::F32,
            SamplesRef::I8(_) => SampleType::I8,
            SamplesRef::I16(_) => SampleType::I16,
            SamplesRef::I32(_) => SampleType::I32,
            SamplesRef::U32(_) => SampleType::U32,
            SamplesRef::F64(_) => SampleType::F64,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        with_slice!(self, v => v.len())
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples in `range`, still borrowed.
    pub fn slice(&self, range: std::ops::Range<usize>) -> SamplesRef<'a> {
        match *self {
            SamplesRef::U8(v) => SamplesRef::U8(&v[range]),
            SamplesRef::U16(v) => SamplesRef::U16(&v[range]),
            SamplesRef::F32(v) => SamplesRef::F32(&v[range]),
            SamplesRef::I8(v) => SamplesRef::I8(&v[range]),
            SamplesRef::I16(v) => SamplesRef::I16(&v[range]),
            SamplesRef::I32(v) => SamplesRef::I32(&v[range]),
            SamplesRef::U32(v) => SamplesRef::U32(&v[range]),
            SamplesRef::F64(v) => SamplesRef::F64(&v[range]),
        }
    }

    /// The samples as their own vector.
    pub fn to_samples(&self) -> Samples {
        match *self {
            SamplesRef::U8(v) => Samples::U8(v.to_vec()),
            SamplesRef::U16(v) => Samples::U16(v.to_vec()),
            SamplesRef::F32(v) => Samples::F32(v.to_vec()),
            SamplesRef::I8(v) => Samples::I8(v.to_vec()),
            SamplesRef::I16(v) => Samples::I16(v.to_vec()),
            SamplesRef::I32(v) => Samples::I32(v.to_vec()),
            SamplesRef::U32(v) => Samples::U32(v.to_vec()),
            SamplesRef::F64(v) => Samples::F64(v.to_vec()),
        }
    }

    /// The samples as little-endian bytes (the upload format and the hashing format).
    pub fn as_le_bytes(&self) -> Cow<'a, [u8]> {
        // Every platform wgpu targets is little-endian, so the in-memory bytes are the
        // wire bytes; the `to_le_bytes` path keeps big-endian hosts correct regardless.
        if cfg!(target_endian = "little") {
            with_slice!(*self, v => Cow::Borrowed(bytemuck::cast_slice(v)))
        } else {
            Cow::Owned(with_slice!(*self, v => v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        }
    }

    /// Every sample as f32 (rounded to nearest for 32-bit integers and f64).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match *self {
            SamplesRef::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            SamplesRef::U16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            SamplesRef::F32(v) => v.to_vec(),
            SamplesRef::I8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            SamplesRef::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            SamplesRef::I32(v) => v.iter().map(|&x| x as f32).collect(),
            SamplesRef::U32(v) => v.iter().map(|&x| x as f32).collect(),
            SamplesRef::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}

/// An image whose samples are borrowed: a shape plus interleaved samples of one type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageView<'a> {
    shape: Shape,
    samples: SamplesRef<'a>,
}

impl<'a> ImageView<'a> {
    /// Borrows the samples of a 2-D image, checking that their count matches the shape.
    pub fn new(width: u32, height: u32, channels: u32, samples: SamplesRef<'a>) -> Result<Self> {
        Self::with_shape(Shape::new(width, height, channels)?, samples)
    }

    /// Borrows the samples of an image of any shape (a volume), in (z, y, x, c) order.
    pub fn with_shape(shape: Shape, samples: SamplesRef<'a>) -> Result<Self> {
        let shape = Shape::volume(shape.width, shape.height, shape.depth, shape.channels)?;
        if samples.len() != shape.samples() {
            return Err(Error::Shape {
                width: shape.width,
                height: shape.height,
                depth: shape.depth,
                channels: shape.channels,
                reason: format!(
                    "{} samples given, {} expected",
                    samples.len(),
                    shape.samples()
                ),
            });
        }
        Ok(ImageView { shape, samples })
    }

    pub(super) fn of(shape: Shape, samples: SamplesRef<'a>) -> Self {
        debug_assert_eq!(samples.len(), shape.samples());
        ImageView { shape, samples }
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The sample type.
    pub fn sample_type(&self) -> SampleType {
        self.samples.sample_type()
    }

    /// The interleaved samples.
    pub fn samples(&self) -> SamplesRef<'a> {
        self.samples
    }

    /// The samples copied into an image of their own.
    pub fn to_image(&self) -> Image {
        Image {
            shape: self.shape,
            samples: self.samples.to_samples(),
        }
    }

    /// Every sample as f32 (rounded to nearest for 32-bit integers and f64), interleaved.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.samples.to_f32_vec()
    }

    /// The part `rect`, copied row by row in the samples' own type.
    pub fn crop(&self, rect: Rect) -> Result<Image> {
        if !rect.fits(self.shape) {
            return Err(Error::usage(format!(
                "crop {rect:?} does not fit a {} image",
                self.shape
            )));
        }
        let c = self.shape.channels as usize;
        let row = self.shape.width as usize * c;
        let slice = row * self.shape.height as usize;
        let (x0, w) = (rect.x as usize * c, rect.width as usize * c);
        let mut out =
            Samples::with_capacity(self.sample_type(), w * rect.len() / rect.width as usize);
        for z in rect.z as usize..(rect.z + rect.depth) as usize {
            for y in rect.y as usize..(rect.y + rect.height) as usize {
                let at = z * slice + y * row + x0;
                out.extend_from_view(self.samples, at..at + w)?;
            }
        }
        Image::with_shape(rect.shape(self.shape.channels), out)
    }
}

macro_rules! from_slice {
    ($($t:ty => $v:ident),*) => {$(
        impl<'a> From<&'a [$t]> for SamplesRef<'a> {
            fn from(v: &'a [$t]) -> Self {
                SamplesRef::$v(v)
            }
        }
    )*};
}
from_slice!(u8 => U8, u16 => U16, f32 => F32, i8 => I8, i16 => I16, i32 => I32, u32 => U32, f64 => F64);
