//! The host-side image model: interleaved samples of one type, as files hold them.
//!
//! On the way into a backend an [`Image`] becomes f32 planes (one plane per channel);
//! see [`crate::cpu::Planes`] and [`crate::gpu::GpuImage`]. Keeping the host model in
//! the source's own sample type is what lets u8/u16 (and i8/i16) travel to the GPU at
//! 1/4 or 1/2 of the f32 size.
//!
//! Every sample type is computed in f32. That is exact for 8- and 16-bit samples; 32-bit
//! integers above 2^24 in magnitude and f64 samples are rounded to the nearest f32 (a
//! relative error of at most 2^-24, 6e-8) when they enter a backend, and f64 loses the
//! exponent range beyond f32's (about 1e±38).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The type of one sample (one channel of one pixel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleType {
    /// 8-bit unsigned integer, 0..=255.
    U8,
    /// 16-bit unsigned integer, 0..=65535.
    U16,
    /// 32-bit IEEE float.
    F32,
    /// 8-bit signed integer.
    I8,
    /// 16-bit signed integer.
    I16,
    /// 32-bit signed integer.
    I32,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit IEEE float (computed in f32).
    F64,
}

impl SampleType {
    /// Every sample type.
    pub const ALL: [SampleType; 8] = [
        SampleType::U8,
        SampleType::U16,
        SampleType::F32,
        SampleType::I8,
        SampleType::I16,
        SampleType::I32,
        SampleType::U32,
        SampleType::F64,
    ];

    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            SampleType::U8 | SampleType::I8 => 1,
            SampleType::U16 | SampleType::I16 => 2,
            SampleType::F32 | SampleType::I32 | SampleType::U32 => 4,
            SampleType::F64 => 8,
        }
    }

    /// The smallest and largest value of an integer type, `None` for floats.
    pub fn range(self) -> Option<(f64, f64)> {
        match self {
            SampleType::U8 => Some((0.0, 255.0)),
            SampleType::U16 => Some((0.0, 65535.0)),
            SampleType::I8 => Some((-128.0, 127.0)),
            SampleType::I16 => Some((-32768.0, 32767.0)),
            SampleType::I32 => Some((-2147483648.0, 2147483647.0)),
            SampleType::U32 => Some((0.0, 4294967295.0)),
            SampleType::F32 | SampleType::F64 => None,
        }
    }

    /// True for the integer types.
    pub fn is_integer(self) -> bool {
        self.range().is_some()
    }

    /// True for the 8- and 16-bit integer types, whose every level is exact in f32.
    pub fn is_small_integer(self) -> bool {
        matches!(
            self,
            SampleType::U8 | SampleType::U16 | SampleType::I8 | SampleType::I16
        )
    }

    /// Lower-case name, as used on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            SampleType::U8 => "u8",
            SampleType::U16 => "u16",
            SampleType::F32 => "f32",
            SampleType::I8 => "i8",
            SampleType::I16 => "i16",
            SampleType::I32 => "i32",
            SampleType::U32 => "u32",
            SampleType::F64 => "f64",
        }
    }
}

impl std::fmt::Display for SampleType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SampleType {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        SampleType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown sample type `{s}` (expected u8, u16, f32, i8, i16, i32, u32 or f64)"
                )
            })
    }
}

/// Sample storage, interleaved (`RGBRGB…` for colour).
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    /// 8-bit samples.
    U8(Vec<u8>),
    /// 16-bit samples.
    U16(Vec<u16>),
    /// 32-bit float samples.
    F32(Vec<f32>),
    /// 8-bit signed samples.
    I8(Vec<i8>),
    /// 16-bit signed samples.
    I16(Vec<i16>),
    /// 32-bit signed samples.
    I32(Vec<i32>),
    /// 32-bit unsigned samples.
    U32(Vec<u32>),
    /// 64-bit float samples.
    F64(Vec<f64>),
}

macro_rules! from_vec {
    ($($t:ty => $v:ident),*) => {$(
        impl From<Vec<$t>> for Samples {
            fn from(v: Vec<$t>) -> Self {
                Samples::$v(v)
            }
        }
    )*};
}
from_vec!(u8 => U8, u16 => U16, f32 => F32, i8 => I8, i16 => I16, i32 => I32, u32 => U32, f64 => F64);

