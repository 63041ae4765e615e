//! Reading: pages, probed and decoded whole or band by band.

use crate::image::{Image, SampleType, Samples, Shape};
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use tiff::decoder::{ChunkType, Decoder, DecodingResult, Limits};
use tiff::tags::Tag;
use tiff::ColorType;

/// What one page holds.
#[derive(Clone, Debug, PartialEq)]
pub struct PageInfo {
    /// Width, height, channels.
    pub shape: Shape,
    /// The samples' type (1-bit masks are u8 of 0 and 1; f16 is f32).
    pub sample_type: SampleType,
    /// Bits per sample as stored.
    pub bits: u8,
    planar: bool,
    tiled: bool,
    chunk: (u32, u32),
    /// Uncompressed strips: read rows straight from the file.
    raw: Option<RawStrips>,
}

impl PageInfo {
    /// Bytes the page's samples take decoded.
    pub fn bytes(&self) -> u64 {
        self.shape.samples_u64() * self.sample_type.size() as u64
    }
}

#[derive(Clone, Debug, PartialEq)]
struct RawStrips {
    offsets: Vec<u64>,
    rows_per_strip: u32,
    little_endian: bool,
}

/// The pages of a TIFF, read band by band.
pub struct TiffPages<R: Read + Seek> {
    dec: Decoder<R>,
    info: PageInfo,
    /// Decoded chunks of the last chunk row read, by chunk index.
    cache: HashMap<u32, Vec<u8>>,
    little_endian: bool,
    /// The current page's index.
    page: usize,
}

/// Limits on what one page may ask of memory: `chunk` bounds the decoder's buffer for
/// one strip or tile.
fn decoder_limits(chunk: u64) -> Limits {
    let mut limits = Limits::default();
    limits.decoding_buffer_size = usize::try_from(chunk).unwrap_or(usize::MAX);
    limits.intermediate_buffer_size = limits.decoding_buffer_size;
    // Offsets of a large image's strips: 8 bytes each, a million strips.
    limits.ifd_value_size = 16 << 20;
    limits
}

impl<R: Read + Seek> TiffPages<R> {
    /// Reads the first page's header. `chunk_limit` bounds what one strip or tile may
    /// decode to: a forged header cannot demand more.
    pub fn open(mut reader: R, chunk_limit: u64) -> Result<Self> {
        let mut order = [0u8; 2];
        reader.read_exact(&mut order).map_err(Error::decode_from)?;
        reader.rewind().map_err(Error::decode_from)?;
        let dec = Decoder::new(reader)
            .map_err(Error::decode_from)?
            .with_limits(decoder_limits(chunk_limit));
        let mut pages = TiffPages {
            dec,
            info: PageInfo {
                shape: Shape {
                    width: 1,
                    height: 1,
                    depth: 1,
                    channels: 1,
                },
                sample_type: SampleType::U8,
                bits: 8,
                planar: false,
                tiled: false,
                chunk: (1, 1),
                raw: None,
            },
            cache: HashMap::new(),
            little_endian: &order == b"II",
            page: 0,
        };
        pages.info = pages.read_info()?;
        Ok(pages)
    }

    /// The current page.
    pub fn info(&self) -> &PageInfo {
        &self.info
    }

    /// Moves to the next page; `false` when there is none.
    pub fn advance(&mut self) -> Result<bool> {
        if !self.dec.more_images() {
            return Ok(false);
        }
        self.dec.next_image().map_err(Error::decode_from)?;
        self.cache.clear();
        self.info = self.read_info()?;
        self.page += 1;
        Ok(true)
    }

    /// Moves to page `page` (counted from 0), which must exist.
    pub fn seek(&mut self, page: usize) -> Result<()> {
        if page == self.page {
            return Ok(());
        }
        if page == self.page + 1 && self.advance()? {
            return Ok(());
        }
        self.dec.seek_to_image(page).map_err(Error::decode_from)?;
        self.cache.clear();
        self.info = self.read_info()?;
        self.page = page;
        Ok(())
    }

    /// The current page's index.
    pub fn page(&self) -> usize {
        self.page
    }

    /// The current page's description (ImageJ's or OME's metadata), if it has one.
    pub fn description(&mut self) -> Option<String> {
        self.dec.get_tag_ascii_string(Tag::ImageDescription).ok()
    }

