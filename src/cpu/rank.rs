//! Twin of `shaders/rank.wgsl`: the median (scipy `median_filter`) and grey morphology
//! (scikit-image `erosion` … `black_tophat`).
//!
//! Samples are compared as the shader compares them, as totally ordered keys (see
//! [`key`]), so a rank or an extreme is one input sample's exact bits on both backends.
//!
//! - The median gathers each output's window from reflect-padded key rows and selects
//!   the element at sorted index `n/2`; a 3×3 window takes the classic exact shortcut
//!   (the median of the columns' maxima of minima, medians and minima of maxima).
//! - Morphology takes, per output row, the 1-D extreme of every chord's source row with
//!   van Herk/Gil-Werman (three operations per sample whatever the chord's length) and
//!   folds the chords together: a disk of radius r costs O(r) per pixel, as on the GPU.

use super::{par_map, window_index, Planes, PlanesRef};
use crate::image::Window;
use crate::ops::{mirror, Chord, Median, Morph, MorphKind};
use rayon::prelude::*;

/// The sample's bits as a key whose unsigned order is numeric order (-0 below +0, NaN
/// at the ends). Twin of `key` in shaders/rank.wgsl.
#[inline]
pub fn key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The sample a key stands for.
#[inline]
pub fn from_key(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7fff_ffff
    } else {
        !k
    })
}

/// Where a plane sits: its own sizes and its window in the whole image.
#[derive(Clone, Copy)]
struct Geometry {
    w: usize,
    h: usize,
    d: usize,
    win: Window,
}

impl Geometry {
    fn of(src: &PlanesRef<'_>) -> Self {
        let s = src.shape;
        Geometry {
            w: s.width as usize,
            h: s.height as usize,
            d: s.depth as usize,
            win: src.window,
        }
    }

    /// The row of the plane that output row `r` (slice-major) reads `dz, dy` away,
    /// reflected at the whole image's edges as the shader's `wz`/`wy`.
    fn row(&self, r: usize, dz: i32, dy: i32) -> usize {
        let (z, y) = ((r / self.h) as i64, (r % self.h) as i64);
        let w = &self.win;
        let z = window_index(z + i64::from(dz), w.z, w.full_depth, self.d);
        let y = window_index(y + i64::from(dy), w.y, w.full_height, self.h);
        z * self.h + y
    }

    /// `row` padded along x: `lo` samples before it and `hi` after, as the shader's
    /// `wx` reads them.
    fn pad(&self, row: &[u32], lo: usize, hi: usize, out: &mut Vec<u32>) {
        out.clear();
        let w = self.w;
        let at = |i: i64| row[window_index(i, self.win.x, self.win.full_width, w)];
        out.extend((-(lo as i64)..0).map(at));
        out.extend_from_slice(row);
        out.extend((w as i64..(w + hi) as i64).map(at));
    }
}

/// Median filter of every plane; values keep their type.
pub fn median(src: PlanesRef<'_>, m: &Median) -> Planes {
    let g = Geometry::of(&src);
    let volume = g.win.full_depth > 1;
    let [z, y, x] = [0, 1, 2].map(|a| {
        let (lo, hi) = m.window(a, volume);
        (lo as i32, hi as i32)
    });
    src.map_planes(src.value_type, |s, d| {
        let keys = par_map(s, key);
        let rows = |r: usize| {
            let mut v = Vec::new();
            for dz in -z.0..=z.1 {
                for dy in -y.0..=y.1 {
                    v.push(g.row(r, dz, dy));
                }
            }
            v
        };
        d.par_chunks_mut(g.w.max(1)).enumerate().for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(lines, line, window), (r, out)| {
                let (lo, hi) = (x.0 as usize, x.1 as usize);
                let len = g.w + lo + hi;
                lines.clear();
                for row in rows(r) {
                    g.pad(&keys[row * g.w..][..g.w], lo, hi, line);
                    lines.extend_from_slice(line);
                }
                if (lo, hi, lines.len()) == (1, 1, 3 * len) {
                    median3x3(lines, len, out);
                    return;
                }
                let span = lo + hi + 1;
                for (x, o) in out.iter_mut().enumerate() {
                    window.clear();
                    for l in lines.chunks_exact(len) {
                        window.extend_from_slice(&l[x..x + span]);
                    }
                    let k = window.len() / 2;
                    *o = from_key(*window.select_nth_unstable(k).1);
                }
            },
        );
    })
}

/// The median of 3×3 windows over three padded key rows: sort each column of three,
/// then the median is `med(max of the minima, med of the medians, min of the maxima)`,
/// exactly (Paeth's network), with no per-pixel sort.
fn median3x3(lines: &[u32], len: usize, out: &mut [f32]) {
    let (a, rest) = lines.split_at(len);
    let (b, c) = rest.split_at(len);
    let (mut lo, mut mid, mut hi) = (vec![0; len], vec![0; len], vec![0; len]);
    for i in 0..len {
        let (x, y, z) = sort3(a[i], b[i], c[i]);
        (lo[i], mid[i], hi[i]) = (x, y, z);
    }
    for (x, o) in out.iter_mut().enumerate() {
        let l = lo[x].max(lo[x + 1]).max(lo[x + 2]);
        let m = sort3(mid[x], mid[x + 1], mid[x + 2]).1;
        let h = hi[x].min(hi[x + 1]).min(hi[x + 2]);
        *o = from_key(sort3(l, m, h).1);
    }
}

