//! A node's value during a run: its frames on the engine (one for a plain image, the pages
//! of a multi-page TIFF, the frames of a GIF), and what it needs to be written like its
//! source.

use crate::image::SampleType;
use crate::io::{Animation, Format, Stack};
use std::sync::Arc;

/// What a value inherits from its source.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Meta {
    /// The source's sample type (what `OutputType::Same` writes).
    pub source_type: SampleType,
    /// The source's format (a GIF stays a GIF by default).
    pub format: Option<Format>,
    /// The source's animation timing.
    pub animation: Option<Animation>,
    /// The source's voxel size.
    pub voxel: Option<crate::image::VoxelSize>,
}

impl Meta {
    #[cfg(test)]
    pub fn plain(source_type: SampleType) -> Self {
        Meta {
            source_type,
            format: None,
            animation: None,
            voxel: None,
        }
    }

    /// The meta of an in-memory source.
    pub fn of_image(image: &crate::image::Image) -> Self {
        Meta {
            source_type: image.sample_type(),
            format: None,
            animation: None,
            voxel: None,
        }
    }

    /// The meta of a decoded source.
    pub fn of(stack: &Stack) -> Self {
        Meta {
            source_type: stack.frames[0].sample_type(),
            format: stack.format,
            animation: stack.animation.clone(),
            voxel: stack.voxel.clone(),
        }
    }
}

/// Frames on the engine, with their source's meta.
#[derive(Clone, Debug)]
pub(crate) struct Value<F> {
    pub frames: Vec<F>,
    pub meta: Arc<Meta>,
}

impl<F> Value<F> {
    #[cfg(test)]
    pub fn new(frames: Vec<F>, meta: Meta) -> Self {
        Value {
            frames,
            meta: Arc::new(meta),
        }
    }
}
