//! Twin of `shaders/label.wgsl`: connected components and removing small objects, with
//! scipy's numbering (1..N in the raster order of each component's first pixel).
//!
//! The CPU works on runs, not pixels: each row's foreground becomes runs `[x0, x1)`,
//! a run joins the runs of the row above that it touches (overlapping columns for
//! connectivity 1, or diagonally adjacent ones too for 2) in a union-find whose roots are
//! always the smallest run index, so a component's root is its first run in raster
//! order and numbering the roots in order gives scipy's labels. The GPU kernels do the
//! same on pixels (a root is the smallest pixel index), so both number alike.
//!
//! [`Runs`] is fed rows band by band, which is also how tiled frames label: the rows of
//! a frame too large for memory arrive a band at a time, and only the runs are kept.

use super::Planes;
use crate::image::{Rect, SampleType};
use crate::ops::{Label, RemoveSmall};
use crate::{Error, Result};
use std::collections::HashMap;

/// Most labels a frame may hold: label values travel as f32, exact up to 2^24.
pub const MAX_LABELS: u64 = 1 << 24;

/// One foreground run of a row: columns `x0..x1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    x0: u32,
    x1: u32,
}

/// The connected components of a mask, as runs per row, fed a band of rows at a time.
#[derive(Clone, Debug)]
pub struct Runs {
    width: u32,
    /// Rows per slice: rows arrive slice after slice.
    height: u32,
    connectivity: u8,
    runs: Vec<Run>,
    /// `rows[y]..rows[y + 1]` are row y's runs.
    rows: Vec<usize>,
    parent: Vec<u32>,
    /// After [`Runs::finish`]: each run's label, 1..=count.
    labels: Vec<u32>,
    /// After [`Runs::finish`]: pixels per label (index label - 1).
    areas: Vec<u64>,
}

impl Runs {
    /// No rows yet, of a frame `width` wide with `height` rows per slice (a volume's
    /// rows arrive slice after slice).
    pub fn new(width: u32, height: u32, connectivity: u8) -> Self {
        Runs {
            width,
            height: height.max(1),
            connectivity,
            runs: Vec::new(),
            rows: vec![0],
            parent: Vec::new(),
            labels: Vec::new(),
            areas: Vec::new(),
        }
    }

    /// Appends full-width rows of a mask (row-major; nonzero, NaN included, is
    /// foreground, as numpy's `x != 0`).
    pub fn push_rows(&mut self, mask: &[f32]) {
        let w = self.width as usize;
        for row in mask.chunks_exact(w.max(1)) {
            let first = self.runs.len();
            let mut x = 0;
            while x < w {
                // Slice searches: the compiler vectorises these, not a pixel loop.
                match row[x..].iter().position(|&v| v != 0.0) {
                    Some(d) => x += d,
                    None => break,
                }
                let x0 = x;
                x += row[x..].iter().position(|&v| v == 0.0).unwrap_or(w - x);
                let i = self.runs.len() as u32;
                self.runs.push(Run {
                    x0: x0 as u32,
                    x1: x as u32,
                });
                self.parent.push(i);
            }
            // Join the neighbouring rows above, as `generate_binary_structure(3, c)`
            // connects them: the row above in this slice, and in the slice above the
            // same row (and the rows beside it for c >= 2). `reach` 1 also joins runs
            // that touch diagonally.
            let row = self.rows.len() - 1;
            let (h, c) = (self.height as usize, self.connectivity);
            let (y, z) = (row % h, row / h);
            let mut neighbours: [(usize, u32); 4] = [(usize::MAX, 0); 4];
            if y > 0 {
                neighbours[0] = (row - 1, u32::from(c >= 2));
            }
            if z > 0 {
                neighbours[1] = (row - h, u32::from(c >= 2));
                if c >= 2 {
                    if y > 0 {
                        neighbours[2] = (row - h - 1, u32::from(c == 3));
                    }
                    if y + 1 < h {
                        neighbours[3] = (row - h + 1, u32::from(c == 3));
                    }
                }
            }
            for (above, reach) in neighbours {
                if above == usize::MAX {
                    continue;
                }
                self.join(self.rows[above]..self.rows[above + 1], first, reach);
            }
            self.rows.push(self.runs.len());
        }
    }

