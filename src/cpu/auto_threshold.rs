//! The threshold op on the CPU ([`threshold`]: fixed, Otsu's, local), and skimage's
//! automatic thresholds besides Otsu's (Li, triangle, Yen, isodata, mean, minimum),
//! computed on the host from whole-frame reductions for both backends.
//!
//! Both backends, tiled or not, reduce a frame the same way (its min and max, then its
//! histogram over them, or its sorted distinct values with their counts) and hand the
//! reductions to [`resolve`]: one piece of code picks `t`, so every path agrees on it
//! bit for bit. The reductions are canonical (counts per bin; distinct values in order),
//! so how a frame is cut into tiles or threads cannot change them.
//!
//! Histograms follow skimage 0.26: integer levels no filter has touched get one bin per
//! level from min to max (skimage's `bincount` histogram), anything else numpy's 256
//! bins over [min, max] (the same bins Otsu uses, [`super::threshold`]). Each method then
//! repeats skimage's arithmetic in skimage's precisions (f32 counts and sums where
//! skimage casts to float32; f64 where numpy promotes). Two places cannot be bit-exact
//! everywhere, and are documented where they occur: numpy's float32 `log` differs by CPU
//! (SVML on AVX-512, its own polynomial on AVX2), here it is the correctly rounded one;
//! and numpy sums float32 arrays pairwise in float32, here sums of distinct values are
//! f64 (more precise, and independent of how the frame was cut).

use super::threshold::{
    float_edges, histogram_of_parts, integer_levels, mask, min_max_parts, otsu_threshold,
};
use super::{Planes, PlanesRef};
use crate::engine::{ExactSum, Reduced, Reduction, ValueCounts};
use crate::image::SampleType;
use crate::ops::Threshold;
use crate::{Error, Result};
use rayon::prelude::*;

/// Applies a threshold op: the 0/255 mask, and the threshold used (the fixed one, or
/// the one the method found; NaN for a local threshold, which has one per sample).
pub fn threshold(src: PlanesRef<'_>, op: &Threshold) -> crate::Result<(Planes, f64)> {
    let t = match *op {
        Threshold::Value { value } => value,
        Threshold::Otsu => otsu_threshold(src),
        Threshold::Local { block, offset } => return Ok((local(src, block, offset), f64::NAN)),
        ref method => {
            let integer = integer_levels(src.value_type);
            let rows = || src.data.par_chunks(1 << 16);
            resolve(method, integer, &mut |r| {
                use crate::engine::{Reduced, Reduction};
                Ok(match r {
                    Reduction::MinMax => Reduced::Range(min_max_parts(rows())),
                    Reduction::Histogram { lo, hi, integer } => {
                        Reduced::Counts(histogram_of_parts(rows(), lo, hi, integer))
                    }
                    Reduction::Values => Reduced::Values(ValueCounts::of_parts(rows())),
                    Reduction::Sum => Reduced::Sum(ExactSum::of_parts(rows())),
                })
            })?
        }
    };
    Ok((mask(src, t), t))
}

/// `x > gaussian(x) - offset` per sample, the gaussian of sigma `(block-1)/6` (skimage's
/// `threshold_local` with method='gaussian'): the blur in f32 like every gaussian here,
/// the offset subtracted from it in f32, compared exactly.
pub fn local(src: PlanesRef<'_>, block: u32, offset: f64) -> Planes {
    let g = Threshold::local_gaussian(block, src.window.full_depth);
    let blur = super::gaussian::gaussian(src, &g);
    let offset = offset as f32;
    let mut data = blur.data;
    data.par_iter_mut()
        .zip(src.data.par_iter())
        .with_min_len(1 << 14)
        .for_each(|(b, &x)| *b = if x > *b - offset { 255.0 } else { 0.0 });
    Planes {
        shape: src.shape,
        data,
        value_type: SampleType::U8,
        window: src.window,
    }
}

/// Whether `method` reads the frame's distinct values rather than its histogram: Li on
/// float data (skimage iterates on values there).
pub fn needs_values(method: &Threshold, integer: bool) -> bool {
    !integer && matches!(method, Threshold::Li)
}

