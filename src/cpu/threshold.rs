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

use super::{Planes, PlanesRef};
use crate::image::SampleType;
use crate::ops::f32_at_or_below;
use rayon::prelude::*;

/// Number of bins for float data (skimage's default `nbins`).
pub const FLOAT_BINS: usize = 256;

/// `x > t` as 0.0 / 255.0, over every channel.
pub fn mask(src: PlanesRef<'_>, t: f64) -> Planes {
    let tf = f32_at_or_below(t);
    let data = super::par_map_plane(src.data, |x| if x > tf { 255.0 } else { 0.0 });
    Planes {
        shape: src.shape,
        data,
        value_type: SampleType::U8,
        window: src.window,
    }
}

/// Smallest and largest sample, NaNs ignored; `None` when there is no number at all.
pub fn min_max(data: &[f32]) -> Option<(f32, f32)> {
    min_max_parts(data.par_chunks(1 << 16))
}

/// [`min_max`] of samples in parts (a tile's rows, say), read where they lie.
pub fn min_max_parts<'a>(parts: impl ParallelIterator<Item = &'a [f32]>) -> Option<(f32, f32)> {
    let (lo, hi) = parts.map(min_max_chunk).reduce(
        || (f32::INFINITY, f32::NEG_INFINITY),
        |a, b| (a.0.min(b.0), a.1.max(b.1)),
    );
    (lo <= hi).then_some((lo, hi))
}

/// `(INFINITY, NEG_INFINITY)` for a chunk of NaNs.
fn min_max_chunk(c: &[f32]) -> (f32, f32) {
    let octets = c.chunks_exact(8);
    let tail = octets.remainder().iter().map(|&x| (x, x));
    // f32::min/max return the other operand for a NaN, so NaNs drop out.
    let fold = |acc: (f32, f32), (l, h): (f32, f32)| (acc.0.min(l), acc.1.max(h));
    let start = (f32::INFINITY, f32::NEG_INFINITY);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // The compiler leaves a NaN-aware fold scalar; minps/maxps are NaN-aware by
        // construction: they return the second operand, the running value, when the
        // sample is NaN. SAFETY: SSE2 is part of x86-64; every load is in bounds.
        let (lo, hi) = unsafe {
            let (mut lo, mut hi) = ([_mm_set1_ps(start.0); 2], [_mm_set1_ps(start.1); 2]);
            for v in octets {
                let (a, b) = (_mm_loadu_ps(v.as_ptr()), _mm_loadu_ps(v.as_ptr().add(4)));
                lo = [_mm_min_ps(a, lo[0]), _mm_min_ps(b, lo[1])];
                hi = [_mm_max_ps(a, hi[0]), _mm_max_ps(b, hi[1])];
            }
            let (mut l, mut h) = ([0f32; 4], [0f32; 4]);
            _mm_storeu_ps(l.as_mut_ptr(), _mm_min_ps(lo[0], lo[1]));
            _mm_storeu_ps(h.as_mut_ptr(), _mm_max_ps(hi[0], hi[1]));
            (l, h)
        };
        lo.iter()
            .zip(&hi)
            .map(|(&l, &h)| (l, h))
            .chain(tail)
            .fold(start, fold)
    }
    #[cfg(not(target_arch = "x86_64"))]
    octets
        .flatten()
        .map(|&x| (x, x))
        .chain(tail)
        .fold(start, fold)
}

/// skimage's `threshold_otsu` over all samples (all channels together, as skimage does
/// for a colour array). NaNs are ignored; an image with one value returns that value.
pub fn otsu_threshold(src: PlanesRef<'_>) -> f64 {
    let Some((lo, hi)) = min_max(src.data) else {
        return f64::NAN;
    };
    if lo == hi {
        return f64::from(lo);
    }
    let integer = integer_levels(src.value_type);
    otsu_from_histogram(&histogram_of(src.data, lo, hi, integer), lo, hi, integer)
}

