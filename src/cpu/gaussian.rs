//! Twin of `shaders/gaussian.wgsl`: separable gaussian, axis 0 (vertical) then axis 1,
//! reflect borders. Both use the symmetric form `k[r]*x[i] + sum_j k[r+j]*(x[i-j]+x[i+j])`
//! in the same order, so the two backends round alike (up to fused multiply-adds).
//!
//! Built to be a serious CPU baseline, not just an oracle:
//! - the passes are fused per band of rows: each vertical output row is filtered
//!   horizontally at once, from a cache-resident line, so the intermediate plane never
//!   goes to memory;
//! - every tap is applied over 64-wide chunks whose accumulators stay in registers,
//!   while the 2r+1 input rows a band slides over stay in cache;
//! - on x86-64 with AVX2 and FMA (detected at run time) the same loops are compiled for
//!   8-wide fused multiply-adds.

use super::{reflect, Planes};
use crate::image::SampleType;
use crate::ops::{Axis, Gaussian};
use rayon::prelude::*;

/// Rows per parallel task.
const BAND: usize = 16;
/// Outputs per register-resident chunk.
const CHUNK: usize = 128;

/// Gaussian filter of every plane.
pub fn gaussian(src: &Planes, g: &Gaussian) -> Planes {
    let (w, h) = (src.shape.width as usize, src.shape.height as usize);
    let ky = g.kernel(Axis::Y);
    let kx = g.kernel(Axis::X);
    src.map_planes(SampleType::F32, |s, d| {
        plane(s, d, w, h, ky.as_deref(), kx.as_deref())
    })
}

fn plane(src: &[f32], dst: &mut [f32], w: usize, h: usize, ky: Option<&[f32]>, kx: Option<&[f32]>) {
    let rx = kx.map_or(0, |k| k.len() / 2);
    let simd = Simd::detect();
    dst.par_chunks_mut(BAND * w).enumerate().for_each_init(
        || vec![0.0f32; w + 2 * rx],
        |line, (band, out)| {
            for (dy, orow) in out.chunks_exact_mut(w).enumerate() {
                let y = band * BAND + dy;
                let mid = &mut line[rx..rx + w];
                match ky {
                    Some(k) => simd.vertical(src, w, h, y, k, mid),
                    None => mid.copy_from_slice(&src[y * w..][..w]),
                }
                match kx {
                    Some(k) => {
                        for i in (0..rx).chain(rx + w..w + 2 * rx) {
                            line[i] = line[rx + reflect(i as i64 - rx as i64, w as i64)];
                        }
                        simd.horizontal(line, k, orow);
                    }
                    None => orow.copy_from_slice(&line[rx..rx + w]),
                }
            }
        },
    );
}

/// Which build of the inner loops runs.
#[derive(Clone, Copy)]
enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

impl Simd {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Simd::Avx2Fma;
        }
        Simd::Portable
    }

    fn vertical(self, src: &[f32], w: usize, h: usize, y: usize, k: &[f32], out: &mut [f32]) {
        match self {
            Simd::Portable => vertical_row::<false>(src, w, h, y, k, out),
            // SAFETY: the CPU has AVX2 and FMA (checked in `detect`).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2Fma => unsafe { vertical_row_avx2(src, w, h, y, k, out) },
        }
    }

    fn horizontal(self, line: &[f32], k: &[f32], out: &mut [f32]) {
        match self {
            Simd::Portable => horizontal_row::<false>(line, k, out),
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2Fma => unsafe { horizontal_row_avx2(line, k, out) },
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn vertical_row_avx2(src: &[f32], w: usize, h: usize, y: usize, k: &[f32], out: &mut [f32]) {
    vertical_row::<true>(src, w, h, y, k, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn horizontal_row_avx2(line: &[f32], k: &[f32], out: &mut [f32]) {
    horizontal_row::<true>(line, k, out)
}

/// `acc + k * v`, fused where the build has FMA (a libm call otherwise, so never then).
#[inline(always)]
fn madd<const FMA: bool>(k: f32, v: f32, acc: f32) -> f32 {
    if FMA {
        k.mul_add(v, acc)
    } else {
        acc + k * v
    }
}

/// One output row of the vertical pass.
#[inline(always)]
fn vertical_row<const FMA: bool>(
    src: &[f32],
    w: usize,
    h: usize,
    y: usize,
    k: &[f32],
    out: &mut [f32],
) {
    let r = k.len() / 2;
    let row = |i: i64| &src[reflect(i, h as i64) * w..][..w];
    let rows: Vec<&[f32]> = (-(r as i64)..=r as i64)
        .map(|d| row(y as i64 + d))
        .collect();
    let mut x0 = 0;
    while x0 < w {
        let n = CHUNK.min(w - x0);
        let mut acc = [0.0f32; CHUNK];
        let (acc, c) = (&mut acc[..n], &rows[r][x0..x0 + n]);
        for (a, &c) in acc.iter_mut().zip(c) {
            *a = k[r] * c;
        }
        for j in 1..=r {
            let (lo, hi, kj) = (&rows[r - j][x0..x0 + n], &rows[r + j][x0..x0 + n], k[r + j]);
            for ((a, &l), &u) in acc.iter_mut().zip(lo).zip(hi) {
                *a = madd::<FMA>(kj, l + u, *a);
            }
        }
        out[x0..x0 + n].copy_from_slice(acc);
        x0 += n;
    }
}

/// One output row of the horizontal pass, from a reflect-padded line.
#[inline(always)]
fn horizontal_row<const FMA: bool>(line: &[f32], k: &[f32], out: &mut [f32]) {
    let r = k.len() / 2;
    let w = out.len();
    let mut x0 = 0;
    while x0 < w {
        let n = CHUNK.min(w - x0);
        let mut acc = [0.0f32; CHUNK];
        let acc = &mut acc[..n];
        for (a, &c) in acc.iter_mut().zip(&line[r + x0..r + x0 + n]) {
            *a = k[r] * c;
        }
        for j in 1..=r {
            let (lo, hi, kj) = (
                &line[r + x0 - j..r + x0 - j + n],
                &line[r + x0 + j..r + x0 + j + n],
                k[r + j],
            );
            for ((a, &l), &u) in acc.iter_mut().zip(lo).zip(hi) {
                *a = madd::<FMA>(kj, l + u, *a);
            }
        }
        out[x0..x0 + n].copy_from_slice(acc);
        x0 += n;
    }
}
