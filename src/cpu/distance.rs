//! Twin of `shaders/distance.wgsl`: the Euclidean distance transform,
//! `scipy.ndimage.distance_transform_edt(x != 0, sampling)`, in separable passes.
//!
//! - Along x, each row's distance to its nearest background sample, by two sweeps.
//! - Along y (and z in a volume), Meijster's lower envelope of the parabolas
//!   `G(i) + w (u - i)^2` of every column: a forward scan keeps the parabolas that are
//!   lowest somewhere and where each takes over (`sep`), a backward scan reads them off.
//!
//! With one sampling for every axis the passes run on exact integer squared distances
//! (u64 here; i32 on the GPU, which refuses frames whose squared sides could overflow
//! it), and the result is `f32(sqrt(n))` times the sampling. scipy takes the f64 square
//! root of the same exact integer and numpy rounds it to f32; for an integer n < 2^53 the
//! f64 root never rounds across an f32 rounding boundary (a midpoint m = M 2^-j between
//! two f32 values has `|n - m^2| >= 2^-2j`, so `|sqrt(n) - m| >= 2^-49 m`, far more than
//! the f64 rounding error), so `f64::sqrt(n) as f32` is both scipy's value and the
//! correctly rounded f32 root the shader computes with exact integer checks.
//!
//! With per-axis sampling the passes run on f32 squared distances with weights
//! `w = s^2` (as the shader does), within 1e-6 relative of scipy's f64 values.
//!
//! A plane with no background at all: scipy's feature transform then puts the nearest
//! "background" one step before the first axis's start (index -1 along z in a volume,
//! along y in a 2-D image, 0 along the others), and so does this twin.

use super::{Planes, PlanesRef};
use crate::image::SampleType;
use crate::ops::Distance;
use rayon::prelude::*;

/// Columns gathered at once by the column passes: a block's rows are a few cache lines,
/// so a pass reads each sample from memory once.
const BLOCK: usize = 32;

/// A squared distance of one of the two passes' kinds: exact integers (u64) or weighted
/// f32 values.
trait Sq: Copy + Default + Send + Sync + PartialOrd {
    /// No background in reach (yet).
    const INF: Self;
    /// The squared distance of `dx` steps along x, of weight `w`.
    fn steps(dx: u64, w: f32) -> Self;
    /// `g + w (x - i)^2`: the parabola of feature `i` (value `g`) at `x`.
    fn at(g: Self, x: i64, i: i64, w: f32) -> Self;
    /// The last position where feature `i` (value `gi`) is at most feature `u`'s
    /// (`i < u`): Meijster's `Sep`, floored.
    fn sep(i: i64, gi: Self, u: i64, gu: Self, w: f32, len: i64) -> i64;
}

impl Sq for u64 {
    const INF: u64 = u64::MAX;
    fn steps(dx: u64, _: f32) -> u64 {
        dx * dx
    }
    fn at(g: u64, x: i64, i: i64, _: f32) -> u64 {
        g + ((x - i) * (x - i)) as u64
    }
    fn sep(i: i64, gi: u64, u: i64, gu: u64, _: f32, _: i64) -> i64 {
        let num = (u * u + gu as i64) - (i * i + gi as i64);
        num.div_euclid(2 * (u - i))
    }
}

impl Sq for f32 {
    const INF: f32 = f32::INFINITY;
    fn steps(dx: u64, w: f32) -> f32 {
        w * (dx * dx) as f32
    }
    fn at(g: f32, x: i64, i: i64, w: f32) -> f32 {
        g + w * ((x - i) * (x - i)) as f32
    }
    fn sep(i: i64, gi: f32, u: i64, gu: f32, w: f32, len: i64) -> i64 {
        let num = (gu - gi) + w * (u * u - i * i) as f32;
        let s = (num / (2.0 * w * (u - i) as f32)).floor();
        // Beyond the line either way it is all the same; the clamp keeps it an integer.
        s.clamp(-1.0, len as f32) as i64
    }
}

