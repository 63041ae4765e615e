//! The box filter four rows at a time, one row per f64 lane of an AVX2 register.
//!
//! The scalar loops' running sums are dependent additions, one after another along a
//! line: on one line they cannot go wider, and a line's sums at fixed segment places
//! (which keep tiles bit-identical) are too far apart to load together. Four rows' sums
//! at the same column can: the vertical pass hands its four result lines over
//! transposed (`line4[4x + r]` is row r's sample x), so the horizontal pass loads one
//! column of four rows with one load. Every lane does exactly the scalar arithmetic of
//! its row, in the same order (f64 subtraction, addition and product; one rounding to
//! f32), so the results are bit for bit the scalar loops' (a unit test compares them).

/// Whether this CPU runs the four-row loops.
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        return true;
    }
    false
}

/// Four rows of the vertical pass: for row r = 0..4 in turn, its line is `acc * inv`
/// rounded to f32, then `acc += add[r] - sub[r]`. The lines go to `line4` transposed.
pub(super) fn vertical4(
    acc: &mut [f64],
    add: &[&[f32]; 4],
    sub: &[&[f32]; 4],
    inv: f64,
    line4: &mut [f32],
) {
    let w = acc.len();
    // What makes the unchecked accesses below sound.
    assert!(add.iter().chain(sub).all(|r| r.len() >= w) && line4.len() >= 4 * w);
    assert!(available());
    // SAFETY: AVX2 is present (asserted), and every row and the lines hold the `w`
    // columns read and written (asserted above).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        x86::vertical4(acc, add, sub, inv, line4)
    };
}

