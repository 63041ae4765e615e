//! Reading and writing image files: TIFF (u8/u16/f32; gray, RGB, RGBA) through `tiff`,
//! PNG (8/16-bit), JPEG and GIF through `image`.
//!
//! Formats are recognised by their bytes, not their names, so a mislabelled file still
//! loads and a text file named `.tif` gets a clear error. Writes are atomic: a temporary
//! file in the destination folder, flushed to disk, then renamed over the target, so a
//! reader never sees half an image.

use crate::image::{Image, SampleType, Samples};
use crate::{Error, Result};
use std::io::{Cursor, Write};
use std::path::Path;

/// An image file format imflow writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// TIFF: every sample type and channel count imflow has.
    Tiff,
    /// PNG: u8 and u16.
    Png,
    /// JPEG: u8 gray or RGB.
    Jpeg,
    /// GIF: u8, every frame quantised to a 256-colour palette; keeps animation timing.
    Gif,
}

impl Format {
    /// The format's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tiff => "TIFF",
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Gif => "GIF",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tiff => "tif",
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Gif => "gif",
        }
    }

    /// The format an output path asks for, by its extension.
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match ext.as_str() {
            "tif" | "tiff" => Ok(Format::Tiff),
            "png" => Ok(Format::Png),
            "jpg" | "jpeg" => Ok(Format::Jpeg),
            "gif" => Ok(Format::Gif),
            _ => Err(Error::Encode {
                path: path.to_path_buf(),
                reason: format!(
                    "unknown output extension `{ext}` (use .tif/.tiff, .png, .jpg/.jpeg or .gif)"
                ),
            }),
        }
    }
}

/// Timing of an animated GIF, kept so an output animates like its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Animation {
    /// Each frame's delay, in milliseconds as a fraction (numerator, denominator).
    pub delays: Vec<(u32, u32)>,
    /// How often the animation plays: `None` forever, `Some(n)` n more times.
    pub repeat: Option<u16>,
}

/// The frames of a file: the pages of a multi-page TIFF, the frames of an animated GIF,
/// or one image. Every frame has the same shape and sample type.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    /// The frames, in file order.
    pub frames: Vec<Image>,
    /// For GIFs: frame delays and loop count.
    pub animation: Option<Animation>,
    /// The format the frames were read from.
    pub format: Option<Format>,
}

impl Stack {
    /// A stack of one image.
    pub fn single(image: Image) -> Self {
        Stack {
            frames: vec![image],
            animation: None,
            format: None,
        }
    }
}

/// Loads every frame of a file (a TIFF straight from the file, see
/// [`decode_stack_from_file`]).
pub fn load_stack(path: impl AsRef<Path>) -> Result<Stack> {
    let path = path.as_ref();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    decode_stack_from_file(&mut file, path)
}

fn is_tiff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
}

/// Decodes every frame: all TIFF pages, all GIF frames (composited, with timing), or the
/// one image of other formats.
pub fn decode_stack(bytes: &[u8], path: &Path) -> Result<Stack> {
    if bytes.is_empty() {
        return Err(Error::Decode {
            path: path.to_path_buf(),
            reason: "empty file (0 bytes)".into(),
        });
    }
    let stack = if is_tiff(bytes) {
        Stack {
            frames: decode_tiff_pages(Cursor::new(bytes), path, usize::MAX)?,
            animation: None,
            format: Some(Format::Tiff),
        }
    } else if image::guess_format(bytes).ok() == Some(image::ImageFormat::Gif) {
        decode_gif(bytes, path)?
    } else {
        let image = decode(bytes, path)?;
        let format = match image::guess_format(bytes).ok() {
            Some(image::ImageFormat::Png) => Some(Format::Png),
            Some(image::ImageFormat::Jpeg) => Some(Format::Jpeg),
            _ => None,
        };
        Stack {
            frames: vec![image],
            animation: None,
            format,
        }
    };
    uniform(stack, path)
}

