//! Twin of `shaders/convert.wgsl`: interleaved source samples to f32 planes (widening), and
//! f32 planes back to interleaved samples of a chosen type (narrowing).

use super::Planes;
use crate::image::{Image, SampleType, Samples};
use rayon::prelude::*;

/// Widens and de-interleaves an image into f32 planes.
pub fn to_planes(image: &Image) -> Planes {
    let shape = image.shape();
    let c = shape.channels as usize;
    let n = shape.plane_len();
    // One channel is already a plane: a straight map into a new buffer. Several are
    // de-interleaved plane by plane.
    fn widen<T: Copy + Sync>(
        src: &[T],
        c: usize,
        n: usize,
        f: impl Fn(T) -> f32 + Sync,
    ) -> Vec<f32> {
        if c == 1 {
            return super::par_map(src, f);
        }
        let mut dst = super::zeroed(src.len());
        dst.par_chunks_mut(n).enumerate().for_each(|(ch, plane)| {
            for (p, d) in plane.iter_mut().enumerate() {
                *d = f(src[p * c + ch]);
            }
        });
        dst
    }
    let data = match image.samples() {
        Samples::U8(v) => widen(v, c, n, f32::from),
        Samples::U16(v) => widen(v, c, n, f32::from),
        Samples::F32(v) => widen(v, c, n, |x| x),
    };
    Planes {
        shape,
        data,
        value_type: image.sample_type(),
    }
}

/// Narrows one value like the GPU pack kernel: round half to even, clamp to the type's
/// range, NaN to 0.
#[inline]
pub fn narrow(v: f32, to: SampleType) -> f32 {
    match to.max_value() {
        None => v,
        Some(max) => round_clamped(v, max) as f32,
    }
}

/// Clamps to `[0, max]` (NaN to 0), then rounds half to even, as an integer. `max` is
/// an integer below 2^23, so clamping first changes nothing, and adding 2^23 to a
/// value in [0, 2^23) rounds it half to even (the default rounding mode) into the low
/// mantissa bits. The same as `round_ties_even`, without the libm call that becomes
/// on baseline x86-64 nor a saturating float-to-int cast: this form vectorises.
#[inline(always)]
fn round_clamped(v: f32, max: f32) -> u32 {
    const TWO_23: f32 = 8_388_608.0;
    // f32::max returns the other operand for a NaN: NaN becomes 0.
    (v.max(0.0).min(max) + TWO_23).to_bits() - TWO_23.to_bits()
}

/// Narrows a single-channel plane (no interleaving needed).
fn narrow_plane<T: Copy + Send>(src: &[f32], max: f32, cast: impl Fn(u32) -> T + Sync) -> Vec<T> {
    super::par_map(src, |v| cast(round_clamped(v, max)))
}

/// Interleaves planes into an image of sample type `to` (round to nearest, clamp).
pub fn to_image(planes: &Planes, to: SampleType) -> Image {
    let shape = planes.shape;
    let c = shape.channels as usize;
    let n = shape.plane_len();
    let samples = if c == 1 {
        // One plane is already interleaved: a straight, vectorisable map.
        let data = &planes.data;
        match to {
            // round_clamped keeps the values in range: the casts are exact.
            SampleType::U8 => Samples::U8(narrow_plane(data, 255.0, |v| v as u8)),
            SampleType::U16 => Samples::U16(narrow_plane(data, 65535.0, |v| v as u16)),
            SampleType::F32 => Samples::F32(data.clone()),
        }
    } else {
        let interleaved = |i: usize| narrow(planes.data[(i % c) * n + i / c], to);
        match to {
            SampleType::U8 => Samples::U8(
                (0..shape.samples())
                    .into_par_iter()
                    .map(|i| interleaved(i) as u8)
                    .collect(),
            ),
            SampleType::U16 => Samples::U16(
                (0..shape.samples())
                    .into_par_iter()
                    .map(|i| interleaved(i) as u16)
                    .collect(),
            ),
            SampleType::F32 => Samples::F32(
                (0..shape.samples())
                    .into_par_iter()
                    .map(interleaved)
                    .collect(),
            ),
        }
    };
    Image::new(shape.width, shape.height, shape.channels, samples).expect("shape already valid")
}