/// Four rows of the horizontal pass from transposed padded lines (`line4[4i + r]`,
/// `lo` samples before column 0 and `hi + 1` after the last): the running mean of each
/// row restarting at each of `starts`, as [`super::horizontal`] computes one row.
pub(super) fn horizontal4(
    line4: &[f32],
    outs: &mut [&mut [f32]; 4],
    lo: usize,
    hi: usize,
    inv: f64,
    starts: &[usize],
) {
    let w = outs[0].len();
    assert!(outs.iter().all(|o| o.len() == w) && line4.len() >= 4 * (lo + w + hi + 1));
    assert!(starts.first() == Some(&0) && starts.windows(2).all(|s| s[0] < s[1] && s[1] < w));
    assert!(available());
    // The sum's starting value, as `Iterator::sum` of f64 starts: the scalar windows
    // are summed with it.
    let neutral: f64 = std::iter::empty::<f64>().sum();
    // SAFETY: AVX2 is present; the lines hold every column a window reads and the rows
    // every column written, within [0, w) by the checks on `starts` (asserted above).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        x86::horizontal4(line4, outs, lo + hi + 1, inv, starts, neutral)
    };
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::LANES;
    use std::arch::x86_64::*;

    /// Four columns of four rows to four rows of four columns.
    #[inline(always)]
    unsafe fn transpose([a, b, c, d]: [__m128; 4]) -> [__m128; 4] {
        let (t0, t1) = (_mm_unpacklo_ps(a, b), _mm_unpacklo_ps(c, d));
        let (t2, t3) = (_mm_unpackhi_ps(a, b), _mm_unpackhi_ps(c, d));
        [
            _mm_movelh_ps(t0, t1),
            _mm_movehl_ps(t1, t0),
            _mm_movelh_ps(t2, t3),
            _mm_movehl_ps(t3, t2),
        ]
    }

    /// Column `x` of the four lines, widened.
    #[inline(always)]
    unsafe fn column(line: *const f32, x: usize) -> __m256d {
        _mm256_cvtps_pd(_mm_loadu_ps(line.add(4 * x)))
    }

    /// One output column: `acc * inv` to f32, then `acc += line[x + n] - line[x]`.
    #[inline(always)]
    unsafe fn step(
        acc: &mut __m256d,
        line: *const f32,
        x: usize,
        n: usize,
        inv: __m256d,
    ) -> __m128 {
        let v = _mm256_cvtpd_ps(_mm256_mul_pd(*acc, inv));
        *acc = _mm256_add_pd(*acc, _mm256_sub_pd(column(line, x + n), column(line, x)));
        v
    }

    /// # Safety
    /// AVX2; `add` and `sub` rows hold `acc.len()` samples, `line4` four times that.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn vertical4(
        acc: &mut [f64],
        add: &[&[f32]; 4],
        sub: &[&[f32]; 4],
        inv: f64,
        line4: &mut [f32],
    ) {
        let w = acc.len();
        let (a, l) = (acc.as_mut_ptr(), line4.as_mut_ptr());
        let vinv = _mm256_set1_pd(inv);
        let mut x = 0;
        while x + 4 <= w {
            let mut sum = _mm256_loadu_pd(a.add(x));
            let mut v = [_mm_setzero_ps(); 4];
            for r in 0..4 {
                v[r] = _mm256_cvtpd_ps(_mm256_mul_pd(sum, vinv));
                let p = _mm256_cvtps_pd(_mm_loadu_ps(add[r].as_ptr().add(x)));
                let m = _mm256_cvtps_pd(_mm_loadu_ps(sub[r].as_ptr().add(x)));
                sum = _mm256_add_pd(sum, _mm256_sub_pd(p, m));
            }
            _mm256_storeu_pd(a.add(x), sum);
            for (j, col) in transpose(v).into_iter().enumerate() {
                _mm_storeu_ps(l.add(4 * (x + j)), col);
            }
            x += 4;
        }
        while x < w {
            for r in 0..4 {
                *l.add(4 * x + r) = (*a.add(x) * inv) as f32;
                *a.add(x) +=
                    f64::from(*add[r].get_unchecked(x)) - f64::from(*sub[r].get_unchecked(x));
            }
            x += 1;
        }
    }

    /// # Safety
    /// AVX2; `line4` holds `4 * (w + n)` samples for rows `w` long; `starts` ascend
    /// from 0, all below `w`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn horizontal4(
        line4: &[f32],
        outs: &mut [&mut [f32]; 4],
        n: usize,
        inv: f64,
        starts: &[usize],
        neutral: f64,
    ) {
        let w = outs[0].len();
        let line = line4.as_ptr();
        let o: [*mut f32; 4] = [0, 1, 2, 3].map(|r| outs[r].as_mut_ptr());
        let vinv = _mm256_set1_pd(inv);
        let end = |k: usize| starts.get(k + 1).copied().unwrap_or(w);
        for k0 in (0..starts.len()).step_by(LANES) {
            let group = k0..(k0 + LANES).min(starts.len());
            let mut acc = [_mm256_set1_pd(neutral); LANES];
            for (a, k) in acc.iter_mut().zip(group.clone()) {
                for i in starts[k]..starts[k] + n {
                    *a = _mm256_add_pd(*a, column(line, i));
                }
            }
            let common = group.clone().map(|k| end(k) - starts[k]).min().unwrap_or(0);
            // Four columns of each segment at a time, stored as four rows' runs.
            let mut i = 0;
            while i + 4 <= common {
                for (a, k) in acc.iter_mut().zip(group.clone()) {
                    let x = starts[k] + i;
                    // Written out: a closure would not inherit this function's AVX2.
                    let v = [
                        step(a, line, x, n, vinv),
                        step(a, line, x + 1, n, vinv),
                        step(a, line, x + 2, n, vinv),
                        step(a, line, x + 3, n, vinv),
                    ];
                    for (r, run) in transpose(v).into_iter().enumerate() {
                        _mm_storeu_ps(o[r].add(x), run);
                    }
                }
                i += 4;
            }
            // The rest of each segment, a column at a time.
            for (a, k) in acc.iter_mut().zip(group) {
                for x in starts[k] + i..end(k) {
                    let mut v = [0f32; 4];
                    _mm_storeu_ps(v.as_mut_ptr(), step(a, line, x, n, vinv));
                    for r in 0..4 {
                        *o[r].add(x) = v[r];
                    }
                }
            }
        }
    }
}
