//! The runs of a mask and their union-find, scanned in parallel.
//!
//! A band of rows is cut into blocks that the pool's threads scan at once: each block
//! finds its rows' runs (64 pixels at a time, as bits: a run starts and ends where the
//! bits change) and joins the ones that touch inside the block. The blocks are then
//! appended in order, which keeps run indices in raster order, and only the rows at the
//! top of each block are joined with the rows above it, in the block before. The
//! union-find's root is always the smallest index of its set, so the numbering does not
//! depend on how the rows were cut: the labels are scipy's whichever the cut.

use crate::image::Rect;
use crate::{Error, Result};
use rayon::prelude::*;
use std::ops::Range;

/// Most labels a frame may hold: label values travel as f32, exact up to 2^24.
pub const MAX_LABELS: u64 = 1 << 24;

/// Rows a block holds at least: fewer cost more in appending than they save.
const MIN_BLOCK_ROWS: usize = 64;

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
    /// Each run's parent, never after the run itself (`parent[i] <= i`), so a root is the
    /// first run of its component in raster order.
    parent: Vec<u32>,
    /// After [`Runs::finish`]: each run's label, 1..=count.
    labels: Vec<u32>,
    /// After [`Runs::finish`]: pixels per label (index label - 1).
    areas: Vec<u64>,
}

/// The runs of a block of consecutive rows, joined among themselves (indices local).
struct Block {
    runs: Vec<Run>,
    /// Offsets of each row's runs: `rows.len()` is the block's rows plus one.
    rows: Vec<usize>,
    parent: Vec<u32>,
}

/// The geometry the joins need: which earlier rows a row touches.
#[derive(Clone, Copy)]
struct Grid {
    /// Rows per slice.
    height: usize,
    connectivity: u8,
}

impl Grid {
    /// The earlier rows that `row` (global index) touches, with the reach of each: 1
    /// where runs that meet only diagonally touch too. As `generate_binary_structure(3,
    /// c)` connects them: the row above in this slice, and in the slice above the same
    /// row (and the rows beside it for c >= 2).
    fn neighbours(self, row: usize) -> impl Iterator<Item = (usize, u32)> {
        let (h, c) = (self.height, self.connectivity);
        let (y, z) = (row % h, row / h);
        let mut n: [Option<(usize, u32)>; 4] = [None; 4];
        if y > 0 {
            n[0] = Some((row - 1, u32::from(c >= 2)));
        }
        if z > 0 {
            n[1] = Some((row - h, u32::from(c >= 2)));
            if c >= 2 && y > 0 {
                n[2] = Some((row - h - 1, u32::from(c == 3)));
            }
            if c >= 2 && y + 1 < h {
                n[3] = Some((row - h + 1, u32::from(c == 3)));
            }
        }
        n.into_iter().flatten()
    }
}

/// Joins the runs of `above` (an earlier row's) and `this` (a later row's) that touch:
/// both are sorted, so one sweep finds every pair.
fn join(runs: &[Run], parent: &mut [u32], above: Range<usize>, this: Range<usize>, reach: u32) {
    let (mut a, mut b) = (above.start, this.start);
    while a < above.end && b < this.end {
        let (ra, rb) = (runs[a], runs[b]);
        if ra.x0 < rb.x1 + reach && rb.x0 < ra.x1 + reach {
            if parent[b] == b as u32 {
                // The first run above that `b` touches: `b` is still a root of its own,
                // so it hangs under that run's root (an earlier index) without a find.
                parent[b] = find(parent, a as u32);
            } else {
                union(parent, a as u32, b as u32);
            }
        }
        // Advance whichever ends first (the other may touch the next run too).
        if ra.x1 < rb.x1 {
            a += 1;
        } else {
            b += 1;
        }
    }
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        parent[i as usize] = parent[p as usize]; // path halving
        i = p;
    }
    i
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        // The smaller index stays the root: a component's root is its first run.
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        parent[hi as usize] = lo;
    }
}

/// Appends the foreground runs of `row` (nonzero, NaN included, as numpy's `x != 0`).
/// The row is read 64 pixels at a time into bits; a run starts and ends at each change
/// of bit, found with `trailing_zeros`, so a mask of short runs costs no mispredicted
/// branch per pixel.
fn scan_row(row: &[f32], runs: &mut Vec<Run>) {
    let mut inside = false;
    let mut x0 = 0u32;
    let mut carry = 0u64; // the previous word's last bit
    for (k, chunk) in row.chunks(64).enumerate() {
        let mut bits = 0u64;
        for (i, &v) in chunk.iter().enumerate() {
            bits |= u64::from(v != 0.0) << i;
        }
        // A bit of `edges` is set where a pixel differs from the one before it.
        let mut edges = bits ^ ((bits << 1) | carry);
        carry = bits >> 63;
        while edges != 0 {
            let x = (k * 64) as u32 + edges.trailing_zeros();
            if inside {
                runs.push(Run { x0, x1: x });
            } else {
                x0 = x;
            }
            inside = !inside;
            edges &= edges - 1;
        }
        if chunk.len() < 64 {
            carry = 0;
        }
    }
    if inside {
        runs.push(Run {
            x0,
            x1: row.len() as u32,
        });
    }
}

