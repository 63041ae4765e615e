//! Where an image is: its shape (Z, Y, X[, C]), boxes of it, a tile's window onto the
//! whole image, and the physical size of its voxels.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Most channels an image may have. Files hold 1 (gray), 3 (RGB) or 4 (RGBA) per
/// pixel; microscopy hyperstacks hold any number as separate pages.
pub const MAX_CHANNELS: u32 = 64;

/// Width, height, depth and channel count of an image: (Z, Y, X[, C]) in numpy's order,
/// samples interleaved by channel. A 2-D image has depth 1; a volume (a z-stack) more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Pixels per row (X).
    pub width: u32,
    /// Rows per slice (Y).
    pub height: u32,
    /// Slices (Z); 1 for a 2-D image. Left out of records when 1, so a 2-D shape reads
    /// and writes as it always did.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub depth: u32,
    /// Channels per pixel: 1 (gray), 3 (RGB), 4 (RGBA), or up to [`MAX_CHANNELS`].
    pub channels: u32,
}

fn one() -> u32 {
    1
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

impl Shape {
    /// Validates a 2-D shape: non-zero sides, 1 to [`MAX_CHANNELS`] channels, sample
    /// count within `u32` (GPU indices are 32-bit).
    pub fn new(width: u32, height: u32, channels: u32) -> Result<Self> {
        Self::volume(width, height, 1, channels)
    }

    /// Validates a volume's shape (`depth` slices of `height` rows of `width` pixels),
    /// as [`Shape::new`] does a 2-D one.
    pub fn volume(width: u32, height: u32, depth: u32, channels: u32) -> Result<Self> {
        let shape = Shape {
            width,
            height,
            depth,
            channels,
        };
        let bad = |reason: &str| Error::Shape {
            width,
            height,
            depth,
            channels,
            reason: reason.to_string(),
        };
        if width == 0 || height == 0 || depth == 0 {
            return Err(bad("zero-sized image"));
        }
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(bad(&format!(
                "{channels} channels; 1 (gray), 3 (RGB), 4 (RGBA) or up to {MAX_CHANNELS} are supported"
            )));
        }
        if shape.samples_u64() > u64::from(u32::MAX) {
            return Err(bad("more than 2^32 samples"));
        }
        Ok(shape)
    }

    /// Whether the image is a volume (more than one slice).
    pub fn is_volume(&self) -> bool {
        self.depth > 1
    }

    /// The same shape with `depth` slices (unchecked; see [`Shape::volume`]).
    pub fn with_depth(self, depth: u32) -> Shape {
        Shape { depth, ..self }
    }

    /// The shape of one slice (depth 1).
    pub fn slice(&self) -> Shape {
        self.with_depth(1)
    }

    /// Pixels in one slice of one channel.
    pub fn slice_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Pixels in one channel's plane: all its slices.
    pub fn plane_len(&self) -> usize {
        self.slice_len() * self.depth as usize
    }

    /// Samples in the whole image.
    pub fn samples(&self) -> usize {
        self.plane_len() * self.channels as usize
    }

    pub(crate) fn samples_u64(&self) -> u64 {
        u64::from(self.width)
            * u64::from(self.height)
            * u64::from(self.depth)
            * u64::from(self.channels)
    }

    /// Rows of the whole image: `height` per slice.
    pub fn rows(&self) -> u32 {
        self.height * self.depth
    }

    /// The sizes in numpy's order: `(Z, Y, X)` for a volume, `(Y, X)` otherwise, with
    /// `C` last where there is more than one channel.
    pub fn numpy(&self) -> Vec<u32> {
        let mut v = Vec::with_capacity(4);
        if self.is_volume() {
            v.push(self.depth);
        }
        v.extend([self.height, self.width]);
        if self.channels > 1 {
            v.push(self.channels);
        }
        v
    }
}

/// The physical size of a voxel (a pixel of a 2-D image has `z` 1), as microscopy files
/// record it: ImageJ's `spacing` and resolution, OME's `PhysicalSizeX/Y/Z`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoxelSize {
    /// Between slices.
    pub z: f64,
    /// Between rows.
    pub y: f64,
    /// Between columns.
    pub x: f64,
    /// The unit of all three (`µm` for micrometres, as OME writes it).
    pub unit: String,
}

impl VoxelSize {
    /// The sizes in numpy's order `(z, y, x)`.
    pub fn zyx(&self) -> [f64; 3] {
        [self.z, self.y, self.x]
    }
}

/// Where an image's samples sit in a larger image: a tile (or brick) and its halo.
/// Kernels reflect at the larger image's edges, so a window's filtered values equal the
/// whole image's wherever the window holds every tap they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Column of the window's first sample in the whole image.
    pub x: u32,
    /// Row of the window's first sample in the whole image.
    pub y: u32,
    /// Slice of the window's first sample in the whole image.
    pub z: u32,
    /// The whole image's width.
    pub full_width: u32,
    /// The whole image's height.
    pub full_height: u32,
    /// The whole image's depth.
    pub full_depth: u32,
}

/// A box of an image, in that image's pixel coordinates: a rectangle of a 2-D image
/// (`z = 0`, `depth = 1`), or of some slices of a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rect {
    /// First column.
    pub x: u32,
    /// First row.
    pub y: u32,
    /// First slice.
    pub z: u32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Slices.
    pub depth: u32,
}

impl Rect {
    /// A rectangle of a 2-D image (or of the first slice of a volume).
    pub fn area(x: u32, y: u32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            z: 0,
            width,
            height,
            depth: 1,
        }
    }

    /// All of an image of `shape`.
    pub fn of(shape: Shape) -> Self {
        Rect {
            depth: shape.depth,
            ..Rect::area(0, 0, shape.width, shape.height)
        }
    }

    /// The shape of this box of an image with `channels` channels.
    pub fn shape(&self, channels: u32) -> Shape {
        Shape {
            width: self.width,
            height: self.height,
            depth: self.depth,
            channels,
        }
    }

    /// Whether the box lies within an image of `shape` and is not empty.
    pub fn fits(&self, shape: Shape) -> bool {
        let within = |at: u32, len: u32, whole: u32| {
            len > 0 && u64::from(at) + u64::from(len) <= u64::from(whole)
        };
        within(self.x, self.width, shape.width)
            && within(self.y, self.height, shape.height)
            && within(self.z, self.depth, shape.depth)
    }

    /// Pixels in the box (of one channel).
    pub fn len(&self) -> usize {
        self.width as usize * self.height as usize * self.depth as usize
    }

    /// Whether the box holds no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Window {
    /// The part `rect` of this window, as a window of the same whole image.
    pub fn crop(&self, rect: Rect) -> Window {
        Window {
            x: self.x + rect.x,
            y: self.y + rect.y,
            z: self.z + rect.z,
            ..*self
        }
    }

    /// The whole of an image of `shape`.
    pub fn whole(shape: Shape) -> Self {
        Window {
            x: 0,
            y: 0,
            z: 0,
            full_width: shape.width,
            full_height: shape.height,
            full_depth: shape.depth,
        }
    }
}

impl std::fmt::Display for Shape {
    /// `WxHxC` for a 2-D image, `WxHxDxC` for a volume.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&dims(self.width, self.height, self.depth, self.channels))
    }
}

/// `WxHxC`, or `WxHxDxC` where there is more than one slice.
pub(crate) fn dims(width: u32, height: u32, depth: u32, channels: u32) -> String {
    if depth == 1 {
        format!("{width}x{height}x{channels}")
    } else {
        format!("{width}x{height}x{depth}x{channels}")
    }
}