/// The distance transform of every plane (each channel on its own), as f32 values.
pub fn distance(src: PlanesRef<'_>, d: &Distance) -> Planes {
    let s = src.shape;
    let n = s.plane_len();
    let mut data = super::zeroed(src.data.len());
    for (plane, out) in src.data.chunks_exact(n).zip(data.chunks_exact_mut(n)) {
        let dims = (s.depth as usize, s.height as usize, s.width as usize);
        match d.isotropic(s.depth) {
            Some(scale) => {
                let g = passes::<u64>(plane, dims, [1.0; 3]);
                let scale = scale as f32;
                finish(
                    &g,
                    out,
                    dims,
                    |g| root(g) * scale,
                    |[a, b, c]| root(a + b + c) * scale,
                );
            }
            None => {
                let w = weights(d);
                let g = passes::<f32>(plane, dims, w);
                finish(&g, out, dims, f32::sqrt, |[a, b, c]| {
                    (w[0] * a as f32 + w[1] * b as f32 + w[2] * c as f32).sqrt()
                });
            }
        }
    }
    Planes {
        shape: s,
        data,
        value_type: SampleType::F32,
        window: src.window,
    }
}

/// The weights (squared samplings, in f32) of the z, y and x passes, as the shader gets
/// them.
pub(crate) fn weights(d: &Distance) -> [f32; 3] {
    [d.sampling_z, d.sampling_y, d.sampling_x].map(|s| {
        let s = s as f32;
        s * s
    })
}

/// `sqrt(n)` correctly rounded to f32 (see the module's comment).
pub fn root(n: u64) -> f32 {
    (n as f64).sqrt() as f32
}

/// Writes each sample's distance: `value(g)`, or where no background was in reach (a
/// plane without any) `none` of the squared steps to scipy's stand-in feature, one
/// step before the first axis's start.
fn finish<T: Sq>(
    g: &[T],
    out: &mut [f32],
    (d, h, w): (usize, usize, usize),
    value: impl Fn(T) -> f32 + Sync,
    none: impl Fn([u64; 3]) -> f32 + Sync,
) {
    out.par_chunks_mut(w.max(1))
        .zip(g.par_chunks(w.max(1)))
        .enumerate()
        .for_each(|(r, (o, g))| {
            let (z, y) = ((r / h) as u64, (r % h) as u64);
            for (x, (o, &g)) in o.iter_mut().zip(g).enumerate() {
                *o = if g == T::INF {
                    let x = x as u64;
                    none(if d > 1 {
                        [(z + 1) * (z + 1), y * y, x * x]
                    } else {
                        [0, (y + 1) * (y + 1), x * x]
                    })
                } else {
                    value(g)
                };
            }
        });
}

/// The squared distances after every pass (`T::INF` where a plane has no background).
fn passes<T: Sq>(plane: &[f32], (d, h, w): (usize, usize, usize), wt: [f32; 3]) -> Vec<T> {
    let mut g: Vec<T> = vec![T::default(); plane.len()];
    // Along x: two sweeps per row.
    g.par_chunks_mut(w.max(1))
        .zip(plane.par_chunks(w.max(1)))
        .for_each(|(g, row)| row_pass(row, g, wt[2]));
    // Along y: the columns of each slice.
    columns(&mut g, h, w, wt[1]);
    // Along z: the columns of the (slices x samples per slice) matrix.
    if d > 1 {
        columns(&mut g, d, h * w, wt[0]);
    }
    g
}

/// One row's weighted squared distance to its nearest background sample (zero).
fn row_pass<T: Sq>(row: &[f32], g: &mut [T], w: f32) {
    let len = row.len();
    // Forward: steps since the last zero; backward: the nearer of that and the next.
    let mut last: Option<usize> = None;
    let mut dx = vec![u64::MAX; len];
    for (x, &v) in row.iter().enumerate() {
        if v == 0.0 {
            last = Some(x);
        }
        if let Some(l) = last {
            dx[x] = (x - l) as u64;
        }
    }
    let mut next: Option<usize> = None;
    for x in (0..len).rev() {
        if row[x] == 0.0 {
            next = Some(x);
        }
        if let Some(n) = next {
            dx[x] = dx[x].min((n - x) as u64);
        }
        g[x] = if dx[x] == u64::MAX {
            T::INF
        } else {
            T::steps(dx[x], w)
        };
    }
}