    /// Joins the runs `above` (an earlier row's) with this row's, from `first` on, that
    /// touch: both lists are sorted, so one sweep finds every pair.
    fn join(&mut self, above: std::ops::Range<usize>, first: usize, reach: u32) {
        let (mut a, mut b) = (above.start, first);
        while a < above.end && b < self.runs.len() {
            let (ra, rb) = (self.runs[a], self.runs[b]);
            if ra.x0 < rb.x1 + reach && rb.x0 < ra.x1 + reach {
                self.union(a as u32, b as u32);
            }
            // Advance whichever ends first (the other may touch the next run too).
            if ra.x1 < rb.x1 {
                a += 1;
            } else {
                b += 1;
            }
        }
    }

    fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let p = self.parent[i as usize];
            self.parent[i as usize] = self.parent[p as usize]; // path halving
            i = p;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller index stays the root: a component's root is its first run.
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.parent[hi as usize] = lo;
        }
    }

    /// Numbers the components 1..N in raster order of their first pixel and measures
    /// their areas. Fails past [`MAX_LABELS`].
    pub fn finish(&mut self) -> Result<()> {
        let mut labels = vec![0u32; self.runs.len()];
        let mut areas: Vec<u64> = Vec::new();
        for i in 0..self.runs.len() {
            let root = self.find(i as u32) as usize;
            if root == i {
                areas.push(0);
                labels[i] = areas.len() as u32;
            } else {
                labels[i] = labels[root];
            }
            let r = self.runs[i];
            areas[labels[i] as usize - 1] += u64::from(r.x1 - r.x0);
        }
        if areas.len() as u64 > MAX_LABELS {
            return Err(Error::Undefined {
                op: "label",
                reason: "more than 2^24 objects in one frame: labels travel as f32, exact \
                         only up to 16,777,216",
            });
        }
        self.labels = labels;
        self.areas = areas;
        Ok(())
    }

    /// Number of components.
    pub fn count(&self) -> u64 {
        self.areas.len() as u64
    }

    /// Pixels of label `l` (1-based).
    pub fn area(&self, l: u32) -> u64 {
        self.areas[l as usize - 1]
    }

    /// Writes `value(label)` over every foreground pixel of `rect`, 0 elsewhere, into
    /// `out` (rect-sized, row-major). `finish` first.
    pub fn render(&self, rect: Rect, out: &mut [f32], value: impl Fn(u32) -> f32) {
        out.fill(0.0);
        let (rx0, rx1) = (rect.x, rect.x + rect.width);
        let rh = rect.height.max(1) as usize;
        for (k, row) in out.chunks_exact_mut(rect.width.max(1) as usize).enumerate() {
            let (dz, dy) = (k / rh, k % rh);
            let y = (rect.z as usize + dz) * self.height as usize + rect.y as usize + dy;
            let runs = self.rows[y]..self.rows[y + 1];
            // Runs are sorted: skip to the first that ends past the rect's left edge.
            let start = runs.start + self.runs[runs.clone()].partition_point(|r| r.x1 <= rx0);
            for i in start..runs.end {
                let r = self.runs[i];
                if r.x0 >= rx1 {
                    break;
                }
                let v = value(self.labels[i]);
                let (a, b) = (r.x0.max(rx0) - rx0, r.x1.min(rx1) - rx0);
                row[a as usize..b as usize].fill(v);
            }
        }
    }
}

/// Labels every plane (each channel on its own).
pub fn label(src: &Planes, l: &Label) -> Result<Planes> {
    let shape = src.shape;
    each_plane(src, SampleType::U32, |plane, _, out| {
        let runs = runs_of(plane, shape, l.connectivity)?;
        runs.render(Rect::of(shape), out, |l| l as f32);
        Ok(())
    })
}

