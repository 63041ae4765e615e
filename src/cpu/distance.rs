//! Twin of `shaders/distance.wgsl`: the Euclidean distance transform,
//! `scipy.ndimage.distance_transform_edt(x != 0, sampling)`, in separable passes.
//!
//! - Along x, each row's distance to its nearest background sample, by two sweeps.
//! - Along y (and z in a volume), Meijster's lower envelope of the parabolas
//!   `G(i) + w (u - i)^2` of every column: a forward scan keeps the parabolas that are
//!   lowest somewhere and where each takes over (`sep`), a backward scan reads them off.
//!
//! With one sampling for every axis the passes run on exact integer squared distances
//! (u32, or u64 for huge frames, here; i32 on the GPU, which refuses frames whose squared sides could overflow
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

/// `floor(num / den)` for `den > 0`. Below 2^53 it is the floor of the f64 quotient,
/// which is quicker than an integer division: f64 division rounds correctly, and a
/// quotient that is not a whole number lies at least `1/den` from one, far more than
/// that rounding moves it. Larger numerators (frames no memory holds) divide as integers.
#[inline]
fn floor_div(num: i64, den: i64) -> i64 {
    const EXACT: i64 = 1 << 53;
    if num.abs() < EXACT {
        // Truncated, then down one where that went up (a negative non-whole quotient):
        // `f64::floor` is a libm call on baseline x86-64.
        let q = num as f64 / den as f64;
        let t = q as i64;
        t - i64::from((t as f64) > q)
    } else {
        num.div_euclid(den)
    }
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
        floor_div((u * u + gu as i64) - (i * i + gi as i64), 2 * (u - i))
    }
}

