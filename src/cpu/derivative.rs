//! Twin of `shaders/derivative.wgsl`: the gaussian gradient magnitude
//! (`scipy.ndimage.gaussian_gradient_magnitude`) and the gaussians with a derivative
//! of odd order (scipy's `order`).

use super::{gaussian, window_index, Planes, PlanesRef};
use crate::ops::{Axis, Gaussian, Gradient};
use rayon::prelude::*;

/// Per axis: the gaussian along the other axes, the order-1 derivative along this one
/// (antisymmetric weights), squared and added up in f32 in axis order; then the square
/// root, as scipy's `generic_gradient_magnitude` computes it.
pub fn gradient(src: PlanesRef<'_>, g: &Gradient) -> crate::Result<Planes> {
    let volume = src.window.full_depth > 1;
    let mut sum: Option<Planes> = None;
    for (axis, kernels, d1) in g.terms(volume)? {
        let smooth = gaussian::separable(src, kernels);
        let term = antisym(&smooth, axis, &d1);
        match &mut sum {
            None => {
                sum = Some(Planes {
                    data: term.par_iter().map(|&t| t * t).collect(),
                    ..smooth
                })
            }
            Some(s) => s
                .data
                .par_iter_mut()
                .zip(term.par_iter())
                .with_min_len(1 << 14)
                .for_each(|(x, &t)| *x += t * t),
        }
    }
    let mut out = sum.expect("a 2-D image has two axes");
    out.data
        .par_iter_mut()
        .with_min_len(1 << 14)
        .for_each(|x| *x = x.sqrt());
    Ok(out)
}

/// A gaussian with its derivative orders: the symmetric passes ([`gaussian::gaussian`]),
/// then an antisymmetric pass along each axis of odd order, as the shaders run them.
pub fn gaussian(src: PlanesRef<'_>, g: &Gaussian) -> Planes {
    let mut out = gaussian::gaussian(src, g);
    for (axis, w) in g.antisym(src.window.full_depth > 1) {
        let next = antisym(&out, axis, &w);
        super::pool::give(std::mem::replace(&mut out.data, next));
    }
    out
}

/// `out[x] = sum_{j=1..r} w[r+j] * (in[x+j] - in[x-j])` along `axis` of every plane, in
/// the shader's order, reflected at the whole image's edge.
fn antisym(p: &Planes, axis: Axis, w: &[f32]) -> Vec<f32> {
    let s = p.shape;
    let (width, height, depth) = (s.width as usize, s.height as usize, s.depth as usize);
    let slice = width * height;
    let win = p.window;
    let (stride, n, origin, full) = match axis {
        Axis::Z => (slice, depth, win.z, win.full_depth),
        Axis::Y => (width, height, win.y, win.full_height),
        Axis::X => (1, width, win.x, win.full_width),
    };
    let r = (w.len() / 2) as i64;
    let plane = slice * depth;
    let mut out = vec![0f32; p.data.len()];
    out.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(row, o)| {
            let i0 = row * width;
            for (x, o) in o.iter_mut().enumerate() {
                let i = i0 + x;
                let k = i % plane.max(1);
                let pos = match axis {
                    Axis::Z => k / slice,
                    Axis::Y => (k % slice) / width,
                    Axis::X => x,
                };
                let base = i - pos * stride;
                let mut acc = 0f32;
                for j in 1..=r {
                    let at = |d: i64| {
                        p.data[base + window_index(pos as i64 + d, origin, full, n) * stride]
                    };
                    acc += w[(r + j) as usize] * (at(j) - at(-j));
                }
                *o = acc;
            }
        });
    out
}
