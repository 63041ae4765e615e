//! PNG and JPEG through `image`: 8- and 16-bit PNG, 8-bit JPEG.

use super::Format;
use crate::image::{Image, SampleType, Samples};
use crate::{Error, Result};
use std::io::Cursor;

/// Decodes one image of a format `image` knows (by its bytes).
pub(super) fn decode(bytes: &[u8]) -> Result<Image> {
    let format = image::guess_format(bytes)
        .map_err(|_| Error::decode("not a recognised image format (TIFF, PNG, JPEG or GIF)"))?;
    let dynamic = image::load_from_memory_with_format(bytes, format).map_err(Error::decode_from)?;
    from_dynamic(dynamic)
}

fn from_dynamic(img: image::DynamicImage) -> Result<Image> {
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
            return Err(Error::unsupported(format!(
                "pixel layout {:?}",
                other.color()
            )))
        }
    };
    Image::new(w, h, c, samples).map_err(super::tiff::shape_to_decode)
}

/// Encodes one image as PNG or JPEG.
pub(super) fn encode(image: &Image, format: Format) -> Result<Vec<u8>> {
    use image::ExtendedColorType as E;
    let (w, h, c) = (image.width(), image.height(), image.channels());
    let color = match (image.samples(), c) {
        (Samples::U8(_), 1) => E::L8,
        (Samples::U8(_), 3) => E::Rgb8,
        (Samples::U8(_), _) => E::Rgba8,
        (Samples::U16(_), 1) => E::L16,
        (Samples::U16(_), 3) => E::Rgb16,
        (Samples::U16(_), _) => E::Rgba16,
        (Samples::F32(_), _) => {
            return Err(Error::encode(format!(
                "{} cannot hold f32 samples; write a .tif, or narrow with --dtype u8/u16",
                format.name()
            )))
        }
    };
    if format == Format::Jpeg && (image.sample_type() != SampleType::U8 || c == 4) {
        return Err(Error::encode(
            "JPEG holds only 8-bit gray or RGB; write a .tif or .png",
        ));
    }
    // `image` takes 16-bit samples in native byte order (it writes PNG's big-endian
    // itself).
    let native: &[u8] = match image.samples() {
        Samples::U8(v) => v,
        Samples::U16(v) => bytemuck::cast_slice(v),
        Samples::F32(v) => bytemuck::cast_slice(v),
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
    r.map_err(Error::encode_from)?;
    Ok(out.into_inner())
}
