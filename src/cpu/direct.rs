//! One op from a source image's own samples straight to the result image's: the
//! one-image call (upload, op, download) without the planes in between.
//!
//! The planar path widens and de-interleaves the source into f32 planes, runs the
//! kernel into f32 planes, then narrows and interleaves those into the result: for an
//! RGB image two passes over three image-sized f32 buffers that cost about as much as
//! the kernel. Here the separable filters read the source rows where they lie, widened
//! and de-interleaved into per-task buffers that stay in cache (the gaussian splits a
//! band's rows of every channel in one pass), and write each result row once, every
//! channel narrowed and interleaved into it; thresholds compare and count the source
//! samples in place and write the u8 mask directly. The arithmetic is the kernels' own,
//! in the same order: results are bit for bit the planar path's.

use super::layout::{output, Interleaved, Narrow, Plane, Source, Widen};
use super::threshold;
use crate::image::{Image, ImageView, SampleType, Samples, SamplesRef, Window};
use crate::ops::{f32_at_or_below, Op, Threshold};
use crate::Result;
use rayon::prelude::*;

/// `op` on the whole of `image` (2-D; its values of type `value_type`), straight into
/// an image of `to`, with the threshold a threshold op used. `None` where the direct
/// path does not cover the op or the types (the caller takes the planar path); the
/// op's checks are made first, as [`super::apply_ref`] makes them.
pub fn apply(
    image: ImageView<'_>,
    value_type: SampleType,
    op: &Op,
    to: SampleType,
) -> Option<Result<(Image, Option<f64>)>> {
    let shape = image.shape();
    // Other boundary modes pad the planes first (see `super::apply_ref`).
    if shape.depth != 1 || shape.samples() == 0 || op.padded(false, value_type).is_some() {
        return None;
    }
    let covered = match op {
        Op::Gaussian(g) => !g.int.applies_to(value_type) && g.antisym(false).is_empty(),
        Op::Box(b) => !b.int.applies_to(value_type),
        Op::Threshold(t) => {
            to == SampleType::U8 && thresholdable(image.samples(), shape.channels, value_type, t)
        }
        // The 3×3 median of 8- and 16-bit levels into the same type (a 2-D image's z
        // size does not apply).
        Op::Median(m) => {
            m.size[1..] == [3, 3]
                && to == image.sample_type()
                && value_type == to
                && matches!(to, SampleType::U8 | SampleType::U16)
        }
        _ => false,
    };
    let types = matches!(
        image.sample_type(),
        SampleType::U8 | SampleType::U16 | SampleType::F32
    ) && matches!(to, SampleType::U8 | SampleType::U16 | SampleType::F32);
    if !covered || !types {
        return None;
    }
    Some((|| {
        op.validate()?;
        op.check_input(value_type)?;
        op.check_shape(shape)?;
        let (samples, t) = match op {
            Op::Threshold(t) => {
                let (mask, t) = threshold_direct(image.samples(), shape, value_type, t);
                (Samples::U8(mask), Some(t))
            }
            Op::Median(_) => (median3(image), None),
            _ => (filter(image, op, to), None),
        };
        Ok((Image::with_shape(shape, samples)?, t))
    })())
}

/// The 3×3 median of u8 or u16 samples, each channel on its own, into the same type.
fn median3(image: ImageView<'_>) -> Samples {
    let s = image.shape();
    let (w, h, c) = (s.width as usize, s.height as usize, s.channels as usize);
    match image.samples() {
        SamplesRef::U8(v) => Samples::U8(super::rank::median3::median3(v, w, h, c)),
        SamplesRef::U16(v) => Samples::U16(super::rank::median3::median3(v, w, h, c)),
        _ => unreachable!("apply passes u8 and u16 samples only to the median"),
    }
}