/// Calls `$f` on the vector inside any [`Samples`].
macro_rules! with_samples {
    ($s:expr, $v:ident => $f:expr) => {
        match $s {
            Samples::U8($v) => $f,
            Samples::U16($v) => $f,
            Samples::F32($v) => $f,
            Samples::I8($v) => $f,
            Samples::I16($v) => $f,
            Samples::I32($v) => $f,
            Samples::U32($v) => $f,
            Samples::F64($v) => $f,
        }
    };
}

mod assemble;
mod shape;
mod view;

pub(crate) use shape::dims;
pub use shape::{Rect, Shape, VoxelSize, Window, MAX_CHANNELS};

/// `s`'s samples as a slice of the type of `like` (an error if they are of another).
fn assemble_typed<'s, T: 'static>(s: &'s Samples, _like: &[T]) -> Result<&'s [T]> {
    with_samples!(s, v => (v as &dyn std::any::Any).downcast_ref::<Vec<T>>().map(Vec::as_slice))
        .ok_or_else(|| Error::usage("cannot put images of different sample types together"))
}

pub use view::{ImageView, SamplesRef};

impl Samples {
    /// `len` zero samples of type `t` (fresh zeroed pages, not written).
    pub fn zeros(t: SampleType, len: usize) -> Samples {
        match t {
            SampleType::U8 => Samples::U8(vec![0; len]),
            SampleType::U16 => Samples::U16(vec![0; len]),
            SampleType::F32 => Samples::F32(vec![0.0; len]),
            SampleType::I8 => Samples::I8(vec![0; len]),
            SampleType::I16 => Samples::I16(vec![0; len]),
            SampleType::I32 => Samples::I32(vec![0; len]),
            SampleType::U32 => Samples::U32(vec![0; len]),
            SampleType::F64 => Samples::F64(vec![0.0; len]),
        }
    }

    /// An empty vector of type `t` with room for `capacity` samples.
    pub fn with_capacity(t: SampleType, capacity: usize) -> Samples {
        match t {
            SampleType::U8 => Samples::U8(Vec::with_capacity(capacity)),
            SampleType::U16 => Samples::U16(Vec::with_capacity(capacity)),
            SampleType::F32 => Samples::F32(Vec::with_capacity(capacity)),
            SampleType::I8 => Samples::I8(Vec::with_capacity(capacity)),
            SampleType::I16 => Samples::I16(Vec::with_capacity(capacity)),
            SampleType::I32 => Samples::I32(Vec::with_capacity(capacity)),
            SampleType::U32 => Samples::U32(Vec::with_capacity(capacity)),
            SampleType::F64 => Samples::F64(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `other[range]`, which must be of the same type.
    pub fn extend_from(&mut self, other: &Samples, range: std::ops::Range<usize>) -> Result<()> {
        self.extend_from_view(other.view(), range)
    }

    /// Appends `other[range]` of borrowed samples, which must be of the same type.
    pub fn extend_from_view(
        &mut self,
        other: SamplesRef<'_>,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        let (a, b) = (self.sample_type(), other.sample_type());
        match (self, other) {
            (Samples::U8(x), SamplesRef::U8(y)) => x.extend_from_slice(&y[range]),
            (Samples::U16(x), SamplesRef::U16(y)) => x.extend_from_slice(&y[range]),
            (Samples::F32(x), SamplesRef::F32(y)) => x.extend_from_slice(&y[range]),
            (Samples::I8(x), SamplesRef::I8(y)) => x.extend_from_slice(&y[range]),
            (Samples::I16(x), SamplesRef::I16(y)) => x.extend_from_slice(&y[range]),
            (Samples::I32(x), SamplesRef::I32(y)) => x.extend_from_slice(&y[range]),
            (Samples::U32(x), SamplesRef::U32(y)) => x.extend_from_slice(&y[range]),
            (Samples::F64(x), SamplesRef::F64(y)) => x.extend_from_slice(&y[range]),
            _ => {
                return Err(Error::usage(format!(
                    "cannot append {b} samples to {a} ones"
                )))
            }
        }
        Ok(())
    }

    /// The sample type.
    pub fn sample_type(&self) -> SampleType {
        self.view().sample_type()
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples of type `t` from their little-endian bytes (a whole number of samples).
    pub fn from_le_bytes(t: SampleType, bytes: &[u8]) -> Samples {
        fn le<T: bytemuck::Pod, const N: usize>(b: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
            if cfg!(target_endian = "little") {
                bytemuck::pod_collect_to_vec(b)
            } else {
                b.chunks_exact(N)
                    .map(|c| f(c.try_into().expect("N bytes")))
                    .collect()
            }
        }
        match t {
            SampleType::U8 => Samples::U8(bytes.to_vec()),
            SampleType::I8 => Samples::I8(bytes.iter().map(|&b| b as i8).collect()),
            SampleType::U16 => Samples::U16(le(bytes, u16::from_le_bytes)),
            SampleType::I16 => Samples::I16(le(bytes, i16::from_le_bytes)),
            SampleType::F32 => Samples::F32(le(bytes, f32::from_le_bytes)),
            SampleType::I32 => Samples::I32(le(bytes, i32::from_le_bytes)),
            SampleType::U32 => Samples::U32(le(bytes, u32::from_le_bytes)),
            SampleType::F64 => Samples::F64(le(bytes, f64::from_le_bytes)),
        }
    }

    /// The samples as little-endian bytes (the upload format and the hashing format).
    pub fn as_le_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        self.view().as_le_bytes()
    }

    /// The samples, borrowed.
    pub fn view(&self) -> SamplesRef<'_> {
        match self {
            Samples::U8(v) => SamplesRef::U8(v),
            Samples::U16(v) => SamplesRef::U16(v),
            Samples::F32(v) => SamplesRef::F32(v),
            Samples::I8(v) => SamplesRef::I8(v),
            Samples::I16(v) => SamplesRef::I16(v),
            Samples::I32(v) => SamplesRef::I32(v),
            Samples::U32(v) => SamplesRef::U32(v),
            Samples::F64(v) => SamplesRef::F64(v),
        }
    }
}

/// An image in host memory: a shape plus interleaved samples of one type.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    shape: Shape,
    samples: Samples,
}

impl Image {
    /// Builds a 2-D image, checking that the sample count matches the shape.
    pub fn new(width: u32, height: u32, channels: u32, samples: Samples) -> Result<Self> {
        Self::with_shape(Shape::new(width, height, channels)?, samples)
    }

    /// Builds an image of any shape (a volume: [`Shape::volume`]), checking that the
    /// sample count matches it. Samples are in (z, y, x, c) order.
    pub fn with_shape(shape: Shape, samples: Samples) -> Result<Self> {
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
        Ok(Image { shape, samples })
    }

    /// Stacks images of one shape and type into a volume, one slice each (the pages
    /// of a z-stack). Each may itself be a volume: their slices follow one another.
    pub fn volume_of(slices: Vec<Image>) -> Result<Image> {
        let first = slices
            .first()
            .ok_or_else(|| Error::usage("no slices to make a volume of"))?;
        let (shape, t) = (first.shape, first.sample_type());
        if let Some((k, s)) = (slices.iter().enumerate())
            .find(|(_, s)| s.shape.slice() != shape.slice() || s.sample_type() != t)
        {
            return Err(Error::unsupported(format!(
                "slice {k} is {} {} but slice 0 is {} {t}: every slice of a volume must match",
                s.shape,
                s.sample_type(),
                shape
            )));
        }
        let depth: u32 = slices.iter().map(|s| s.shape.depth).sum();
        let shape = Shape::volume(shape.width, shape.height, depth, shape.channels)?;
        if slices.len() == 1 {
            return Ok(slices.into_iter().next().expect("one slice"));
        }
        let mut samples = Samples::with_capacity(t, shape.samples());
        for s in &slices {
            samples.extend_from(&s.samples, 0..s.samples.len())?;
        }
        Image::with_shape(shape, samples)
    }

    /// Single-channel images of one shape and type as the channels of one image, in
    /// order (a hyperstack's channel pages).
    pub fn interleave(mut channels: Vec<Image>) -> Result<Image> {
        if channels.len() == 1 {
            return Ok(channels.pop().expect("one channel"));
        }
        let first = channels
            .first()
            .ok_or_else(|| Error::usage("no channels to put together"))?;
        let (shape, t) = (first.shape, first.sample_type());
        if let Some(c) = channels
            .iter()
            .find(|c| c.shape != shape || c.sample_type() != t || c.channels() != 1)
        {
            return Err(Error::unsupported(format!(
                "a {} {} channel beside a {shape} {t} one: channel pages must be gray and match",
                c.shape,
                c.sample_type()
            )));
        }
        let n = channels.len();
        let out_shape = Shape::volume(shape.width, shape.height, shape.depth, n as u32)?;
        let mut out = Image::blank(out_shape, t);
        with_samples!(&mut out.samples, o => {
            for (c, ch) in channels.iter().enumerate() {
                let src = assemble_typed(&ch.samples, o)?;
                for (d, &v) in o.iter_mut().skip(c).step_by(n).zip(src) {
                    *d = v;
                }
            }
        });
        Ok(out)
    }

    /// Each channel as an image of its own (a hyperstack's channel pages).
    pub fn channel_images(&self) -> Vec<Image> {
        let c = self.shape.channels as usize;
        if c == 1 {
            return vec![self.clone()];
        }
        let shape = Shape {
            channels: 1,
            ..self.shape
        };
        (0..c)
            .map(|ch| {
                let samples = with_samples!(&self.samples, v => {
                    let one: Vec<_> = v.iter().skip(ch).step_by(c).copied().collect();
                    Samples::from(one)
                });
                Image { shape, samples }
            })
            .collect()
    }

    /// The volume's slices as 2-D images (a 2-D image is its one slice).
    pub fn slices(&self) -> Vec<Image> {
        if !self.shape.is_volume() {
            return vec![self.clone()];
        }
        let n = self.shape.slice_len() * self.shape.channels as usize;
        (0..self.shape.depth as usize)
            .map(|z| Image {
                shape: self.shape.slice(),
                samples: self.samples.view().slice(z * n..(z + 1) * n).to_samples(),
            })
            .collect()
    }

    /// Shorthand for a gray image.
    pub fn gray(width: u32, height: u32, samples: Samples) -> Result<Self> {
        Self::new(width, height, 1, samples)
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }
    /// Pixels per row.
    pub fn width(&self) -> u32 {
        self.shape.width
    }
    /// Rows per slice.
    pub fn height(&self) -> u32 {
        self.shape.height
    }
    /// Slices: 1 for a 2-D image.
    pub fn depth(&self) -> u32 {
        self.shape.depth
    }
    /// Channels per pixel.
    pub fn channels(&self) -> u32 {
        self.shape.channels
    }
    /// The sample type.
    pub fn sample_type(&self) -> SampleType {
        self.samples.sample_type()
    }
    /// The interleaved samples.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }
    /// Takes the samples out.
    pub fn into_samples(self) -> Samples {
        self.samples
    }

    /// The image, borrowed: what the engine reads from.
    pub fn view(&self) -> ImageView<'_> {
        ImageView::of(self.shape, self.samples.view())
    }

    /// The part `rect` of the image.
    pub fn crop(&self, rect: Rect) -> Result<Image> {
        if rect == Rect::of(self.shape) {
            return Ok(self.clone());
        }
        self.view().crop(rect)
    }

    /// The same image with alpha set to opaque (RGBA u8 only; others unchanged). GIF
    /// holds only on/off transparency, so tests and examples that round-trip GIFs use it.
    pub fn into_opaque(mut self) -> Self {
        if let (Samples::U8(v), 4) = (&mut self.samples, self.shape.channels) {
            v.chunks_exact_mut(4).for_each(|p| p[3] = 255);
        }
        self
    }

    /// Every sample as f32 (rounded to nearest for 32-bit integers and f64), interleaved.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.samples.view().to_f32_vec()
    }
}
