//! Writing: whole stacks as pages, or pages streamed band by band as strips.

use crate::image::{Image, SampleType, Samples, Shape, VoxelSize};
use crate::io::Stack;
use crate::{Error, Result};
use std::io::{Seek, Write};

/// Every frame as one page of a multi-page TIFF, uncompressed, classic or (past 4 GiB)
/// BigTIFF. Volumes (and channels other than gray, RGB and RGBA, or a known voxel size)
/// are written as an ImageJ hyperstack: a page per slice (and per channel, apart from
/// RGB), the axes and voxel size in the first page's description and the resolution.
pub(in crate::io) fn encode(stack: &Stack) -> Result<Vec<u8>> {
    // The samples plus a little for the directories, reserved up front so the buffer is
    // not regrown and recopied as pages go in.
    let frames = &stack.frames;
    let samples: usize = (frames.iter())
        .map(|f| f.samples().len() * f.sample_type().size())
        .sum();
    let mut out = std::io::Cursor::new(Vec::with_capacity(samples + 4096 * frames.len()));
    let first = frames.first().ok_or_else(|| Error::encode("no frames"))?;
    let hyper = Hyperstack::of(
        first.shape(),
        first.sample_type(),
        frames.len(),
        stack.voxel.as_ref(),
    );
    macro_rules! pages {
        ($enc:expr) => {{
            let mut enc = $enc.map_err(Error::encode_from)?;
            match &hyper {
                None => {
                    for f in frames {
                        write_page(&mut enc, f, None)?;
                    }
                }
                Some(h) => {
                    let mut k = 0;
                    for f in frames {
                        for page in h.pages_of(f)? {
                            write_page(&mut enc, &page, Some(&h.tags(k)))?;
                            k += 1;
                        }
                    }
                }
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

/// Writes `frames` frames of `shape` and `sample_type`, from bands that `next_band`
/// hands over in raster order: rows of a 2-D frame (any height, any number), or slabs
/// of whole slices of a volume. They become strips of about 1 MiB, so only a band and
/// a strip are in memory (a slice, where channels are pages of their own). BigTIFF when
/// the samples pass 4 GiB. Volumes are written as ImageJ hyperstacks, as [`encode`]
/// writes them, with `voxel` where it is known.
pub fn write_stream<W: Write + Seek>(
    w: W,
    shape: Shape,
    sample_type: SampleType,
    frames: usize,
    voxel: Option<&VoxelSize>,
    next_band: &mut dyn FnMut() -> Result<Image>,
) -> Result<()> {
    let bytes = shape.samples_u64() * sample_type.size() as u64 * frames as u64;
    let hyper = Hyperstack::of(shape, sample_type, frames, voxel);
    let page = Shape {
        depth: 1,
        channels: hyper.as_ref().map_or(shape.channels, |h| h.page_channels),
        ..shape
    };
    let pages = hyper.as_ref().map_or(frames, Hyperstack::pages);
    let mut feed = PageFeed::new(shape, hyper.as_ref(), next_band);
    macro_rules! go {
        ($enc:expr) => {{
            let mut enc = $enc.map_err(Error::encode_from)?;
            for k in 0..pages {
                let tags = hyper.as_ref().map(|h| h.tags(k));
                stream_page(&mut enc, page, sample_type, tags.as_ref(), &mut || {
                    feed.next()
                })?;
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

/// How a stack is laid out as an ImageJ hyperstack.
struct Hyperstack {
    frames: usize,
    slices: usize,
    /// Channels as pages of their own (1 for RGB pages).
    channels: usize,
    /// Channels each page holds.
    page_channels: u32,
    description: String,
    resolution: Option<(u32, u32, u32, u32)>,
}

/// The description and resolution of one page of a hyperstack.
struct PageTags<'a> {
    description: Option<&'a str>,
    resolution: Option<(u32, u32, u32, u32)>,
}

impl Hyperstack {
    /// The layout of `frames` frames of `shape`, or `None` for a plain stack of 2-D
    /// frames of gray, RGB or RGBA pixels with no voxel size (written as it always was).
    fn of(
        shape: Shape,
        t: SampleType,
        frames: usize,
        voxel: Option<&VoxelSize>,
    ) -> Option<Hyperstack> {
        let c = shape.channels;
        if !shape.is_volume() && matches!(c, 1 | 3 | 4) && voxel.is_none() {
            return None;
        }
        // RGB u8 pages stay RGB (ImageJ's colour stacks); other channels become pages.
        let rgb = c == 3 && t == SampleType::U8;
        let (channels, page_channels) = if rgb { (1, 3) } else { (c as usize, 1) };
        let slices = shape.depth as usize;
        let resolution = voxel.map(|v| {
            let (xn, xd) = super::meta::rational(1.0 / v.x);
            let (yn, yd) = super::meta::rational(1.0 / v.y);
            (xn, xd, yn, yd)
        });
        Some(Hyperstack {
            frames,
            slices,
            channels,
            page_channels,
            description: super::meta::imagej_description(frames, slices, channels, voxel),
            resolution,
        })
    }

    fn pages(&self) -> usize {
        self.frames * self.slices * self.channels
    }

    /// Page `k`'s tags: the description on the first.
    fn tags(&self, k: usize) -> PageTags<'_> {
        PageTags {
            description: (k == 0).then_some(self.description.as_str()),
            resolution: self.resolution,
        }
    }

    /// A frame's pages, slice by slice, channel by channel within each.
    fn pages_of(&self, frame: &Image) -> Result<Vec<Image>> {
        let mut out = Vec::with_capacity(self.slices * self.channels);
        for slice in frame.slices() {
            out.extend(self.channel_pages(slice)?);
        }
        Ok(out)
    }

    /// A slice's pages: itself, or each of its channels.
    fn channel_pages(&self, slice: Image) -> Result<Vec<Image>> {
        if self.channels == 1 {
            return Ok(vec![slice]);
        }
        Ok(slice.channel_images())
    }
}

/// Bands in, rows of pages out: a volume's slabs split into their slices, and, where
/// channels are pages, each slice (a 2-D frame: each whole frame) split into its
/// channels.
struct PageFeed<'f> {
    shape: Shape,
    channel_pages: bool,
    next_band: &'f mut dyn FnMut() -> Result<Image>,
    /// Pages (or rows of one) ready to go.
    ready: std::collections::VecDeque<Image>,
    /// Rows of a 2-D frame gathered until it is whole (channel pages only).
    gathered: Vec<Image>,
}

impl<'f> PageFeed<'f> {
    fn new(
        shape: Shape,
        hyper: Option<&Hyperstack>,
        next_band: &'f mut dyn FnMut() -> Result<Image>,
    ) -> Self {
        PageFeed {
            shape,
            channel_pages: hyper.is_some_and(|h| h.channels > 1),
            next_band,
            ready: Default::default(),
            gathered: Vec::new(),
        }
    }

    fn next(&mut self) -> Result<Image> {
        while self.ready.is_empty() {
            let band = (self.next_band)()?;
            let slices = if band.shape().is_volume() {
                band.slices()
            } else {
                vec![band]
            };
            for slice in slices {
                if !self.channel_pages {
                    self.ready.push_back(slice);
                    continue;
                }
                // A channel page needs every row of its slice.
                self.gathered.push(slice);
                let rows: u32 = self.gathered.iter().map(Image::height).sum();
                if rows >= self.shape.height {
                    let whole = Image::stacked(&std::mem::take(&mut self.gathered))?;
                    self.ready.extend(whole.channel_images());
                }
            }
        }
        Ok(self.ready.pop_front().expect("filled above"))
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

/// One whole page, with its hyperstack tags where it has them.
fn write_page<W: Write + Seek, K: tiff::encoder::TiffKind>(
    enc: &mut tiff::encoder::TiffEncoder<W, K>,
    image: &Image,
    tags: Option<&PageTags<'_>>,
) -> Result<()> {
    let (w, h) = (image.width(), image.height());
    by_color!(image.sample_type(), image.channels(), C => {
        let v = typed_samples::<<C as tiff::encoder::colortype::ColorType>::Inner>(image)?;
        match tags {
            None => enc.write_image::<C>(w, h, v).map_err(Error::encode_from),
            Some(tags) => {
                let mut page = enc.new_image::<C>(w, h).map_err(Error::encode_from)?;
                put_tags(&mut page, tags)?;
                page.write_data(v).map_err(Error::encode_from)
            }
        }
    })
}

/// A hyperstack page's description and resolution.
fn put_tags<W: Write + Seek, C: tiff::encoder::colortype::ColorType, K: tiff::encoder::TiffKind>(
    page: &mut tiff::encoder::ImageEncoder<'_, W, C, K>,
    tags: &PageTags<'_>,
) -> Result<()> {
    use tiff::encoder::Rational;
    if let Some(d) = tags.description {
        page.encoder()
            .write_tag(tiff::tags::Tag::ImageDescription, d)
            .map_err(Error::encode_from)?;
    }
    if let Some((xn, xd, yn, yd)) = tags.resolution {
        page.x_resolution(Rational { n: xn, d: xd });
        page.y_resolution(Rational { n: yn, d: yd });
        page.resolution_unit(tiff::tags::ResolutionUnit::None);
    }
    Ok(())
}

/// One page from bands of rows, written as the strips a whole write makes (about 1 MB
/// each, the encoder's default), so a streamed file is byte for byte the file a whole
/// write of the same pixels gives.
fn stream_page<W: Write + Seek, K: tiff::encoder::TiffKind>(
    enc: &mut tiff::encoder::TiffEncoder<W, K>,
    shape: Shape,
    sample_type: SampleType,
    tags: Option<&PageTags<'_>>,
    next_band: &mut dyn FnMut() -> Result<Image>,
) -> Result<()> {
    by_color!(sample_type, shape.channels, C => {
        let mut image = enc
            .new_image::<C>(shape.width, shape.height)
            .map_err(Error::encode_from)?;
        if let Some(tags) = tags {
            put_tags(&mut image, tags)?;
        }
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
