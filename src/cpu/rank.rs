//! Twin of `shaders/rank.wgsl`: the median (scipy `median_filter`) and grey morphology
//! (scikit-image `erosion` … `black_tophat`).
//!
//! Samples are compared as the shader compares them, as totally ordered keys (see
//! [`key`]), so a rank or an extreme is one input sample's exact bits on both backends.
//! A median of planes still holding u8 or u16 levels compares the levels themselves,
//! which order as their keys do.
//!
//! - The median gathers each output's window from reflect-padded key rows and takes the
//!   element at sorted index `n/2`: by a pruned sorting network over blocks of outputs
//!   for windows of up to 128 samples (see [`super::network`]), by selection beyond.
//! - Morphology takes every chord's 1-D extreme from a sparse table of its source row
//!   (two table reads per chord, whatever its length) and folds the chords together: a
//!   disk of radius r costs O(r) per pixel, as on the GPU.

use super::network::{Network, LANES, MAX_WIRES};
use super::{window_index, Planes, PlanesRef};
use crate::image::{SampleType, Window};
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

    /// `row`'s keys (by `key`) padded along x: `lo` samples before it and `hi` after,
    /// as the shader's `wx` reads them.
    fn pad<S: Copy, K>(
        &self,
        row: &[S],
        lo: usize,
        hi: usize,
        out: &mut Vec<K>,
        key: impl Fn(S) -> K,
    ) {
        out.clear();
        let w = self.w;
        let at = |i: i64| key(row[window_index(i, self.win.x, self.win.full_width, w)]);
        out.extend((-(lo as i64)..0).map(at));
        out.extend(row.iter().map(|&x| key(x)));
        out.extend((w as i64..(w + hi) as i64).map(at));
    }
}

/// A key a median compares samples by: the total-order bits of any f32, or, for planes
/// still holding integer levels of u8 or u16, the level itself (narrower keys: twice
/// or four times the lanes per vector).
trait RankKey: Copy + Ord + Send + Default {
    fn of(v: f32) -> Self;
    fn value(self) -> f32;
}

impl RankKey for u32 {
    fn of(v: f32) -> Self {
        key(v)
    }
    fn value(self) -> f32 {
        from_key(self)
    }
}

impl RankKey for u16 {
    fn of(v: f32) -> Self {
        v as u16
    }
    fn value(self) -> f32 {
        f32::from(self)
    }
}

impl RankKey for u8 {
    fn of(v: f32) -> Self {
        v as u8
    }
    fn value(self) -> f32 {
        f32::from(self)
    }
}

/// Median filter of every plane; values keep their type.
pub fn median(src: PlanesRef<'_>, m: &Median) -> Planes {
    // Blocks of 256 bytes of keys a wire, whatever their width.
    match src.value_type {
        SampleType::U8 => median_by::<u8, { 4 * LANES }>(src, m),
        SampleType::U16 => median_by::<u16, { 2 * LANES }>(src, m),
        _ => median_by::<u32, LANES>(src, m),
    }
}

fn median_by<K: RankKey, const L: usize>(src: PlanesRef<'_>, m: &Median) -> Planes {
    let g = Geometry::of(&src);
    let volume = g.win.full_depth > 1;
    let [z, y, x] = [0, 1, 2].map(|a| {
        let (lo, hi) = m.window(a, volume);
        (lo as i32, hi as i32)
    });
    let (lo, hi) = (x.0 as usize, x.1 as usize);
    let span = lo + hi + 1;
    let rows = ((z.0 + z.1 + 1) * (y.0 + y.1 + 1)) as usize;
    let n = rows * span;
    // Windows up to MAX_WIRES samples run a selection network over blocks of outputs;
    // larger ones select per output.
    let network = (n <= MAX_WIRES).then(|| Network::median(n));
    src.map_planes(src.value_type, |s, d| {
        d.par_chunks_mut(g.w.max(1)).enumerate().for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(lines, line, scratch), (r, out)| {
                let len = g.w + lo + hi;
                lines.clear();
                for dz in -z.0..=z.1 {
                    for dy in -y.0..=y.1 {
                        let row = g.row(r, dz, dy);
                        g.pad(&s[row * g.w..][..g.w], lo, hi, line, K::of);
                        lines.extend_from_slice(line);
                    }
                }
                match &network {
                    Some(net) => by_network::<K, L>(net, lines, len, span, scratch, out),
                    None => by_selection(lines, len, span, scratch, out),
                }
            },
        );
    })
}

/// Medians of a row by `net`: wire `(line, dx)` of the block at `x0` is
/// `lines[line][x0 + dx..]`, `L` outputs at once.
fn by_network<K: RankKey, const L: usize>(
    net: &Network,
    lines: &[K],
    len: usize,
    span: usize,
    wires: &mut Vec<K>,
    out: &mut [f32],
) {
    wires.resize(net.n * L, K::default());
    for (b, block) in out.chunks_mut(L).enumerate() {
        let (x0, m) = (b * L, block.len());
        for (k, wire) in wires.chunks_exact_mut(L).enumerate() {
            let (l, dx) = (k / span, k % span);
            wire[..m].copy_from_slice(&lines[l * len + x0 + dx..][..m]);
        }
        net.run::<K, L>(wires);
        let result = &wires[net.out * L..][..m];
        for (o, &k) in block.iter_mut().zip(result) {
            *o = k.value();
        }
    }
}

/// Medians of a row by selection: each output's window gathered, the element at
/// sorted index n/2 selected.
fn by_selection<K: RankKey>(
    lines: &[K],
    len: usize,
    span: usize,
    window: &mut Vec<K>,
    out: &mut [f32],
) {
    for (x, o) in out.iter_mut().enumerate() {
        window.clear();
        for l in lines.chunks_exact(len) {
            window.extend_from_slice(&l[x..x + span]);
        }
        let k = window.len() / 2;
        *o = window.select_nth_unstable(k).1.value();
    }
}

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

    /// Networks and selection give the same medians, windows of 1 to 128 samples.
    #[test]
    fn networks_equal_selection() {
        let (w, rows) = (150usize, 16usize);
        for span in 1..=8usize {
            for r in 1..=rows {
                let n = span * r;
                if n > MAX_WIRES {
                    continue;
                }
                let len = w + span - 1;
                let lines: Vec<u32> = (0..(r * len) as u32)
                    .map(|i| i.wrapping_mul(2_654_435_761) >> 20)
                    .collect();
                let (mut a, mut b) = (vec![0f32; w], vec![0f32; w]);
                by_network::<u32, LANES>(
                    &Network::median(n),
                    &lines,
                    len,
                    span,
                    &mut Vec::new(),
                    &mut a,
                );
                by_selection(&lines, len, span, &mut Vec::new(), &mut b);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{r} lines of {span}");
            }
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