/// `t` of an automatic threshold (not Otsu's, which has its own scan, nor a fixed or
/// local one) from the frame's reductions: `reduce` reduces the whole frame (all its
/// tiles) and is called with [`Reduction::Values`], or [`Reduction::MinMax`] and then
/// [`Reduction::Histogram`] over that range. NaN where the frame has no number.
pub fn resolve(
    method: &Threshold,
    integer: bool,
    reduce: &mut dyn FnMut(Reduction) -> Result<Reduced>,
) -> Result<f64> {
    if needs_values(method, integer) {
        let Reduced::Values(v) = reduce(Reduction::Values)? else {
            return Err(Error::usage("a values pass gave no values"));
        };
        return li_of_values(&v);
    }
    if !integer && matches!(method, Threshold::Mean) {
        let Reduced::Sum(s) = reduce(Reduction::Sum)? else {
            return Err(Error::usage("a sum pass gave no sum"));
        };
        return Ok(mean_of_sum(&s));
    }
    let Reduced::Range(range) = reduce(Reduction::MinMax)? else {
        return Err(Error::usage("a min/max pass gave no range"));
    };
    let Some((lo, hi)) = range else {
        return Ok(f64::NAN);
    };
    if !(lo.is_finite() && hi.is_finite()) {
        return Ok(f64::NAN);
    }
    if lo == hi {
        // One value: every method returns it (skimage's minimum finds no two peaks).
        return match method {
            Threshold::Minimum => Err(no_two_peaks()),
            _ => Ok(f64::from(lo)),
        };
    }
    let Reduced::Counts(counts) = reduce(Reduction::Histogram { lo, hi, integer })? else {
        return Err(Error::usage("a histogram pass gave no counts"));
    };
    from_histogram(method, &counts, lo, hi, integer)
}

fn undefined(reason: &'static str) -> Error {
    Error::Undefined {
        op: "threshold",
        reason,
    }
}

fn no_two_peaks() -> Error {
    undefined(
        "method=minimum smooths the histogram until it has two peaks, and this one never \
         has exactly two (as skimage's threshold_minimum raises); try another method",
    )
}

/// The bins' centers: levels for integer data, numpy's f32 centers otherwise.
enum Centers {
    Levels(i64),
    Float(Vec<f32>),
}

impl Centers {
    fn new(lo: f32, hi: f32, integer: bool) -> Centers {
        if integer {
            Centers::Levels(lo as i64)
        } else {
            let e = float_edges(lo, hi);
            Centers::Float(e.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect())
        }
    }

    fn at(&self, k: usize) -> f64 {
        match self {
            Centers::Levels(lo) => (lo + k as i64) as f64,
            Centers::Float(c) => f64::from(c[k]),
        }
    }
}

/// `t` from the histogram [`super::threshold::histogram_of`] makes over [lo, hi].
pub fn from_histogram(
    method: &Threshold,
    counts: &[u64],
    lo: f32,
    hi: f32,
    integer: bool,
) -> Result<f64> {
    let centers = Centers::new(lo, hi, integer);
    match method {
        Threshold::Triangle => Ok(centers.at(triangle(counts))),
        Threshold::Yen => Ok(centers.at(yen(counts))),
        Threshold::Isodata => isodata(counts, &centers),
        Threshold::Minimum => Ok(centers.at(minimum(counts)?)),
        Threshold::Mean => {
            // numpy's integer mean: an exact f64 sum, one division.
            let lo = lo as i64;
            let sum: i128 = (counts.iter().enumerate())
                .map(|(k, &c)| i128::from(c) * i128::from(lo + k as i64))
                .sum();
            Ok(sum as f64 / counts.iter().sum::<u64>() as f64)
        }
        Threshold::Li => li_of_levels(counts, lo as i64),
        _ => Err(Error::usage(format!(
            "threshold:method={} is not computed from a histogram",
            method.method()
        ))),
    }
}