/// Decodes every frame of an open file, as [`decode_stack`] does its bytes. A TIFF is
/// read from the file strip by strip into the decoder's buffer, so its bytes are not
/// held in memory beside its pixels (half the peak memory of a large stack, one copy
/// fewer); other formats are read whole first.
pub fn decode_stack_from_file(file: &mut std::fs::File, path: &Path) -> Result<Stack> {
    use std::io::{Read, Seek};
    let io = |e: std::io::Error| Error::io(path, e);
    let mut magic = Vec::with_capacity(4);
    Read::by_ref(file)
        .take(4)
        .read_to_end(&mut magic)
        .map_err(io)?;
    file.rewind().map_err(io)?;
    if !is_tiff(&magic) {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        return decode_stack(&bytes, path);
    }
    let stack = Stack {
        frames: decode_tiff_pages(std::io::BufReader::new(file), path, usize::MAX)?,
        animation: None,
        format: Some(Format::Tiff),
    };
    uniform(stack, path)
}

/// The stack, if all its frames have one shape and sample type.
fn uniform(stack: Stack, path: &Path) -> Result<Stack> {
    let first = &stack.frames[0];
    if let Some((k, f)) = stack
        .frames
        .iter()
        .enumerate()
        .find(|(_, f)| f.shape() != first.shape() || f.sample_type() != first.sample_type())
    {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: format!(
                "frame {k} is {} {} but frame 0 is {} {}: every page must match",
                f.shape(),
                f.sample_type(),
                first.shape(),
                first.sample_type()
            ),
        });
    }
    Ok(stack)
}

fn decode_gif(bytes: &[u8], path: &Path) -> Result<Stack> {
    use image::AnimationDecoder;
    let fail = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason,
    };
    // The loop count lives in the NETSCAPE2.0 extension ahead of the first frame; the
    // `gif` crate reads it, `image` composites the frames.
    let repeat = {
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::Indexed);
        let mut d = opts
            .read_info(Cursor::new(bytes))
            .map_err(|e| fail(e.to_string()))?;
        d.next_frame_info().map_err(|e| fail(e.to_string()))?;
        match d.repeat() {
            gif::Repeat::Infinite => None,
            gif::Repeat::Finite(n) => Some(n),
        }
    };
    let decoder =
        image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).map_err(|e| fail(e.to_string()))?;
    let mut frames = Vec::new();
    let mut delays = Vec::new();
    for frame in decoder.into_frames() {
        let frame = frame.map_err(|e| fail(e.to_string()))?;
        delays.push(frame.delay().numer_denom_ms());
        let buf = frame.into_buffer();
        let (w, h) = buf.dimensions();
        frames.push(
            Image::new(w, h, 4, Samples::U8(buf.into_raw())).map_err(|e| with_path(e, path))?,
        );
    }
    if frames.is_empty() {
        return Err(fail("GIF without frames".into()));
    }
    Ok(Stack {
        frames,
        animation: Some(Animation { delays, repeat }),
        format: Some(Format::Gif),
    })
}

/// Encodes every frame: a multi-page TIFF, an animated GIF (with the stack's timing),
/// or, for PNG and JPEG, a single frame.
pub fn encode_stack(stack: &Stack, format: Format, path: &Path) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::Encode {
        path: path.to_path_buf(),
        reason,
    };
    match (format, stack.frames.as_slice()) {
        (_, []) => Err(fail("no frames".into())),
        (Format::Gif, frames) => encode_gif(frames, stack.animation.as_ref(), path),
        (Format::Tiff, frames) => {
            // Uncompressed: the samples plus a little for the directories, reserved up
            // front so the buffer is not regrown and recopied as pages go in.
            let samples: usize = (frames.iter())
                .map(|f| f.samples().len() * f.sample_type().size())
                .sum();
            let mut out = Cursor::new(Vec::with_capacity(samples + 4096 * frames.len()));
            let mut enc =
                tiff::encoder::TiffEncoder::new(&mut out).map_err(|e| fail(e.to_string()))?;
            for f in frames {
                write_tiff_page(&mut enc, f).map_err(|e| fail(e.to_string()))?;
            }
            Ok(out.into_inner())
        }
        (_, [one]) => encode(one, format, path),
        (_, many) => Err(fail(format!(
            "{} frames, but {} holds one image; write a .tif (pages) or .gif (frames)",
            many.len(),
            format.name()
        ))),
    }
}