/// The same on u32, where every squared distance fits (a frame whose squared sides sum
/// below 2^32): half the memory traffic of u64.
impl Sq for u32 {
    const INF: u32 = u32::MAX;
    fn steps(dx: u64, _: f32) -> u32 {
        (dx * dx) as u32
    }
    fn at(g: u32, x: i64, i: i64, _: f32) -> u32 {
        g + ((x - i) * (x - i)) as u32
    }
    fn sep(i: i64, gi: u32, u: i64, gu: u32, _: f32, _: i64) -> i64 {
        floor_div(
            (u * u + i64::from(gu)) - (i * i + i64::from(gi)),
            2 * (u - i),
        )
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
                let scale = scale as f32;
                let none = |[a, b, c]: [u64; 3]| root(a + b + c) * scale;
                let sides = [s.width, s.height, s.depth].map(|v| u64::from(v) * u64::from(v));
                if sides.iter().sum::<u64>() < u64::from(u32::MAX) {
                    let g = passes::<u32>(plane, dims, [1.0; 3]);
                    finish(&g, out, dims, |g| root(u64::from(g)) * scale, none);
                } else {
                    let g = passes::<u64>(plane, dims, [1.0; 3]);
                    finish(&g, out, dims, |g| root(g) * scale, none);
                }
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
        .for_each_init(Vec::new, |dx, (g, row)| row_pass(row, g, wt[2], dx));
    // Along y: the columns of each slice.
    columns(&mut g, h, w, wt[1]);
    // Along z: the columns of the (slices x samples per slice) matrix.
    if d > 1 {
        columns(&mut g, d, h * w, wt[0]);
    }
    g
}

/// One row's weighted squared distance to its nearest background sample (zero).
fn row_pass<T: Sq>(row: &[f32], g: &mut [T], w: f32, dx: &mut Vec<u64>) {
    let len = row.len();
    // Forward: steps since the last zero; backward: the nearer of that and the next.
    let mut last: Option<usize> = None;
    dx.clear();
    dx.resize(len, u64::MAX);
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
    let scratch = || (Vec::new(), Stack::default());
    blocks
        .into_par_iter()
        .for_each_init(scratch, |(lines, stack), mut pieces| {
            let bw = pieces[0].len();
            // The block's rows copied whole into a buffer that stays in cache, its
            // columns enveloped there (`bw` apart), and copied back: a column at a time
            // from the frame would touch every row's cache line once per column.
            lines.clear();
            for p in &pieces {
                lines.extend_from_slice(p);
            }
            for c in 0..bw {
                envelope(&mut lines[c..], bw, rows, w, stack);
            }
            for (p, row) in pieces.iter_mut().zip(lines.chunks_exact(bw)) {
                p.copy_from_slice(row);
            }
        });
}

/// The envelope's parabolas: feature position, where it takes over, its value (a
/// line's worth of room, reused from line to line).
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

/// Meijster's lower envelope along one line of `m` samples `stride` apart, in place:
/// `line[u]` (at `u * stride`) becomes the least `line[i] + w (u - i)^2` over the line
/// (`T::INF` features take no part). The stack
/// of parabolas lives in `st`'s slices, indexed as the shader indexes its scratch.
fn envelope<T: Sq>(line: &mut [T], stride: usize, m: usize, w: f32, st: &mut Stack<T>) {
    if st.s.len() < m {
        st.s.resize(m, 0);
        st.t.resize(m, 0);
        st.g.resize(m, T::default());
    }
    let (s, t, g) = (&mut st.s[..m], &mut st.t[..m], &mut st.g[..m]);
    let mut q: isize = -1;
    for u in 0..m {
        let gu = line[u * stride];
        if gu == T::INF {
            continue;
        }
        let u = u as i64;
        while q >= 0 {
            let k = q as usize;
            if T::at(g[k], t[k], s[k], w) > T::at(gu, t[k], u, w) {
                q -= 1;
            } else {
                break;
            }
        }
        if q < 0 {
            q = 0;
            (s[0], t[0], g[0]) = (u, 0, gu);
        } else {
            let k = q as usize;
            let start = 1 + T::sep(s[k], g[k], u, gu, w, m as i64);
            if start < m as i64 {
                q += 1;
                let k = q as usize;
                (s[k], t[k], g[k]) = (u, start, gu);
            }
        }
    }
    if q < 0 {
        return; // no feature: the line stays INF
    }
    let mut k = q as usize;
    for u in (0..m).rev() {
        line[u * stride] = T::at(g[k], u as i64, s[k], w);
        if u as i64 == t[k] && k > 0 {
            k -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_of_a_column() {
        let mut line: Vec<u64> = vec![0, 1, 4, 9, 4, 1, 0];
        envelope(&mut line, 1, 7, 1.0, &mut Stack::default());
        assert_eq!(line, [0, 1, 2, 5, 2, 1, 0]);
        let mut line: Vec<u64> = vec![u64::MAX, 9, u64::MAX];
        envelope(&mut line, 1, 3, 1.0, &mut Stack::default());
        assert_eq!(line, [10, 9, 10]);
        // Every other sample: the line at stride 2 from 1 is [MAX, 9, MAX].
        let mut two: Vec<u64> = vec![7, u64::MAX, 7, 9, 7, u64::MAX];
        envelope(&mut two[1..], 2, 3, 1.0, &mut Stack::default());
        assert_eq!(two, [7, 10, 7, 9, 7, 10]);
    }

    #[test]
    fn floor_div_is_the_integer_floor() {
        let mut s = 12345u64;
        for _ in 0..200_000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let den = (s >> 40) as i64 % 70_000 + 1;
            let num = ((s >> 3) as i64 % (1 << 40)) - (1 << 39);
            for n in [
                num,
                num - num % den,
                num - num % den - 1,
                (1 << 53) - 1,
                -(1 << 53) + 1,
            ] {
                assert_eq!(floor_div(n, den), n.div_euclid(den), "{n} / {den}");
            }
        }
        assert_eq!(floor_div(i64::MAX - 5, 7), (i64::MAX - 5).div_euclid(7));
    }
}
