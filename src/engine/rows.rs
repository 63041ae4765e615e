//! Frames in and out of tiled runs as bands of rows: where a tiled frame's pixels come
//! from ([`RowSource`]: a frame in memory, read in place, or a TIFF read band by band),
//! how each tile's windows are read from them ([`TileReader`]), and where its outputs go
//! ([`RowSink`]: a frame in memory, a TIFF written band by band, a measurer), a row of
//! tiles at a time ([`Rows`]).

use super::tiled::{Tile, TileProgram};
use crate::image::{Image, ImageView, Rect, Shape};
use crate::{Error, Result};

/// Where a tiled frame's pixels come from: full-width bands of rows, top to bottom (a
/// band may be asked for again when halos overlap).
pub trait RowSource {
    /// Rows `y0..y1`, all columns.
    fn rows(&mut self, y0: u32, y1: u32) -> Result<Image>;

    /// The whole frame, where the source holds it in memory (an image, a numpy
    /// array): tiles then read their windows from it in place, with no copy. `None` for
    /// a source read band by band.
    fn whole(&self) -> Option<ImageView<'_>> {
        None
    }
}

/// Where a tiled frame's output goes: full-width bands of rows, top to bottom.
pub trait RowSink {
    /// The next band.
    fn put(&mut self, band: Image) -> Result<()>;

    /// The next band as its tiles, left to right. A sink that keeps the whole frame
    /// anyway (an image in memory) takes them as they are and copies each sample once.
    fn put_tiles(&mut self, tiles: Vec<Image>) -> Result<()> {
        self.put(Image::beside(&tiles)?)
    }
}

impl RowSource for &Image {
    fn rows(&mut self, y0: u32, y1: u32) -> Result<Image> {
        self.view().rows(y0, y1)
    }

    fn whole(&self) -> Option<ImageView<'_>> {
        Some(self.view())
    }
}

impl RowSource for ImageView<'_> {
    fn rows(&mut self, y0: u32, y1: u32) -> Result<Image> {
        self.crop(Rect {
            x: 0,
            y: y0,
            width: self.shape().width,
            height: y1 - y0,
        })
    }

    fn whole(&self) -> Option<ImageView<'_>> {
        Some(*self)
    }
}

/// Collects bands (or their tiles) into one image of the frame's shape, each row of
/// tiles copied into place as it comes (and then freed).
#[derive(Debug)]
pub struct Collect {
    shape: Shape,
    frame: Option<Image>,
    /// Rows filled so far.
    y: u32,
}

impl Collect {
    /// Collects a frame of `shape` (its output's sample type is the first band's).
    pub fn new(shape: Shape) -> Self {
        Collect {
            shape,
            frame: None,
            y: 0,
        }
    }

    /// The frame, once every row has come.
    pub fn into_image(self) -> Result<Image> {
        match self.frame {
            Some(frame) if self.y == self.shape.height => Ok(frame),
            _ => Err(Error::usage(format!(
                "a {} frame got {} of its rows",
                self.shape, self.y
            ))),
        }
    }
}

impl RowSink for Collect {
    fn put(&mut self, band: Image) -> Result<()> {
        self.put_tiles(vec![band])
    }

    fn put_tiles(&mut self, mut tiles: Vec<Image>) -> Result<()> {
        let h = tiles.first().map_or(0, Image::height);
        if self.frame.is_none() && tiles.len() == 1 && tiles[0].shape() == self.shape {
            // The whole frame in one piece: taken as it is.
            self.frame = tiles.pop();
        } else {
            let t = (tiles.first())
                .ok_or_else(|| Error::usage("an empty row of tiles"))?
                .sample_type();
            let shape = self.shape;
            (self.frame.get_or_insert_with(|| Image::blank(shape, t))).put_row(self.y, &tiles)?;
        }
        self.y += h;
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
/// memory, else one band of rows per source per row of tiles.
pub(super) enum TileReader<'s, 'r> {
    Whole(Vec<ImageView<'s>>),
    Bands {
        sources: &'s mut [&'r mut dyn RowSource],
        band: Option<(Rect, Vec<Image>)>,
    },
}

impl<'s, 'r> TileReader<'s, 'r> {
    pub fn new(sources: &'s mut [&'r mut dyn RowSource]) -> Self {
        if sources.iter().all(|s| s.whole().is_some()) {
            let sources: &'s [&'r mut dyn RowSource] = sources;
            return TileReader::Whole(sources.iter().filter_map(|s| s.whole()).collect());
        }
        TileReader::Bands {
            sources,
            band: None,
        }
    }

    /// Every source's window of `tile`.
    pub fn images(&mut self, tile: &Tile, row_tiles: usize) -> Result<Vec<TileSource<'s>>> {
        let (sources, band) = match self {
            TileReader::Whole(views) => {
                return Ok(views
                    .iter()
                    .map(|v| TileSource::Part(*v, tile.outer))
                    .collect())
            }
            TileReader::Bands { sources, band } => (sources, band),
        };
        let rows = Rect {
            x: 0,
            width: 0,
            ..tile.outer
        };
        if band.as_ref().is_none_or(|(r, _)| *r != rows) {
            let bands = (sources.iter_mut())
                .map(|s| s.rows(tile.outer.y, tile.outer.y + tile.outer.height))
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
            .map(|b| Ok(TileSource::Read(b.crop(Rect { y: 0, ..tile.outer })?)))
            .collect()
    }
}

/// Tiles that came back, gathered into rows: a finished row goes to its sink.
pub(super) struct Rows {
    parts: Vec<Vec<Image>>,
}

impl Rows {
    /// Rows of `outputs` outputs.
    pub fn new(outputs: usize) -> Self {
        Rows {
            parts: vec![Vec::new(); outputs],
        }
    }

    /// Files a tile program's images, one per output, and hands each finished row to
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
            parts.push(image);
            if layout.col + 1 == layout.row_len {
                sink.put_tiles(std::mem::take(parts))?;
            }
        }
        Ok(())
    }
}
