//! Expanding labels, `skimage.segmentation.expand_labels(labels, distance)`, with the
//! tie-breaking of scipy's feature transform.
//!
//! skimage computes `distance_transform_edt(labels == 0, return_indices=True)` and
//! gives each sample within `distance` of a label the label at its feature (the nearest
//! labelled sample scipy found). Where several labels are equally near, which one wins
//! is whichever scipy's feature transform picked, so this twin is a port of it
//! (`_VoronoiFT` and `_ComputeFT` in scipy's `ndimage/src/ni_morphology.c`, Maurer,
//! Qi and Raghavan's separable Voronoi transform): lines along z (a volume's first
//! axis), then along y, then along x, each line's features replaced by the nearest of
//! them on the lower envelope the line's sites make, with scipy's `<= 0` and `<=`
//! comparisons, in f64 as scipy computes them (with the spacing, scipy's `sampling`,
//! multiplied in where scipy multiplies it). A 2-D image is a volume of one slice:
//! its z pass keeps every feature and adds nothing to any sum, so it runs as scipy's
//! two passes over the (y, x) array.
//!
//! The GPU backend runs this twin too (see `gpu/expand.rs`): it reads the labels back,
//! expands them here and uploads the result, in the same chain.

use super::{Planes, PlanesRef};
use crate::ops::ExpandLabels;
use rayon::prelude::*;

/// A feature: the (z, y, x) of a labelled sample; `z < 0` while a sample has none yet
/// (scipy marks its first coordinate -1).
type Feature = [i32; 3];

const NONE: Feature = [-1, 0, 0];

/// `expand_labels(labels, distance)` of every plane (each channel on its own); the
/// values keep their type.
pub fn expand_labels(src: PlanesRef<'_>, e: &ExpandLabels) -> Planes {
    let s = src.shape;
    let dims = (s.depth as usize, s.height as usize, s.width as usize);
    let n = s.plane_len();
    let mut data = vec![0.0f32; src.data.len()];
    for (plane, out) in src.data.chunks_exact(n).zip(data.chunks_exact_mut(n)) {
        expand_plane(plane, dims, e.distance, e.spacing(), out);
    }
    Planes {
        shape: s,
        data,
        value_type: src.value_type,
        window: src.window,
    }
}

/// One plane of `(depth, height, width)` samples, `spacing` per axis (z, y, x).
pub fn expand_plane(
    plane: &[f32],
    dims: (usize, usize, usize),
    distance: f64,
    spacing: [f64; 3],
    out: &mut [f32],
) {
    if !plane.iter().any(|&v| v != 0.0) {
        // No label anywhere: scipy leaves every feature unset, and skimage reads label 0.
        out.fill(0.0);
        return;
    }
    let ft = feature_transform(plane, dims, spacing);
    let (_, h, w) = dims;
    out.par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(row, out)| {
            let (z, y) = ((row / h.max(1)) as i64, (row % h.max(1)) as i64);
            for (x, o) in out.iter_mut().enumerate() {
                let f = ft[row * w + x];
                // numpy: (ft - indices) as float64 times the sampling, squared, summed
                // along the axes in order, rooted.
                let dz = (i64::from(f[0]) - z) as f64 * spacing[0];
                let dy = (i64::from(f[1]) - y) as f64 * spacing[1];
                let dx = (i64::from(f[2]) - x as i64) as f64 * spacing[2];
                let d = (dz * dz + dy * dy + dx * dx).sqrt();
                *o = if d <= distance {
                    let at = (f[0] as usize * h + f[1] as usize) * w + f[2] as usize;
                    plane[at]
                } else {
                    0.0
                };
            }
        });
}

