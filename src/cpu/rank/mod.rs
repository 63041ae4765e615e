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
//!   disk of radius r costs O(r) per pixel, as on the GPU (in [`chords`]).

use super::network::{Network, LANES, MAX_WIRES};
use super::{window_index, Planes, PlanesRef};

mod chords;
pub(crate) mod median3;
use crate::image::{SampleType, Window};
use crate::ops::Median;
pub use chords::morph;
use rayon::prelude::*;

pub use crate::ops::{from_key, key};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