impl Block {
    /// Scans `rows` (full-width rows, the first at global row `first`) and joins the
    /// runs that touch within them.
    fn scan(rows: &[f32], width: usize, first: usize, grid: Grid) -> Block {
        // At most one run per two pixels (plus one): reserving that keeps the vectors
        // from being copied as they grow, and costs only the pages the runs touch.
        let most = rows.len() / 2 + rows.len() / width.max(1) + 1;
        let mut b = Block {
            runs: Vec::with_capacity(most),
            rows: Vec::with_capacity(rows.len() / width.max(1) + 1),
            parent: Vec::with_capacity(most),
        };
        b.rows.push(0);
        for (k, row) in rows.chunks_exact(width).enumerate() {
            let start = b.runs.len();
            scan_row(row, &mut b.runs);
            b.parent.extend(start as u32..b.runs.len() as u32);
            let this = start..b.runs.len();
            for (above, reach) in grid.neighbours(first + k) {
                if above >= first {
                    let a = above - first;
                    join(
                        &b.runs,
                        &mut b.parent,
                        b.rows[a]..b.rows[a + 1],
                        this.clone(),
                        reach,
                    );
                }
            }
            b.rows.push(b.runs.len());
        }
        b
    }
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

    fn grid(&self) -> Grid {
        Grid {
            height: self.height as usize,
            connectivity: self.connectivity,
        }
    }

    /// Appends full-width rows of a mask (row-major; nonzero, NaN included, is
    /// foreground, as numpy's `x != 0`).
    pub fn push_rows(&mut self, mask: &[f32]) {
        let w = (self.width as usize).max(1);
        let n = mask.len() / w;
        let per_block = n
            .div_ceil(4 * rayon::current_num_threads())
            .max(MIN_BLOCK_ROWS);
        let first = self.rows.len() - 1;
        let grid = self.grid();
        let blocks: Vec<Block> = mask[..n * w]
            .par_chunks(per_block * w)
            .enumerate()
            .map(|(k, rows)| Block::scan(rows, w, first + k * per_block, grid))
            .collect();
        let more: usize = blocks.iter().map(|b| b.runs.len()).sum();
        self.runs.reserve(more);
        self.parent.reserve(more);
        self.rows.reserve(n);
        for (k, block) in blocks.into_iter().enumerate() {
            self.append(block, first + k * per_block);
        }
    }

    /// Appends a block whose first row is global row `start`, then joins its rows with
    /// the rows before it: only its top rows have such neighbours (one row in 2-D, a
    /// slice and a row in 3-D).
    fn append(&mut self, block: Block, start: usize) {
        let offset = self.runs.len();
        self.runs.extend_from_slice(&block.runs);
        (self.parent).extend(block.parent.iter().map(|&p| p + offset as u32));
        (self.rows).extend(block.rows[1..].iter().map(|&r| r + offset));
        let end = self.rows.len() - 1;
        let grid = self.grid();
        for row in start..end.min(start + grid.height + 1) {
            for (above, reach) in grid.neighbours(row) {
                if above < start {
                    let (a, b) = (
                        self.rows[above]..self.rows[above + 1],
                        self.rows[row]..self.rows[row + 1],
                    );
                    join(&self.runs, &mut self.parent, a, b, reach);
                }
            }
        }
    }

    /// Numbers the components 1..N in raster order of their first pixel and measures
    /// their areas. Fails past [`MAX_LABELS`].
    pub fn finish(&mut self) -> Result<()> {
        // Every parent comes before its child, so one pass in order numbers the roots
        // and hands each run its parent's label, already its root's.
        let mut labels = vec![0u32; self.runs.len()];
        let mut areas: Vec<u64> = Vec::new();
        for (i, r) in self.runs.iter().enumerate() {
            let p = self.parent[i] as usize;
            labels[i] = if p == i {
                areas.push(0);
                areas.len() as u32
            } else {
                labels[p]
            };
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
    /// `out` (rect-sized, row-major), rows in parallel. `finish` first.
    pub fn render(&self, rect: Rect, out: &mut [f32], value: impl Fn(u32) -> f32 + Sync) {
        let (rx0, rx1) = (rect.x, rect.x + rect.width);
        let rh = rect.height.max(1) as usize;
        let rows_per_task = (1 << 16) / (rect.width.max(1) as usize) + 1;
        let w = rect.width.max(1) as usize;
        out.par_chunks_mut(w * rows_per_task)
            .enumerate()
            .for_each(|(t, rows)| {
                for (j, row) in rows.chunks_exact_mut(w).enumerate() {
                    row.fill(0.0);
                    let k = t * rows_per_task + j;
                    let (dz, dy) = (k / rh, k % rh);
                    let y = (rect.z as usize + dz) * self.height as usize + rect.y as usize + dy;
                    let runs = self.rows[y]..self.rows[y + 1];
                    // Runs are sorted: skip to the first that ends past the rect's left edge.
                    let start =
                        runs.start + self.runs[runs.clone()].partition_point(|r| r.x1 <= rx0);
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
            });
    }
}