/// Meijster's pass along every column of every `rows` x `cols` matrix in `g`, by blocks
/// of [`BLOCK`] columns gathered into a buffer (a column's samples are `cols` apart).
fn columns<T: Sq>(g: &mut [T], rows: usize, cols: usize, w: f32) {
    if rows <= 1 || cols == 0 {
        return;
    }
    let mut blocks: Vec<Vec<&mut [T]>> = Vec::new();
    for m in g.chunks_mut(rows * cols) {
        let first = blocks.len();
        blocks.extend((0..cols.div_ceil(BLOCK)).map(|_| Vec::with_capacity(rows)));
        for row in m.chunks_mut(cols) {
            for (b, piece) in row.chunks_mut(BLOCK).enumerate() {
                blocks[first + b].push(piece);
            }
        }
    }
    blocks.into_par_iter().for_each(|mut pieces| {
        let bw = pieces[0].len();
        let mut line: Vec<T> = Vec::with_capacity(rows);
        let mut stack = Stack::default();
        for c in 0..bw {
            line.clear();
            line.extend(pieces.iter().map(|p| p[c]));
            envelope(&mut line, w, &mut stack);
            for (p, &v) in pieces.iter_mut().zip(&line) {
                p[c] = v;
            }
        }
    });
}

/// The envelope's parabolas: feature position, where it takes over, its value.
struct Stack<T> {
    s: Vec<i64>,
    t: Vec<i64>,
    g: Vec<T>,
}

impl<T> Default for Stack<T> {
    fn default() -> Self {
        Stack {
            s: Vec::new(),
            t: Vec::new(),
            g: Vec::new(),
        }
    }
}

/// Meijster's lower envelope along one line, in place: `line[u]` becomes the least
/// `line[i] + w (u - i)^2` over the line (`T::INF` features take no part).
fn envelope<T: Sq>(line: &mut [T], w: f32, st: &mut Stack<T>) {
    let m = line.len() as i64;
    st.s.clear();
    st.t.clear();
    st.g.clear();
    for u in 0..m {
        let gu = line[u as usize];
        if gu == T::INF {
            continue;
        }
        while let (Some(&sq), Some(&tq), Some(&gq)) = (st.s.last(), st.t.last(), st.g.last()) {
            if T::at(gq, tq, sq, w) > T::at(gu, tq, u, w) {
                st.s.pop();
                st.t.pop();
                st.g.pop();
            } else {
                break;
            }
        }
        match (st.s.last(), st.g.last()) {
            (Some(&sq), Some(&gq)) => {
                let from = 1 + T::sep(sq, gq, u, gu, w, m);
                if from < m {
                    st.s.push(u);
                    st.t.push(from);
                    st.g.push(gu);
                }
            }
            _ => {
                st.s.push(u);
                st.t.push(0);
                st.g.push(gu);
            }
        }
    }
    if st.s.is_empty() {
        return; // no feature: the line stays INF
    }
    let mut q = st.s.len() - 1;
    for u in (0..m).rev() {
        line[u as usize] = T::at(st.g[q], u, st.s[q], w);
        if u == st.t[q] && q > 0 {
            q -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_of_a_column() {
        let mut line: Vec<u64> = vec![0, 1, 4, 9, 4, 1, 0];
        envelope(&mut line, 1.0, &mut Stack::default());
        assert_eq!(line, [0, 1, 2, 5, 2, 1, 0]);
        let mut line: Vec<u64> = vec![u64::MAX, 9, u64::MAX];
        envelope(&mut line, 1.0, &mut Stack::default());
        assert_eq!(line, [10, 9, 10]);
    }
}
