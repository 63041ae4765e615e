//! Host side of `shaders/gaussian.wgsl`. Twin: `src/cpu/gaussian.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::{Axis, Dog, Gaussian, Log};
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Keep in sync with `Params` in shaders/gaussian.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    radius: u32,
    origin_x: u32,
    origin_y: u32,
    full_w: u32,
    full_h: u32,
    /// The first column this dispatch covers (the z pass's "columns" are a slice's
    /// pixels, more than one dispatch's grid holds).
    x_base: u32,
}

/// Radii up to this stage a tile plus halo in workgroup memory; larger ones read global
/// memory directly.
const MAX_TILE_RADIUS: u32 = 64;
/// Outputs (and threads) per workgroup along a row, horizontal pass.
const TILE_X: u32 = 256;
/// Columns per workgroup, vertical pass.
const TILE_COLS: u32 = 16;
/// Threads along y per workgroup, vertical pass.
const TILE_THREAD_ROWS: u32 = 16;
/// Outputs per column per workgroup, vertical pass (a multiple of TILE_THREAD_ROWS).
const TILE_ROWS: u32 = 64;
/// Workgroup of the direct kernels.
const DIRECT: (u32, u32) = (64, 4);

/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[
    ("MAX_TILE_RADIUS", MAX_TILE_RADIUS as f64),
    ("TILE_X", TILE_X as f64),
    ("TILE_COLS", TILE_COLS as f64),
    ("TILE_THREAD_ROWS", TILE_THREAD_ROWS as f64),
    ("TILE_ROWS", TILE_ROWS as f64),
    ("DIRECT_X", DIRECT.0 as f64),
    ("DIRECT_Y", DIRECT.1 as f64),
];

/// How one pass of a gaussian sees the planes: a line of `height` samples `width` apart
/// in each of `planes` planes of `width * height`, placed in the whole image by
/// `origin`/`full` along the line (and `origin_x`/`full_w` across it).
struct Pass {
    axis: Axis,
    width: u32,
    height: u32,
    planes: u32,
    origin: (u32, u32),
    full: (u32, u32),
}