/// Whether Otsu bins values of this type one per level (integers no op has changed)
/// rather than 256 ways between min and max. `Op::check_input` keeps 32-bit integer
/// levels out: skimage would count every one.
pub fn integer_levels(t: SampleType) -> bool {
    t.is_integer()
}

/// The number of bins of a histogram over [lo, hi].
pub fn bin_count(lo: f32, hi: f32, integer: bool) -> usize {
    if integer {
        (hi as i64 - lo as i64 + 1) as usize
    } else {
        FLOAT_BINS
    }
}

/// Otsu's histogram of `data` over [lo, hi] (its min and max, or those of the whole
/// image the data is a part of): one bin per level for integer levels, numpy's 256 bins
/// otherwise. Counts of parts add up to the whole's.
pub fn histogram_of(data: &[f32], lo: f32, hi: f32, integer: bool) -> Vec<u64> {
    histogram_of_parts(data.par_chunks(1 << 16), lo, hi, integer)
}

/// [`histogram_of`] samples in parts (a tile's rows, say), read where they lie.
pub fn histogram_of_parts<'a>(
    parts: impl ParallelIterator<Item = &'a [f32]>,
    lo: f32,
    hi: f32,
    integer: bool,
) -> Vec<u64> {
    if integer {
        let lo = lo as i64;
        histogram(parts, bin_count(lo as f32, hi, true), |c, h| {
            count_levels(c, h, lo)
        })
    } else if lo == hi {
        // One value: skimage returns it without a histogram; keep the counts anyway.
        let mut h = vec![0u64; FLOAT_BINS];
        h[0] = parts
            .map(|c| c.iter().filter(|x| !x.is_nan()).count() as u64)
            .sum();
        h
    } else {
        let edges = float_edges(lo, hi);
        let scale = FLOAT_BINS as f32 / (hi - lo);
        histogram(parts, FLOAT_BINS, |c, h| count_float(c, h, &edges, scale))
    }
}

/// Otsu's threshold from the histogram [`histogram_of`] makes over [lo, hi].
pub fn otsu_from_histogram(counts: &[u64], lo: f32, hi: f32, integer: bool) -> f64 {
    if lo == hi {
        return f64::from(lo);
    }
    if integer {
        let lo = lo as i64;
        (lo + otsu_index_integer(counts, lo) as i64) as f64
    } else {
        let edges = float_edges(lo, hi);
        let centers: Vec<f32> = edges.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect();
        f64::from(centers[otsu_index_float(counts, &centers)])
    }
}

