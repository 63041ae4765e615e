//! Host side of `shaders/gaussian.wgsl`. Twin: `src/cpu/gaussian.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::{Axis, Gaussian};
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
    _pad: u32,
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

impl Batch<'_> {
    /// Gaussian filter, axis 0 then axis 1.
    pub fn gaussian(&mut self, src: &GpuImage, g: &Gaussian) -> Result<GpuImage> {
        g.validate()?;
        if g.int.applies_to(src.value_type()) {
            return self.gaussian_int(src, g);
        }
        let passes: Vec<(Axis, Vec<f32>)> = [Axis::Y, Axis::X]
            .into_iter()
            .filter_map(|a| g.kernel(a).map(|k| (a, k)))
            .collect();

        let out = self.planes_like("gaussian", src, SampleType::F32)?;
        let tmp = match passes.len() {
            2 => Some(self.planes_like("gaussian.tmp", src, SampleType::F32)?),
            _ => None,
        };
        for (i, (axis, weights)) in passes.iter().enumerate() {
            let input = match (i, &tmp) {
                (0, _) | (_, None) => src.buffer(),
                (_, Some(t)) => t.buffer(),
            };
            let output = match (&tmp, i + 1 == passes.len()) {
                (Some(t), false) => t.buffer(),
                _ => out.buffer(),
            };
            self.gaussian_pass(src, *axis, weights, input, output)?;
        }
        if let Some(t) = tmp {
            self.free(t.into_buffer());
        }
        Ok(out)
    }

    fn gaussian_pass(
        &mut self,
        src: &GpuImage,
        axis: Axis,
        weights: &[f32],
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
    ) -> Result<()> {
        let s = src.shape();
        let (w, h, c) = (
            u64::from(s.width),
            u64::from(s.height),
            u64::from(s.channels),
        );
        let radius = (weights.len() / 2) as u32;
        let tiled = radius <= MAX_TILE_RADIUS;
        let n = |v: u32| u64::from(v);
        let (kernel, groups) = match (axis, tiled) {
            (Axis::X, true) => (Kernel::GaussHorizontalTiled, [w.div_ceil(n(TILE_X)), h, c]),
            (Axis::Y, true) => (
                Kernel::GaussVerticalTiled,
                [w.div_ceil(n(TILE_COLS)), h.div_ceil(n(TILE_ROWS)), c],
            ),
            (Axis::X, false) => (
                Kernel::GaussHorizontalDirect,
                [w.div_ceil(n(DIRECT.0)), h.div_ceil(n(DIRECT.1)), c],
            ),
            (Axis::Y, false) => (
                Kernel::GaussVerticalDirect,
                [w.div_ceil(n(DIRECT.0)), h.div_ceil(n(DIRECT.1)), c],
            ),
        };
        let groups = self.ctx.check_groups("gaussian", groups)?;
        let weights = self.constants(bytemuck::cast_slice(weights))?;
        let win = src.window();
        let params = Params {
            width: s.width,
            height: s.height,
            radius,
            origin_x: win.x,
            origin_y: win.y,
            full_w: win.full_width,
            full_h: win.full_height,
            _pad: 0,
        };
        self.dispatch_with(
            kernel,
            &params,
            &[(1, input), (2, output)],
            &[(3, weights)],
            groups,
        )
    }
}
