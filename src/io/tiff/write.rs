//! Writing: whole stacks as pages, or pages streamed band by band as strips.

use crate::image::{Image, SampleType, Samples, Shape};
use crate::io::Stack;
use crate::{Error, Result};
use std::io::{Seek, Write};

/// Every frame as one page of a multi-page TIFF, uncompressed, classic or (past 4 GiB)
/// BigTIFF.
pub(in crate::io) fn encode(stack: &Stack) -> Result<Vec<u8>> {
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
