//! Twin of `shaders/gaussian.wgsl`: separable gaussian, axis 0 (vertical) then axis 1,
//! reflect borders. Both use the symmetric form `k[r]*x[i] + sum_j k[r+j]*(x[i-j]+x[i+j])`
//! in the same order with fused multiply-adds, so the two backends round alike.
//!
//! Built to be a serious CPU baseline, not just an oracle (BENCHMARKS.md has the
//! figures against OpenCV):
//! - the passes are fused per band of rows: the band's vertical results go to a
//!   band-sized buffer that stays in L2, and the horizontal pass reads them from there,
//!   so the intermediate plane never goes to memory;
//! - the vertical pass walks the band in column strips, so the 2r+1 source rows a strip
//!   slides over stay in L1 while every output row of the band reuses them;
//! - on x86-64 with AVX2 and FMA (detected at run time) the inner loops are written
//!   with intrinsics: four 8-wide accumulators per step, sums kept in registers. The
//!   portable loops are the same arithmetic in the same order, one lane at a time;
//! - the source is a plane or an image's interleaved samples (the direct path of a
//!   one-image call, `super::direct`, through `super::layout`): the vertical pass widens and de-interleaves as
//!   it copies a strip's rows, and each result row goes straight into the output's
//!   interleaved row, so no image-sized f32 planes are made for an RGB image.

use super::layout::{interleave, Narrow, Plane, Source};
use super::{window_index, window_pad, Planes, PlanesRef};
use crate::image::{SampleType, Window};
use crate::ops::{Axis, Dog, Gaussian, Log};
use rayon::prelude::*;

/// Rows per parallel task. Each strip's source window is (BAND + 2r)/BAND times the
/// rows it yields, so taller bands copy less; 32 beat 16 at every sigma measured.
const BAND: usize = 32;
/// Columns per strip of the vertical pass: (BAND + 2r) rows of a strip fit in L1 for
/// the common radii (27 KiB at sigma 2).
const STRIP: usize = 128;

/// Row stride of the vertical pass's source window: STRIP plus one cache line.
const WINDOW_STRIDE: usize = STRIP + 16;

/// Per-task buffers.
struct Scratch {
    /// The band's vertical results, each row reflect-padded for the horizontal pass.
    tmp: Vec<f32>,
    /// One strip of the band's source rows.
    window: Vec<f32>,
    /// Window offsets of the rows each output row's taps read.
    rows: Vec<usize>,
    /// A row of results of every channel before they are narrowed and interleaved
    /// into the output row.
    res: Vec<f32>,
    /// Several channels: the band's source rows (and halo) of every channel, widened
    /// and de-interleaved once, channel by channel.
    split: Vec<f32>,
}

impl Scratch {
    fn new(stride: usize, ry: usize, w: usize, c: usize) -> Self {
        Scratch {
            tmp: vec![0.0; c * BAND * stride],
            window: vec![0.0; (BAND + 2 * ry) * WINDOW_STRIDE],
            rows: Vec::with_capacity(BAND * (2 * ry + 1)),
            res: vec![0.0; c * w],
            split: vec![0.0; if c > 1 { c * (BAND + 2 * ry) * w } else { 0 }],
        }
    }
}

/// Difference of gaussians: `gaussian(low) - gaussian(high)`, subtracted in f32.
pub fn dog(src: PlanesRef<'_>, d: &Dog) -> crate::Result<Planes> {
    let (low, high) = d.gaussians()?;
    let mut a = gaussian(src, &low);
    let b = gaussian(src, &high);
    a.data
        .par_iter_mut()
        .zip(b.data.par_iter())
        .with_min_len(1 << 14)
        .for_each(|(x, &y)| *x -= y);
    Ok(a)
}

/// Gaussian filter of every plane: along z first where the whole image is a volume
/// (into a scratch plane), then each slice along y and x.
///
/// Only the symmetric kernels (derivatives of even order): odd orders also take the
/// antisymmetric passes of [`super::derivative::gaussian`].
pub fn gaussian(src: PlanesRef<'_>, g: &Gaussian) -> Planes {
    let kz = (src.window.full_depth > 1)
        .then(|| g.kernel(Axis::Z))
        .flatten();
    separable(src, [kz, g.kernel(Axis::Y), g.kernel(Axis::X)])
}