/// scipy's `distance_transform_edt(plane == 0, return_indices=True)` indices: for every
/// sample, the (z, y, x) of the nonzero sample scipy takes as nearest. The plane must
/// hold a nonzero sample.
pub fn feature_transform(
    plane: &[f32],
    (d, h, w): (usize, usize, usize),
    spacing: [f64; 3],
) -> Vec<Feature> {
    let mut ft: Vec<Feature> = (0..plane.len())
        .map(|i| {
            if plane[i] != 0.0 {
                [(i / (w * h)) as i32, ((i / w) % h) as i32, (i % w) as i32]
            } else {
                NONE
            }
        })
        .collect();
    // Along z: one line per (y, x); along y: one per (z, x); along x: one per (z, y).
    let s = spacing;
    pass(
        &mut ft,
        0,
        (d, w * h),
        s,
        (0..h * w).map(|i| (i, [0, i / w, i % w])),
    );
    pass(
        &mut ft,
        1,
        (h, w),
        s,
        (0..d * w).map(|i| ((i / w) * h * w + i % w, [i / w, 0, i % w])),
    );
    pass(
        &mut ft,
        2,
        (w, 1),
        s,
        (0..d * h).map(|i| (i * w, [i / h, i % h, 0])),
    );
    ft
}

/// One pass along `axis`: each line (its first sample's index and its coordinates)
/// `len` samples `stride` apart, transformed from the features before the pass.
fn pass(
    ft: &mut [Feature],
    axis: usize,
    (len, stride): (usize, usize),
    spacing: [f64; 3],
    lines: impl Iterator<Item = (usize, [usize; 3])>,
) {
    if len == 1 {
        return; // a line of one sample keeps its feature
    }
    let lines: Vec<(usize, [usize; 3])> = lines.collect();
    // Lines a group transforms at once (in parallel) before writing them back: the
    // scratch stays a few lines' worth whatever the frame.
    const GROUP: usize = 1024;
    let mut buf = vec![NONE; GROUP.min(lines.len()) * len];
    for group in lines.chunks(GROUP) {
        let before: &[Feature] = ft;
        (buf[..group.len() * len].par_chunks_mut(len))
            .zip(group.par_iter())
            .for_each_init(
                || (Vec::with_capacity(len), Vec::with_capacity(len)),
                |(f, g), (out, &(start, coor))| {
                    f.clear();
                    f.extend((0..len).map(|i| before[start + i * stride]));
                    out.copy_from_slice(f);
                    voronoi(f, out, (coor.map(|c| c as i64), axis), spacing, g);
                },
            );
        for (line, &(start, _)) in buf.chunks(len).zip(group) {
            for (i, &f) in line.iter().enumerate() {
                ft[start + i * stride] = f;
            }
        }
    }
}