fn encode_gif(frames: &[Image], animation: Option<&Animation>, path: &Path) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::Encode {
        path: path.to_path_buf(),
        reason,
    };
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
        let repeat = match animation.and_then(|a| a.repeat) {
            None => image::codecs::gif::Repeat::Infinite,
            Some(n) => image::codecs::gif::Repeat::Finite(n),
        };
        if animation.is_some() {
            enc.set_repeat(repeat).map_err(|e| fail(e.to_string()))?;
        }
        for (k, f) in frames.iter().enumerate() {
            let Samples::U8(v) = f.samples() else {
                return Err(fail(format!(
                    "GIF holds only 8-bit samples, not {}; narrow with --dtype u8",
                    f.sample_type()
                )));
            };
            let rgba: Vec<u8> = match f.channels() {
                4 => v.clone(),
                3 => v
                    .chunks_exact(3)
                    .flat_map(|p| [p[0], p[1], p[2], 255])
                    .collect(),
                _ => v.iter().flat_map(|&g| [g, g, g, 255]).collect(),
            };
            let buf = image::RgbaImage::from_raw(f.width(), f.height(), rgba).expect("sized above");
            let delay = animation
                .and_then(|a| a.delays.get(k))
                .map_or(image::Delay::from_numer_denom_ms(0, 1), |&(n, d)| {
                    image::Delay::from_numer_denom_ms(n, d)
                });
            enc.encode_frame(image::Frame::from_parts(buf, 0, 0, delay))
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(out)
}

/// Loads the first image of a file (the first page of a multi-page TIFF, the first
/// frame of a GIF).
pub fn load(path: impl AsRef<Path>) -> Result<Image> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, path)
}

/// Decodes image bytes; `path` names the source in errors.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Image> {
    let fail = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(fail("empty file (0 bytes)".into()));
    }
    if is_tiff(bytes) {
        return Ok(decode_tiff_pages(Cursor::new(bytes), path, 1)?.remove(0));
    }
    let format = image::guess_format(bytes)
        .map_err(|_| fail("not a recognised image format (TIFF, PNG, JPEG or GIF)".into()))?;
    let dynamic =
        image::load_from_memory_with_format(bytes, format).map_err(|e| fail(e.to_string()))?;
    from_dynamic(dynamic, path)
}

fn from_dynamic(img: image::DynamicImage, path: &Path) -> Result<Image> {
    use image::DynamicImage as D;
    let (w, h) = (img.width(), img.height());
    let (c, samples) = match img {
        D::ImageLuma8(b) => (1, Samples::U8(b.into_raw())),
        D::ImageRgb8(b) => (3, Samples::U8(b.into_raw())),
        D::ImageRgba8(b) => (4, Samples::U8(b.into_raw())),
        // Gray + alpha becomes RGBA: imflow filters 1, 3 or 4 channels.
        D::ImageLumaA8(_) => (4, Samples::U8(img.to_rgba8().into_raw())),
        D::ImageLuma16(b) => (1, Samples::U16(b.into_raw())),
        D::ImageRgb16(b) => (3, Samples::U16(b.into_raw())),
        D::ImageRgba16(b) => (4, Samples::U16(b.into_raw())),
        D::ImageLumaA16(_) => (4, Samples::U16(img.to_rgba16().into_raw())),
        D::ImageRgb32F(b) => (3, Samples::F32(b.into_raw())),
        D::ImageRgba32F(b) => (4, Samples::F32(b.into_raw())),
        other => {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                reason: format!("pixel layout {:?}", other.color()),
            })
        }
    };
    Image::new(w, h, c, samples).map_err(|e| with_path(e, path))
}

fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Shape {
            reason,
            width,
            height,
            channels,
        } => Error::Decode {
            path: path.to_path_buf(),
            reason: format!("image {width}x{height}x{channels}: {reason}"),
        },
        e => e,
    }
}

/// Decodes up to `max_pages` pages.
fn decode_tiff_pages<R: std::io::Read + std::io::Seek>(
    reader: R,
    path: &Path,
    max_pages: usize,
) -> Result<Vec<Image>> {
    let fail = |e: tiff::TiffError| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    // The default limits stop at 256 MiB of pixels; allow large microscopy frames while
    // keeping a bound, so a forged header cannot demand any allocation it likes.
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = 4 << 30;
    let mut dec = tiff::decoder::Decoder::new(reader)
        .map_err(fail)?
        .with_limits(limits);
    let mut pages = Vec::new();
    loop {
        pages.push(read_tiff_page(&mut dec, path)?);
        if pages.len() >= max_pages || !dec.more_images() {
            return Ok(pages);
        }
        dec.next_image().map_err(fail)?;
    }
}

