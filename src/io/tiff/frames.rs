//! A TIFF's images by its axes ([`Layout`]): each frame (a time point) a 2-D image or
//! a volume of its slices, channels from the samples of a page or from pages of their
//! own. Read whole, or a part (some rows of some slices) at a time, so a volume larger
//! than memory streams through bricks page by page.

use super::meta::{Layout, Reading};
use super::read::{PageInfo, TiffPages};
use crate::image::{Image, Rect, SampleType, Shape};
use crate::{Error, Result};
use std::io::{Read, Seek};

/// A TIFF's frames.
pub struct TiffFrames<R: Read + Seek> {
    pages: TiffPages<R>,
    layout: Layout,
    first: PageInfo,
    shape: Shape,
}

impl<R: Read + Seek> TiffFrames<R> {
    /// Reads every page's header (they must all match the first) and the axes,
    /// as `reading` asks. `chunk_limit` bounds what one strip or tile may decode to.
    pub fn open(reader: R, chunk_limit: u64, reading: Reading) -> Result<Self> {
        let mut pages = TiffPages::open(reader, chunk_limit)?;
        let first = pages.info().clone();
        let (description, resolution) = (pages.description(), pages.resolution());
        let mut count = 1;
        while pages.advance()? {
            let p = pages.info();
            if (p.shape, p.sample_type) != (first.shape, first.sample_type) {
                return Err(Error::unsupported(format!(
                    "page {count} is {} {} but page 0 is {} {}: every page must match",
                    p.shape, p.sample_type, first.shape, first.sample_type
                )));
            }
            count += 1;
        }
        let layout = Layout::of_file(
            description.as_deref(),
            resolution,
            first.shape.channels,
            count,
            reading,
        )?;
        if layout.channels > 1 && first.shape.channels > 1 {
            return Err(Error::unsupported(format!(
                "{} channel pages of {} channels each; imflow reads channels as pages of one \
                 sample or as the samples of one page",
                layout.channels, first.shape.channels
            )));
        }
        let channels = first.shape.channels * layout.channels as u32;
        let shape = Shape::volume(
            first.shape.width,
            first.shape.height,
            layout.slices as u32,
            channels,
        )
        .map_err(super::read::shape_to_decode)?;
        Ok(TiffFrames {
            pages,
            layout,
            first,
            shape,
        })
    }

    /// Each frame's shape: a volume of the file's slices, with its channels.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The samples' type.
    pub fn sample_type(&self) -> SampleType {
        self.first.sample_type
    }

    /// The axes.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Frames (time points).
    pub fn frames(&self) -> usize {
        self.layout.frames
    }

    /// Bytes one page decodes to.
    pub fn page_bytes(&self) -> u64 {
        self.first.bytes()
    }

    /// Part `part` of frame `t`: all its columns (`x` 0, `width` the frame's), rows
    /// `y..y + height` of slices `z..z + depth`.
    pub fn read(&mut self, t: usize, part: Rect) -> Result<Image> {
        let s = self.shape;
        if t >= self.layout.frames || part.x != 0 || part.width != s.width || !part.fits(s) {
            return Err(Error::usage(format!(
                "part {part:?} of frame {t} of {} {s} frames",
                self.layout.frames
            )));
        }
        let (y0, y1) = (part.y, part.y + part.height);
        let mut slices = Vec::with_capacity(part.depth as usize);
        for z in part.z as usize..(part.z + part.depth) as usize {
            let mut channels = Vec::with_capacity(self.layout.channels);
            for c in 0..self.layout.channels {
                self.pages.seek(self.layout.page(t, z, c))?;
                channels.push(self.pages.read_rows(y0, y1)?);
            }
            slices.push(Image::interleave(channels)?);
        }
        Image::volume_of(slices)
    }

    /// Frame `t`, whole.
    pub fn read_frame(&mut self, t: usize) -> Result<Image> {
        self.read(t, Rect::of(self.shape))
    }
}
