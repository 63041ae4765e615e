//! Twin of `shaders/segment.wgsl`: filling holes (`scipy.ndimage.binary_fill_holes`)
//! and clearing the border (`skimage.segmentation.clear_border`).
//!
//! Both ask which connected components touch the image's border (a face of a volume),
//! and the answer does not depend on how the components are found: the GPU unites
//! neighbours in a union-find, the CPU floods from the border samples.
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

use super::{Planes, PlanesRef};
use crate::image::{SampleType, Shape};

/// `binary_fill_holes(x != 0)` as a 0/255 mask.
pub fn fill_holes(src: PlanesRef<'_>) -> Planes {
    let s = src.shape;
    src.map_planes(SampleType::U8, |plane, out| {
        // Reached: background connected to the border through face neighbours.
        let reached = flood(plane, s, 1, |v| v == 0.0, |a, b| a == 0.0 && b == 0.0);
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
        let reached = flood(plane, s, full, |v| v != 0.0, |a, b| a == b);
        for ((o, &v), &r) in out.iter_mut().zip(plane).zip(&reached) {
            *o = if r { 0.0 } else { v };
        }
    })
}

/// The samples connected to a border sample that is `seed`, through neighbours within
/// `connectivity` (as `generate_binary_structure(3, c)`) that `joins` pairs.
fn flood(
    plane: &[f32],
    s: Shape,
    connectivity: u32,
    seed: impl Fn(f32) -> bool,
    joins: impl Fn(f32, f32) -> bool,
) -> Vec<bool> {
    let (w, h, d) = (s.width as i64, s.height as i64, s.depth as i64);
    let mut reached = vec![false; plane.len()];
    let mut stack: Vec<usize> = Vec::new();
    let offsets = neighbours(connectivity, d > 1);
    let border = |x: i64, y: i64, z: i64| {
        x == 0 || y == 0 || x == w - 1 || y == h - 1 || (d > 1 && (z == 0 || z == d - 1))
    };
    for i in 0..plane.len() {
        let (x, y, z) = (i as i64 % w, (i as i64 / w) % h, i as i64 / (w * h));
        if reached[i] || !border(x, y, z) || !seed(plane[i]) {
            continue;
        }
        reached[i] = true;
        stack.push(i);
        while let Some(j) = stack.pop() {
            let (x, y, z) = (j as i64 % w, (j as i64 / w) % h, j as i64 / (w * h));
            for &(dz, dy, dx) in &offsets {
                let (xx, yy, zz) = (x + dx, y + dy, z + dz);
                if xx < 0 || yy < 0 || zz < 0 || xx >= w || yy >= h || zz >= d {
                    continue;
                }
                let k = ((zz * h + yy) * w + xx) as usize;
                if !reached[k] && joins(plane[j], plane[k]) {
                    reached[k] = true;
                    stack.push(k);
                }
            }
        }
    }
    reached
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
