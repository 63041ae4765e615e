//! Animated GIF: frames composited by `image`, the loop count read by `gif`, timing kept
//! so an output animates like its source.

use super::{Animation, Format, Stack};
use crate::image::{Image, Samples};
use crate::{Error, Result};
use std::io::Cursor;

/// Every frame, composited to RGBA, with its delay; the loop count.
pub(super) fn decode(bytes: &[u8]) -> Result<Stack> {
    use image::AnimationDecoder;
    // The loop count lives in the NETSCAPE2.0 extension ahead of the first frame; the
    // `gif` crate reads it, `image` composites the frames.
    let repeat = {
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::Indexed);
        let mut d = opts
            .read_info(Cursor::new(bytes))
            .map_err(Error::decode_from)?;
        d.next_frame_info().map_err(Error::decode_from)?;
        match d.repeat() {
            gif::Repeat::Infinite => None,
            gif::Repeat::Finite(n) => Some(n),
        }
    };
    let decoder =
        image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).map_err(Error::decode_from)?;
    let mut frames = Vec::new();
    let mut delays = Vec::new();
    for frame in decoder.into_frames() {
        let frame = frame.map_err(Error::decode_from)?;
        delays.push(frame.delay().numer_denom_ms());
        let buf = frame.into_buffer();
        let (w, h) = buf.dimensions();
        frames.push(
            Image::new(w, h, 4, Samples::U8(buf.into_raw()))
                .map_err(super::tiff::shape_to_decode)?,
        );
    }
    if frames.is_empty() {
        return Err(Error::decode("GIF without frames"));
    }
    Ok(Stack {
        frames,
        animation: Some(Animation { delays, repeat }),
        format: Some(Format::Gif),
        voxel: None,
    })
}

/// Every frame quantised to a 256-colour palette, with the stack's timing.
pub(super) fn encode(frames: &[Image], animation: Option<&Animation>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
        let repeat = match animation.and_then(|a| a.repeat) {
            None => image::codecs::gif::Repeat::Infinite,
            Some(n) => image::codecs::gif::Repeat::Finite(n),
        };
        if animation.is_some() {
            enc.set_repeat(repeat).map_err(Error::encode_from)?;
        }
        for (k, f) in frames.iter().enumerate() {
            let Samples::U8(v) = f.samples() else {
                return Err(Error::encode(format!(
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
            let buf = image::RgbaImage::from_raw(f.width(), f.height(), rgba)
                .ok_or_else(|| Error::encode("frame buffer does not match its size"))?;
            let delay = animation
                .and_then(|a| a.delays.get(k))
                .map_or(image::Delay::from_numer_denom_ms(0, 1), |&(n, d)| {
                    image::Delay::from_numer_denom_ms(n, d)
                });
            enc.encode_frame(image::Frame::from_parts(buf, 0, 0, delay))
                .map_err(Error::encode_from)?;
        }
    }
    Ok(out)
}
