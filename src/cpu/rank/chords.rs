//! Grey morphology by chords: twin of `grow`/`fold`/`difference` in shaders/rank.wgsl
//! (see the parent module for the keys and the window geometry).

use super::{from_key, key, Geometry};
use crate::cpu::{Planes, PlanesRef};
use crate::ops::{mirror, Chord, Morph, MorphKind};
use rayon::prelude::*;

/// Grey morphology of every plane; values keep their type.
pub fn morph(src: PlanesRef<'_>, m: &Morph) -> Planes {
    let g = Geometry::of(&src);
    let chords = m.footprint.chords(g.win.full_depth > 1);
    let kind = m.kind;
    src.map_planes(src.value_type, |s, d| {
        // The last pass writes the plane's samples; a top-hat's difference in f32, as
        // numpy subtracts float32 (integer levels subtract exactly and cannot go below
        // 0: opening <= image).
        let w = g.w.max(1);
        let finish = |r: usize, acc: &[u32], out: &mut [f32]| {
            let row = &s[r * w..][..out.len()];
            for ((o, &k), &x) in out.iter_mut().zip(acc).zip(row) {
                let v = from_key(k);
                *o = match kind {
                    MorphKind::Tophat => x - v,
                    MorphKind::Blackhat => v - x,
                    _ => v,
                };
            }
        };
        let pass_chords = |mirrored: bool| {
            if mirrored {
                mirror(&chords)
            } else {
                chords.clone()
            }
        };
        match *kind.passes() {
            [(max, mirrored)] => pass(max, s, key, &pass_chords(mirrored), g, d, finish),
            [(max0, mirrored0), (max1, mirrored1)] => {
                // Zeroed memory comes from the OS untouched; the pass's threads touch it.
                let mut between = vec![0u32; s.len()];
                let copy = |_: usize, acc: &[u32], out: &mut [u32]| out.copy_from_slice(acc);
                pass(max0, s, key, &pass_chords(mirrored0), g, &mut between, copy);
                pass(max1, &between, |k| k, &pass_chords(mirrored1), g, d, finish);
            }
            _ => unreachable!("morphology runs one or two passes"),
        }
    })
}

/// One erosion (or dilation, `max`) of `src` (read as keys by `key`) into `dst`, each
/// output row's keys handed to `emit` with the row's index.
fn pass<S, T>(
    max: bool,
    src: &[S],
    key: impl Fn(S) -> u32 + Sync,
    chords: &[Chord],
    g: Geometry,
    dst: &mut [T],
    emit: impl Fn(usize, &[u32], &mut [T]) + Sync,
) where
    S: Copy + Sync,
    T: Send,
{
    if max {
        chord_pass::<true, S, T>(src, &key, chords, g, dst, &emit)
    } else {
        chord_pass::<false, S, T>(src, &key, chords, g, dst, &emit)
    }
}

#[inline]
fn extreme<const MAX: bool>(a: u32, b: u32) -> u32 {
    if MAX {
        a.max(b)
    } else {
        a.min(b)
    }
}

/// Output rows per parallel task of [`chord_pass`]: its source rows' tables are built
/// once for the band, so a footprint 2r+1 rows tall costs them (band + 2r) / band times.
const BAND: usize = 32;

/// Most bytes of tables a task builds; larger footprints go row by row.
const TABLE_BUDGET: usize = 32 << 20;

