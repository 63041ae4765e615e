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

/// Calls `$f` on two [`Samples`] vectors of the same type (`$else` when they differ).
macro_rules! with_samples_pair {
    ($a:expr, $b:expr, $x:ident, $y:ident => $f:expr, $else:expr) => {
        match ($a, $b) {
            (Samples::U8($x), Samples::U8($y)) => $f,
            (Samples::U16($x), Samples::U16($y)) => $f,
            (Samples::F32($x), Samples::F32($y)) => $f,
            (Samples::I8($x), Samples::I8($y)) => $f,
            (Samples::I16($x), Samples::I16($y)) => $f,
            (Samples::I32($x), Samples::I32($y)) => $f,
            (Samples::U32($x), Samples::U32($y)) => $f,
            (Samples::F64($x), Samples::F64($y)) => $f,
            _ => $else,
        }
    };
}

/// The samples of `s` as `T`s, if that is their type.
fn typed<T: 'static>(s: &Samples) -> Option<&[T]> {
    with_samples!(s, v => (v as &dyn std::any::Any).downcast_ref::<Vec<T>>().map(Vec::as_slice))
}

/// Copies rows of images into `out` (lines of `line` samples), in parallel by line: the
/// output is fresh memory, and its first touch (page faults) is most of the cost.
fn put_together<T: Copy + Send + Sync + 'static>(
    out: &mut [T],
    rows: &[&[Image]],
    line: usize,
    c: usize,
) -> Result<()> {
    use rayon::prelude::*;
    // Each row's first output line and its images' samples with their line lengths.
    let mut bands = Vec::with_capacity(rows.len());
    let mut y0 = 0;
    for row in rows {
        let parts = (row.iter())
            .map(|p| typed::<T>(&p.samples).map(|s| (s, p.width() as usize * c)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::usage("cannot put images of different sample types together"))?;
        bands.push((y0, parts));
        y0 += row.first().map_or(0, |p| p.height() as usize);
    }
    if line == 0 {
        return Ok(());
    }
    out.par_chunks_mut(line)
        .with_min_len(64)
        .enumerate()
        .for_each(|(y, dst)| {
            let (start, parts) = &bands[bands.partition_point(|(s, _)| *s <= y) - 1];
            let mut x = 0;
            for &(s, n) in parts {
                dst[x..x + n].copy_from_slice(&s[(y - start) * n..][..n]);
                x += n;
            }
        });
    Ok(())
}

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
        let (a, b) = (self.sample_type(), other.sample_type());
        with_samples_pair!(self, other, x, y => {
            x.extend_from_slice(&y[range]);
            Ok(())
        }, Err(Error::usage(format!("cannot append {b} samples to {a} ones"))))
    }

    /// The sample type.
    pub fn sample_type(&self) -> SampleType {
        match self {
            Samples::U8(_) => SampleType::U8,
            Samples::U16(_) => SampleType::U16,
            Samples::F32(_) => SampleType::F32,
            Samples::I8(_) => SampleType::I8,
            Samples::I16(_) => SampleType::I16,
            Samples::I32(_) => SampleType::I32,
            Samples::U32(_) => SampleType::U32,
            Samples::F64(_) => SampleType::F64,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        with_samples!(self, v => v.len())
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
        // Every platform wgpu targets is little-endian, so the in-memory bytes are the
        // wire bytes; the `to_le_bytes` path keeps big-endian hosts correct regardless.
        if cfg!(target_endian = "little") {
            with_samples!(self, v => std::borrow::Cow::Borrowed(bytemuck::cast_slice(v)))
        } else {
            std::borrow::Cow::Owned(
                with_samples!(self, v => v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            )
        }
    }
}

/// Width, height and channel count of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Channels per pixel: 1 (gray), 3 (RGB) or 4 (RGBA).
    pub channels: u32,
}

impl Shape {
    /// Validates a shape: non-zero sides, 1/3/4 channels, sample count within `u32`
    /// (GPU indices are 32-bit).
    pub fn new(width: u32, height: u32, channels: u32) -> Result<Self> {
        let shape = Shape {
            width,
            height,
            channels,
        };
        let bad = |reason: &str| Error::Shape {
            width,
            height,
            channels,
            reason: reason.to_string(),
        };
        if width == 0 || height == 0 {
            return Err(bad("zero-sized image"));
        }
        if !matches!(channels, 1 | 3 | 4) {
            return Err(bad(
                "only 1 (gray), 3 (RGB) or 4 (RGBA) channels are supported",
            ));
        }
        if shape.samples_u64() > u64::from(u32::MAX) {
            return Err(bad("more than 2^32 samples"));
        }
        Ok(shape)
    }

    /// Pixels in one plane.
    pub fn plane_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Samples in the whole image.
    pub fn samples(&self) -> usize {
        self.plane_len() * self.channels as usize
    }

    pub(crate) fn samples_u64(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * u64::from(self.channels)
    }
}

/// Where an image's samples sit in a larger image: a tile and its halo. Kernels reflect
/// at the larger image's edges, so a window's filtered values equal the whole image's
/// wherever the window holds every tap they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Column of the window's first sample in the whole image.
    pub x: u32,
    /// Row of the window's first sample in the whole image.
    pub y: u32,
    /// The whole image's width.
    pub full_width: u32,
    /// The whole image's height.
    pub full_height: u32,
}

