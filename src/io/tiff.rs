//! TIFF through the `tiff` crate: every page; gray, RGB or RGBA, chunky or planar; u8,
//! u16, u32, i8, i16, i32, f32 and f64 samples, 1-bit masks (read as 0/1 u8) and f16
//! (read as f32); strips or tiles, in any compression the crate decodes (zstd, deflate,
//! LZW, ...); classic TIFF or BigTIFF.
//!
//! Pages are read band by band ([`TiffPages::read_rows`]), so a frame larger than memory
//! can stream through the tile pipeline: uncompressed strips are read row by row
//! straight from the file (a whole-slide TIFF is often one uncompressed strip of
//! gigabytes), compressed chunks are decoded one at a time and the last row of chunks
//! is kept for the next band. [`write_stream`] writes pages band by band, as strips,
//! BigTIFF when the file could pass 4 GiB.

use super::Stack;
use crate::image::{Image, SampleType, Samples, Shape};
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
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
        Ok(true)
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
pub(super) fn decode_pages<R: Read + Seek>(
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
pub(super) fn shape_to_decode(e: Error) -> Error {
    match e {
        Error::Shape {
            width,
            height,
            channels,
            reason,
        } => Error::decode(format!("image {width}x{height}x{channels}: {reason}")),
        e => e,
    }
}

/// Every frame as one page of a multi-page TIFF, uncompressed, classic or (past 4 GiB)
/// BigTIFF.
pub(super) fn encode(stack: &Stack) -> Result<Vec<u8>> {
    // The samples plus a little for the directories, reserved up front so the buffer is
    // not regrown and recopied as pages go in.
    let frames = &stack.frames;
    let samples: usize = (frames.iter())
        .map(|f| f.samples().len() * f.sample_type().size())
        .sum();
    let mut out = std::io::Cursor::new(Vec::with_capacity(samples + 4096 * frames.len()));
    macro_rules! pages {
        ($enc:expr) => {{
            let mut enc = $enc.map_err(Error::encode_from)?;
            for f in frames {
                write_page(&mut enc, f)?;
            }
        }};
    }
    if needs_bigtiff(samples as u64) {
        pages!(tiff::encoder::TiffEncoder::new_big(&mut out))
    } else {
        pages!(tiff::encoder::TiffEncoder::new(&mut out))
    }
    Ok(out.into_inner())
}

/// Whether a file of this many sample bytes needs BigTIFF (classic offsets are 32-bit;
/// leave room for the directories).
pub fn needs_bigtiff(sample_bytes: u64) -> bool {
    sample_bytes > (4u64 << 30) - (64 << 20)
}

/// Writes `pages` pages of `shape` and `sample_type`, each from bands of rows that
/// `next_band` hands over top to bottom (any height, any number): they become strips
/// of about 1 MiB, so only a band and a strip are in memory. BigTIFF when the samples
/// pass 4 GiB.
pub fn write_stream<W: Write + Seek>(
    w: W,
    shape: Shape,
    sample_type: SampleType,
    pages: usize,
    next_band: &mut dyn FnMut() -> Result<Image>,
) -> Result<()> {
    let bytes = shape.samples_u64() * sample_type.size() as u64 * pages as u64;
    macro_rules! go {
        ($enc:expr) => {{
            let mut enc = $enc.map_err(Error::encode_from)?;
            for _ in 0..pages {
                stream_page(&mut enc, shape, sample_type, next_band)?;
            }
            Ok(())
        }};
    }
    if needs_bigtiff(bytes) {
        go!(tiff::encoder::TiffEncoder::new_big(w))
    } else {
        go!(tiff::encoder::TiffEncoder::new(w))
    }
}

mod colors {
    //! Colour types the `tiff` crate's encoder lacks: RGB and RGBA of signed samples.
    use tiff::encoder::colortype::ColorType;
    use tiff::tags::{PhotometricInterpretation, SampleFormat};

    macro_rules! signed {
        ($name:ident, $t:ty, $bits:expr, $n:expr) => {
            pub struct $name;
            impl ColorType for $name {
                type Inner = $t;
                const TIFF_VALUE: PhotometricInterpretation = PhotometricInterpretation::RGB;
                const BITS_PER_SAMPLE: &'static [u16] = &[$bits; $n];
                const SAMPLE_FORMAT: &'static [SampleFormat] = &[SampleFormat::Int; $n];
                fn horizontal_predict(row: &[$t], result: &mut Vec<$t>) {
                    let (start, rest) = row.split_at(($n as usize).min(row.len()));
                    result.extend_from_slice(start);
                    result.extend(row.iter().zip(rest).map(|(p, c)| c.wrapping_sub(*p)));
                }
            }
        };
    }
    signed!(RgbI8, i8, 8, 3);
    signed!(RgbaI8, i8, 8, 4);
    signed!(RgbI16, i16, 16, 3);
    signed!(RgbaI16, i16, 16, 4);
    signed!(RgbI32, i32, 32, 3);
    signed!(RgbaI32, i32, 32, 4);
}

/// The samples of one type, typed.
trait Typed: Sized + Copy {
    fn slice(s: &Samples) -> Option<&[Self]>;
}

macro_rules! typed {
    ($t:ty, $v:ident) => {
        impl Typed for $t {
            fn slice(s: &Samples) -> Option<&[Self]> {
                match s {
                    Samples::$v(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
typed!(u8, U8);
typed!(u16, U16);
typed!(u32, U32);
typed!(i8, I8);
typed!(i16, I16);
typed!(i32, I32);
typed!(f32, F32);
typed!(f64, F64);

/// Runs `$body` with `$C` the encoder colour type of `$t` samples in `$c` channels.
macro_rules! by_color {
    ($t:expr, $c:expr, $C:ident => $body:expr) => {{
        use colors::*;
        use tiff::encoder::colortype as ct;
        match ($t, $c) {
            (SampleType::U8, 1) => {
                type $C = ct::Gray8;
                $body
            }
            (SampleType::U8, 3) => {
                type $C = ct::RGB8;
                $body
            }
            (SampleType::U8, _) => {
                type $C = ct::RGBA8;
                $body
            }
            (SampleType::U16, 1) => {
                type $C = ct::Gray16;
                $body
            }
            (SampleType::U16, 3) => {
                type $C = ct::RGB16;
                $body
            }
            (SampleType::U16, _) => {
                type $C = ct::RGBA16;
                $body
            }
            (SampleType::U32, 1) => {
                type $C = ct::Gray32;
                $body
            }
            (SampleType::U32, 3) => {
                type $C = ct::RGB32;
                $body
            }
            (SampleType::U32, _) => {
                type $C = ct::RGBA32;
                $body
            }
            (SampleType::I8, 1) => {
                type $C = ct::GrayI8;
                $body
            }
            (SampleType::I8, 3) => {
                type $C = RgbI8;
                $body
            }
            (SampleType::I8, _) => {
                type $C = RgbaI8;
                $body
            }
            (SampleType::I16, 1) => {
                type $C = ct::GrayI16;
                $body
            }
            (SampleType::I16, 3) => {
                type $C = RgbI16;
                $body
            }
            (SampleType::I16, _) => {
                type $C = RgbaI16;
                $body
            }
            (SampleType::I32, 1) => {
                type $C = ct::GrayI32;
                $body
            }
            (SampleType::I32, 3) => {
                type $C = RgbI32;
                $body
            }
            (SampleType::I32, _) => {
                type $C = RgbaI32;
                $body
            }
            (SampleType::F32, 1) => {
                type $C = ct::Gray32Float;
                $body
            }
            (SampleType::F32, 3) => {
                type $C = ct::RGB32Float;
                $body
            }
            (SampleType::F32, _) => {
                type $C = ct::RGBA32Float;
                $body
            }
            (SampleType::F64, 1) => {
                type $C = ct::Gray64Float;
                $body
            }
            (SampleType::F64, 3) => {
                type $C = ct::RGB64Float;
                $body
            }
            (SampleType::F64, _) => {
                type $C = ct::RGBA64Float;
                $body
            }
        }
    }};
}

fn typed_samples<T: Typed>(image: &Image) -> Result<&[T]> {
    T::slice(image.samples()).ok_or_else(|| Error::encode("a band of another sample type"))
}

/// One whole page.
fn write_page<W: Write + Seek, K: tiff::encoder::TiffKind>(
    enc: &mut tiff::encoder::TiffEncoder<W, K>,
    image: &Image,
) -> Result<()> {
    let (w, h) = (image.width(), image.height());
    by_color!(image.sample_type(), image.channels(), C => {
        let v = typed_samples::<<C as tiff::encoder::colortype::ColorType>::Inner>(image)?;
        enc.write_image::<C>(w, h, v).map_err(Error::encode_from)
    })
}

/// One page from bands of rows, written as the strips a whole write makes (about 1 MB
/// each, the encoder's default), so a streamed file is byte for byte the file a whole
/// write of the same pixels gives.
fn stream_page<W: Write + Seek, K: tiff::encoder::TiffKind>(
    enc: &mut tiff::encoder::TiffEncoder<W, K>,
    shape: Shape,
    sample_type: SampleType,
    next_band: &mut dyn FnMut() -> Result<Image>,
) -> Result<()> {
    by_color!(sample_type, shape.channels, C => {
        let mut image = enc
            .new_image::<C>(shape.width, shape.height)
            .map_err(Error::encode_from)?;
        let mut pending = Vec::new();
        let mut rows = 0u32;
        while rows < shape.height {
            let band = next_band()?;
            if band.width() != shape.width || band.channels() != shape.channels || band.sample_type() != sample_type {
                return Err(Error::encode(format!(
                    "a {} {} band for a {shape} {sample_type} page",
                    band.shape(),
                    band.sample_type()
                )));
            }
            rows += band.height();
            pending.extend_from_slice(typed_samples::<<C as tiff::encoder::colortype::ColorType>::Inner>(&band)?);
            let mut at = 0;
            loop {
                let strip = image.next_strip_sample_count() as usize;
                if strip == 0 || pending.len() - at < strip {
                    break;
                }
                image.write_strip(&pending[at..at + strip]).map_err(Error::encode_from)?;
                at += strip;
            }
            pending.drain(..at);
        }
        if rows != shape.height {
            return Err(Error::encode(format!("{rows} rows for a page of {}", shape.height)));
        }
        image.finish().map_err(Error::encode_from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn image(t: SampleType, c: u32, w: u32, h: u32) -> Image {
        let n = (w * h * c) as usize;
        let v: Vec<f64> = (0..n).map(|i| (i * 37 % 251) as f64 - 100.0).collect();
        let img = Image::new(w, h, c, Samples::F64(v)).unwrap();
        crate::cpu::convert::retype(&img, t)
    }

    /// Every type and layout written whole, then read whole and band by band (bands
    /// that straddle strips), gives back the same samples.
    #[test]
    fn every_type_round_trips_whole_and_by_bands() {
        for t in SampleType::ALL {
            for c in [1, 3, 4] {
                let img = image(t, c, 37, 29);
                let stack = Stack::single(img.clone());
                let bytes = encode(&stack).unwrap();
                let (pages, more) = decode_pages(Cursor::new(&bytes), 9, 1 << 30).unwrap();
                assert_eq!((pages.len(), more), (1, false));
                assert_eq!(pages[0], img, "{t} x{c}");
                let mut r = TiffPages::open(Cursor::new(&bytes), 1 << 30).unwrap();
                let band = r.read_rows(3, 20).unwrap();
                assert_eq!(
                    band,
                    img.crop(crate::image::Rect {
                        x: 0,
                        y: 3,
                        width: 37,
                        height: 17
                    })
                    .unwrap()
                );
            }
        }
    }

    /// Streaming writes of bands of any height make the very file a whole write makes,
    /// over several pages.
    #[test]
    fn streamed_pages_equal_whole_ones() {
        // 4000-byte rows: strips of 250 rows, so the bands below straddle strips.
        let pages: Vec<Image> = (0..3)
            .map(|_| image(SampleType::U16, 1, 2000, 601))
            .collect();
        let mut out = Cursor::new(Vec::new());
        let mut bands = pages
            .iter()
            .flat_map(|p| {
                [(0, 7), (7, 300), (300, 601)].map(|(a, b)| {
                    p.crop(crate::image::Rect {
                        x: 0,
                        y: a,
                        width: 2000,
                        height: b - a,
                    })
                    .unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter();
        write_stream(&mut out, pages[0].shape(), SampleType::U16, 3, &mut || {
            bands.next().ok_or_else(|| Error::encode("out of bands"))
        })
        .unwrap();
        let streamed = out.into_inner();
        let (back, _) = decode_pages(Cursor::new(&streamed), 9, 1 << 30).unwrap();
        assert_eq!(back, pages);
        let whole = encode(&Stack {
            frames: pages,
            animation: None,
            format: None,
        })
        .unwrap();
        assert_eq!(streamed, whole, "the same bytes");
    }
}
