//! What the automatic thresholds reduce a frame to besides min/max and histograms
//! (see [`crate::cpu::auto_threshold`]): the sorted distinct values with their counts,
//! and an exact sum. Both are canonical (independent of the order samples come in), so
//! tiles, threads and backends that gather them differently get the same result.

use crate::ops::{from_key, key};
use rayon::prelude::*;

/// A frame's distinct values in increasing order, NaNs left out and -0 counted as 0,
/// each with how many samples hold it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueCounts {
    /// Distinct values, increasing.
    pub values: Vec<f32>,
    /// Samples of each value.
    pub counts: Vec<u64>,
}

impl ValueCounts {
    /// The distinct values of samples read in parts (a tile's rows, say).
    pub fn of_parts<'a>(parts: impl ParallelIterator<Item = &'a [f32]>) -> Self {
        // Sorting order-preserving keys sorts the values (NaNs are dropped first).
        let mut keys: Vec<u32> = parts
            .flat_map_iter(|c| c.iter().filter(|x| !x.is_nan()).map(|&x| key(x + 0.0)))
            .collect();
        keys.par_sort_unstable();
        let mut out = ValueCounts::default();
        for k in keys {
            let v = from_key(k);
            match out.values.last() {
                Some(&last) if last == v => *out.counts.last_mut().expect("paired") += 1,
                _ => {
                    out.values.push(v);
                    out.counts.push(1);
                }
            }
        }
        out
    }

    /// The distinct values of two parts of a frame together.
    pub fn merge(self, other: ValueCounts) -> ValueCounts {
        let mut out = ValueCounts::default();
        let (mut a, mut b) = (self.pairs().peekable(), other.pairs().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    let (v, c) = (x.0, x.1 + y.1);
                    a.next();
                    b.next();
                    (v, c)
                }
                (Some(x), Some(y)) if x.0 < y.0 => a.next().expect("peeked"),
                (Some(_), Some(_)) | (None, Some(_)) => b.next().expect("peeked"),
                (Some(_), None) => a.next().expect("peeked"),
                (None, None) => break,
            };
            out.values.push(next.0);
            out.counts.push(next.1);
        }
        out
    }

    /// Each distinct value with its count, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (f32, u64)> + '_ {
        self.values.iter().copied().zip(self.counts.iter().copied())
    }

    /// Samples in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The sum of f32 samples, exact and independent of their order (so of how a frame is
/// cut into tiles or threads): per binary exponent, the sum of the signed 24-bit
/// significands as an integer (2^39 samples before one could overflow). NaNs are left
/// out and counted apart, as are infinities.
#[derive(Clone, Debug, PartialEq)]
pub struct ExactSum {
    by_exponent: Vec<i64>,
    /// Samples summed (NaNs not counted).
    pub count: u64,
    pos_inf: bool,
    neg_inf: bool,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum {
            by_exponent: vec![0; 255],
            count: 0,
            pos_inf: false,
            neg_inf: false,
        }
    }
}

impl ExactSum {
    /// The sum of samples read in parts (a tile's rows, say).
    pub fn of_parts<'a>(parts: impl ParallelIterator<Item = &'a [f32]>) -> Self {
        parts
            .fold(ExactSum::default, |mut s, chunk| {
                for &x in chunk {
                    s.add(x);
                }
                s
            })
            .reduce(ExactSum::default, ExactSum::merge)
    }

    fn add(&mut self, x: f32) {
        if x.is_nan() {
            return;
        }
        self.count += 1;
        if x.is_infinite() {
            if x > 0.0 {
                self.pos_inf = true;
            } else {
                self.neg_inf = true;
            }
            return;
        }
        let b = x.to_bits();
        let e = ((b >> 23) & 0xff) as usize;
        let m = i64::from(b & 0x7f_ffff);
        // Subnormals share exponent 1's scale, without the implicit bit.
        let (e, m) = if e == 0 { (1, m) } else { (e, m | 0x80_0000) };
        self.by_exponent[e] += if b >> 31 == 1 { -m } else { m };
    }

    /// The sum of two parts of a frame together.
    pub fn merge(mut self, other: ExactSum) -> ExactSum {
        for (a, b) in self.by_exponent.iter_mut().zip(&other.by_exponent) {
            *a += b;
        }
        self.count += other.count;
        self.pos_inf |= other.pos_inf;
        self.neg_inf |= other.neg_inf;
        self
    }

    /// The sum as f64: each exponent's exact integer scaled and added from the smallest
    /// up, a fixed order, so equal sums give equal bits however they were gathered.
    pub fn value(&self) -> f64 {
        match (self.pos_inf, self.neg_inf) {
            (true, true) => return f64::NAN,
            (true, false) => return f64::INFINITY,
            (false, true) => return f64::NEG_INFINITY,
            _ => {}
        }
        (self.by_exponent.iter().enumerate())
            .map(|(e, &m)| m as f64 * 2f64.powi(e as i32 - 150))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_counts_merge_like_one_frame() {
        let a = [3.0f32, -0.0, 1.0, f32::NAN, 3.0];
        let b = [0.0f32, 7.0, 1.0];
        let whole: Vec<f32> = a.iter().chain(&b).copied().collect();
        let one = ValueCounts::of_parts([&whole[..]].into_par_iter());
        let parts = ValueCounts::of_parts([&a[..]].into_par_iter())
            .merge(ValueCounts::of_parts([&b[..]].into_par_iter()));
        assert_eq!(one, parts);
        assert_eq!(one.values, vec![0.0, 1.0, 3.0, 7.0]);
        assert_eq!(one.counts, vec![2, 2, 2, 1]);
    }

    #[test]
    fn exact_sums_do_not_depend_on_order() {
        let mut v: Vec<f32> = (0..2000)
            .map(|i| ((i * 7919) % 1000) as f32 * 1.37e-3 - 0.4)
            .collect();
        v.extend([1e30, -1e30, 3.0e-39, f32::NAN, 16_777_216.0, 1.0]);
        let whole = ExactSum::of_parts([&v[..]].into_par_iter());
        let mut r = v.clone();
        r.reverse();
        let (a, b) = r.split_at(777);
        let parts =
            ExactSum::of_parts([a].into_par_iter()).merge(ExactSum::of_parts([b].into_par_iter()));
        assert_eq!(whole, parts);
        assert_eq!(whole.value().to_bits(), parts.value().to_bits());
        assert_eq!(whole.count, v.len() as u64 - 1);
        // 1e30 - 1e30 cancels exactly; the rest is an f64 sum here within rounding.
        let rest: f64 = v
            .iter()
            .filter(|x| !x.is_nan() && x.abs() < 1e29)
            .map(|&x| f64::from(x))
            .sum();
        assert!((whole.value() - rest).abs() <= 1e-9 * rest.abs());
    }
}