/// Removes small objects from every plane: components of a mask (the result a 0/255
/// mask), or labels of a label image (kept labels keep their values).
pub fn remove_small(src: &Planes, r: &RemoveSmall) -> Result<Planes> {
    if RemoveSmall::labels_mode(src.value_type) {
        return each_plane(src, src.value_type, |plane, _, out| {
            let mut areas: HashMap<u32, u64> = HashMap::new();
            for &v in plane {
                *areas.entry(v.to_bits()).or_default() += 1;
            }
            for (o, &v) in out.iter_mut().zip(plane) {
                *o = if v != 0.0 && r.removes(areas[&v.to_bits()]) {
                    0.0
                } else {
                    v
                };
            }
            Ok(())
        });
    }
    let shape = src.shape;
    each_plane(src, SampleType::U8, |plane, _, out| {
        let runs = runs_of(plane, shape, r.connectivity)?;
        let keep = |l: u32| if r.removes(runs.area(l)) { 0.0 } else { 255.0 };
        runs.render(Rect::of(shape), out, keep);
        Ok(())
    })
}

/// The whole of a plane `w` wide holding `len` samples.
#[cfg(test)]
fn whole(w: usize, len: usize) -> Rect {
    Rect::area(0, 0, w as u32, (len / w.max(1)) as u32)
}

fn runs_of(plane: &[f32], shape: crate::image::Shape, connectivity: u8) -> Result<Runs> {
    let mut runs = Runs::new(shape.width, shape.height, connectivity);
    runs.push_rows(plane);
    runs.finish()?;
    Ok(runs)
}

fn each_plane(
    src: &Planes,
    value_type: SampleType,
    f: impl Fn(&[f32], usize, &mut [f32]) -> Result<()>,
) -> Result<Planes> {
    let w = src.shape.width as usize;
    let n = src.shape.plane_len();
    let mut data = vec![0.0f32; src.data.len()];
    for (plane, out) in src.data.chunks_exact(n).zip(data.chunks_exact_mut(n)) {
        f(plane, w, out)?;
    }
    Ok(Planes {
        shape: src.shape,
        data,
        value_type,
        window: src.window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(mask: &[u8], w: usize, connectivity: u8) -> Vec<u32> {
        let plane: Vec<f32> = mask.iter().map(|&m| f32::from(m)).collect();
        let mut runs = Runs::new(w as u32, (plane.len() / w) as u32, connectivity);
        runs.push_rows(&plane);
        runs.finish().unwrap();
        let mut out = vec![0.0; plane.len()];
        runs.render(whole(w, plane.len()), &mut out, |l| l as f32);
        out.iter().map(|&v| v as u32).collect()
    }

    #[test]
    fn numbers_in_raster_order_of_first_pixels() {
        // A U whose arms start on row 0 and meet on row 2: one component, label 1; the
        // dot on row 1 starts later, label 2.
        #[rustfmt::skip]
        let mask = [
            1, 0, 1, 0, 0,
            1, 0, 1, 0, 1,
            1, 1, 1, 0, 0,
        ];
        #[rustfmt::skip]
        let want = [
            1, 0, 1, 0, 0,
            1, 0, 1, 0, 2,
            1, 1, 1, 0, 0,
        ];
        assert_eq!(labels(&mask, 5, 1), want);
    }

    #[test]
    fn corners_join_only_with_connectivity_2() {
        #[rustfmt::skip]
        let mask = [
            1, 0, 0, 1,
            0, 1, 1, 0,
            1, 0, 0, 0,
        ];
        assert_eq!(labels(&mask, 4, 1), [1, 0, 0, 2, 0, 3, 3, 0, 4, 0, 0, 0]);
        assert_eq!(labels(&mask, 4, 2), [1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn bands_fed_apart_label_as_one() {
        let (w, h) = (37, 29);
        let mut seed = 7u32;
        let mask: Vec<u8> = (0..w * h)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                u8::from((seed >> 16).is_multiple_of(3))
            })
            .collect();
        let plane: Vec<f32> = mask.iter().map(|&m| f32::from(m)).collect();
        for c in [1, 2] {
            let mut at_once = Runs::new(w as u32, h as u32, c);
            at_once.push_rows(&plane);
            at_once.finish().unwrap();
            let mut bands = Runs::new(w as u32, h as u32, c);
            for band in plane.chunks(w * 5) {
                bands.push_rows(band);
            }
            bands.finish().unwrap();
            let mut a = vec![0.0; w * h];
            let mut b = vec![0.0; w * h];
            let rect = whole(w, w * h);
            at_once.render(rect, &mut a, |l| l as f32);
            bands.render(rect, &mut b, |l| l as f32);
            assert_eq!(a, b);
            assert!(at_once.count() > 3);
        }
    }
}
