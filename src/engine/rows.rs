//! Frames in and out of tiled runs as bands: where a tiled frame's pixels come from
//! ([`RowSource`]: a frame in memory, read in place, or a TIFF read band by band), how
//! each tile's windows are read from them ([`TileReader`]), and where its outputs go
//! ([`RowSink`]: a frame in memory, a TIFF written band by band, a measurer), a band at
//! a time ([`Rows`]): a row of tiles of a 2-D frame, a slab of whole slices of a volume.

use super::cut::Tile;
use super::pass::TileProgram;
use crate::image::{Image, ImageView, Rect, Shape};
use crate::{Error, Result};

/// Where a tiled frame's pixels come from: full-width parts of the frame (rows of some
/// slices), in raster order (a part may be asked for again when halos overlap).
pub trait RowSource {
    /// The part `part` of the frame: all its columns (`x` 0, `width` the frame's), rows
    /// `y..y + height` of slices `z..z + depth`.
    fn rows(&mut self, part: Rect) -> Result<Image>;

    /// The whole frame, where the source holds it in memory (an image, a numpy
    /// array): tiles then read their windows from it in place, with no copy. `None` for
    /// a source read band by band.
    fn whole(&self) -> Option<ImageView<'_>> {
        None
    }
}

/// Where a tiled frame's output goes: bands in raster order, each all columns and rows
/// of some rows (a 2-D frame) or of some slices (a volume).
pub trait RowSink {
    /// The next band.
    fn put(&mut self, band: Image) -> Result<()>;

    /// The next band as its tiles, each with its place in the frame, in raster order. A
    /// sink that keeps the whole frame anyway (an image in memory) takes them as they
    /// are and copies each sample once.
    fn put_tiles(&mut self, tiles: Vec<(Rect, Image)>) -> Result<()> {
        self.put(assemble(tiles)?)
    }
}

/// The tiles of a band (in raster order) put together.
pub fn assemble(tiles: Vec<(Rect, Image)>) -> Result<Image> {
    if tiles.len() == 1 {
        return Ok(tiles.into_iter().next().expect("one tile").1);
    }
    let mut rows: Vec<Vec<Image>> = Vec::new();
    let mut last_y = None;
    for (rect, image) in tiles {
        if last_y != Some(rect.y) {
            rows.push(Vec::new());
            last_y = Some(rect.y);
        }
        rows.last_mut().expect("pushed above").push(image);
    }
    Image::mosaic(&rows)
}

impl RowSource for &Image {
    fn rows(&mut self, part: Rect) -> Result<Image> {
        self.view().crop(part)
    }

    fn whole(&self) -> Option<ImageView<'_>> {
        Some(self.view())
    }
}

impl RowSource for ImageView<'_> {
    fn rows(&mut self, part: Rect) -> Result<Image> {
        self.crop(part)
    }

    fn whole(&self) -> Option<ImageView<'_>> {
        Some(*self)
    }
}

/// Collects bands (or their tiles) into one image of the frame's shape, each tile
/// copied into place as it comes (and then freed).
#[derive(Debug)]
pub struct Collect {
    shape: Shape,
    frame: Option<Image>,
    /// Bands taken whole: the next one's first row (2-D) or slice (a volume).
    next: u32,
    /// Pixels filled so far (of one channel).
    filled: u64,
}

impl Collect {
    /// Collects a frame of `shape` (its output's sample type is the first band's).
    pub fn new(shape: Shape) -> Self {
        Collect {
            shape,
            frame: None,
            next: 0,
            filled: 0,
        }
    }

    /// The frame, once every pixel has come.
    pub fn into_image(self) -> Result<Image> {
        match self.frame {
            Some(frame) if self.filled == self.shape.plane_len() as u64 => Ok(frame),
            _ => Err(Error::usage(format!(
                "a {} frame got {} of its {} pixels",
                self.shape,
                self.filled,
                self.shape.plane_len()
            ))),
        }
    }

    fn place(&mut self, rect: Rect, part: Image) -> Result<()> {
        self.filled += rect.len() as u64;
        if self.frame.is_none() && part.shape() == self.shape {
            // The whole frame in one piece: taken as it is.
            self.frame = Some(part);
            return Ok(());
        }
        let shape = self.shape;
        let t = part.sample_type();
        (self.frame.get_or_insert_with(|| Image::blank(shape, t)))
            .put_at((rect.x, rect.y, rect.z), &part)
    }
}

