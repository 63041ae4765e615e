//! Twin of `shaders/segment.wgsl`: filling holes (`scipy.ndimage.binary_fill_holes`)
//! and clearing the border (`skimage.segmentation.clear_border`).
//!
//! Both ask which connected components touch the image's border (a face of a volume),
//! and the answer does not depend on how the components are found: both backends unite
//! neighbours in a union-find (the GPU with atomics, all samples at once; the CPU in
//! raster order).
//! - Filling holes: components of the background under the cross structure (face
//!   neighbours); background the border's components do not reach is filled, so
//!   background touching the outside only diagonally is a hole, as in scipy. The
//!   result is a 0/255 mask.
//! - Clearing the border: components of equal nonzero values under full connectivity
//!   (8 neighbours in 2-D, 26 in a volume: `skimage.measure.label(x, background=0)`,
//!   which clear_border relabels with); those touching the border become 0, the rest
//!   keep their values.
//!
//! Each plane (channel) on its own; a 2-D image's border is its first and last rows and
//! columns, a volume's also its first and last slices.

use super::label::Runs;
use super::{Planes, PlanesRef};
use crate::image::{Rect, SampleType, Shape};

/// `binary_fill_holes(x != 0)` as a 0/255 mask.
pub fn fill_holes(src: PlanesRef<'_>) -> Planes {
    let s = src.shape;
    src.map_planes(SampleType::U8, |plane, out| {
        // Reached: background connected to the border through face neighbours.
        let background: Vec<f32> = plane.iter().map(|&v| f32::from(v == 0.0)).collect();
        let reached = by_runs(&background, s, 1)
            .unwrap_or_else(|| flood(plane, s, 1, |v| v == 0.0, |a, b| a == 0.0 && b == 0.0));
        for ((o, &v), &r) in out.iter_mut().zip(plane).zip(&reached) {
            *o = if v != 0.0 || !r { 255.0 } else { 0.0 };
        }
    })
}

/// `clear_border(x)`: objects touching the border set to 0.
pub fn clear_border(src: PlanesRef<'_>) -> Planes {
    let s = src.shape;
    let full = if s.is_volume() { 3 } else { 2 };
    src.map_planes(src.value_type, |plane, out| {
        // A mask (one nonzero value): its components are the labeller's.
        let first = plane.iter().copied().find(|&v| v != 0.0);
        let one_value = first.is_some_and(|f| plane.iter().all(|&v| v == 0.0 || v == f));
        let reached = (if one_value {
            by_runs(plane, s, full as u8)
        } else {
            None
        })
        .unwrap_or_else(|| flood(plane, s, full, |v| v != 0.0, |a, b| a == b));
        for ((o, &v), &r) in out.iter_mut().zip(plane).zip(&reached) {
            *o = if r { 0.0 } else { v };
        }
    })
}

/// The nonzero samples of `fg` connected to the border, from the labeller's runs
/// (`cpu::label::Runs`, its numerics untouched): far quicker than a union-find on
/// samples where a component spans most of the frame. `None` where it has more
/// components than it numbers.
fn by_runs(fg: &[f32], s: Shape, connectivity: u8) -> Option<Vec<bool>> {
    let mut runs = Runs::new(s.width, s.height, connectivity);
    runs.push_rows(fg);
    runs.finish().ok()?;
    let plane = Shape::volume(s.width, s.height, s.depth, 1).ok()?;
    let mut labels = vec![0.0f32; fg.len()];
    runs.render(Rect::of(plane), &mut labels, |l| l as f32);
    let mut touched = vec![false; runs.count() as usize + 1];
    each_border(s, |i| touched[labels[i] as usize] = true);
    touched[0] = false;
    Some(labels.iter().map(|&l| touched[l as usize]).collect())
}

/// Calls `f` with the index of every border sample of a plane of shape `s`: whole rows
/// on the first and last rows (and slices), the two ends of every other row.
fn each_border(s: Shape, mut f: impl FnMut(usize)) {
    let (w, h, d) = (s.width as usize, s.height as usize, s.depth as usize);
    for z in 0..d {
        for y in 0..h {
            let row = (z * h + y) * w;
            if y == 0 || y + 1 == h || (d > 1 && (z == 0 || z + 1 == d)) {
                (row..row + w).for_each(&mut f);
            } else {
                f(row);
                f(row + w - 1);
            }
        }
    }
}

/// The samples that take part (`part`) and are connected to a border sample through
/// neighbours within `connectivity` (as `generate_binary_structure(3, c)`) that
/// `joins` pairs. A union-find in raster order, as the shader's: each sample unites
/// with the neighbours before it (rows `i - w` and `i` stay in cache, where a flood
/// fill wanders), roots are the smallest index, and the border's roots are flagged.
fn flood(
    plane: &[f32],
    s: Shape,
    connectivity: u32,
    part: impl Fn(f32) -> bool,
    joins: impl Fn(f32, f32) -> bool,
) -> Vec<bool> {
    let (w, h, d) = (s.width as usize, s.height as usize, s.depth as usize);
    let n = plane.len();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let before: Vec<(i64, i64, i64)> = neighbours(connectivity, d > 1)
        .into_iter()
        .filter(|&(dz, dy, dx)| (dz, dy, dx) < (0, 0, 0))
        .collect();
    let mut i = 0usize;
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let v = plane[i];
                if part(v) {
                    for &(dz, dy, dx) in &before {
                        let (zz, yy, xx) = (z as i64 + dz, y as i64 + dy, x as i64 + dx);
                        if zz < 0 || yy < 0 || xx < 0 || yy >= h as i64 || xx >= w as i64 {
                            continue;
                        }
                        let j = ((zz as usize * h) + yy as usize) * w + xx as usize;
                        if part(plane[j]) && joins(v, plane[j]) {
                            unite(&mut parent, i as u32, j as u32);
                        }
                    }
                }
                i += 1;
            }
        }
    }
    let mut touched = vec![false; n];
    each_border(s, |i| {
        if part(plane[i]) {
            let r = find(&mut parent, i as u32);
            touched[r as usize] = true;
        }
    });
    (0..n)
        .map(|i| part(plane[i]) && touched[find(&mut parent, i as u32) as usize])
        .collect()
}

/// The root of `i`, halving the path on the way.
fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        parent[i as usize] = parent[p as usize];
        i = p;
    }
    i
}

/// Joins the trees of `a` and `b`, the larger root under the smaller.
fn unite(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb) as usize] = ra.min(rb);
    }
}

/// The (dz, dy, dx) steps to the neighbours within `connectivity` axes' steps.
fn neighbours(connectivity: u32, volume: bool) -> Vec<(i64, i64, i64)> {
    let zs: &[i64] = if volume { &[-1, 0, 1] } else { &[0] };
    let mut out = Vec::new();
    for &dz in zs {
        for dy in -1..=1i64 {
            for dx in -1..=1i64 {
                let far = (dz != 0) as u32 + (dy != 0) as u32 + (dx != 0) as u32;
                if far != 0 && far <= connectivity {
                    out.push((dz, dy, dx));
                }
            }
        }
    }
    out
}