/// One erosion (dilation, `MAX`) by `chords`, in bands of rows in parallel. Each source
/// row a band reads gets a sparse table: level k holds the extreme of every run of 2^k
/// samples of the reflect-padded row; a chord of length L is then the extreme of two
/// overlapping runs of 2^⌊log2 L⌋, and the band's outputs fold their chords from the
/// tables, whole rows at once (these loops vectorise).
fn chord_pass<const MAX: bool, S, T>(
    src: &[S],
    key: &(impl Fn(S) -> u32 + Sync),
    chords: &[Chord],
    g: Geometry,
    dst: &mut [T],
    emit: &(impl Fn(usize, &[u32], &mut [T]) + Sync),
) where
    S: Copy + Sync,
    T: Send,
{
    let identity = if MAX { 0 } else { u32::MAX };
    let w = g.w.max(1);
    let lo = chords.iter().map(|c| c.lo as usize).max().unwrap_or(0);
    let hi = chords.iter().map(|c| c.hi as usize).max().unwrap_or(0);
    let longest = chords
        .iter()
        .map(|c| (c.lo + c.hi + 1) as usize)
        .max()
        .unwrap_or(1);
    let levels = longest.ilog2() as usize + 1;
    let plen = w + lo + hi;
    let (top, bottom) = chords
        .iter()
        .fold((0, 0), |(t, b), c| (t.min(c.dy), b.max(c.dy)));
    let slices = chords
        .iter()
        .map(|c| c.dz)
        .collect::<std::collections::BTreeSet<_>>();
    let table_rows = (BAND + (bottom - top) as usize) * slices.len();
    if table_rows * levels * plen * 4 > TABLE_BUDGET {
        return chord_pass_by_rows::<MAX, S, T>(src, key, chords, g, dst, emit);
    }
    dst.par_chunks_mut(BAND * w).enumerate().for_each_init(
        || (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        |(rows, tables, line, acc), (b, band)| {
            let first = b * BAND;
            let count = band.len() / w;
            rows.clear();
            for r in first..first + count {
                rows.extend(chords.iter().map(|c| g.row(r, c.dz, c.dy)));
            }
            rows.sort_unstable();
            rows.dedup();
            tables.resize(rows.len() * levels * plen, 0);
            for (&row, t) in rows.iter().zip(tables.chunks_exact_mut(levels * plen)) {
                g.pad(&src[row * g.w..][..g.w], lo, hi, line, key);
                sparse_table::<MAX>(line, t, plen);
            }
            for (k, o) in band.chunks_exact_mut(w).enumerate() {
                let r = first + k;
                acc.clear();
                acc.resize(w, identity);
                for c in chords {
                    let i = rows.binary_search(&g.row(r, c.dz, c.dy)).unwrap_or(0);
                    let len = (c.lo + c.hi + 1) as usize;
                    let level = len.ilog2() as usize;
                    let t = &tables[(i * levels + level) * plen..][..plen];
                    // Runs [x - lo, x - lo + 2^level) and [x + hi + 1 - 2^level, x + hi],
                    // as padded indices (the padding holds `lo` samples before x = 0).
                    let a = &t[lo - c.lo as usize..][..w];
                    let z = &t[lo - c.lo as usize + len - (1 << level)..][..w];
                    simd::fold::<MAX>(acc, a, z);
                }
                emit(r, acc, o);
            }
        },
    );
}

/// The sparse table of a padded row of `plen` keys into `t` (levels of `plen` each):
/// level 0 the row, level k at x the extreme of level k-1 at x and x + 2^(k-1). Only
/// the places whose runs lie inside the row are filled; no chord reads past them.
fn sparse_table<const MAX: bool>(line: &[u32], t: &mut [u32], plen: usize) {
    t[..plen].copy_from_slice(line);
    for k in 1..t.len() / plen {
        let half = 1usize << (k - 1);
        let (done, rest) = t.split_at_mut(k * plen);
        let prev = &done[(k - 1) * plen..];
        let n = (plen + 1).saturating_sub(2 * half);
        simd::pairs::<MAX>(&mut rest[..n], &prev[..n], &prev[half..half + n]);
    }
}

/// [`chord_pass`] for footprints whose tables would be too large (radii in the
/// hundreds): per output row, each chord by van Herk/Gil-Werman on its padded source
/// row (three operations per sample whatever the chord's length).
fn chord_pass_by_rows<const MAX: bool, S, T>(
    src: &[S],
    key: &(impl Fn(S) -> u32 + Sync),
    chords: &[Chord],
    g: Geometry,
    dst: &mut [T],
    emit: &(impl Fn(usize, &[u32], &mut [T]) + Sync),
) where
    S: Copy + Sync,
    T: Send,
{
    let identity = if MAX { 0 } else { u32::MAX };
    dst.par_chunks_mut(g.w.max(1)).enumerate().for_each_init(
        || (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        |(line, pre, suf, acc), (r, o)| {
            acc.clear();
            acc.resize(o.len(), identity);
            for c in chords {
                let row = &src[g.row(r, c.dz, c.dy) * g.w..][..g.w];
                let (lo, hi) = (c.lo as usize, c.hi as usize);
                g.pad(row, lo, hi, line, key);
                line_extreme::<MAX>(line, lo + hi + 1, pre, suf, acc);
            }
            emit(r, acc, o);
        },
    );
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

/// The hot loops, compiled twice: for the baseline x86-64 (SSE2 has no 32-bit min or
/// max, so they run scalar) and for AVX2, picked at run time.
mod simd {
    use super::extreme;

    #[inline(always)]
    fn fold_any<const MAX: bool>(acc: &mut [u32], a: &[u32], z: &[u32]) {
        for ((o, &p), &q) in acc.iter_mut().zip(a).zip(z) {
            *o = extreme::<MAX>(*o, extreme::<MAX>(p, q));
        }
    }

    #[inline(always)]
    fn pairs_any<const MAX: bool>(out: &mut [u32], a: &[u32], b: &[u32]) {
        for ((c, &p), &q) in out.iter_mut().zip(a).zip(b) {
            *c = extreme::<MAX>(p, q);
        }
    }

    /// `acc[x] = extreme(acc[x], a[x], z[x])`.
    pub fn fold<const MAX: bool>(acc: &mut [u32], a: &[u32], z: &[u32]) {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { avx2::fold::<MAX>(acc, a, z) };
        }
        fold_any::<MAX>(acc, a, z)
    }

    /// `out[x] = extreme(a[x], b[x])`.
    pub fn pairs<const MAX: bool>(out: &mut [u32], a: &[u32], b: &[u32]) {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            // SAFETY: as in `fold`.
            return unsafe { avx2::pairs::<MAX>(out, a, b) };
        }
        pairs_any::<MAX>(out, a, b)
    }

    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        #[target_feature(enable = "avx2")]
        pub unsafe fn fold<const MAX: bool>(acc: &mut [u32], a: &[u32], z: &[u32]) {
            super::fold_any::<MAX>(acc, a, z)
        }

        #[target_feature(enable = "avx2")]
        pub unsafe fn pairs<const MAX: bool>(out: &mut [u32], a: &[u32], b: &[u32]) {
            super::pairs_any::<MAX>(out, a, b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Window;

    #[test]
    fn sparse_table_runs_equal_brute_force() {
        let line: Vec<u32> = (0..37u32).map(|i| (i * 7919) % 101).collect();
        let plen = line.len();
        let mut t = vec![0u32; 6 * plen];
        sparse_table::<false>(&line, &mut t, plen);
        for k in 0..6 {
            for x in 0..=plen - (1 << k) {
                let want = *line[x..x + (1 << k)].iter().min().unwrap();
                assert_eq!(t[k * plen + x], want, "level {k} at {x}");
            }
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

    /// The row-by-row path (footprints too large for tables) gives the tables' bits.
    #[test]
    fn both_chord_passes_agree() {
        use crate::ops::Footprint;
        let (w, h, d) = (50usize, 40usize, 3usize);
        let win = Window {
            x: 0,
            y: 0,
            z: 0,
            full_width: w as u32,
            full_height: h as u32,
            full_depth: d as u32,
        };
        let g = Geometry { w, h, d, win };
        let src: Vec<u32> = (0..(w * h * d) as u32)
            .map(|i| i.wrapping_mul(2_654_435_761) >> 9)
            .collect();
        for f in [
            Footprint::Disk { radius: 9 },
            Footprint::Ball { radius: 2 },
            Footprint::Square { size: 6 },
            Footprint::Cross { radius: 30 },
        ] {
            let c = f.chords(true);
            let copy = |_: usize, acc: &[u32], out: &mut [u32]| out.copy_from_slice(acc);
            let id = |k: u32| k;
            let (mut a, mut b) = (vec![0u32; src.len()], vec![0u32; src.len()]);
            chord_pass::<false, u32, u32>(&src, &id, &c, g, &mut a, &copy);
            chord_pass_by_rows::<false, u32, u32>(&src, &id, &c, g, &mut b, &copy);
            assert_eq!(a, b, "{f:?}");
            chord_pass::<true, u32, u32>(&src, &id, &c, g, &mut a, &copy);
            chord_pass_by_rows::<true, u32, u32>(&src, &id, &c, g, &mut b, &copy);
            assert_eq!(a, b, "{f:?}");
        }
    }
}
