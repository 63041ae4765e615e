//! Reading and writing image files: TIFF (u8/u16/f32; gray, RGB, RGBA) through `tiff`,
//! PNG (8/16-bit) and JPEG through `image`, animated GIF through both (one file each).
//!
//! Formats are recognised by their bytes, not their names, so a mislabelled file still
//! loads and a text file named `.tif` gets a clear error. The codecs work on bytes and
//! know no paths: the functions that open a file add its path to their errors. Writes
//! are atomic: a temporary file in the destination folder, flushed to disk, then renamed
//! over the target, so a reader never sees half an image.

mod gif;
mod raster;
pub mod tiff;

use crate::image::{Image, SampleType, VoxelSize};
use crate::{Error, Result};
use std::io::{Cursor, Write};
use std::path::Path;
pub use tiff::Reading;

/// An image file format imflow writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// TIFF: every sample type and channel count imflow has.
    Tiff,
    /// PNG: u8 and u16.
    Png,
    /// JPEG: u8 gray or RGB.
    Jpeg,
    /// GIF: u8, every frame quantised to a 256-colour palette; keeps animation timing.
    Gif,
    /// WebP: u8 gray, RGB or RGBA, written lossless.
    Webp,
    /// BMP: u8 gray, RGB or RGBA.
    Bmp,
    /// CSV: a table of measurements (see [`crate::measure`]), never an image.
    Csv,
}

impl Format {
    /// The format's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tiff => "TIFF",
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Gif => "GIF",
            Format::Webp => "WebP",
            Format::Bmp => "BMP",
            Format::Csv => "CSV",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tiff => "tif",
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::Bmp => "bmp",
            Format::Csv => "csv",
        }
    }

    /// The format an extension names (`tif`, `tiff`, `png`, `jpg`, `jpeg`, `gif`; any
    /// case), if any.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "tif" | "tiff" => Some(Format::Tiff),
            "png" => Some(Format::Png),
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "gif" => Some(Format::Gif),
            "webp" => Some(Format::Webp),
            "bmp" => Some(Format::Bmp),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The format an output path asks for, by its extension.
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        Format::from_extension(ext).ok_or_else(|| {
            Error::encode(format!(
                "unknown output extension `{ext}` (use .tif/.tiff, .png, .jpg/.jpeg, .gif, .webp or .bmp)"
            ))
            .at(path)
        })
    }
}

/// Timing of an animated GIF, kept so an output animates like its source.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The voxel size, where the file records one; written with volumes.
    pub voxel: Option<VoxelSize>,
}

impl Stack {
    /// A stack of one image.
    pub fn single(image: Image) -> Self {
        Stack::of(vec![image])
    }

    /// A stack of these frames, with nothing else known about them.
    pub fn of(frames: Vec<Image>) -> Self {
        Stack {
            frames,
            animation: None,
            format: None,
            voxel: None,
        }
    }

    /// Whether the frames are volumes (each has more than one slice).
    pub fn is_volume(&self) -> bool {
        self.frames.first().is_some_and(|f| f.shape().is_volume())
    }
}

/// Loads every frame of a file (a TIFF straight from the file, see
/// [`decode_stack_from_file`]): a multi-page TIFF by its axes ([`Reading::Auto`]).
pub fn load_stack(path: impl AsRef<Path>) -> Result<Stack> {
    load_stack_as(path, Reading::Auto)
}

/// [`load_stack`], a multi-page TIFF read as `reading` asks (a plain one as a volume,
/// say).
pub fn load_stack_as(path: impl AsRef<Path>, reading: Reading) -> Result<Stack> {
    let path = path.as_ref();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let seekable = file.metadata().is_ok_and(|m| m.is_file());
    if !seekable {
        // A pipe or a device: read it through, once.
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| Error::io(path, e))?;
        return decode_stack_as(&bytes, reading).map_err(|e| e.at(path));
    }
    decode_stack_from_file(&mut file, reading).map_err(|e| e.at(path))
}

/// The most one page may take decoded when a file is read whole: the default memory
/// budget. (Larger frames are streamed in tiles by the executor and `apply`.)
fn page_limit() -> u64 {
    crate::budget::default_memory()
}

/// Whether bytes start like a TIFF (classic or BigTIFF, either byte order).
pub fn is_tiff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
}

