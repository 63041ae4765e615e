//! PNG, JPEG, WebP and BMP through `image`: 8- and 16-bit PNG, 8-bit JPEG, WebP (read
//! lossy or lossless, written lossless; an animated WebP gives its first frame) and BMP.

use super::Format;
use crate::image::{Image, Samples};
use crate::{Error, Result};
use std::io::Cursor;

/// Decodes one image of a format `image` knows (by its bytes).
pub(super) fn decode(bytes: &[u8]) -> Result<Image> {
    let format = image::guess_format(bytes).map_err(|_| {
        Error::decode("not a recognised image format (TIFF, PNG, JPEG, GIF, WebP or BMP)")
    })?;
    if format == image::ImageFormat::Jpeg {
        check_jpeg_complete(bytes)?;
    }
    let dynamic = image::load_from_memory_with_format(bytes, format).map_err(Error::decode_from)?;
    from_dynamic(dynamic)
}

/// Refuses a JPEG that stops before its end-of-image marker. The decoder fills what is
/// missing with gray and says nothing, so a file cut short in a copy would otherwise
/// become a plausible, wrong image. Walks the segments (skipping their lengths, so a
/// thumbnail's own markers inside APP1 do not count) and each scan's entropy-coded data
/// (where a 0xFF byte is always followed by 0x00 or a restart marker) to the EOI marker.
/// Bytes after it (a camera's trailer, a motion photo's video) are allowed.
fn check_jpeg_complete(bytes: &[u8]) -> Result<()> {
    let truncated =
        || Error::decode("truncated JPEG: the file ends before its end-of-image marker");
    let mut i = 2; // past SOI
    loop {
        // Fill bytes (0xFF runs) may precede a marker.
        while bytes.get(i) == Some(&0xFF) && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(i), bytes.get(i + 1)) else {
            return Err(truncated());
        };
        i += 2;
        match marker {
            0xD9 => return Ok(()),          // EOI
            0x01 | 0xD0..=0xD7 => continue, // no length
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(i), bytes.get(i + 1)) else {
            return Err(truncated());
        };
        i += usize::from(u16::from_be_bytes([hi, lo]));
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is not a stuffed byte or
            // a restart.
            loop {
                match (bytes.get(i), bytes.get(i + 1)) {
                    (Some(&0xFF), Some(&(0x00 | 0xD0..=0xD7 | 0xFF))) => i += 1,
                    (Some(&0xFF), Some(_)) => break,
                    (Some(_), _) => i += 1,
                    (None, _) => return Err(truncated()),
                }
            }
        }
    }
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

/// Encodes one image as PNG, JPEG, WebP or BMP.
pub(super) fn encode(image: &Image, format: Format) -> Result<Vec<u8>> {
    use image::ExtendedColorType as E;
    let (w, h, c) = (image.width(), image.height(), image.channels());
    let what = match format {
        Format::Png => "8- or 16-bit unsigned samples; write a .tif, or narrow with --dtype u8/u16",
        Format::Jpeg => "8-bit gray or RGB; write a .tif or .png",
        _ => "8-bit samples; write a .tif or .png, or narrow with --dtype u8",
    };
    let refuse = || {
        Err(Error::encode(format!(
            "{} holds only {what} (this image is {} with {c} channels)",
            format.name(),
            image.sample_type()
        )))
    };
    let (color, native): (E, &[u8]) = match (image.samples(), c) {
        (Samples::U8(v), 1) => (E::L8, v),
        (Samples::U8(v), 3) => (E::Rgb8, v),
        (Samples::U8(v), _) => (E::Rgba8, v),
        // `image` takes 16-bit samples in native byte order (it writes PNG's
        // big-endian itself).
        (Samples::U16(v), 1) if format == Format::Png => (E::L16, bytemuck::cast_slice(v)),
        (Samples::U16(v), 3) if format == Format::Png => (E::Rgb16, bytemuck::cast_slice(v)),
        (Samples::U16(v), _) if format == Format::Png => (E::Rgba16, bytemuck::cast_slice(v)),
        _ => return refuse(),
    };
    if format == Format::Jpeg && c == 4 {
        return refuse();
    }
    let mut out = Cursor::new(Vec::new());
    let r = match format {
        Format::Png => image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut out),
            native,
            w,
            h,
            color,
        ),
        Format::Jpeg => image::ImageEncoder::write_image(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95),
            native,
            w,
            h,
            color,
        ),
        Format::Webp => image::ImageEncoder::write_image(
            image::codecs::webp::WebPEncoder::new_lossless(&mut out),
            native,
            w,
            h,
            color,
        ),
        Format::Bmp => image::ImageEncoder::write_image(
            image::codecs::bmp::BmpEncoder::new(&mut out),
            native,
            w,
            h,
            color,
        ),
        // Routed to their own encoders by `encode_stack`.
        Format::Tiff | Format::Gif | Format::Csv => {
            return Err(Error::encode(format!(
                "{} is not written here",
                format.name()
            )))
        }
    };
    r.map_err(Error::encode_from)?;
    Ok(out.into_inner())
}