/// A separable filter (gaussian or box) of every channel, source samples to `to`.
fn filter(image: ImageView<'_>, op: &Op, to: SampleType) -> Samples {
    fn run<S: Widen, T: Narrow>(data: &[S], image: ImageView<'_>, op: &Op) -> Vec<T> {
        let s = image.shape();
        let (w, c) = (s.width as usize, s.channels as usize);
        let mut out = output::<T>(s.samples());
        match S::plane(data).filter(|_| c == 1) {
            // One f32 channel is a plane already: rows are read where they lie.
            Some(data) => separable(&Plane { data, w }, &mut out, s, op),
            None => separable(&Interleaved { data, w, c }, &mut out, s, op),
        }
        out
    }
    macro_rules! to {
        ($data:expr) => {
            match to {
                SampleType::U8 => Samples::U8(run($data, image, op)),
                SampleType::U16 => Samples::U16(run($data, image, op)),
                _ => Samples::F32(run($data, image, op)),
            }
        };
    }
    match image.samples() {
        SamplesRef::U8(v) => to!(v),
        SamplesRef::U16(v) => to!(v),
        SamplesRef::F32(v) => to!(v),
        _ => unreachable!("apply passes u8, u16 and f32 samples only"),
    }
}

/// The gaussian or box twin of a 2-D image of `shape`, from `src` into `dst`.
fn separable<S: Source, T: Narrow>(src: &S, dst: &mut [T], shape: crate::image::Shape, op: &Op) {
    use crate::ops::Axis;
    let (w, h, c) = (
        shape.width as usize,
        shape.height as usize,
        shape.channels as usize,
    );
    let dims = (w, h, c, Window::whole(shape));
    match op {
        Op::Gaussian(g) => super::gaussian::slice(
            src,
            dst,
            dims,
            g.kernel(Axis::Y).as_deref(),
            g.kernel(Axis::X).as_deref(),
        ),
        Op::Box(b) => super::box_blur::slice_of(src, dst, dims, b),
        _ => unreachable!("apply passes separable filters only"),
    }
}

/// Whether [`threshold_direct`] counts and compares these samples exactly as the planar
/// path does. Not Otsu's float bins of integer samples, nor Otsu of f32 samples of
/// several channels (the planar path's min and max see them in another order, which
/// can decide the sign of a zero).
fn thresholdable(
    samples: SamplesRef<'_>,
    channels: u32,
    value_type: SampleType,
    op: &Threshold,
) -> bool {
    match (op, samples) {
        (Threshold::Value { .. }, SamplesRef::U8(_) | SamplesRef::U16(_) | SamplesRef::F32(_)) => {
            true
        }
        (Threshold::Otsu, SamplesRef::U8(_) | SamplesRef::U16(_)) => {
            threshold::integer_levels(value_type) && samples.len() <= u32::MAX as usize
        }
        (Threshold::Otsu, SamplesRef::F32(_)) => channels == 1,
        _ => false,
    }
}

/// A threshold of every sample (all channels together, as the planar path counts
/// them), compared where it lies: the u8 mask in the samples' own order, and the
/// threshold. Only for what [`thresholdable`] accepts.
fn threshold_direct(
    samples: SamplesRef<'_>,
    shape: crate::image::Shape,
    value_type: SampleType,
    op: &Threshold,
) -> (Vec<u8>, f64) {
    let t = match (*op, samples) {
        (Threshold::Value { value }, _) => value,
        (Threshold::Otsu, SamplesRef::U8(v)) => otsu_levels(v, 1 << 8),
        (Threshold::Otsu, SamplesRef::U16(v)) => otsu_levels(v, 1 << 16),
        (Threshold::Otsu, SamplesRef::F32(v)) => threshold::otsu_threshold(super::PlanesRef {
            shape,
            data: v,
            value_type,
            window: Window::whole(shape),
        }),
        _ => unreachable!("`thresholdable` first"),
    };
    let tf = f32_at_or_below(t);
    let mask = |x: f32| if x > tf { 255u8 } else { 0 };
    let mask = match samples {
        SamplesRef::U8(v) => super::par_map(v, |x| mask(f32::from(x))),
        SamplesRef::U16(v) => super::par_map(v, |x| mask(f32::from(x))),
        SamplesRef::F32(v) => super::par_map(v, mask),
        _ => unreachable!("`thresholdable` first"),
    };
    (mask, t)
}