/// The format bytes are in, by their content (not a name), if imflow reads it.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if is_tiff(bytes) {
        return Some(Format::Tiff);
    }
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Png => Some(Format::Png),
        image::ImageFormat::Jpeg => Some(Format::Jpeg),
        image::ImageFormat::Gif => Some(Format::Gif),
        image::ImageFormat::WebP => Some(Format::Webp),
        image::ImageFormat::Bmp => Some(Format::Bmp),
        _ => None,
    }
}

/// Width and height of the (first) image in `bytes`, from its header alone: a service
/// can refuse an image over its pixel limit before decoding it.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
    if is_tiff(bytes) {
        let (first, _) = tiff::probe(Cursor::new(bytes))?;
        return Ok((first.shape.width, first.shape.height));
    }
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(Error::decode_from)?
        .into_dimensions()
        .map_err(Error::decode_from)
}

/// Decodes every frame: all TIFF pages (by their axes: see [`decode_stack_as`]), all GIF
/// frames (composited, with timing), or the one image of other formats. Errors name no
/// file; [`Error::at`] adds one.
pub fn decode_stack(bytes: &[u8]) -> Result<Stack> {
    decode_stack_as(bytes, Reading::Auto)
}

/// [`decode_stack`], a multi-page TIFF read as `reading` asks.
pub fn decode_stack_as(bytes: &[u8], reading: Reading) -> Result<Stack> {
    if bytes.is_empty() {
        return Err(Error::decode("empty file (0 bytes)"));
    }
    let stack = if is_tiff(bytes) {
        decode_tiff(Cursor::new(bytes), reading)?
    } else if image::guess_format(bytes).ok() == Some(image::ImageFormat::Gif) {
        gif::decode(bytes)?
    } else {
        let image = raster::decode(bytes)?;
        let format = match image::guess_format(bytes).ok() {
            Some(image::ImageFormat::Png) => Some(Format::Png),
            Some(image::ImageFormat::Jpeg) => Some(Format::Jpeg),
            Some(image::ImageFormat::WebP) => Some(Format::Webp),
            Some(image::ImageFormat::Bmp) => Some(Format::Bmp),
            _ => None,
        };
        Stack {
            format,
            ..Stack::single(image)
        }
    };
    uniform(stack)
}

/// Every frame of a TIFF by its axes, each page within the page limit.
fn decode_tiff<R: std::io::Read + std::io::Seek>(reader: R, reading: Reading) -> Result<Stack> {
    let limit = page_limit();
    let mut f = tiff::TiffFrames::open(reader, limit, reading)?;
    if f.page_bytes() > limit {
        return Err(Error::decode(format!(
            "a {} {} page takes {} MB decoded, over the {} MB this read allows",
            f.shape().slice(),
            f.sample_type(),
            f.page_bytes() >> 20,
            limit >> 20
        )));
    }
    let frames = (0..f.frames())
        .map(|t| f.read_frame(t))
        .collect::<Result<Vec<_>>>()?;
    Ok(Stack {
        format: Some(Format::Tiff),
        voxel: f.layout().voxel.clone(),
        ..Stack::of(frames)
    })
}

/// Decodes every frame of an open file, as [`decode_stack`] does its bytes. A TIFF is
/// read from the file strip by strip into the decoder's buffer, so its bytes are not
/// held in memory beside its pixels (half the peak memory of a large stack, one copy
/// fewer); other formats are read whole first. A read error is a decode error here (the
/// file is already open); errors name no file.
pub fn decode_stack_from_file(file: &mut std::fs::File, reading: Reading) -> Result<Stack> {
    use std::io::{Read, Seek};
    let mut magic = Vec::with_capacity(4);
    Read::by_ref(file)
        .take(4)
        .read_to_end(&mut magic)
        .map_err(Error::decode_from)?;
    file.rewind().map_err(Error::decode_from)?;
    if !is_tiff(&magic) {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(Error::decode_from)?;
        return decode_stack_as(&bytes, reading);
    }
    uniform(decode_tiff(std::io::BufReader::new(file), reading)?)
}