/// Per-chunk counts, summed: `count` adds one chunk's samples to a histogram.
fn histogram<'a>(
    parts: impl ParallelIterator<Item = &'a [f32]>,
    bins: usize,
    count: impl Fn(&[f32], &mut [u64]) + Sync,
) -> Vec<u64> {
    parts
        .fold(
            || vec![0u64; bins],
            |mut h, chunk| {
                count(chunk, &mut h);
                h
            },
        )
        .reduce(
            || vec![0u64; bins],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// Integer levels: one bin per level.
fn count_levels(chunk: &[f32], h: &mut [u64], lo: i64) {
    for &x in chunk.iter().filter(|x| !x.is_nan()) {
        h[(x as i64 - lo) as usize] += 1;
    }
}

/// numpy's 256 float bins (see [`float_bin`]), vectorised where the CPU allows.
fn count_float(chunk: &[f32], h: &mut [u64], edges: &[f32], scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present, and `edges` has FLOAT_BINS + 1 entries (asserted).
        assert_eq!(edges.len(), FLOAT_BINS + 1);
        return unsafe { avx2::count_float(chunk, h, edges, scale) };
    }
    for &x in chunk.iter().filter(|x| !x.is_nan()) {
        h[float_bin(x, edges, scale)] += 1;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{float_bin, FLOAT_BINS};
    use std::arch::x86_64::*;

    /// [`float_bin`] eight samples at a time: the same estimate (sub, mul, truncate,
    /// capped at the last bin), then the same two corrections against the edges. The
    /// edges are recomputed in registers exactly as [`super::float_edges`] makes them
    /// (`i*step + first`, two roundings, no fused multiply-add; the last edge is
    /// `last`), which is cheaper than gathering them. Both corrections use the
    /// estimate's edges: they exclude each other, so this is exactly the scalar
    /// sequence. Counts go to eight sub-histograms, one per lane, so runs of equal
    /// samples (a flat background) don't serialise on one counter; NaNs go to a spare
    /// bin that is dropped. Eight samples in one bin count as one increment of eight.
    ///
    /// # Safety
    /// AVX2 present; `edges.len() == FLOAT_BINS + 1`; `chunk.len() < 2^32`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn count_float(chunk: &[f32], h: &mut [u64], edges: &[f32], scale: f32) {
        const SPARE: usize = FLOAT_BINS;
        let mut ways = [[0u32; FLOAT_BINS + 1]; 8];
        let (first, last) = (edges[0], edges[FLOAT_BINS]);
        let step = (last - first) / FLOAT_BINS as f32;
        let (e0, sc, st) = (
            _mm256_set1_ps(first),
            _mm256_set1_ps(scale),
            _mm256_set1_ps(step),
        );
        let (zero, top) = (_mm256_setzero_ps(), _mm256_set1_ps((FLOAT_BINS - 1) as f32));
        let (last_bin, spare, one) = (
            _mm256_set1_epi32((FLOAT_BINS - 1) as i32),
            _mm256_set1_epi32(SPARE as i32),
            _mm256_set1_epi32(1),
        );
        let last_edge = _mm256_set1_ps(last);
        let edge = |i: __m256i| _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(i), st), e0);
        let mut octets = chunk.chunks_exact(8);
        let mut turn = 0;
        for v in &mut octets {
            let x = _mm256_loadu_ps(v.as_ptr());
            // max/min keep the estimate in 0..=255 for NaN too (they return their
            // second operand then).
            let t = _mm256_min_ps(
                _mm256_max_ps(_mm256_mul_ps(_mm256_sub_ps(x, e0), sc), zero),
                top,
            );
            let i = _mm256_cvttps_epi32(t);
            // Eight samples in one bin, as across a smooth image's flat background: when
            // the eight estimates agree on a bin b below the last and every sample lies
            // in [edges[b], edges[b+1]), neither correction applies (NaN fails both
            // compares), so all eight are b's. One increment of eight then, to the next
            // way in turn so that a run of such octets doesn't wait on one counter.
            let b = _mm256_cvtsi256_si32(i);
            if _mm256_movemask_epi8(_mm256_cmpeq_epi32(i, _mm256_set1_epi32(b))) == -1
                && (b as usize) < FLOAT_BINS - 1
            {
                let b = b as usize;
                // SAFETY: b + 1 < FLOAT_BINS < edges.len(); b < SPARE for the ways.
                let (lo, hi) = (*edges.get_unchecked(b), *edges.get_unchecked(b + 1));
                let inside = _mm256_and_ps(
                    _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_set1_ps(lo)),
                    _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(hi)),
                );
                if _mm256_movemask_ps(inside) == 0xff {
                    *ways.get_unchecked_mut(turn).get_unchecked_mut(b) += 8;
                    turn = (turn + 1) % 8;
                    continue;
                }
            }
            let is_last = _mm256_cmpeq_epi32(i, last_bin);
            let lo = edge(i);
            let hi = _mm256_blendv_ps(
                edge(_mm256_add_epi32(i, one)),
                last_edge,
                _mm256_castsi256_ps(is_last),
            );
            let dec = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(x, lo));
            let inc = _mm256_andnot_si256(
                is_last,
                _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(x, hi)),
            );
            // Masks are -1 where true.
            let i = _mm256_sub_epi32(_mm256_add_epi32(i, dec), inc);
            // Inside 0..=255 whatever the corrections did, so the unchecked
            // increments below stay in bounds by construction.
            let i = _mm256_min_epi32(_mm256_max_epi32(i, _mm256_setzero_si256()), last_bin);
            let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
            let i = _mm256_blendv_epi8(i, spare, nan);
            // Two indices per 64-bit lane move: no round trip through memory.
            let (lo, hi) = (_mm256_castsi256_si128(i), _mm256_extracti128_si256::<1>(i));
            let pairs = [
                _mm_cvtsi128_si64(lo) as u64,
                _mm_extract_epi64::<1>(lo) as u64,
                _mm_cvtsi128_si64(hi) as u64,
                _mm_extract_epi64::<1>(hi) as u64,
            ];
            for (k, pair) in pairs.into_iter().enumerate() {
                let (a, b) = ((pair & 0x1ff) as usize, (pair >> 32) as usize);
                // SAFETY: a, b <= SPARE, the last index of each way.
                *ways.get_unchecked_mut(2 * k).get_unchecked_mut(a) += 1;
                *ways.get_unchecked_mut(2 * k + 1).get_unchecked_mut(b) += 1;
            }
        }
        for &x in octets.remainder().iter().filter(|x| !x.is_nan()) {
            ways[0][float_bin(x, edges, scale)] += 1;
        }
        for way in &ways {
            for (h, &c) in h.iter_mut().zip(&way[..FLOAT_BINS]) {
                *h += u64::from(c);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunk counter (vectorised on AVX2 machines) bins exactly like the scalar
    /// `float_bin`, on the values where rounding decides: every edge, its neighbours
    /// one ulp away, the extremes, NaNs, and a ragged tail.
    #[test]
    fn chunk_counts_match_scalar_bins() {
        for (lo, hi) in [
            (0.0f32, 1.0f32),
            (-3.7, 1234.5),
            (10_000.0, 10_001.0),
            (0.1, 0.1000001),
        ] {
            let edges = float_edges(lo, hi);
            let scale = FLOAT_BINS as f32 / (hi - lo);
            let mut data: Vec<f32> = edges
                .iter()
                .flat_map(|&e| [e.next_down(), e, e.next_up()])
                .filter(|x| (lo..=hi).contains(x))
                .collect();
            let mut seed = 7u32;
            data.extend((0..1001).map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                lo + (hi - lo) * ((seed >> 8) as f32 / 16_777_216.0)
            }));
            data.extend([f32::NAN, lo, hi, f32::NAN, hi]);
            // Runs longer than two octets, wherever the octets fall: all in one bin (a
            // flat background, equal or not), all NaN, the last bin, and one that
            // crosses an edge part-way.
            let mid = edges[FLOAT_BINS / 2];
            data.extend([lo; 17].iter().chain(&[f32::NAN; 17]).chain(&[hi; 17]));
            data.extend((0..1000).map(|k| if k % 3 == 0 { mid } else { mid.next_up() }));
            data.extend((0..17).map(|k| if k < 12 { mid.next_down() } else { mid }));
            let mut want = vec![0u64; FLOAT_BINS];
            for &x in data.iter().filter(|x| !x.is_nan()) {
                want[float_bin(x, &edges, scale)] += 1;
            }
            let mut got = vec![0u64; FLOAT_BINS];
            count_float(&data, &mut got, &edges, scale);
            assert_eq!(got, want, "range {lo}..{hi}");
            let nans = data.iter().filter(|x| x.is_nan()).count() as u64;
            assert_eq!(got.iter().sum::<u64>(), data.len() as u64 - nans);
        }
    }

    #[test]
    fn min_max_ignores_nan_in_every_lane() {
        let mut data: Vec<f32> = (0..37).map(|i| i as f32 - 5.0).collect();
        for i in (0..data.len()).step_by(3) {
            data[i] = f32::NAN;
        }
        assert_eq!(min_max(&data), Some((-4.0, 30.0)));
        assert_eq!(min_max(&[f32::NAN; 9]), None);
        assert_eq!(min_max(&[]), None);
    }
}