impl RowSink for Collect {
    fn put(&mut self, band: Image) -> Result<()> {
        let s = band.shape();
        let rect = if self.shape.is_volume() {
            Rect {
                z: self.next,
                ..Rect::of(s)
            }
        } else {
            Rect::area(0, self.next, s.width, s.height)
        };
        self.next += if self.shape.is_volume() {
            s.depth
        } else {
            s.height
        };
        self.place(rect, band)
    }

    fn put_tiles(&mut self, tiles: Vec<(Rect, Image)>) -> Result<()> {
        for (rect, image) in tiles {
            self.next = if self.shape.is_volume() {
                rect.z + rect.depth
            } else {
                rect.y + rect.height
            };
            self.place(rect, image)?;
        }
        Ok(())
    }
}

/// A source's window of one tile: a part of a frame in memory, read in place, or
/// samples read for it.
pub(super) enum TileSource<'a> {
    Part(ImageView<'a>, Rect),
    Read(Image),
}

/// Reads the tiles' source windows: in place when every source holds its frame in
/// memory, else one band (the rows and slices of a row of tiles) per source per row of
/// tiles.
pub(super) enum TileReader<'s, 'r> {
    Whole(Vec<ImageView<'s>>),
    Bands {
        sources: &'s mut [&'r mut dyn RowSource],
        /// The frame's width: a band's.
        width: u32,
        band: Option<(Rect, Vec<Image>)>,
    },
}

impl<'s, 'r> TileReader<'s, 'r> {
    pub fn new(sources: &'s mut [&'r mut dyn RowSource], width: u32) -> Self {
        if sources.iter().all(|s| s.whole().is_some()) {
            let sources: &'s [&'r mut dyn RowSource] = sources;
            return TileReader::Whole(sources.iter().filter_map(|s| s.whole()).collect());
        }
        TileReader::Bands {
            sources,
            width,
            band: None,
        }
    }

    /// Every source's window of `tile`.
    pub fn images(&mut self, tile: &Tile, row_tiles: usize) -> Result<Vec<TileSource<'s>>> {
        let (sources, width, band) = match self {
            TileReader::Whole(views) => {
                return Ok(views
                    .iter()
                    .map(|v| TileSource::Part(*v, tile.outer))
                    .collect())
            }
            TileReader::Bands {
                sources,
                width,
                band,
            } => (sources, *width, band),
        };
        // The band: every column of the tile's rows and slices.
        let rows = Rect {
            x: 0,
            width,
            ..tile.outer
        };
        if band.as_ref().is_none_or(|(r, _)| *r != rows) {
            let bands = (sources.iter_mut())
                .map(|s| s.rows(rows))
                .collect::<Result<Vec<_>>>()?;
            *band = Some((rows, bands));
        }
        if row_tiles == 1 && tile.outer.x == 0 {
            // A full-width band is the tile itself: hand it over without a copy.
            let (_, bands) = band.take().expect("read above");
            return Ok(bands.into_iter().map(TileSource::Read).collect());
        }
        let (_, bands) = band.as_ref().expect("read above");
        bands
            .iter()
            .map(|b| {
                Ok(TileSource::Read(b.crop(Rect {
                    y: 0,
                    z: 0,
                    ..tile.outer
                })?))
            })
            .collect()
    }
}

/// Tiles that came back, gathered into bands: a finished band goes to its sink.
pub(super) struct Rows {
    parts: Vec<Vec<(Rect, Image)>>,
}

impl Rows {
    /// Bands of `outputs` outputs.
    pub fn new(outputs: usize) -> Self {
        Rows {
            parts: vec![Vec::new(); outputs],
        }
    }

    /// Files a tile program's images, one per output, and hands each finished band to
    /// that output's sink.
    pub fn take(
        &mut self,
        images: Vec<Image>,
        layout: &TileProgram,
        sinks: &mut [&mut dyn RowSink],
    ) -> Result<()> {
        if images.len() != self.parts.len() || sinks.len() != self.parts.len() {
            return Err(Error::usage(format!(
                "a tile gave {} images for {} outputs",
                images.len(),
                self.parts.len()
            )));
        }
        for ((parts, image), sink) in self.parts.iter_mut().zip(images).zip(sinks.iter_mut()) {
            parts.push((layout.tile.inner, image));
            if layout.ends_band {
                sink.put_tiles(std::mem::take(parts))?;
            }
        }
        Ok(())
    }
}