/// [`threshold::otsu_threshold`] of integer levels where they lie: every level of the
/// type counted in one pass, the histogram then cut to the levels from the smallest
/// sample to the largest. The same counts and bounds as the planar path's min, max and
/// one bin per level (a level's f32 is exact). Counters are u32 ([`thresholdable`]
/// keeps more samples than that out), which keeps a u16 table in L2; a u8 table is
/// split four ways, so a run of one level (a flat background) does not wait on one
/// counter.
fn otsu_levels<S: Copy + Sync + Into<usize>>(data: &[S], levels: usize) -> f64 {
    // A few parts per thread, one table each: a u16 table is 256 KiB to clear and add
    // up, which per 64 Ki-sample chunk cost more than the counting at 2048².
    let parts = 2 * rayon::current_num_threads().max(1);
    let part = data.len().div_ceil(parts).max(1 << 16);
    let ways = if levels <= 1 << 8 { 4 } else { 1 };
    let counts = data
        .par_chunks(part)
        .map(|c| {
            let mut h = vec![0u32; ways * levels];
            let mut quads = c.chunks_exact(ways);
            for q in &mut quads {
                for (way, &x) in q.iter().enumerate() {
                    h[way * levels + x.into()] += 1;
                }
            }
            for &x in quads.remainder() {
                h[x.into()] += 1;
            }
            let mut sum = vec![0u64; levels];
            for way in h.chunks_exact(levels) {
                sum.iter_mut()
                    .zip(way)
                    .for_each(|(a, &b)| *a += u64::from(b));
            }
            sum
        })
        .reduce(
            || vec![0u64; levels],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        );
    let Some(lo) = counts.iter().position(|&n| n > 0) else {
        return f64::NAN;
    };
    let hi = counts
        .iter()
        .rposition(|&n| n > 0)
        .expect("a level is counted");
    threshold::otsu_from_histogram(&counts[lo..=hi], lo as f32, hi as f32, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::convert::{to_image, to_planes};

    /// Samples as bit patterns (-0.0 is not 0.0 here).
    fn bits(s: &Samples) -> Vec<u32> {
        match s {
            Samples::U8(v) => v.iter().map(|&x| u32::from(x)).collect(),
            Samples::U16(v) => v.iter().map(|&x| u32::from(x)).collect(),
            Samples::F32(v) => v.iter().map(|x| x.to_bits()).collect(),
            other => panic!("not an output here: {:?}", other.sample_type()),
        }
    }

    /// The direct path against the planar one (widen, the twin, narrow), bit for bit:
    /// every covered op on u8, u16 and f32 samples of one, three and four channels,
    /// into each output type, on sizes that leave partial bands, strips and segments.
    #[test]
    fn direct_equals_planar() {
        let ops = [
            "gaussian:sigma=2",
            "gaussian:sigma_x=3,sigma_y=0.7",
            "box:size=5",
            "box:size_x=1,size_y=4",
            "box:size=1",
            "threshold:method=otsu",
            "threshold:value=100.5",
            "median:size=3",
            "median:size_y=3,size_x=3",
        ];
        let (w, h) = (263u32, 75u32);
        for c in [1u32, 3, 4] {
            let n = (w * h * c) as usize;
            let wave = |i: usize| ((i * 7919) % 1013) as f32 * 0.25 + ((i / 91) % 50) as f32;
            for samples in [
                Samples::U8((0..n).map(|i| (wave(i) as u32 % 256) as u8).collect()),
                Samples::U16((0..n).map(|i| (wave(i) * 60.0) as u16).collect()),
                Samples::F32((0..n).map(|i| wave(i) - 40.0).collect()),
            ] {
                let image = Image::new(w, h, c, samples).unwrap();
                let t = image.sample_type();
                for spec in ops {
                    let op = Op::parse(spec).unwrap();
                    for to in [SampleType::U8, SampleType::U16, SampleType::F32] {
                        let Some(got) = apply(image.view(), t, &op, to) else {
                            continue;
                        };
                        let (got, got_t) = got.unwrap();
                        let (planes, want_t) = crate::cpu::apply(&to_planes(&image), &op).unwrap();
                        let want = to_image(&planes, to);
                        assert_eq!(got_t, want_t, "{spec} {t} x{c} to {to}");
                        assert_eq!(got.shape(), want.shape());
                        assert!(
                            bits(got.samples()) == bits(want.samples()),
                            "{spec} {t} x{c} to {to}: the images differ"
                        );
                    }
                }
            }
        }
    }
}