    /// The current page's resolution along x and y, in pixels per unit, where it has
    /// one other than the default of 1 pixel per unit (ImageJ's pixel size).
    pub fn resolution(&mut self) -> Option<(f64, f64)> {
        let mut get = |tag| match self.dec.find_tag(tag).ok().flatten() {
            Some(tiff::decoder::ifd::Value::Rational(n, d)) if n > 0 && d > 0 => {
                Some(f64::from(n) / f64::from(d))
            }
            _ => None,
        };
        let (x, y) = (get(Tag::XResolution)?, get(Tag::YResolution)?);
        (x != 1.0 || y != 1.0).then_some((x, y))
    }

    fn read_info(&mut self) -> Result<PageInfo> {
        let dec = &mut self.dec;
        let (w, h) = dec.dimensions().map_err(Error::decode_from)?;
        let color = dec.colortype().map_err(Error::decode_from)?;
        let (c, bits) = match color {
            ColorType::Gray(b) => (1, b),
            ColorType::RGB(b) => (3, b),
            ColorType::RGBA(b) => (4, b),
            other => {
                return Err(Error::unsupported(format!(
                    "TIFF colour type {other:?} (imflow reads gray, RGB and RGBA)"
                )))
            }
        };
        let format = dec
            .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
            .map_err(Error::decode_from)?
            .and_then(|v| v.first().copied())
            .unwrap_or(1);
        let sample_type = match (format, bits) {
            (1, 1 | 8) => SampleType::U8,
            (1, 16) => SampleType::U16,
            (1, 32) => SampleType::U32,
            (2, 8) => SampleType::I8,
            (2, 16) => SampleType::I16,
            (2, 32) => SampleType::I32,
            (3, 16 | 32) => SampleType::F32,
            (3, 64) => SampleType::F64,
            (f, b) => {
                let kind = match f {
                    1 => "unsigned",
                    2 => "signed",
                    3 => "float",
                    _ => "untyped",
                };
                return Err(Error::unsupported(format!(
                    "TIFF with {b}-bit {kind} samples; imflow reads 1-bit, 8/16/32-bit integer \
                     and 16/32/64-bit float samples"
                )));
            }
        };
        let shape = Shape::new(w, h, c).map_err(shape_to_decode)?;
        let planar = dec
            .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
            .map_err(Error::decode_from)?
            == Some(2);
        let tiled = dec.get_chunk_type() == ChunkType::Tile;
        let chunk = dec.chunk_dimensions();
        let compression = dec
            .find_tag_unsigned::<u16>(Tag::Compression)
            .map_err(Error::decode_from)?
            .unwrap_or(1);
        let predictor = dec
            .find_tag_unsigned::<u16>(Tag::Predictor)
            .map_err(Error::decode_from)?
            .unwrap_or(1);
        let info = PageInfo {
            shape,
            sample_type,
            bits,
            planar,
            tiled,
            chunk,
            raw: None,
        };
        // A header must not claim more pixels than the file holds: uncompressed data
        // is as long as its samples.
        let counts: Vec<u64> = dec
            .find_tag_unsigned_vec(if tiled {
                Tag::TileByteCounts
            } else {
                Tag::StripByteCounts
            })
            .map_err(Error::decode_from)?
            .unwrap_or_default();
        let stored: u64 = counts.iter().sum();
        let row_bytes = info.row_bytes();
        let needed = row_bytes * u64::from(h) * if planar { u64::from(c) } else { 1 };
        if compression == 1 && !tiled && stored < needed {
            return Err(Error::decode(format!(
                "the header claims {w}x{h}x{c} {} pixels ({needed} bytes) but the file stores {stored} bytes of them",
                info.sample_type
            )));
        }
        let little_endian = self.little_endian;
        let dec = &mut self.dec;
        // Raw strips are read straight into samples: only where a stored sample is one
        // of ours (not 1-bit, not f16, which widen to u8 and f32).
        let as_stored = usize::from(bits) == 8 * info.sample_type.size();
        let raw = (compression == 1 && predictor == 1 && !tiled && as_stored)
            .then(|| -> Result<RawStrips> {
                let offsets: Vec<u64> = dec
                    .find_tag_unsigned_vec(Tag::StripOffsets)
                    .map_err(Error::decode_from)?
                    .ok_or_else(|| Error::decode("no strip offsets"))?;
                Ok(RawStrips {
                    offsets,
                    rows_per_strip: chunk.1.max(1),
                    little_endian,
                })
            })
            .transpose()?;
        Ok(PageInfo { raw, ..info })
    }