/// The stack, if all its frames have one shape and sample type.
fn uniform(stack: Stack) -> Result<Stack> {
    let first = &stack.frames[0];
    if let Some((k, f)) = stack
        .frames
        .iter()
        .enumerate()
        .find(|(_, f)| f.shape() != first.shape() || f.sample_type() != first.sample_type())
    {
        return Err(Error::unsupported(format!(
            "frame {k} is {} {} but frame 0 is {} {}: every page must match",
            f.shape(),
            f.sample_type(),
            first.shape(),
            first.sample_type()
        )));
    }
    Ok(stack)
}

/// Encodes every frame: a multi-page TIFF, an animated GIF (with the stack's timing),
/// or, for PNG and JPEG, a single frame. Errors name no file; [`Error::at`] adds one.
pub fn encode_stack(stack: &Stack, format: Format) -> Result<Vec<u8>> {
    match (format, stack.frames.as_slice()) {
        (_, []) => Err(Error::encode("no frames")),
        (Format::Csv, _) => Err(Error::encode(
            "CSV holds tables of measurements, not images; write a .tif or .png",
        )),
        (Format::Gif, frames) => gif::encode(frames, stack.animation.as_ref()),
        (Format::Tiff, _) => tiff::encode(stack),
        (_, [one]) => raster::encode(one, format),
        (_, many) => Err(Error::encode(format!(
            "{} frames, but {} holds one image; write a .tif (pages) or .gif (frames)",
            many.len(),
            format.name()
        ))),
    }
}

/// The default output format: a GIF or WebP source stays a GIF or WebP (when the result
/// is 8-bit); other stacks of several frames are multi-page TIFF; single 8-bit colour
/// images PNG; everything else (16-bit, float, masks) TIFF.
pub fn default_format(stack: &Stack) -> Format {
    let first = &stack.frames[0];
    default_format_for(
        first.sample_type(),
        first.channels(),
        stack.frames.len(),
        stack.format,
    )
}

/// [`default_format`] for frames described rather than held.
pub fn default_format_for(
    t: SampleType,
    channels: u32,
    frames: usize,
    source: Option<Format>,
) -> Format {
    let u8 = t == SampleType::U8;
    match source {
        Some(Format::Gif) if u8 => Format::Gif,
        Some(Format::Webp) if u8 && frames == 1 => Format::Webp,
        _ if frames > 1 => Format::Tiff,
        _ if u8 && channels > 1 => Format::Png,
        _ => Format::Tiff,
    }
}

/// Loads the first image of a file (the first page of a multi-page TIFF, with a warning,
/// the first frame of a GIF). Use [`load_stack`] for every frame.
pub fn load(path: impl AsRef<Path>) -> Result<Image> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (image, more) = decode_first(&bytes).map_err(|e| e.at(path))?;
    if more {
        log::warn!(
            "{}: multi-page file, only the first page is read (load_stack reads all)",
            path.display()
        );
    }
    Ok(image)
}

/// Decodes the first image of some bytes (see [`load`]). Errors name no file.
pub fn decode(bytes: &[u8]) -> Result<Image> {
    decode_first(bytes).map(|(image, _)| image)
}

/// The first image, and whether more pages or frames follow.
fn decode_first(bytes: &[u8]) -> Result<(Image, bool)> {
    if bytes.is_empty() {
        return Err(Error::decode("empty file (0 bytes)"));
    }
    if is_tiff(bytes) {
        let (mut pages, more) = tiff::decode_pages(Cursor::new(bytes), 1, page_limit())?;
        return Ok((pages.remove(0), more));
    }
    if image::guess_format(bytes).ok() == Some(image::ImageFormat::Gif) {
        let mut stack = gif::decode(bytes)?;
        let more = stack.frames.len() > 1;
        return Ok((stack.frames.remove(0), more));
    }
    raster::decode(bytes).map(|image| (image, false))
}

/// Encodes one image in `format`. Errors name no file.
pub fn encode(image: &Image, format: Format) -> Result<Vec<u8>> {
    encode_stack(&Stack::single(image.clone()), format)
}

/// Writes an image in the format its extension names, atomically.
pub fn save(image: &Image, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode(image, Format::from_path(path)?).map_err(|e| e.at(path))?;
    write_atomic(path, &bytes)
}

/// Writes a stack in `format`, atomically.
pub fn save_stack(stack: &Stack, format: Format, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode_stack(stack, format).map_err(|e| e.at(path))?;
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
