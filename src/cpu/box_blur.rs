//! Twin of `shaders/box_blur.wgsl`: scipy `uniform_filter` (reflect), separable, axis 0
//! then axis 1. Running sums make the cost independent of the window size; the CPU keeps
//! them in f64, as scipy does, so no drift builds up along long lines.
//!
//! The passes are fused per band of rows, as in the gaussian: each vertical result row
//! goes to a reflect-padded line and is filtered horizontally at once, so the
//! intermediate plane never goes to memory. A running sum along a line is one long
//! chain of dependent additions; the line is cut into [`SEGMENTS`] segments, each with
//! its own sum started directly, and their chains are interleaved so they overlap.

use super::{reflect, reflect_pad, Planes};
use crate::image::SampleType;
use crate::ops::BoxBlur;
use rayon::prelude::*;

/// Independent running sums per line.
const SEGMENTS: usize = 4;

/// Box filter of every plane.
pub fn box_blur(src: &Planes, b: &BoxBlur) -> Planes {
    let (w, h) = (src.shape.width as usize, src.shape.height as usize);
    let (lo, hi) = b.window();
    let (lo, hi) = (lo as usize, hi as usize);
    src.map_planes(SampleType::F32, |s, d| {
        if lo + hi == 0 {
            d.copy_from_slice(s);
            return;
        }
        plane(s, d, w, h, lo, hi);
    })
}

fn plane(src: &[f32], dst: &mut [f32], w: usize, h: usize, lo: usize, hi: usize) {
    let size = lo + hi + 1;
    let inv = 1.0 / size as f64;
    // Each band starts its vertical sums afresh (`size` rows of cost), so bands are at
    // least that tall.
    let band = size.max(64);
    // The padded line: `lo` samples before, `hi + 1` after (the slide reads one past
    // the window).
    let padded = lo + w + hi + 1;
    let row = |i: i64| &src[reflect(i, h as i64) * w..][..w];
    dst.par_chunks_mut(band * w).enumerate().for_each_init(
        || (vec![0.0f64; w], vec![0.0f32; padded]),
        |(acc, line), (bi, out)| {
            let y0 = (bi * band) as i64;
            acc.fill(0.0);
            for i in y0 - lo as i64..=y0 + hi as i64 {
                for (a, &v) in acc.iter_mut().zip(row(i)) {
                    *a += f64::from(v);
                }
            }
            for (dy, orow) in out.chunks_exact_mut(w).enumerate() {
                let y = y0 + dy as i64;
                for (l, &a) in line[lo..lo + w].iter_mut().zip(acc.iter()) {
                    *l = (a * inv) as f32;
                }
                let (add, sub) = (row(y + hi as i64 + 1), row(y - lo as i64));
                for ((a, &p), &m) in acc.iter_mut().zip(add).zip(sub) {
                    *a += f64::from(p) - f64::from(m);
                }
                reflect_pad(line, lo, w);
                horizontal(line, orow, lo, hi, inv);
            }
        },
    );
}

/// Running mean along one padded line (`line[lo + x]` is sample x) into `out`.
fn horizontal(line: &[f32], out: &mut [f32], lo: usize, hi: usize, inv: f64) {
    let w = out.len();
    let seg = w.div_ceil(SEGMENTS);
    // Segment k covers outputs [k*seg, min(w, (k+1)*seg)); its window at output x is
    // line[x ..= x + lo + hi].
    let start = |k: usize| (k * seg).min(w);
    let len = |k: usize| start(k + 1) - start(k);
    let window = |x: usize| {
        line[x..=x + lo + hi]
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>()
    };
    let mut acc: [f64; SEGMENTS] =
        std::array::from_fn(|k| if len(k) > 0 { window(start(k)) } else { 0.0 });
    let step = |acc: &mut f64, x: usize, out: &mut f32| {
        *out = (*acc * inv) as f32;
        *acc += f64::from(line[x + lo + hi + 1]) - f64::from(line[x]);
    };
    let common = (0..SEGMENTS).map(len).min().unwrap_or(0);
    for i in 0..common {
        for (k, a) in acc.iter_mut().enumerate() {
            let x = start(k) + i;
            step(a, x, &mut out[x]);
        }
    }
    // The segments' tails (the last segment may be shorter, so `common` stops early).
    for (k, a) in acc.iter_mut().enumerate() {
        let tail = start(k) + common..start(k) + len(k);
        for (x, o) in tail.clone().zip(&mut out[tail]) {
            step(a, x, o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segmented slide against a direct sum of every window, for widths around the
    /// segment count and windows longer than the line (repeated reflection).
    #[test]
    fn segmented_slide_matches_direct_windows() {
        for w in 1..=41usize {
            let row: Vec<f32> = (0..w).map(|i| ((i * 37 + 11) % 23) as f32 - 7.5).collect();
            for size in 1..=25usize {
                let (lo, hi) = (size / 2, (size - 1) / 2);
                let line: Vec<f32> = (0..lo + w + hi + 1)
                    .map(|i| row[reflect(i as i64 - lo as i64, w as i64)])
                    .collect();
                let mut got = vec![0.0f32; w];
                horizontal(&line, &mut got, lo, hi, 1.0 / size as f64);
                for (x, &g) in got.iter().enumerate() {
                    let sum: f64 = (x as i64 - lo as i64..=x as i64 + hi as i64)
                        .map(|i| f64::from(row[reflect(i, w as i64)]))
                        .sum();
                    let want = (sum / size as f64) as f32;
                    assert!(
                        (g - want).abs() <= 1e-5,
                        "w {w} size {size} x {x}: {g} vs {want}"
                    );
                }
            }
        }
    }
}