/// Laplacian of a gaussian: per axis, the gaussian with that axis's second derivative,
/// added up in f32 in axis order (z, y, x), as scipy's `generic_laplace` adds them.
pub fn log(src: PlanesRef<'_>, l: &Log) -> crate::Result<Planes> {
    let mut sum: Option<Planes> = None;
    for kernels in l.terms(src.window.full_depth > 1)? {
        let term = separable(src, kernels);
        match &mut sum {
            None => sum = Some(term),
            Some(s) => s
                .data
                .par_iter_mut()
                .zip(term.data.par_iter())
                .with_min_len(1 << 14)
                .for_each(|(x, &y)| *x += y),
        }
    }
    Ok(sum.expect("a 2-D image has two axes"))
}

/// The separable filter with these kernels along (z, y, x) (`None`: that axis is left
/// alone), of every plane: z first into a scratch plane, then each slice along y and x.
pub(crate) fn separable(src: PlanesRef<'_>, [kz, ky, kx]: [Option<Vec<f32>>; 3]) -> Planes {
    let (w, h) = (src.shape.width as usize, src.shape.height as usize);
    let win = src.window;
    let kz = kz.filter(|_| win.full_depth > 1);
    let simd = Simd::detect();
    let slice = src.shape.slice_len();
    src.map_planes(SampleType::F32, |s, d| {
        let scratch = kz.as_deref().map(|k| {
            let mut t = super::zeroed(s.len());
            depth_pass(simd, s, &mut t, (slice, win), k);
            t
        });
        let from = scratch.as_deref().unwrap_or(s);
        d.par_chunks_mut(slice.max(1))
            .zip(from.par_chunks(slice.max(1)))
            .for_each(|(d, s)| {
                let src = Plane { data: s, w };
                plane_with(simd, &src, d, (w, h, 1, win), ky.as_deref(), kx.as_deref())
            });
        if let Some(t) = scratch {
            super::pool::give(t);
        }
    })
}

/// Along z, every slice of a volume's plane: `out[z] = k[r]*s[z] + sum_j k[r+j]*(s[z-j] +
/// s[z+j])` over whole slices, reflected at the whole image's first and last slice; the
/// same arithmetic as the vertical pass, with slices for rows. Blocks of columns run in
/// parallel, each down through every slice (see [`super::column_blocks`]).
fn depth_pass(simd: Simd, src: &[f32], dst: &mut [f32], (slice, win): (usize, Window), k: &[f32]) {
    let r = k.len() / 2;
    let d = src.len() / slice.max(1);
    super::column_blocks(dst, slice)
        .into_par_iter()
        .for_each_init(
            || Vec::with_capacity(k.len()),
            |rows, (at, pieces)| {
                for (z, out) in pieces.into_iter().enumerate() {
                    rows.clear();
                    rows.extend((0..k.len()).map(|t| {
                        let zi =
                            window_index(z as i64 + t as i64 - r as i64, win.z, win.full_depth, d);
                        zi * slice + at
                    }));
                    simd.vertical(src, rows, k, out);
                }
            },
        );
}

/// Along y and x, one slice of `c` channels read from `src` (an image's interleaved
/// samples) into `dst`, interleaved the same way: the direct path's gaussian.
pub(crate) fn slice<S: Source, T: Narrow>(
    src: &S,
    dst: &mut [T],
    dims: (usize, usize, usize, Window),
    ky: Option<&[f32]>,
    kx: Option<&[f32]>,
) {
    plane_with(Simd::detect(), src, dst, dims, ky, kx);
}