    /// Rows `y0..y1` of the current page, full width.
    pub fn read_rows(&mut self, y0: u32, y1: u32) -> Result<Image> {
        let info = self.info.clone();
        let s = info.shape;
        if y0 >= y1 || y1 > s.height {
            return Err(Error::usage(format!("rows {y0}..{y1} of a {s} page")));
        }
        let es = info.sample_type.size();
        let px = es * s.channels as usize;
        let rows = (y1 - y0) as usize;
        let mut out = vec![0u8; rows * s.width as usize * px];
        match &info.raw {
            Some(raw) => self.read_raw(&info, raw, y0, y1, &mut out)?,
            None => self.read_chunks(&info, y0, y1, &mut out)?,
        }
        let samples = Samples::from_le_bytes(info.sample_type, &out);
        Image::new(s.width, rows as u32, s.channels, samples)
    }

    /// The whole current page.
    pub fn read_page(&mut self) -> Result<Image> {
        let h = self.info.shape.height;
        self.read_rows(0, h)
    }

    /// Rows of uncompressed strips, read straight from the file.
    fn read_raw(
        &mut self,
        info: &PageInfo,
        raw: &RawStrips,
        y0: u32,
        y1: u32,
        out: &mut [u8],
    ) -> Result<()> {
        let s = info.shape;
        let es = info.sample_type.size();
        let planes = if info.planar { s.channels } else { 1 };
        let per_plane_row =
            s.width as usize * es * if info.planar { 1 } else { s.channels as usize };
        let strips_per_plane = s.height.div_ceil(raw.rows_per_strip) as usize;
        let mut buf = Vec::new();
        for p in 0..planes as usize {
            let mut y = y0;
            while y < y1 {
                let strip = (y / raw.rows_per_strip) as usize;
                let in_strip = y % raw.rows_per_strip;
                let n = (raw.rows_per_strip - in_strip).min(y1 - y);
                let offset = raw
                    .offsets
                    .get(p * strips_per_plane + strip)
                    .ok_or_else(|| Error::decode("fewer strip offsets than strips"))?
                    + u64::from(in_strip) * per_plane_row as u64;
                buf.resize(n as usize * per_plane_row, 0);
                let r = self.dec.inner();
                r.seek(SeekFrom::Start(offset))
                    .map_err(Error::decode_from)?;
                r.read_exact(&mut buf).map_err(Error::decode_from)?;
                if raw.little_endian != cfg!(target_endian = "little") {
                    buf.chunks_exact_mut(es).for_each(<[u8]>::reverse);
                }
                let first = (y - y0) as usize;
                place(info, p, &buf, (0, first, s.width as usize, n as usize), out);
                y += n;
            }
        }
        Ok(())
    }

    /// Rows of compressed (or tiled, or bit-packed) chunks, decoded one at a time.
    fn read_chunks(&mut self, info: &PageInfo, y0: u32, y1: u32, out: &mut [u8]) -> Result<()> {
        let s = info.shape;
        let (cw, ch) = info.chunk;
        let across = if info.tiled { s.width.div_ceil(cw) } else { 1 };
        let down = s.height.div_ceil(ch);
        let planes = if info.planar { s.channels } else { 1 };
        let (first_row, last_row) = (y0 / ch, (y1 - 1) / ch);
        // Keep only the chunks of the rows this band needs.
        let keep: Vec<u32> = (0..planes)
            .flat_map(|p| {
                (first_row..=last_row)
                    .flat_map(move |r| (0..across).map(move |t| (p * down + r) * across + t))
            })
            .collect();
        self.cache.retain(|k, _| keep.contains(k));
        for p in 0..planes {
            for r in first_row..=last_row {
                for t in 0..across {
                    let index = (p * down + r) * across + t;
                    let (dw, dh) = self.dec.chunk_data_dimensions(index);
                    if !self.cache.contains_key(&index) {
                        let mut decoded = self.dec.read_chunk(index).map_err(Error::decode_from)?;
                        let bytes = chunk_bytes(info, &mut decoded, dw, dh)?;
                        self.cache.insert(index, bytes);
                    }
                    let bytes = &self.cache[&index];
                    // The chunk covers rows r*ch .. r*ch+dh, columns t*cw .. t*cw+dw.
                    let top = r * ch;
                    let (from, to) = (y0.max(top), y1.min(top + dh));
                    let row_len = dw as usize
                        * info.sample_type.size()
                        * if info.planar { 1 } else { s.channels as usize };
                    let part =
                        &bytes[(from - top) as usize * row_len..(to - top) as usize * row_len];
                    place(
                        info,
                        p as usize,
                        part,
                        (
                            (t * cw) as usize,
                            (from - y0) as usize,
                            dw as usize,
                            (to - from) as usize,
                        ),
                        out,
                    );
                }
            }
        }
        Ok(())
    }
}