/// The first index of the largest value (numpy's argmax: a NaN wins at once).
fn argmax<T: PartialOrd + Copy>(v: impl IntoIterator<Item = T>) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, x) in v.into_iter().enumerate() {
        #[allow(clippy::eq_op)]
        if x != x {
            return i; // NaN
        }
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// numpy's pairwise sum of float32 values (blocks of 128 in eight lanes, halves
/// otherwise), as `ndarray.sum` adds a float32 array.
fn pairwise_f32(v: &[f32]) -> f32 {
    let n = v.len();
    if n < 8 {
        let mut s = -0.0f32;
        for &x in v {
            s += x;
        }
        s
    } else if n <= 128 {
        let mut r = [0f32; 8];
        r.copy_from_slice(&v[..8]);
        let mut i = 8;
        while i + 8 <= n {
            for (k, r) in r.iter_mut().enumerate() {
                *r += v[i + k];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &v[i..] {
            s += x;
        }
        s
    } else {
        let half = (n / 2) - (n / 2) % 8;
        pairwise_f32(&v[..half]) + pairwise_f32(&v[half..])
    }
}

/// Running f32 sums, as `np.cumsum` of a float32 array.
fn cumsum_f32(v: &[f32]) -> Vec<f32> {
    v.iter()
        .scan(0.0f32, |s, &x| {
            *s += x;
            Some(*s)
        })
        .collect()
}

/// skimage's `threshold_triangle` on the histogram; returns the bin.
fn triangle(hist: &[u64]) -> usize {
    let nbins = hist.len();
    let mut peak = argmax(hist.iter().copied());
    let peak_height = hist[peak];
    let nonzero: Vec<usize> = (0..nbins).filter(|&k| hist[k] > 0).collect();
    let (mut low, high) = (nonzero[0], nonzero[nonzero.len() - 1]);
    if low == high {
        return low;
    }
    let flip = (peak as i64 - low as i64) < (high as i64 - peak as i64);
    let h: Vec<u64> = if flip {
        low = nbins - high - 1;
        peak = nbins - peak - 1;
        hist.iter().rev().copied().collect()
    } else {
        hist.to_vec()
    };
    let width = (peak - low) as i64;
    let ph = peak_height as i64;
    let norm = ((ph * ph + width * width) as f64).sqrt();
    let (ph, w) = (ph as f64 / norm, width as f64 / norm);
    let level = argmax((0..width as usize).map(|x| ph * x as f64 - w * h[x + low] as f64)) + low;
    if flip {
        nbins - level - 1
    } else {
        level
    }
}

/// skimage's `threshold_yen`, in float32 as it computes; returns the bin.
fn yen(hist: &[u64]) -> usize {
    let c: Vec<f32> = hist.iter().map(|&c| c as f32).collect();
    let total = pairwise_f32(&c);
    let pmf: Vec<f32> = c.iter().map(|&x| x / total).collect();
    let p1 = cumsum_f32(&pmf);
    let sq: Vec<f32> = pmf.iter().map(|&p| p * p).collect();
    let p1_sq = cumsum_f32(&sq);
    let mut p2_sq: Vec<f32> = cumsum_f32(&sq.iter().rev().copied().collect::<Vec<_>>());
    p2_sq.reverse();
    let n = c.len();
    argmax((0..n - 1).map(|k| {
        let b = p1[k] * (1.0 - p1[k]);
        ln_f32((1.0 / (p1_sq[k] * p2_sq[k + 1])) * (b * b))
    }))
}

/// The natural log of an f32, correctly rounded (through f64). numpy's float32 log
/// differs by CPU (and may be an ulp off): where two of Yen's criteria are that close,
/// the argmax may differ by one bin.
fn ln_f32(x: f32) -> f32 {
    f64::from(x).ln() as f32
}

/// skimage's `threshold_isodata`: float32 counts and cumulative counts; sums of
/// `count * level` in f64 for integer levels (numpy promotes float32 times int64), in
/// float32 for float bins.
fn isodata(hist: &[u64], centers: &Centers) -> Result<f64> {
    let c: Vec<f32> = hist.iter().map(|&c| c as f32).collect();
    let csuml = cumsum_f32(&c);
    let last = csuml[c.len() - 1];
    let n = c.len();
    let found = match centers {
        Centers::Levels(lo) => {
            let mut csum = Vec::with_capacity(n);
            let mut s = 0.0f64;
            for (k, &x) in c.iter().enumerate() {
                s += f64::from(x) * (lo + k as i64) as f64;
                csum.push(s);
            }
            (0..n - 1).find(|&k| {
                let lower = csum[k] / f64::from(csuml[k]);
                let higher = (csum[n - 1] - csum[k]) / f64::from(last - csuml[k]);
                let d = (lower + higher) / 2.0 - (lo + k as i64) as f64;
                (0.0..1.0).contains(&d)
            })
        }
        Centers::Float(m) => {
            let prod: Vec<f32> = c.iter().zip(m).map(|(&c, &m)| c * m).collect();
            let csum = cumsum_f32(&prod);
            let width = m[1] - m[0];
            (0..n - 1).find(|&k| {
                let lower = csum[k] / csuml[k];
                let higher = (csum[n - 1] - csum[k]) / (last - csuml[k]);
                let d = (lower + higher) / 2.0 - m[k];
                d >= 0.0 && d < width
            })
        }
    };
    found.map(|k| centers.at(k)).ok_or_else(|| {
        undefined(
            "method=isodata found no level that is the mean of the two classes' means \
             (skimage's threshold_isodata fails here too); try another method",
        )
    })
}

/// scipy's `uniform_filter1d(x, 3)` of a float32 array (mode reflect): a running f64
/// sum, each output rounded to f32.
fn uniform3(x: &[f32]) -> Vec<f32> {
    let n = x.len() as isize;
    let e = |j: isize| {
        let i = if j < 0 {
            -j - 1
        } else if j >= n {
            2 * n - j - 1
        } else {
            j
        };
        f64::from(x[i.clamp(0, n - 1) as usize])
    };
    let mut tmp = 0.0f64;
    for j in -1..2 {
        tmp += e(j);
    }
    let mut out = Vec::with_capacity(x.len());
    out.push((tmp / 3.0) as f32);
    for l in 1..n {
        tmp += e(l + 1) - e(l - 2);
        out.push((tmp / 3.0) as f32);
    }
    out
}

/// skimage's `threshold_minimum`: the histogram smoothed until it has fewer than three
/// peaks; it must then have two, and `t` is the lowest bin between them.
fn minimum(hist: &[u64]) -> Result<usize> {
    const MAX_ITER: usize = 10_000;
    let maxima = |h: &[f32]| {
        let mut idx = Vec::new();
        let mut up = true;
        for i in 0..h.len() - 1 {
            if up {
                if h[i + 1] < h[i] {
                    up = false;
                    idx.push(i);
                }
            } else if h[i + 1] > h[i] {
                up = true;
            }
        }
        idx
    };
    let mut smooth: Vec<f32> = hist.iter().map(|&c| c as f32).collect();
    let mut peaks = Vec::new();
    let mut counter = 0;
    for k in 0..MAX_ITER {
        counter = k;
        smooth = uniform3(&smooth);
        peaks = maxima(&smooth);
        if peaks.len() < 3 {
            break;
        }
    }
    if peaks.len() != 2 || counter == MAX_ITER - 1 {
        return Err(no_two_peaks());
    }
    let between = &smooth[peaks[0]..=peaks[1]];
    let mut low = 0;
    for (i, &v) in between.iter().enumerate() {
        if v < between[low] {
            low = i;
        }
    }
    Ok(peaks[0] + low)
}

/// skimage's `threshold_li` on integer levels: its per-level histogram (as float32
/// weights), class means as numpy's weighted averages in f64, tolerance 0.5.
fn li_of_levels(hist: &[u64], lo: i64) -> Result<f64> {
    let w: Vec<f64> = hist.iter().map(|&c| f64::from(c as f32)).collect();
    let n: u64 = hist.iter().sum();
    let sum: i128 = (hist.iter().enumerate())
        .map(|(k, &c)| i128::from(c) * k as i128)
        .sum();
    let tolerance = 0.5;
    let mut t_next = sum as f64 / n as f64;
    let mut t_curr = -2.0 * tolerance;
    let mut iterations = 0;
    while (t_next - t_curr).abs() > tolerance {
        t_curr = t_next;
        // Levels above t_curr are the foreground (levels are 0.. once the min is
        // subtracted, as skimage shifts them).
        let split = (0..w.len()).find(|&k| k as f64 > t_curr).unwrap_or(w.len());
        let average = |range: std::ops::Range<usize>| {
            let (mut s, mut ws) = (0.0f64, 0.0f64);
            for k in range {
                s += k as f64 * w[k];
                ws += w[k];
            }
            (ws > 0.0).then(|| s / ws)
        };
        let (Some(mean_back), Some(mean_fore)) = (average(0..split), average(split..w.len()))
        else {
            return Err(undefined(
                "method=li split the levels into an empty class (skimage's weighted \
                 average fails here too)",
            ));
        };
        if mean_back == 0.0 {
            break;
        }
        t_next = (mean_back - mean_fore) / (mean_back.ln() - mean_fore.ln());
        iterations += 1;
        if iterations > LI_MAX_ITER {
            return Err(li_no_convergence());
        }
    }
    Ok(t_next + lo as f64)
}

/// Iterations of Li's method before it is declared stuck (skimage would loop forever).
const LI_MAX_ITER: usize = 10_000;

fn li_no_convergence() -> Error {
    undefined("method=li did not converge in 10000 iterations")
}

/// skimage's `threshold_li` on float data: values shifted by the smallest finite one
/// in float32, tolerance half the smallest gap between distinct values, float32 class
/// means and update.
fn li_of_values(v: &ValueCounts) -> Result<f64> {
    if v.values.is_empty() {
        return Ok(f64::NAN);
    }
    if v.values.len() == 1 {
        return Ok(f64::from(v.values[0]));
    }
    let finite: Vec<(f32, u64)> = v.pairs().filter(|(x, _)| x.is_finite()).collect();
    let Some(&(min, _)) = finite.first() else {
        return Ok(0.0);
    };
    // The shifted values (subtraction keeps their order; equal ones merge).
    let mut s: Vec<(f32, u64)> = Vec::with_capacity(finite.len());
    for (x, c) in finite {
        let y = x - min;
        match s.last_mut() {
            Some(last) if last.0 == y => last.1 += c,
            _ => s.push((y, c)),
        }
    }
    let Some(gap) = s.windows(2).map(|p| p[1].0 - p[0].0).reduce(f32::min) else {
        return Err(undefined(
            "method=li needs two distinct finite values (skimage's tolerance, half the \
             smallest gap between them, is undefined)",
        ));
    };
    let tolerance = gap / 2.0;
    // Prefix sums over the sorted values: each class's sum and count by one search.
    let mut prefix = Vec::with_capacity(s.len() + 1);
    prefix.push((0.0f64, 0u64));
    for &(y, c) in &s {
        let (a, b) = prefix[prefix.len() - 1];
        prefix.push((a + f64::from(y) * c as f64, b + c));
    }
    let (all_sum, all_n) = prefix[s.len()];
    let mean = |sum: f64, n: u64| sum as f32 / n as f32;
    let mut t_next = mean(all_sum, all_n);
    let mut t_curr = -2.0 * tolerance;
    let mut iterations = 0;
    while (t_next - t_curr).abs() > tolerance {
        t_curr = t_next;
        let split = s.partition_point(|&(y, _)| y <= t_curr);
        let (bs, bn) = prefix[split];
        let mean_back = mean(bs, bn);
        let mean_fore = mean(all_sum - bs, all_n - bn);
        if mean_back == 0.0 {
            break;
        }
        t_next = (mean_back - mean_fore) / (ln_f32(mean_back) - ln_f32(mean_fore));
        iterations += 1;
        if iterations > LI_MAX_ITER {
            return Err(li_no_convergence());
        }
    }
    Ok(f64::from(t_next + min))
}

/// `np.mean` of float data, NaNs left out: the exact sum rounded to f32, divided by the
/// count in f32 (numpy's float32 mean adds pairwise in f32, so it may differ in the last
/// bits).
fn mean_of_sum(s: &ExactSum) -> f64 {
    if s.count == 0 {
        return f64::NAN;
    }
    f64::from(s.value() as f32 / s.count as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_is_numpys() {
        // 2^24 + 1 is not a float32: the order of additions decides the result.
        let mut v = vec![1.0f32; 300];
        v[0] = 16_777_216.0;
        // numpy: v = np.ones(300, np.float32); v[0] = 2**24; v.sum() == 16777506.0
        assert_eq!(pairwise_f32(&v), 16_777_506.0);
    }

    #[test]
    fn uniform3_is_scipys_reflect() {
        // scipy.ndimage.uniform_filter1d(np.float32([1, 2, 4, 8]), 3)
        // == [1.3333334, 2.3333333, 4.6666665, 6.6666665]
        assert_eq!(
            uniform3(&[1.0, 2.0, 4.0, 8.0]),
            vec![1.333_333_4, 2.333_333_3, 4.666_666_5, 6.666_666_5]
        );
    }
}