#[inline]
fn sort3(a: u32, b: u32, c: u32) -> (u32, u32, u32) {
    let (a, b) = (a.min(b), a.max(b));
    let (b, c) = (b.min(c), b.max(c));
    let (a, b) = (a.min(b), a.max(b));
    (a, b, c)
}

/// Grey morphology of every plane; values keep their type.
pub fn morph(src: PlanesRef<'_>, m: &Morph) -> Planes {
    let g = Geometry::of(&src);
    let chords = m.footprint.chords(g.win.full_depth > 1);
    src.map_planes(src.value_type, |s, d| {
        let mut cur = par_map(s, key);
        for &(max, mirrored) in m.kind.passes() {
            let ch = if mirrored {
                mirror(&chords)
            } else {
                chords.clone()
            };
            cur = if max {
                chord_pass::<true>(&cur, &ch, g)
            } else {
                chord_pass::<false>(&cur, &ch, g)
            };
        }
        let kind = m.kind;
        d.par_iter_mut()
            .zip(s.par_iter().zip(cur.par_iter()))
            .with_min_len(1 << 14)
            .for_each(|(d, (&s, &k))| {
                let v = from_key(k);
                // A top-hat's difference in f32, as numpy subtracts float32 (integer
                // levels subtract exactly and cannot go below 0: opening <= image).
                *d = match kind {
                    MorphKind::Tophat => s - v,
                    MorphKind::Blackhat => v - s,
                    _ => v,
                };
            });
    })
}

#[inline]
fn extreme<const MAX: bool>(a: u32, b: u32) -> u32 {
    if MAX {
        a.max(b)
    } else {
        a.min(b)
    }
}

/// One erosion (dilation, `MAX`) of a key plane by `chords`, row by row in parallel.
fn chord_pass<const MAX: bool>(src: &[u32], chords: &[Chord], g: Geometry) -> Vec<u32> {
    let identity = if MAX { 0 } else { u32::MAX };
    let mut out = vec![identity; src.len()];
    out.par_chunks_mut(g.w.max(1)).enumerate().for_each_init(
        || (Vec::new(), Vec::new(), Vec::new()),
        |(line, pre, suf), (r, out)| {
            for c in chords {
                let row = &src[g.row(r, c.dz, c.dy) * g.w..][..g.w];
                let (lo, hi) = (c.lo as usize, c.hi as usize);
                if lo + hi == 0 {
                    for (o, &v) in out.iter_mut().zip(row) {
                        *o = extreme::<MAX>(*o, v);
                    }
                    continue;
                }
                g.pad(row, lo, hi, line);
                line_extreme::<MAX>(line, lo + hi + 1, pre, suf, out);
            }
        },
    );
    out
}

/// `out[x] = extreme(out[x], extreme of line[x .. x + span])` for every x, by van
/// Herk/Gil-Werman: the line in blocks of `span`, each sample's extreme from its
/// block's start (`pre`) and to its block's end (`suf`); a window then covers the end
/// of one block and the start of the next.
fn line_extreme<const MAX: bool>(
    line: &[u32],
    span: usize,
    pre: &mut Vec<u32>,
    suf: &mut Vec<u32>,
    out: &mut [u32],
) {
    pre.clear();
    pre.extend_from_slice(line);
    suf.clear();
    suf.extend_from_slice(line);
    for (p, s) in pre.chunks_mut(span).zip(suf.chunks_mut(span)) {
        for i in 1..p.len() {
            p[i] = extreme::<MAX>(p[i], p[i - 1]);
        }
        for i in (0..s.len().saturating_sub(1)).rev() {
            s[i] = extreme::<MAX>(s[i], s[i + 1]);
        }
    }
    for (x, o) in out.iter_mut().enumerate() {
        let e = extreme::<MAX>(suf[x], pre[x + span - 1]);
        *o = extreme::<MAX>(*o, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_numbers() {
        let v = [
            f32::NEG_INFINITY,
            -3.5,
            -0.0,
            0.0,
            1e-30,
            2.0,
            f32::INFINITY,
        ];
        for w in v.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in v {
            assert_eq!(from_key(key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn van_herk_equals_brute_force() {
        let line: Vec<u32> = (0..37u32).map(|i| (i * 7919) % 101).collect();
        for span in 1..12 {
            let n = line.len() + 1 - span;
            let mut out = vec![u32::MAX; n];
            line_extreme::<false>(&line, span, &mut Vec::new(), &mut Vec::new(), &mut out);
            let want: Vec<u32> = (0..n)
                .map(|x| *line[x..x + span].iter().min().unwrap())
                .collect();
            assert_eq!(out, want, "span {span}");
        }
    }

    #[test]
    fn median3x3_equals_selection() {
        let len = 20;
        let lines: Vec<u32> = (0..3 * len as u32)
            .map(|i| i.wrapping_mul(2_654_435_761) >> 7)
            .collect();
        let mut got = vec![0f32; len - 2];
        median3x3(&lines, len, &mut got);
        for (x, g) in got.iter().enumerate() {
            let mut w: Vec<u32> = (0..3)
                .flat_map(|r| lines[r * len + x..r * len + x + 3].to_vec())
                .collect();
            w.sort_unstable();
            assert_eq!(g.to_bits(), from_key(w[4]).to_bits());
        }
    }
}
