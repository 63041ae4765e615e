//! Twin of `shaders/gaussian.wgsl`: separable gaussian, axis 0 (vertical) then axis 1,
//! reflect borders. Both use the symmetric form `k[r]*x[i] + sum_j k[r+j]*(x[i-j]+x[i+j])`
//! in the same order, so the two backends round alike.

use super::{reflect, Planes};
use crate::image::SampleType;
use crate::ops::{Axis, Gaussian};
use rayon::prelude::*;

/// Gaussian filter of every plane.
pub fn gaussian(src: &Planes, g: &Gaussian) -> Planes {
    let (w, h) = (src.shape.width as usize, src.shape.height as usize);
    let ky = g.kernel(Axis::Y);
    let kx = g.kernel(Axis::X);
    src.map_planes(SampleType::F32, |s, d| match (&ky, &kx) {
        (Some(ky), Some(kx)) => {
            let mut tmp = vec![0.0f32; s.len()];
            vertical(s, &mut tmp, w, h, ky);
            horizontal(&tmp, d, w, kx);
        }
        (Some(ky), None) => vertical(s, d, w, h, ky),
        (None, Some(kx)) => horizontal(s, d, w, kx),
        (None, None) => d.copy_from_slice(s), // unreachable after validation
    })
}

/// Filters along columns. Each output row is a weighted sum of whole input rows, so the
/// inner loop runs along contiguous memory and vectorises.
pub(crate) fn vertical(src: &[f32], dst: &mut [f32], w: usize, h: usize, k: &[f32]) {
    let r = k.len() / 2;
    let row = |i: i64| &src[reflect(i, h as i64) * w..][..w];
    dst.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let y = y as i64;
        let kc = k[r];
        for (o, &c) in out.iter_mut().zip(row(y)) {
            *o = kc * c;
        }
        for j in 1..=r {
            let kj = k[r + j];
            let (a, b) = (row(y - j as i64), row(y + j as i64));
            for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                *o += kj * (a + b);
            }
        }
    });
}

/// Filters along rows, through a reflect-padded copy of each row.
pub(crate) fn horizontal(src: &[f32], dst: &mut [f32], w: usize, k: &[f32]) {
    let r = k.len() / 2;
    dst.par_chunks_mut(w).zip(src.par_chunks(w)).for_each_init(
        || vec![0.0f32; w + 2 * r],
        |pad, (out, row)| {
            for (i, p) in pad.iter_mut().enumerate() {
                *p = row[reflect(i as i64 - r as i64, w as i64)];
            }
            let kc = k[r];
            for (o, &c) in out.iter_mut().zip(&pad[r..]) {
                *o = kc * c;
            }
            for j in 1..=r {
                let kj = k[r + j];
                let (a, b) = (&pad[r - j..], &pad[r + j..]);
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    *o += kj * (a + b);
                }
            }
        },
    );
}
