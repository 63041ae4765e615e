//! Twin of `shaders/threshold.wgsl`: fixed threshold and Otsu.
//!
//! Otsu reproduces `skimage.filters.threshold_otsu` (0.26) step for step, including its
//! precisions, because near a flat maximum the argmax is decided by rounding:
//! - integer data (u8/u16 levels no filter has touched): one bin per level from min to
//!   max; counts become f32 (skimage casts them), `weight1*weight2` is an f32 product,
//!   class means are f64.
//! - float data: numpy's 256-bin histogram over [min, max], computed in f32 with f32
//!   edges, then the whole scan in f32.
//!
//! One deliberate difference: class weights come from exact integer counts rather than
//! a running f32 sum, which is the same whenever an image has at most 2^24 samples and
//! more precise beyond (skimage's f32 running sum starts to drop counts there).

use super::Planes;
use crate::image::SampleType;
use crate::ops::{f32_at_or_below, Threshold};
use rayon::prelude::*;

/// Number of bins for float data (skimage's default `nbins`).
pub const FLOAT_BINS: usize = 256;

/// Applies a threshold op: the 0/255 mask, and the threshold used (Otsu's or the fixed).
pub fn threshold(src: &Planes, op: &Threshold) -> (Planes, f64) {
    let t = match *op {
        Threshold::Value { value } => value,
        Threshold::Otsu => otsu_threshold(src),
    };
    (mask(src, t), t)
}

/// `x > t` as 0.0 / 255.0, over every channel.
pub fn mask(src: &Planes, t: f64) -> Planes {
    let tf = f32_at_or_below(t);
    let mut data = super::zeroed(src.data.len());
    data.par_iter_mut()
        .zip(src.data.par_iter())
        .for_each(|(d, &x)| *d = if x > tf { 255.0 } else { 0.0 });
    Planes {
        shape: src.shape,
        data,
        value_type: SampleType::U8,
    }
}

/// Smallest and largest sample, NaNs ignored; `None` when there is no number at all.
pub fn min_max(data: &[f32]) -> Option<(f32, f32)> {
    // f32::min/max return the other operand for a NaN, so NaNs drop out of a plain,
    // vectorisable fold.
    let (lo, hi) = data
        .par_chunks(1 << 16)
        .map(|c| {
            c.iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                })
        })
        .reduce(
            || (f32::INFINITY, f32::NEG_INFINITY),
            |a, b| (a.0.min(b.0), a.1.max(b.1)),
        );
    (lo <= hi).then_some((lo, hi))
}

/// skimage's `threshold_otsu` over all samples (all channels together, as skimage does
/// for a colour array). NaNs are ignored; an image with one value returns that value.
pub fn otsu_threshold(src: &Planes) -> f64 {
    let Some((lo, hi)) = min_max(&src.data) else {
        return f64::NAN;
    };
    if lo == hi {
        return f64::from(lo);
    }
    match src.value_type {
        SampleType::U8 | SampleType::U16 => {
            let (lo, hi) = (lo as i64, hi as i64);
            let counts = histogram(&src.data, (hi - lo + 1) as usize, |x| {
                (x as i64 - lo) as usize
            });
            let idx = otsu_index_integer(&counts, lo);
            (lo + idx as i64) as f64
        }
        SampleType::F32 => {
            let edges = float_edges(lo, hi);
            let scale = FLOAT_BINS as f32 / (hi - lo);
            let counts = histogram(&src.data, FLOAT_BINS, |x| float_bin(x, &edges, scale));
            let centers: Vec<f32> = edges.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect();
            f64::from(centers[otsu_index_float(&counts, &centers)])
        }
    }
}

fn histogram(data: &[f32], bins: usize, bin: impl Fn(f32) -> usize + Sync) -> Vec<u64> {
    data.par_chunks(1 << 16)
        .map(|chunk| {
            let mut h = vec![0u64; bins];
            for &x in chunk.iter().filter(|x| !x.is_nan()) {
                h[bin(x)] += 1;
            }
            h
        })
        .reduce(
            || vec![0u64; bins],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// numpy's `linspace(first, last, 257, dtype=float32)` as NumPy 2 computes it: all f32,
/// `edge[i] = i*step + first` with `step = (last-first)/256`, and the last edge exact.
pub fn float_edges(first: f32, last: f32) -> Vec<f32> {
    let step = (last - first) / FLOAT_BINS as f32;
    let mut edges: Vec<f32> = (0..=FLOAT_BINS)
        .map(|i| (i as f32 * step) + first)
        .collect();
    edges[FLOAT_BINS] = last;
    edges
}

/// numpy's uniform-bin index: an estimate, then corrected against the edges. numpy
/// estimates with a division; a precomputed scale may land one bin off, and the
/// corrections then pick the same bin numpy does, the one whose edges hold `x`.
#[inline]
pub fn float_bin(x: f32, edges: &[f32], scale: f32) -> usize {
    let mut i = (((x - edges[0]) * scale) as usize).min(FLOAT_BINS - 1);
    if x < edges[i] {
        i = i.saturating_sub(1);
    }
    if x >= edges[i + 1] && i != FLOAT_BINS - 1 {
        i += 1;
    }
    i
}

/// The Otsu scan for integer levels `lo, lo+1, …`; returns the bin index.
pub fn otsu_index_integer(counts: &[u64], lo: i64) -> usize {
    let n: u64 = counts.iter().sum();
    let total: i128 = counts
        .iter()
        .enumerate()
        .map(|(k, &c)| i128::from(c) * i128::from(lo + k as i64))
        .sum();
    let (mut w1, mut s1) = (0u64, 0i128);
    let mut best = (f64::NEG_INFINITY, 0usize);
    for (k, &c) in counts[..counts.len() - 1].iter().enumerate() {
        w1 += c;
        s1 += i128::from(c) * i128::from(lo + k as i64);
        let (w2, s2) = (n - w1, total - s1);
        let (w1f, w2f) = (w1 as f32, w2 as f32);
        let m1 = s1 as f64 / f64::from(w1f);
        let m2 = s2 as f64 / f64::from(w2f);
        let v = f64::from(w1f * w2f) * (m1 - m2) * (m1 - m2);
        if v > best.0 {
            best = (v, k);
        }
    }
    best.1
}

/// The Otsu scan over float bins, all in f32 like skimage's.
pub fn otsu_index_float(counts: &[u64], centers: &[f32]) -> usize {
    let nb = counts.len();
    let c: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
    let cb: Vec<f32> = c.iter().zip(centers).map(|(&c, &m)| c * m).collect();
    let cumsum = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .scan(0.0f32, |s, &x| {
                *s += x;
                Some(*s)
            })
            .collect()
    };
    let rcumsum = |v: &[f32]| -> Vec<f32> {
        let mut r: Vec<f32> = v.to_vec();
        for k in (0..nb - 1).rev() {
            r[k] += r[k + 1];
        }
        r
    };
    let (w1, w2, s1, s2) = (cumsum(&c), rcumsum(&c), cumsum(&cb), rcumsum(&cb));
    let mut best = (f32::NEG_INFINITY, 0usize);
    for k in 0..nb - 1 {
        let d = s1[k] / w1[k] - s2[k + 1] / w2[k + 1];
        let v = (w1[k] * w2[k + 1]) * (d * d);
        if v > best.0 {
            best = (v, k);
        }
    }
    best.1
}
