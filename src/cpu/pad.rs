//! Twin of `shaders/pad.wgsl`: a window's planes padded past the whole image's edges by
//! a boundary mode, so that a filter with that mode is the reflect filter of the padded
//! planes, cropped (see [`crate::ops::boundary`](crate::ops::Boundary)).

use super::{Planes, PlanesRef};
use crate::image::{Rect, Shape, Window};
use crate::ops::{extend, Axis, Boundary, Reach};
use rayon::prelude::*;

/// The planes of `p`'s window widened by `pad` on both sides of each axis. A padded
/// sample inside the whole image is the window's sample there (clamped to the window:
/// only halo outputs, which no result uses, read such a clamped sample); one outside it
/// is the mode's (or `cval`). The padded planes are a window of a whole image larger by
/// `2 * pad` along each axis, at the same origin.
pub fn pad(p: PlanesRef<'_>, pad: Reach, boundary: Boundary) -> Planes {
    let s = p.shape;
    let w = p.window;
    // Per axis, the source index (in the window) of each padded position, `None`: cval.
    let axis = |a: Axis, n: u32, origin: u32, full: u32, by: u32| -> Vec<Option<usize>> {
        let mode = boundary.mode.along(a);
        let (n, origin, full, by) = (
            i64::from(n),
            i64::from(origin),
            i64::from(full),
            i64::from(by),
        );
        (-by..n + by)
            .map(|q| extend(mode, origin + q, full).map(|g| (g - origin).clamp(0, n - 1) as usize))
            .collect()
    };
    let xs = axis(Axis::X, s.width, w.x, w.full_width, pad.x);
    let ys = axis(Axis::Y, s.height, w.y, w.full_height, pad.y);
    let zs = axis(Axis::Z, s.depth, w.z, w.full_depth, pad.z);
    let shape = Shape {
        width: xs.len() as u32,
        height: ys.len() as u32,
        depth: zs.len() as u32,
        channels: s.channels,
    };
    let cval = boundary.cval as f32;
    let (src_w, src_slice, src_plane) = (s.width as usize, s.slice_len(), s.plane_len());
    let mut data = vec![0.0f32; shape.samples()];
    data.par_chunks_mut(shape.width as usize)
        .enumerate()
        .for_each(|(row, out)| {
            let (h, d) = (ys.len(), zs.len());
            let (y, z, c) = (row % h, (row / h) % d, row / (h * d));
            match (ys[y], zs[z]) {
                (Some(y), Some(z)) => {
                    let line = &p.data[c * src_plane + z * src_slice + y * src_w..][..src_w];
                    for (o, x) in out.iter_mut().zip(&xs) {
                        *o = x.map_or(cval, |x| line[x]);
                    }
                }
                _ => out.fill(cval),
            }
        });
    Planes {
        shape,
        data,
        value_type: p.value_type,
        window: padded_window(w, pad),
    }
}

/// The window of padded planes: the same origin in a whole image larger by `2 * pad`.
pub fn padded_window(w: Window, pad: Reach) -> Window {
    Window {
        full_width: w.full_width + 2 * pad.x,
        full_height: w.full_height + 2 * pad.y,
        full_depth: w.full_depth + 2 * pad.z,
        ..w
    }
}

/// The part of padded planes of `shape` that is the unpadded window.
pub fn inner(shape: Shape, pad: Reach) -> Rect {
    Rect {
        x: pad.x,
        y: pad.y,
        z: pad.z,
        width: shape.width - 2 * pad.x,
        height: shape.height - 2 * pad.y,
        depth: shape.depth - 2 * pad.z,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::SampleType;
    use crate::ops::Mode;

    fn row(data: &[f32], full: u32, origin: u32, by: u32, b: Boundary) -> Vec<f32> {
        let shape = Shape {
            width: data.len() as u32,
            height: 1,
            depth: 1,
            channels: 1,
        };
        let window = Window {
            x: origin,
            full_width: full,
            ..Window::whole(shape)
        };
        let p = PlanesRef {
            shape,
            data,
            value_type: SampleType::F32,
            window,
        };
        let out = pad(p, Reach { x: by, y: 0, z: 0 }, b);
        assert_eq!(
            out.window,
            padded_window(window, Reach { x: by, y: 0, z: 0 })
        );
        assert_eq!(
            inner(out.shape, Reach { x: by, y: 0, z: 0 }).width,
            data.len() as u32
        );
        out.data
    }

    #[test]
    fn pads_a_whole_row_by_each_mode() {
        let a = [1.0, 2.0, 3.0];
        let b = |m| Boundary::new(m);
        assert_eq!(
            row(&a, 3, 0, 2, b(Mode::Nearest)),
            [1., 1., 1., 2., 3., 3., 3.]
        );
        assert_eq!(
            row(&a, 3, 0, 2, b(Mode::Mirror)),
            [3., 2., 1., 2., 3., 2., 1.]
        );
        assert_eq!(
            row(&a, 3, 0, 2, b(Mode::Wrap)),
            [2., 3., 1., 2., 3., 1., 2.]
        );
        assert_eq!(
            row(&a, 3, 0, 2, b(Mode::Reflect)),
            [2., 1., 1., 2., 3., 3., 2.]
        );
        assert_eq!(
            row(&a, 3, 0, 2, Boundary::constant(-1.5)),
            [-1.5, -1.5, 1., 2., 3., -1.5, -1.5]
        );
    }

    #[test]
    fn pads_a_window_only_past_the_whole_image() {
        // Samples 4..7 of a 7-sample image: the left pad lies inside the image (clamped
        // to the window, halo only), the right one past its edge.
        let a = [4.0, 5.0, 6.0];
        assert_eq!(
            row(&a, 7, 4, 2, Boundary::new(Mode::Mirror)),
            [4., 4., 4., 5., 6., 5., 4.]
        );
    }
}
