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
    let mut data = super::zeroed(shape.samples());
    fn fill<T: Copy + Sync>(
        src: &[T],
        dst: &mut [f32],
        c: usize,
        n: usize,
        f: impl Fn(T) -> f32 + Sync,
    ) {
        if c == 1 {
            dst.par_iter_mut()
                .zip(src.par_iter())
                .for_each(|(d, &s)| *d = f(s));
            return;
        }
        dst.par_chunks_mut(n).enumerate().for_each(|(ch, plane)| {
            for (p, d) in plane.iter_mut().enumerate() {
                *d = f(src[p * c + ch]);
            }
        });
    }
    match image.samples() {
        Samples::U8(v) => fill(v, &mut data, c, n, f32::from),
        Samples::U16(v) => fill(v, &mut data, c, n, f32::from),
        Samples::F32(v) => fill(v, &mut data, c, n, |x| x),
    }
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
        Some(_) if v.is_nan() => 0.0,
        Some(max) => v.round_ties_even().clamp(0.0, max),
    }
}

/// Interleaves planes into an image of sample type `to` (round to nearest, clamp).
pub fn to_image(planes: &Planes, to: SampleType) -> Image {
    let shape = planes.shape;
    let c = shape.channels as usize;
    let n = shape.plane_len();
    let interleaved = |i: usize| narrow(planes.data[(i % c) * n + i / c], to);
    let samples = match to {
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
    };
    Image::new(shape.width, shape.height, shape.channels, samples).expect("shape already valid")
}