impl Batch<'_> {
    /// Difference of gaussians: `gaussian(low) - gaussian(high)`, subtracted in f32 as
    /// the twin subtracts.
    pub fn dog(&mut self, src: &GpuImage, d: &Dog) -> Result<GpuImage> {
        let (low, high) = d.gaussians()?;
        let a = self.gaussian(src, &low)?;
        let b = self.gaussian(src, &high)?;
        self.subtract_from(&a, &b)?;
        self.free(a.into_buffer());
        Ok(b)
    }

    /// Gaussian filter: axis z (a volume's slices) first, then y, then x.
    pub fn gaussian(&mut self, src: &GpuImage, g: &Gaussian) -> Result<GpuImage> {
        g.validate()?;
        if g.int.applies_to(src.value_type()) {
            return self.gaussian_int(src, g);
        }
        let mut out =
            self.separable_gaussian(src, [Axis::Z, Axis::Y, Axis::X].map(|a| g.kernel(a)))?;
        // Derivatives of odd order: antisymmetric passes after the symmetric ones.
        for (axis, w) in g.antisym(src.window().full_depth > 1) {
            let next = self.antisym(&out, axis, &w)?;
            self.free(std::mem::replace(&mut out, next).into_buffer());
        }
        Ok(out)
    }

    /// Laplacian of a gaussian: per axis, the gaussian with that axis's second
    /// derivative, added up in f32 in axis order (z, y, x), as the twin adds them.
    pub fn log(&mut self, src: &GpuImage, l: &Log) -> Result<GpuImage> {
        let mut sum: Option<GpuImage> = None;
        for kernels in l.terms(src.window().full_depth > 1)? {
            let term = self.separable_gaussian(src, kernels)?;
            sum = Some(match sum {
                None => term,
                Some(s) => {
                    self.add_to(&term, &s)?;
                    self.free(term.into_buffer());
                    s
                }
            });
        }
        Ok(sum.expect("a 2-D image has two axes"))
    }

    /// The separable filter with these kernels along (z, y, x) (`None`: that axis is left
    /// alone; a 2-D image's z always is), into f32 planes.
    pub(super) fn separable_gaussian(
        &mut self,
        src: &GpuImage,
        kernels: [Option<Vec<f32>>; 3],
    ) -> Result<GpuImage> {
        let [kz, ky, kx] = kernels;
        let s = src.shape();
        let win = src.window();
        let passes: Vec<(Pass, Vec<f32>)> = [Axis::Z, Axis::Y, Axis::X]
            .into_iter()
            .filter(|&a| a != Axis::Z || win.full_depth > 1)
            .filter_map(|axis| {
                let pass = match axis {
                    // Slices are the lines' samples: a slice's pixels are its columns.
                    Axis::Z => Pass {
                        axis,
                        width: s.width * s.height,
                        height: s.depth,
                        planes: s.channels,
                        origin: (0, win.z),
                        full: (0, win.full_depth),
                    },
                    _ => Pass {
                        axis,
                        width: s.width,
                        height: s.height,
                        planes: s.channels * s.depth,
                        origin: (win.x, win.y),
                        full: (win.full_width, win.full_height),
                    },
                };
                match axis {
                    Axis::Z => kz.clone(),
                    Axis::Y => ky.clone(),
                    Axis::X => kx.clone(),
                }
                .map(|k| (pass, k))
            })
            .collect();

        self.separable(
            src,
            SampleType::F32,
            passes.len(),
            |batch, i, input, output| {
                let (pass, weights) = &passes[i];
                batch.gaussian_pass(pass, weights, input, output)
            },
        )
    }

    fn gaussian_pass(
        &mut self,
        pass: &Pass,
        weights: &[f32],
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
    ) -> Result<()> {
        let (w, h, c) = (
            u64::from(pass.width),
            u64::from(pass.height),
            u64::from(pass.planes),
        );
        let radius = (weights.len() / 2) as u32;
        // The z pass reads slices far apart: nothing to stage in workgroup memory.
        let tiled = radius <= MAX_TILE_RADIUS && pass.axis != Axis::Z;
        let n = |v: u32| u64::from(v);
        let weights = self.constants(bytemuck::cast_slice(weights))?;
        let params = |x_base: u32| Params {
            width: pass.width,
            height: pass.height,
            radius,
            origin_x: pass.origin.0,
            origin_y: pass.origin.1,
            full_w: pass.full.0,
            full_h: pass.full.1,
            x_base,
        };
        let bind = [(1, input), (2, output)];
        let (kernel, groups) = match (pass.axis, tiled) {
            (Axis::X, true) => (Kernel::GaussHorizontalTiled, [w.div_ceil(n(TILE_X)), h, c]),
            (Axis::Y, true) => (
                Kernel::GaussVerticalTiled,
                [w.div_ceil(n(TILE_COLS)), h.div_ceil(n(TILE_ROWS)), c],
            ),
            (Axis::X, false) => (
                Kernel::GaussHorizontalDirect,
                [w.div_ceil(n(DIRECT.0)), h.div_ceil(n(DIRECT.1)), c],
            ),
            (Axis::Y | Axis::Z, false) => {
                // Columns in chunks of what one dispatch's grid holds.
                let per = u64::from(self.ctx.max_groups()) * n(DIRECT.0);
                let mut x = 0;
                while x < w {
                    let cols = per.min(w - x);
                    let groups = self.ctx.check_groups(
                        "gaussian",
                        [cols.div_ceil(n(DIRECT.0)), h.div_ceil(n(DIRECT.1)), c],
                    )?;
                    self.dispatch_with(
                        Kernel::GaussVerticalDirect,
                        &params(x as u32),
                        &bind,
                        &[(3, weights)],
                        groups,
                    )?;
                    x += cols;
                }
                return Ok(());
            }
            (Axis::Z, true) => unreachable!("the z pass is never tiled"),
        };
        let groups = self.ctx.check_groups("gaussian", groups)?;
        self.dispatch_with(kernel, &params(0), &bind, &[(3, weights)], groups)
    }
}
