//! Twin of `shaders/gaussian_int.wgsl` and `shaders/box_int.wgsl`: scipy.ndimage's
//! integer path (`int=scipy`). scipy filters an integer array one axis at a time, in
//! f64, and casts each pass back to the array's type, truncating toward zero; these
//! loops do the same arithmetic in the same order, so the result is scipy's bit for bit.
//!
//! - gaussian (`correlate1d` with a symmetric kernel): `acc = x[i]*w[r]`, then for
//!   `j = r` down to 1, `acc += (x[i-j] + x[i+j]) * w[r+j]`: outermost taps first, each
//!   product rounded before it is added (no fused multiply-add: C does not contract
//!   them in scipy's build, and Rust never does);
//! - box (`uniform_filter1d`): a running sum in f64 of integer levels, which is exact,
//!   divided by the size and truncated: exactly the integer quotient, which is what
//!   these loops compute (in i64).
//!
//! The planes hold integer levels of an 8- or 16-bit type as f32 (exact), and so do the
//! results.

use super::{window_index, Planes, PlanesRef};
use crate::ops::{Axis, BoxBlur, Gaussian};
use rayon::prelude::*;

/// Gaussian filter of every plane, scipy's integer path. `planes.value_type` is the
/// integer type each pass truncates to.
pub fn gaussian(src: PlanesRef<'_>, g: &Gaussian) -> Planes {
    let passes: Vec<(Axis, Vec<f64>)> = [Axis::Y, Axis::X]
        .into_iter()
        .filter_map(|a| g.kernel64(a).map(|k| (a, k)))
        .collect();
    separable(src, &passes, |line, at, k| {
        let r = k.len() / 2;
        let mut acc = line(at) * k[r];
        for j in (1..=r).rev() {
            acc += (line(at - j as i64) + line(at + j as i64)) * k[r + j];
        }
        acc
    })
}

/// Box filter of every plane, scipy's integer path (2-D: see [`crate::Op::check_shape`]).
pub fn box_blur(src: PlanesRef<'_>, b: &BoxBlur) -> Planes {
    // Each pass's "kernel" is its window: samples before and after the centre, size.
    let passes: Vec<(Axis, Vec<f64>)> = [Axis::Y, Axis::X]
        .into_iter()
        .filter(|&a| b.size(a) > 1)
        .map(|a| {
            let (lo, hi) = b.window(a);
            (a, vec![f64::from(lo), f64::from(hi), f64::from(b.size(a))])
        })
        .collect();
    separable(src, &passes, |line, at, window| {
        let (lo, hi, size) = (window[0] as i64, window[1] as i64, window[2] as i64);
        let sum: i64 = (at - lo..=at + hi).map(|i| line(i) as i64).sum();
        // Rust's integer division truncates toward zero, as C's cast of scipy's f64
        // quotient does (the quotient of exact integers is never within an ulp of the
        // next integer at these magnitudes).
        (sum / size) as f64
    })
}

/// Runs `passes` (axis 0 first), each output `tap(line, i, kernel)` of the line through
/// it, where `line(j)` reads the line's j-th sample (reflected at the whole image's
/// edge), truncated toward zero and clamped to the value type's range.
fn separable(
    src: PlanesRef<'_>,
    passes: &[(Axis, Vec<f64>)],
    tap: impl Fn(&dyn Fn(i64) -> f64, i64, &[f64]) -> f64 + Sync,
) -> Planes {
    let (w, h) = (src.shape.width as usize, src.shape.height as usize);
    let (lo, hi) = src.value_type.range().unwrap_or((f64::MIN, f64::MAX));
    let win = src.window;
    let finish = |v: f64| v.trunc().clamp(lo, hi) as f32;
    src.map_planes(src.value_type, |s, d| {
        let mut cur = s.to_vec();
        for (axis, k) in passes {
            match axis {
                // Volumes never come here (see `Op::check_shape`).
                Axis::Z => d.copy_from_slice(&cur),
                Axis::Y => d.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
                    for (x, o) in row.iter_mut().enumerate() {
                        let line = |j: i64| {
                            f64::from(cur[window_index(j, win.y, win.full_height, h) * w + x])
                        };
                        *o = finish(tap(&line, y as i64, k));
                    }
                }),
                Axis::X => d
                    .par_chunks_mut(w)
                    .zip(cur.par_chunks(w))
                    .for_each(|(row, src)| {
                        let line =
                            |j: i64| f64::from(src[window_index(j, win.x, win.full_width, w)]);
                        for (x, o) in row.iter_mut().enumerate() {
                            *o = finish(tap(&line, x as i64, k));
                        }
                    }),
            }
            cur.copy_from_slice(d);
        }
        d.copy_from_slice(&cur);
    })
}