/// scipy's `_VoronoiFT` on one line along axis `d` (at `coor` on the other axes):
/// `f` the line's features before, `out` after (left as they were where the line has
/// no site), `g` the stack of the sites on the lower envelope. Differences of
/// coordinates are exact integers, as scipy's `npy_intp` ones, before the spacing
/// multiplies them.
fn voronoi(
    f: &[Feature],
    out: &mut [Feature],
    (coor, d): ([i64; 3], usize),
    s: [f64; 3],
    g: &mut Vec<usize>,
) {
    let at = |i: usize, jj: usize| f64::from(f[i][jj]);
    // The squared distance, across the line, of feature `i` (scipy's uR, vR, wR).
    let across = |i: usize| {
        let mut r = 0.0f64;
        for jj in (0..3).filter(|&jj| jj != d) {
            let t = (i64::from(f[i][jj]) - coor[jj]) as f64 * s[jj];
            r += t * t;
        }
        r
    };
    g.clear();
    for (ii, fi) in f.iter().enumerate() {
        if fi[0] < 0 {
            continue;
        }
        let fd = f64::from(fi[d]);
        let w_r = across(ii);
        while g.len() >= 2 {
            let idx1 = g[g.len() - 1];
            let idx2 = g[g.len() - 2];
            let f1 = at(idx1, d);
            let a = (f1 - at(idx2, d)) * s[d];
            let b = (fd - f1) * s[d];
            let c = a + b;
            let u_r = across(idx2);
            let v_r = across(idx1);
            if c * v_r - b * u_r - a * w_r - a * b * c <= 0.0 {
                break;
            }
            g.pop();
        }
        g.push(ii);
    }
    let Some(maxl) = g.len().checked_sub(1) else {
        return;
    };
    // The squared distance from position `ii` on the line to feature `i`.
    let delta = |i: usize, ii: usize| {
        let mut r = 0.0f64;
        for jj in 0..3 {
            let t = if jj == d {
                (i64::from(f[i][jj]) - ii as i64) as f64 * s[jj]
            } else {
                (i64::from(f[i][jj]) - coor[jj]) as f64 * s[jj]
            };
            r += t * t;
        }
        r
    };
    let mut l = 0;
    for (ii, o) in out.iter_mut().enumerate() {
        let mut delta1 = delta(g[l], ii);
        while l < maxl {
            let delta2 = delta(g[l + 1], ii);
            if delta1 <= delta2 {
                break;
            }
            delta1 = delta2;
            l += 1;
        }
        *o = f[g[l]];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nearest labelled sample by brute force, in f64.
    fn nearest_distance(plane: &[f32], (_, h, w): (usize, usize, usize), i: usize) -> f64 {
        let at = |i: usize| [(i / (w * h)) as f64, ((i / w) % h) as f64, (i % w) as f64];
        let p = at(i);
        (0..plane.len())
            .filter(|&j| plane[j] != 0.0)
            .map(|j| {
                let q = at(j);
                ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
            })
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn features_are_nearest_labels() {
        let mut s = 12345u64;
        for dims in [(1, 9, 13), (4, 7, 5), (1, 1, 8), (3, 1, 1), (1, 16, 16)] {
            for density in [0.02, 0.2, 0.7] {
                let n = dims.0 * dims.1 * dims.2;
                let plane: Vec<f32> = (0..n)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        if ((s >> 11) as f64 / (1u64 << 53) as f64) < density {
                            (1 + s % 5) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect();
                if !plane.iter().any(|&v| v != 0.0) {
                    continue;
                }
                let ft = feature_transform(&plane, dims, [1.0; 3]);
                let (_, h, w) = dims;
                for (i, f) in ft.iter().enumerate() {
                    let j = (f[0] as usize * h + f[1] as usize) * w + f[2] as usize;
                    assert!(plane[j] != 0.0, "{dims:?} {i}: feature on background");
                    let at = [(i / (w * h)) as f64, ((i / w) % h) as f64, (i % w) as f64];
                    let got = ((f64::from(f[0]) - at[0]).powi(2)
                        + (f64::from(f[1]) - at[1]).powi(2)
                        + (f64::from(f[2]) - at[2]).powi(2))
                    .sqrt();
                    assert_eq!(got, nearest_distance(&plane, dims, i), "{dims:?} {i}");
                }
            }
        }
    }

    #[test]
    fn equidistant_labels_follow_scipys_envelope() {
        // Labels 1 and 2 two columns apart: the sample between them is as near to both,
        // and scipy's x pass keeps the first site on the envelope (`delta1 <= delta2`).
        let plane = [1.0, 0.0, 2.0];
        let mut out = [0.0; 3];
        expand_plane(&plane, (1, 1, 3), 1.0, [1.0; 3], &mut out);
        assert_eq!(out, [1.0, 1.0, 2.0]);
        // None within reach: zero; no label at all: zero.
        let plane = [1.0, 0.0, 0.0, 0.0];
        let mut out = [9.0; 4];
        expand_plane(&plane, (1, 1, 4), 1.5, [1.0; 3], &mut out);
        assert_eq!(out, [1.0, 1.0, 0.0, 0.0]);
        let mut out = [9.0; 4];
        expand_plane(&[0.0; 4], (1, 1, 4), 10.0, [1.0; 3], &mut out);
        assert_eq!(out, [0.0; 4]);
    }
}
