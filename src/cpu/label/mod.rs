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

use super::{Planes, PlanesRef};
use crate::image::{Rect, SampleType};
use crate::ops::{Label, RemoveHoles, RemoveSmall};
use crate::Result;
use std::collections::HashMap;

mod runs;

pub use runs::{Runs, MAX_LABELS};

/// Labels every plane (each channel on its own).
pub fn label(src: PlanesRef<'_>, l: &Label) -> Result<Planes> {
    let shape = src.shape;
    each_plane(src, SampleType::U32, |plane, _, out| {
        let runs = runs_of(plane, shape, l.connectivity)?;
        runs.render(Rect::of(shape), out, |l| l as f32);
        Ok(())
    })
}

/// Removes small objects from every plane: components of a mask (the result a 0/255
/// mask), or labels of a label image (kept labels keep their values).
pub fn remove_small(src: PlanesRef<'_>, r: &RemoveSmall) -> Result<Planes> {
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

/// Fills the small holes of every plane, as `skimage.morphology.remove_small_holes`
/// does: removes the small objects of the mask's inverse (components of its background,
/// at most `max_size` pixels, touching the border or not) and inverts back, a 0/255
/// mask. Integers of any width are a mask (nonzero is foreground).
pub fn remove_holes(src: PlanesRef<'_>, r: &RemoveHoles) -> Result<Planes> {
    let shape = src.shape;
    each_plane(src, SampleType::U8, |plane, _, out| {
        let runs = inverse_runs(plane, shape, r.connectivity)?;
        holes_render(&runs, r, Rect::of(shape), out);
        Ok(())
    })
}

/// The runs of a plane's inverse (its zeros; NaN is nonzero, as numpy's
/// `logical_not`), finished.
fn inverse_runs(plane: &[f32], shape: crate::image::Shape, connectivity: u8) -> Result<Runs> {
    let mut runs = Runs::new(shape.width, shape.height, connectivity);
    runs.push_rows(&invert(plane));
    runs.finish()?;
    Ok(runs)
}

/// `logical_not(plane)` as 0/1.
pub fn invert(plane: &[f32]) -> Vec<f32> {
    plane
        .iter()
        .map(|&v| if v == 0.0 { 1.0 } else { 0.0 })
        .collect()
}

/// Renders filled holes over `rect` from the (finished) runs of a mask's inverse: 255
/// over the holes `r` fills and over the mask's own foreground (no run of the
/// inverse), 0 over the holes left open.
pub fn holes_render(runs: &Runs, r: &RemoveHoles, rect: Rect, out: &mut [f32]) {
    // Render writes 0 off the runs: render the complement and flip it.
    let open = |l: u32| if r.fills(runs.area(l)) { 0.0 } else { 255.0 };
    runs.render(rect, out, open);
    for v in out.iter_mut() {
        *v = 255.0 - *v;
    }
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
    src: PlanesRef<'_>,
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

    /// Labels by flood fill from each unlabelled voxel in raster order: scipy's
    /// numbering, by the definition, with `generate_binary_structure(3, c)` neighbours.
    fn flood(mask: &[u8], (d, h, w): (usize, usize, usize), c: u8) -> Vec<u32> {
        let mut out = vec![0u32; mask.len()];
        let mut next = 0;
        for start in 0..mask.len() {
            if mask[start] == 0 || out[start] != 0 {
                continue;
            }
            next += 1;
            out[start] = next;
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                let (z, y, x) = ((i / (h * w)) as i64, ((i / w) % h) as i64, (i % w) as i64);
                for (dz, dy, dx) in itertools_product() {
                    let far = dz.abs() + dy.abs() + dx.abs();
                    if far == 0 || far > i64::from(c) {
                        continue;
                    }
                    let (zz, yy, xx) = (z + dz, y + dy, x + dx);
                    if zz < 0
                        || yy < 0
                        || xx < 0
                        || zz >= d as i64
                        || yy >= h as i64
                        || xx >= w as i64
                    {
                        continue;
                    }
                    let j = (zz as usize * h + yy as usize) * w + xx as usize;
                    if mask[j] != 0 && out[j] == 0 {
                        out[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        out
    }

    fn itertools_product() -> impl Iterator<Item = (i64, i64, i64)> {
        (-1..=1).flat_map(|a| (-1..=1).flat_map(move |b| (-1..=1).map(move |c| (a, b, c))))
    }

    #[test]
    fn blocks_scanned_apart_number_as_a_flood_fill() {
        // Tall enough for several blocks, cut mid-slice (blocks of 64 rows, slices of
        // 40), rows wider than a word of bits and not a multiple of it.
        for (d, h, w) in [(1, 700, 131), (9, 40, 70)] {
            for density in [3u32, 2, 1] {
                let mut seed = 11u32 + density;
                let mask: Vec<u8> = (0..d * h * w)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        u8::from((seed >> 16) % 4 < density)
                    })
                    .collect();
                let plane: Vec<f32> = mask.iter().map(|&m| f32::from(m)).collect();
                for c in 1..=3u8 {
                    let mut runs = Runs::new(w as u32, h as u32, c);
                    runs.push_rows(&plane);
                    runs.finish().unwrap();
                    let mut out = vec![0.0; plane.len()];
                    let rect = Rect::of(
                        crate::image::Shape::volume(w as u32, h as u32, d as u32, 1).unwrap(),
                    );
                    runs.render(rect, &mut out, |l| l as f32);
                    let got: Vec<u32> = out.iter().map(|&v| v as u32).collect();
                    let c_eff = if d == 1 { c.min(2) } else { c };
                    assert_eq!(got, flood(&mask, (d, h, w), c_eff), "{d}x{h}x{w} c={c}");
                }
            }
        }
    }
}
