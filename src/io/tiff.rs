//! TIFF through the `tiff` crate: every page, gray/RGB/RGBA, u8/u16/f32.

use super::Stack;
use crate::image::{Image, Samples};
use crate::{Error, Result};

/// Decodes up to `max_pages` pages; says whether more follow.
pub(super) fn decode_pages<R: std::io::Read + std::io::Seek>(
    reader: R,
    max_pages: usize,
) -> Result<(Vec<Image>, bool)> {
    // The default limits stop at 256 MiB of pixels; allow large microscopy frames while
    // keeping a bound, so a forged header cannot demand any allocation it likes.
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = 4 << 30;
    let mut dec = tiff::decoder::Decoder::new(reader)
        .map_err(Error::decode_from)?
        .with_limits(limits);
    let mut pages = Vec::new();
    loop {
        pages.push(read_page(&mut dec)?);
        if !dec.more_images() {
            return Ok((pages, false));
        }
        if pages.len() >= max_pages {
            return Ok((pages, true));
        }
        dec.next_image().map_err(Error::decode_from)?;
    }
}

fn read_page<R: std::io::Read + std::io::Seek>(
    dec: &mut tiff::decoder::Decoder<R>,
) -> Result<Image> {
    use tiff::decoder::DecodingResult;
    use tiff::ColorType;
    let (w, h) = dec.dimensions().map_err(Error::decode_from)?;
    let color = dec.colortype().map_err(Error::decode_from)?;
    let c = match color {
        ColorType::Gray(_) => 1,
        ColorType::RGB(_) => 3,
        ColorType::RGBA(_) => 4,
        other => {
            return Err(Error::unsupported(format!(
                "TIFF colour type {other:?} (imflow reads gray, RGB and RGBA)"
            )))
        }
    };
    let samples = match dec.read_image().map_err(Error::decode_from)? {
        DecodingResult::U8(v)
            if matches!(
                color,
                ColorType::Gray(8) | ColorType::RGB(8) | ColorType::RGBA(8)
            ) =>
        {
            Samples::U8(v)
        }
        DecodingResult::U16(v) => Samples::U16(v),
        DecodingResult::F32(v) => Samples::F32(v),
        other => {
            let what = match other {
                DecodingResult::U8(_) => "sub-byte (1/2/4-bit) samples",
                DecodingResult::U32(_) => "u32 samples",
                DecodingResult::U64(_) => "u64 samples",
                DecodingResult::F16(_) => "f16 samples",
                DecodingResult::F64(_) => "f64 samples",
                DecodingResult::I8(_) => "i8 samples",
                DecodingResult::I16(_) => "i16 samples",
                DecodingResult::I32(_) => "i32 samples",
                DecodingResult::I64(_) => "i64 samples",
                _ => "this sample type",
            };
            return Err(Error::unsupported(format!(
                "TIFF with {what}; imflow reads u8, u16 and f32"
            )));
        }
    };
    Image::new(w, h, c, samples).map_err(shape_to_decode)
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

/// Every frame as one page of a multi-page TIFF, uncompressed.
pub(super) fn encode(stack: &Stack) -> Result<Vec<u8>> {
    // The samples plus a little for the directories, reserved up front so the buffer is
    // not regrown and recopied as pages go in.
    let frames = &stack.frames;
    let samples: usize = (frames.iter())
        .map(|f| f.samples().len() * f.sample_type().size())
        .sum();
    let mut out = std::io::Cursor::new(Vec::with_capacity(samples + 4096 * frames.len()));
    let mut enc = tiff::encoder::TiffEncoder::new(&mut out).map_err(Error::encode_from)?;
    for f in frames {
        write_page(&mut enc, f).map_err(Error::encode_from)?;
    }
    Ok(out.into_inner())
}

fn write_page<W: std::io::Write + std::io::Seek>(
    enc: &mut tiff::encoder::TiffEncoder<W>,
    image: &Image,
) -> tiff::TiffResult<()> {
    use tiff::encoder::colortype as ct;
    let (w, h, c) = (image.width(), image.height(), image.channels());
    match (image.samples(), c) {
        (Samples::U8(v), 1) => enc.write_image::<ct::Gray8>(w, h, v),
        (Samples::U8(v), 3) => enc.write_image::<ct::RGB8>(w, h, v),
        (Samples::U8(v), _) => enc.write_image::<ct::RGBA8>(w, h, v),
        (Samples::U16(v), 1) => enc.write_image::<ct::Gray16>(w, h, v),
        (Samples::U16(v), 3) => enc.write_image::<ct::RGB16>(w, h, v),
        (Samples::U16(v), _) => enc.write_image::<ct::RGBA16>(w, h, v),
        (Samples::F32(v), 1) => enc.write_image::<ct::Gray32Float>(w, h, v),
        (Samples::F32(v), 3) => enc.write_image::<ct::RGB32Float>(w, h, v),
        (Samples::F32(v), _) => enc.write_image::<ct::RGBA32Float>(w, h, v),
    }
}