fn read_tiff_page<R: std::io::Read + std::io::Seek>(
    dec: &mut tiff::decoder::Decoder<R>,
    path: &Path,
) -> Result<Image> {
    use tiff::decoder::DecodingResult;
    use tiff::ColorType;
    let fail = |e: tiff::TiffError| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let unsupported = |reason: String| Error::Unsupported {
        path: path.to_path_buf(),
        reason,
    };
    let (w, h) = dec.dimensions().map_err(fail)?;
    let color = dec.colortype().map_err(fail)?;
    let c = match color {
        ColorType::Gray(_) => 1,
        ColorType::RGB(_) => 3,
        ColorType::RGBA(_) => 4,
        other => {
            return Err(unsupported(format!(
                "TIFF colour type {other:?} (imflow reads gray, RGB and RGBA)"
            )))
        }
    };
    if dec.more_images() {
        log::warn!(
            "{}: multi-page TIFF, only the first page is read",
            path.display()
        );
    }
    let samples = match dec.read_image().map_err(fail)? {
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
            return Err(unsupported(format!(
                "TIFF with {what}; imflow reads u8, u16 and f32"
            )));
        }
    };
    Image::new(w, h, c, samples).map_err(|e| with_path(e, path))
}

/// Encodes an image in `format`.
pub fn encode(image: &Image, format: Format, path: &Path) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::Encode {
        path: path.to_path_buf(),
        reason,
    };
    let (w, h, c) = (image.width(), image.height(), image.channels());
    match format {
        Format::Tiff => {
            let mut out = Cursor::new(Vec::new());
            let mut enc =
                tiff::encoder::TiffEncoder::new(&mut out).map_err(|e| fail(e.to_string()))?;
            write_tiff_page(&mut enc, image).map_err(|e| fail(e.to_string()))?;
            Ok(out.into_inner())
        }
        Format::Gif => encode_gif(std::slice::from_ref(image), None, path),
        Format::Png | Format::Jpeg => {
            use image::ExtendedColorType as E;
            let color = match (image.samples(), c) {
                (Samples::U8(_), 1) => E::L8,
                (Samples::U8(_), 3) => E::Rgb8,
                (Samples::U8(_), _) => E::Rgba8,
                (Samples::U16(_), 1) => E::L16,
                (Samples::U16(_), 3) => E::Rgb16,
                (Samples::U16(_), _) => E::Rgba16,
                (Samples::F32(_), _) => {
                    return Err(fail(format!(
                        "{} cannot hold f32 samples; write a .tif, or narrow with --dtype u8/u16",
                        format.name()
                    )))
                }
            };
            if format == Format::Jpeg && (image.sample_type() != SampleType::U8 || c == 4) {
                return Err(fail(
                    "JPEG holds only 8-bit gray or RGB; write a .tif or .png".into(),
                ));
            }
            // `image` takes 16-bit samples in native byte order (it writes PNG's
            // big-endian itself).
            let native: &[u8] = match image.samples() {
                Samples::U8(v) => v,
                Samples::U16(v) => bytemuck::cast_slice(v),
                Samples::F32(_) => unreachable!("rejected above"),
            };
            let mut out = Cursor::new(Vec::new());
            let r = match format {
                Format::Png => image::ImageEncoder::write_image(
                    image::codecs::png::PngEncoder::new(&mut out),
                    native,
                    w,
                    h,
                    color,
                ),
                _ => image::ImageEncoder::write_image(
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95),
                    native,
                    w,
                    h,
                    color,
                ),
            };
            r.map_err(|e| fail(e.to_string()))?;
            Ok(out.into_inner())
        }
    }
}

fn write_tiff_page<W: std::io::Write + std::io::Seek>(
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

/// Writes an image in the format its extension names, atomically.
pub fn save(image: &Image, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode(image, Format::from_path(path)?, path)?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` through a temporary file in the same folder: write, fsync,
/// rename. Readers see the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| Error::io(path, e);
    let mut tmp = tempfile::Builder::new()
        .prefix(".imflow-tmp-")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
