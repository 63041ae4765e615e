//! The host-side image model: interleaved samples of one type, as files hold them.
//!
//! On the way into a backend an [`Image`] becomes f32 planes (one plane per channel);
//! see [`crate::cpu::Planes`] and [`crate::gpu::GpuImage`]. Keeping the host model in
//! the source's own sample type is what lets u8/u16 travel to the GPU at 1/4 or 1/2 of
//! the f32 size.

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
}

impl SampleType {
    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            SampleType::U8 => 1,
            SampleType::U16 => 2,
            SampleType::F32 => 4,
        }
    }

    /// The largest value of an integer type (as f32), `None` for f32.
    pub fn max_value(self) -> Option<f32> {
        match self {
            SampleType::U8 => Some(255.0),
            SampleType::U16 => Some(65535.0),
            SampleType::F32 => None,
        }
    }

    /// Lower-case name, as used on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            SampleType::U8 => "u8",
            SampleType::U16 => "u16",
            SampleType::F32 => "f32",
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
        match s {
            "u8" => Ok(SampleType::U8),
            "u16" => Ok(SampleType::U16),
            "f32" => Ok(SampleType::F32),
            other => Err(format!(
                "unknown sample type `{other}` (expected u8, u16 or f32)"
            )),
        }
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
}

impl Samples {
    /// The sample type.
    pub fn sample_type(&self) -> SampleType {
        match self {
            Samples::U8(_) => SampleType::U8,
            Samples::U16(_) => SampleType::U16,
            Samples::F32(_) => SampleType::F32,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples as little-endian bytes (the upload format and the hashing format).
    pub fn as_le_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        // Every platform wgpu targets is little-endian, so the in-memory bytes are the
        // wire bytes; the `to_le_bytes` path keeps big-endian hosts correct regardless.
        if cfg!(target_endian = "little") {
            match self {
                Samples::U8(v) => std::borrow::Cow::Borrowed(v.as_slice()),
                Samples::U16(v) => std::borrow::Cow::Borrowed(bytemuck::cast_slice(v)),
                Samples::F32(v) => std::borrow::Cow::Borrowed(bytemuck::cast_slice(v)),
            }
        } else {
            std::borrow::Cow::Owned(match self {
                Samples::U8(v) => v.clone(),
                Samples::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                Samples::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            })
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

    /// The same image with alpha set to opaque (RGBA u8 only; others unchanged). GIF
    /// holds only on/off transparency, so tests and examples that round-trip GIFs use it.
    pub fn into_opaque(mut self) -> Self {
        if let (Samples::U8(v), 4) = (&mut self.samples, self.shape.channels) {
            v.chunks_exact_mut(4).for_each(|p| p[3] = 255);
        }
        self
    }

    /// Every sample widened to f32, interleaved.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.samples {
            Samples::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Samples::U16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Samples::F32(v) => v.clone(),
        }
    }
}
