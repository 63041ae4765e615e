//! Twin of `shaders/box_blur.wgsl`: scipy `uniform_filter` (reflect), separable, axis 0
//! then axis 1. Running sums make the cost independent of the window size; the CPU keeps
//! them in f64, as scipy does, so no drift builds up along long lines.

use super::{reflect, Planes};
use crate::image::SampleType;
use crate::ops::BoxBlur;
use rayon::prelude::*;

/// Box filter of every plane.
pub fn box_blur(src: &Planes, b: &BoxBlur) -> Planes {
    let (w, h) = (src.shape.width as usize, src.shape.height as usize);
    let (lo, hi) = b.window();
    let size = b.size as usize;
    src.map_planes(SampleType::F32, |s, d| {
        if size == 1 {
            d.copy_from_slice(s);
            return;
        }
        let mut tmp = super::zeroed(s.len());
        vertical(s, &mut tmp, w, h, lo as i64, hi as i64);
        horizontal(&tmp, d, w, lo as i64, hi as i64);
    })
}

/// Running sum down the columns, a whole row at a time. Bands of rows run in parallel,
/// each starting its sums afresh (cost `size` rows per band, so bands are at least that
/// tall).
fn vertical(src: &[f32], dst: &mut [f32], w: usize, h: usize, lo: i64, hi: i64) {
    let size = (lo + hi + 1) as usize;
    let band = size.max(64);
    let row = |i: i64| &src[reflect(i, h as i64) * w..][..w];
    let inv = 1.0 / size as f64;
    dst.par_chunks_mut(band * w)
        .enumerate()
        .for_each(|(bi, out)| {
            let y0 = (bi * band) as i64;
            let mut acc = vec![0.0f64; w];
            for i in y0 - lo..=y0 + hi {
                for (a, &v) in acc.iter_mut().zip(row(i)) {
                    *a += f64::from(v);
                }
            }
            for (dy, orow) in out.chunks_exact_mut(w).enumerate() {
                let y = y0 + dy as i64;
                for (o, &a) in orow.iter_mut().zip(&acc) {
                    *o = (a * inv) as f32;
                }
                let (add, sub) = (row(y + hi + 1), row(y - lo));
                for ((a, &p), &m) in acc.iter_mut().zip(add).zip(sub) {
                    *a += f64::from(p) - f64::from(m);
                }
            }
        });
}

/// Running sum along each row.
fn horizontal(src: &[f32], dst: &mut [f32], w: usize, lo: i64, hi: i64) {
    let size = (lo + hi + 1) as f64;
    dst.par_chunks_mut(w)
        .zip(src.par_chunks(w))
        .for_each(|(out, row)| {
            let at = |i: i64| f64::from(row[reflect(i, w as i64)]);
            let mut acc: f64 = (-lo..=hi).map(at).sum();
            for (x, o) in out.iter_mut().enumerate() {
                let x = x as i64;
                *o = (acc / size) as f32;
                acc += at(x + hi + 1) - at(x - lo);
            }
        });
}