impl PageInfo {
    /// Bytes of one stored row of one plane (or of all channels, chunky).
    fn row_bytes(&self) -> u64 {
        let per_row = u64::from(self.shape.width)
            * if self.planar {
                1
            } else {
                u64::from(self.shape.channels)
            };
        if self.bits == 1 {
            per_row.div_ceil(8)
        } else {
            per_row * u64::from(self.bits) / 8
        }
    }
}

/// A decoded chunk as native-endian bytes of the page's sample type: bits unpacked to
/// 0/1 bytes, f16 widened to f32.
fn chunk_bytes(info: &PageInfo, decoded: &mut DecodingResult, w: u32, h: u32) -> Result<Vec<u8>> {
    let values = w as usize
        * if info.planar {
            1
        } else {
            info.shape.channels as usize
        };
    Ok(match decoded {
        DecodingResult::U8(v) if info.bits == 1 => {
            let stride = values.div_ceil(8);
            let mut out = Vec::with_capacity(values * h as usize);
            for row in v.chunks(stride).take(h as usize) {
                out.extend((0..values).map(|i| (row[i / 8] >> (7 - i % 8)) & 1));
            }
            out
        }
        DecodingResult::F16(v) => v.iter().flat_map(|x| f32::from(*x).to_ne_bytes()).collect(),
        other => other.as_buffer(0).as_bytes().to_vec(),
    })
}

/// Copies a block of decoded rows (`cols` values wide, at column `x` and band row `y`)
/// of plane `p` into the interleaved band `out`.
fn place(
    info: &PageInfo,
    p: usize,
    src: &[u8],
    (x, y, cols, rows): (usize, usize, usize, usize),
    out: &mut [u8],
) {
    let s = info.shape;
    let es = info.sample_type.size();
    let c = s.channels as usize;
    let out_row = s.width as usize * c * es;
    if !info.planar {
        let len = cols * c * es;
        for r in 0..rows {
            out[(y + r) * out_row + x * c * es..][..len].copy_from_slice(&src[r * len..][..len]);
        }
        return;
    }
    for r in 0..rows {
        for i in 0..cols {
            let to = (y + r) * out_row + ((x + i) * c + p) * es;
            out[to..to + es].copy_from_slice(&src[(r * cols + i) * es..][..es]);
        }
    }
}

/// Every page's header: the first page's, and the number of pages, which must all match
/// it in shape and sample type.
pub fn probe<R: Read + Seek>(reader: R) -> Result<(PageInfo, usize)> {
    let mut pages = TiffPages::open(reader, u64::MAX)?;
    let first = pages.info().clone();
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
    Ok((first, count))
}

/// Decodes up to `max_pages` pages whole; says whether more follow. `chunk_limit`
/// bounds one strip or tile, `page_limit` one page's samples.
pub(in crate::io) fn decode_pages<R: Read + Seek>(
    reader: R,
    max_pages: usize,
    page_limit: u64,
) -> Result<(Vec<Image>, bool)> {
    let mut pages = TiffPages::open(reader, page_limit)?;
    let mut out = Vec::new();
    loop {
        let bytes = pages.info().bytes();
        if bytes > page_limit {
            return Err(Error::decode(format!(
                "a {} {} page takes {} MB decoded, over the {} MB this read allows",
                pages.info().shape,
                pages.info().sample_type,
                bytes >> 20,
                page_limit >> 20
            )));
        }
        out.push(pages.read_page()?);
        if out.len() >= max_pages {
            return Ok((out, pages.dec.more_images()));
        }
        if !pages.advance()? {
            return Ok((out, false));
        }
    }
}

/// A shape the file declares that does not hold together is a decode error.
pub(in crate::io) fn shape_to_decode(e: Error) -> Error {
    match e {
        Error::Shape {
            width,
            height,
            depth,
            channels,
            reason,
        } => Error::decode(format!(
            "image {}: {reason}",
            crate::image::dims(width, height, depth, channels)
        )),
        e => e,
    }
}