/// A rectangle of an image, in that image's pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rect {
    /// First column.
    pub x: u32,
    /// First row.
    pub y: u32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

impl Rect {
    /// All of an image of `shape`.
    pub fn of(shape: Shape) -> Self {
        Rect {
            x: 0,
            y: 0,
            width: shape.width,
            height: shape.height,
        }
    }

    /// The shape of this rectangle of an image with `channels` channels.
    pub fn shape(&self, channels: u32) -> Shape {
        Shape {
            width: self.width,
            height: self.height,
            channels,
        }
    }

    /// Whether the rectangle lies within an image of `shape` and is not empty.
    pub fn fits(&self, shape: Shape) -> bool {
        self.width > 0
            && self.height > 0
            && u64::from(self.x) + u64::from(self.width) <= u64::from(shape.width)
            && u64::from(self.y) + u64::from(self.height) <= u64::from(shape.height)
    }
}

impl Window {
    /// The part `rect` of this window, as a window of the same whole image.
    pub fn crop(&self, rect: Rect) -> Window {
        Window {
            x: self.x + rect.x,
            y: self.y + rect.y,
            ..*self
        }
    }

    /// The whole of an image of `shape`.
    pub fn whole(shape: Shape) -> Self {
        Window {
            x: 0,
            y: 0,
            full_width: shape.width,
            full_height: shape.height,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.width, self.height, self.channels)
    }
}

/// An image in host memory: a shape plus interleaved samples of one type.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    shape: Shape,
    samples: Samples,
}

impl Image {
    /// Builds an image, checking that the sample count matches the shape.
    pub fn new(width: u32, height: u32, channels: u32, samples: Samples) -> Result<Self> {
        let shape = Shape::new(width, height, channels)?;
        if samples.len() != shape.samples() {
            return Err(Error::Shape {
                width,
                height,
                channels,
                reason: format!(
                    "{} samples given, {} expected",
                    samples.len(),
                    shape.samples()
                ),
            });
        }
        Ok(Image { shape, samples })
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
    /// Rows.
    pub fn height(&self) -> u32 {
        self.shape.height
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

    /// The part `rect` of the image.
    pub fn crop(&self, rect: Rect) -> Result<Image> {
        if !rect.fits(self.shape) {
            return Err(Error::usage(format!(
                "crop {rect:?} does not fit a {} image",
                self.shape
            )));
        }
        if rect == Rect::of(self.shape) {
            return Ok(self.clone());
        }
        // Row by row in the samples' own type: one copy, no byte round trip.
        let c = self.shape.channels as usize;
        let row = self.shape.width as usize * c;
        let (x0, w) = (rect.x as usize * c, rect.width as usize * c);
        let mut out = Samples::with_capacity(self.sample_type(), w * rect.height as usize);
        for y in rect.y as usize..(rect.y + rect.height) as usize {
            out.extend_from(&self.samples, y * row + x0..y * row + x0 + w)?;
        }
        Image::new(rect.width, rect.height, self.shape.channels, out)
    }

    /// Images of equal height and type side by side, left to right.
    pub fn beside(parts: &[Image]) -> Result<Image> {
        match parts {
            [one] => Ok(one.clone()),
            _ => Image::mosaic(&[parts]),
        }
    }

    /// Images of one width, channel count and sample type, one above the other.
    pub fn stacked(parts: &[Image]) -> Result<Image> {
        let rows: Vec<&[Image]> = parts.iter().map(std::slice::from_ref).collect();
        Image::mosaic(&rows)
    }

    /// Rows of images put together in one copy: the images of a row side by side (equal
    /// heights), the rows one above the other (equal widths); one channel count and
    /// sample type throughout. How tiles become a frame.
    pub fn mosaic<R: AsRef<[Image]>>(rows: &[R]) -> Result<Image> {
        let rows: Vec<&[Image]> = rows.iter().map(AsRef::as_ref).collect();
        let first = (rows.first().and_then(|r| r.first()))
            .ok_or_else(|| Error::usage("no images to put together"))?;
        let (c, t) = (first.channels(), first.sample_type());
        let width: u32 = rows[0].iter().map(Image::width).sum();
        let mut height = 0u32;
        for row in &rows {
            let r0 = row
                .first()
                .ok_or_else(|| Error::usage("an empty row of images to put together"))?;
            let h = r0.height();
            let w: u32 = row.iter().map(Image::width).sum();
            if let Some(p) = row
                .iter()
                .find(|p| (p.height(), p.channels(), p.sample_type()) != (h, c, t))
                .or((w != width).then_some(r0))
            {
                return Err(Error::usage(format!(
                    "cannot put a {} {} image together with a {} {} one (rows of {width} columns)",
                    p.shape(),
                    p.sample_type(),
                    first.shape(),
                    t
                )));
            }
            height += h;
        }
        let line = width as usize * c as usize;
        let mut out = Samples::zeros(t, line * height as usize);
        with_samples!(&mut out, o => put_together(o, &rows, line, c as usize))?;
        Image::new(width, height, c, out)
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
        match &self.samples {
            Samples::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Samples::U16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Samples::F32(v) => v.clone(),
            Samples::I8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Samples::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Samples::I32(v) => v.iter().map(|&x| x as f32).collect(),
            Samples::U32(v) => v.iter().map(|&x| x as f32).collect(),
            Samples::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}