/// One slice of `c` channels: each band of rows filtered channel by channel, then
/// each output row written once, every channel's result narrowed and interleaved into
/// it (straight into the row for one f32 channel). Several channels' source rows are
/// widened and de-interleaved once per band, in one pass over each row.
fn plane_with<S: Source, T: Narrow>(
    simd: Simd,
    src: &S,
    dst: &mut [T],
    (w, h, c, win): (usize, usize, usize, Window),
    ky: Option<&[f32]>,
    kx: Option<&[f32]>,
) {
    let rx = kx.map_or(0, |k| k.len() / 2);
    let ry = ky.map_or(0, |k| k.len() / 2);
    // Each band row is stored reflect-padded by rx on both sides, ready for the
    // horizontal pass.
    let stride = w + 2 * rx;
    let line = w * c;
    // Rows of `split` per channel.
    let span = BAND + 2 * ry;
    dst.par_chunks_mut(BAND * line).enumerate().for_each_init(
        || Scratch::new(stride, ry, w, c),
        |Scratch {
             tmp,
             window,
             rows,
             res,
             split,
         },
         (band, out)| {
            let y0 = band * BAND;
            let n_rows = out.len() / line;
            // The source row the band's row `i` of source rows is (its halo first).
            let source_row = |i: usize| match ky {
                Some(_) => window_index((y0 + i) as i64 - ry as i64, win.y, win.full_height, h),
                None => y0 + i,
            };
            let n_source = n_rows + 2 * ry;
            if c > 1 {
                for i in 0..n_source {
                    src.read_all(source_row(i), split, i * w, span * w);
                }
            }
            // Columns x0.. of the band's source row i of channel ch.
            let read = |ch: usize, i: usize, x0: usize, to: &mut [f32]| {
                if c > 1 {
                    to.copy_from_slice(&split[(ch * span + i) * w + x0..][..to.len()]);
                } else {
                    src.read(ch, source_row(i), x0, to);
                }
            };
            for ch in 0..c {
                let tmp = &mut tmp[ch * BAND * stride..][..BAND * stride];
                match ky {
                    Some(k) => {
                        let taps = 2 * ry + 1;
                        rows.clear();
                        rows.extend(
                            (0..n_rows)
                                .flat_map(|dy| (0..taps).map(move |d| (dy + d) * WINDOW_STRIDE)),
                        );
                        for x0 in (0..w).step_by(STRIP) {
                            let n = STRIP.min(w - x0);
                            // The strip's source rows, copied to a window whose row
                            // stride is not a power of two: rows of a 1024- or
                            // 4096-wide image map to the same few L1 sets and would
                            // evict each other.
                            for (i, row) in window
                                .chunks_exact_mut(WINDOW_STRIDE)
                                .take(n_source)
                                .enumerate()
                            {
                                read(ch, i, x0, &mut row[..n]);
                            }
                            for (dy, offsets) in rows.chunks_exact(taps).enumerate() {
                                let mid = &mut tmp[dy * stride + rx + x0..][..n];
                                simd.vertical(window, offsets, k, mid);
                            }
                        }
                    }
                    None => {
                        for dy in 0..n_rows {
                            read(ch, dy, 0, &mut tmp[dy * stride + rx..][..w]);
                        }
                    }
                }
            }
            // Horizontal pass, row by row, from the padded band rows.
            for (dy, orow) in out.chunks_exact_mut(line).enumerate() {
                let direct = c == 1 && T::as_f32(orow).is_some();
                for ch in 0..c {
                    let l = &mut tmp[(ch * BAND + dy) * stride..][..stride];
                    let o = match T::as_f32(orow).filter(|_| c == 1) {
                        Some(o) => o,
                        None => &mut res[ch * w..][..w],
                    };
                    match kx {
                        Some(k) => {
                            window_pad(l, rx, w, win.x, win.full_width);
                            simd.horizontal(l, k, o);
                        }
                        None => o.copy_from_slice(&l[rx..rx + w]),
                    }
                }
                if !direct {
                    interleave(res, w, orow, w);
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

    /// `out[i] = sum_d k[d] * src[rows[d] + i]`, symmetric form (see the module docs).
    /// `rows` are the start offsets of the 2r+1 source rows, top to bottom.
    fn vertical(self, src: &[f32], rows: &[usize], k: &[f32], out: &mut [f32]) {
        assert_eq!(rows.len(), k.len());
        // What makes the unchecked loads below sound.
        assert!(rows.iter().all(|&o| o + out.len() <= src.len()));
        let r = k.len() / 2;
        match self {
            Simd::Portable => {
                let n = out.len();
                let row = |d: usize| &src[rows[d]..][..n];
                sym_portable(k, out, |j| (row(r - j), row(r + j)))
            }
            // SAFETY: the CPU has AVX2 and FMA (checked in `detect`); every row holds
            // out.len() samples (asserted above).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2Fma => unsafe { avx2::vertical(src, rows, k, out) },
        }
    }

    /// `out[i] = sum_d k[d] * line[i + d]`, symmetric form, from a line padded by r on
    /// both sides.
    fn horizontal(self, line: &[f32], k: &[f32], out: &mut [f32]) {
        assert_eq!(line.len(), out.len() + k.len() - 1);
        match self {
            Simd::Portable => {
                let r = k.len() / 2;
                sym_portable(k, out, |j| (&line[r - j..], &line[r + j..]))
            }
            // SAFETY: as above; the line holds out.len() + 2r samples (asserted).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2Fma => unsafe { avx2::horizontal(line, k, out) },
        }
    }
}

/// The portable loops of both passes: `taps(j)` gives the samples j before and j after
/// each output (the centre for j = 0), as the AVX2 `sweep` takes pointers. Fused
/// multiply-adds, as the AVX2 loops and the GPU kernels do (slow where the CPU has no
/// FMA instruction, but the same numbers everywhere).
fn sym_portable<'a>(k: &[f32], out: &mut [f32], taps: impl Fn(usize) -> (&'a [f32], &'a [f32])) {
    let r = k.len() / 2;
    for (o, &c) in out.iter_mut().zip(taps(0).0) {
        *o = k[r] * c;
    }
    for j in 1..=r {
        let (lo, hi) = taps(j);
        for ((o, &l), &u) in out.iter_mut().zip(lo).zip(hi) {
            *o = k[r + j].mul_add(l + u, *o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The AVX2 + FMA inner loops. Each output is `k[r]*c`, then `fma(k[r+j], lo+hi, acc)`
    //! for j = 1..=r: the portable loops' arithmetic, fused.
    use std::arch::x86_64::*;

    // Loops run `for j in 1..r + 1` with unchecked indexing: an inclusive range and
    // bounds checks in the innermost loop cost more than the arithmetic here.

    /// One 8-wide output at `at`: `taps(j)` gives the pointers of the j-th pair (the
    /// centre for j = 0).
    #[inline(always)]
    unsafe fn sym8(
        k: &[f32],
        at: usize,
        taps: impl Fn(usize) -> (*const f32, *const f32),
    ) -> __m256 {
        let r = k.len() / 2;
        let kp = k.as_ptr().add(r);
        let (c, _) = taps(0);
        let mut a = _mm256_mul_ps(_mm256_set1_ps(*kp), _mm256_loadu_ps(c.add(at)));
        for j in 1..r + 1 {
            let (lo, hi) = taps(j);
            let s = _mm256_add_ps(_mm256_loadu_ps(lo.add(at)), _mm256_loadu_ps(hi.add(at)));
            a = _mm256_fmadd_ps(_mm256_set1_ps(*kp.add(j)), s, a);
        }
        a
    }

    /// Four 8-wide outputs at `at`, `at+8`, `at+16`, `at+24`: four independent chains,
    /// so the fused multiply-adds' latency overlaps.
    #[inline(always)]
    unsafe fn sym32(
        k: &[f32],
        at: usize,
        taps: impl Fn(usize) -> (*const f32, *const f32),
    ) -> (__m256, __m256, __m256, __m256) {
        let r = k.len() / 2;
        let kp = k.as_ptr().add(r);
        let (c, _) = taps(0);
        let c = c.add(at);
        let kc = _mm256_set1_ps(*kp);
        let mut a0 = _mm256_mul_ps(kc, _mm256_loadu_ps(c));
        let mut a1 = _mm256_mul_ps(kc, _mm256_loadu_ps(c.add(8)));
        let mut a2 = _mm256_mul_ps(kc, _mm256_loadu_ps(c.add(16)));
        let mut a3 = _mm256_mul_ps(kc, _mm256_loadu_ps(c.add(24)));
        for j in 1..r + 1 {
            let (lo, hi) = taps(j);
            let (lo, hi) = (lo.add(at), hi.add(at));
            let kj = _mm256_set1_ps(*kp.add(j));
            let pair =
                |o: usize| _mm256_add_ps(_mm256_loadu_ps(lo.add(o)), _mm256_loadu_ps(hi.add(o)));
            a0 = _mm256_fmadd_ps(kj, pair(0), a0);
            a1 = _mm256_fmadd_ps(kj, pair(8), a1);
            a2 = _mm256_fmadd_ps(kj, pair(16), a2);
            a3 = _mm256_fmadd_ps(kj, pair(24), a3);
        }
        (a0, a1, a2, a3)
    }

    /// Scalar tail, same order.
    #[inline(always)]
    unsafe fn sym1(k: &[f32], at: usize, taps: impl Fn(usize) -> (*const f32, *const f32)) -> f32 {
        let r = k.len() / 2;
        let kp = k.as_ptr().add(r);
        let (c, _) = taps(0);
        let mut a = *kp * *c.add(at);
        for j in 1..r + 1 {
            let (lo, hi) = taps(j);
            a = (*kp.add(j)).mul_add(*lo.add(at) + *hi.add(at), a);
        }
        a
    }

    /// Runs `sym32`, `sym8` and `sym1` over `out`. (Non-temporal stores for the
    /// output were tried: no faster at 4096², slower below, where Otsu reads the
    /// output next.)
    #[inline(always)]
    unsafe fn sweep(
        k: &[f32],
        out: &mut [f32],
        taps: impl Fn(usize) -> (*const f32, *const f32) + Copy,
    ) {
        let n = out.len();
        let dst = out.as_mut_ptr();
        let mut x = 0;
        while x + 32 <= n {
            let (a0, a1, a2, a3) = sym32(k, x, taps);
            _mm256_storeu_ps(dst.add(x), a0);
            _mm256_storeu_ps(dst.add(x + 8), a1);
            _mm256_storeu_ps(dst.add(x + 16), a2);
            _mm256_storeu_ps(dst.add(x + 24), a3);
            x += 32;
        }
        while x + 8 <= n {
            _mm256_storeu_ps(dst.add(x), sym8(k, x, taps));
            x += 8;
        }
        while x < n {
            *dst.add(x) = sym1(k, x, taps);
            x += 1;
        }
    }

    /// # Safety
    /// AVX2 and FMA present; `rows.len() == k.len()`, and every `rows[d] + out.len() <=
    /// src.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn vertical(src: &[f32], rows: &[usize], k: &[f32], out: &mut [f32]) {
        let r = k.len() / 2;
        let (base, rows) = (src.as_ptr(), rows.as_ptr().add(r));
        sweep(k, out, |j| (base.add(*rows.sub(j)), base.add(*rows.add(j))));
    }

    /// # Safety
    /// AVX2 and FMA present; `line.len() == out.len() + k.len() - 1`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn horizontal(line: &[f32], k: &[f32], out: &mut [f32]) {
        let r = k.len() / 2;
        let base = line.as_ptr().add(r);
        sweep(k, out, |j| (base.sub(j), base.add(j)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gaussian_weights;

    /// The intrinsics build against the portable loops, on sizes that exercise every
    /// tail (32-, 8- and 1-wide steps, partial strips and bands) and radii beyond the
    /// image. Both fuse their multiply-adds in the same order: the results are equal.
    #[test]
    fn simd_build_matches_portable_loops() {
        let simd = Simd::detect();
        if matches!(simd, Simd::Portable) {
            eprintln!("no SIMD build on this CPU: nothing to compare");
            return;
        }
        let mut seed = 12345u32;
        for (w, h, sy, sx) in [
            (300, 37, 1.5, 3.0),
            (7, 5, 2.0, 0.0),
            (129, 70, 0.0, 20.0),
            (1, 40, 3.0, 1.0),
        ] {
            let src: Vec<f32> = (0..w * h)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) as f32 / 16_777_216.0
                })
                .collect();
            let ky = (sy > 0.0).then(|| gaussian_weights(sy, 4.0));
            let kx = (sx > 0.0).then(|| gaussian_weights(sx, 4.0));
            let mut want = vec![0.0; w * h];
            let mut got = vec![0.0; w * h];
            let win = Window::whole(crate::image::Shape::new(w as u32, h as u32, 1).unwrap());
            let dims = (w, h, 1, win);
            let src = Plane { data: &src, w };
            plane_with(
                Simd::Portable,
                &src,
                &mut want,
                dims,
                ky.as_deref(),
                kx.as_deref(),
            );
            plane_with(simd, &src, &mut got, dims, ky.as_deref(), kx.as_deref());
            let differ = want
                .iter()
                .zip(&got)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differ, 0,
                "{w}x{h} sigma ({sy}, {sx}): {differ} samples differ"
            );
            assert!(
                want.iter().zip(src.data).any(|(a, b)| a != b),
                "the filter did something"
            );
        }
    }
}
