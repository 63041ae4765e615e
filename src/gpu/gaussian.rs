//! Host side of `shaders/gaussian.wgsl`. Twin: `src/cpu/gaussian.rs`.

use super::pipelines::Kernel;
use super::{Batch, GpuContext, GpuImage};
use crate::image::SampleType;
use crate::ops::{Axis, Gaussian};
use crate::Result;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Keep in sync with `Params` in shaders/gaussian.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Params {
    width: u32,
    height: u32,
    radius: u32,
    _pad: u32,
}

// Keep in sync with the constants of shaders/gaussian.wgsl.
const MAX_TILE_RADIUS: u32 = 64;
const TILE_X: u64 = 256;
const TILE_COLS: u64 = 16;
const TILE_ROWS: u64 = 64;
/// Workgroup of the direct kernels: 64 x 4.
const DIRECT: (u64, u64) = (64, 4);

impl GpuContext {
    /// Gaussian filter, axis 0 then axis 1; both passes go in one submit.
    pub fn gaussian(&self, src: &GpuImage, g: &Gaussian) -> Result<GpuImage> {
        g.validate()?;
        let passes: Vec<(Axis, Vec<f32>)> = [Axis::Y, Axis::X]
            .into_iter()
            .filter_map(|a| g.kernel(a).map(|k| (a, k)))
            .collect();
        let shape = src.shape();
        let out = self.new_planes("gaussian", shape, SampleType::F32)?;
        let tmp = match passes.len() {
            2 => Some(self.new_planes("gaussian.tmp", shape, SampleType::F32)?),
            _ => None,
        };
        let mut batch = self.batch("imflow.gaussian");
        for (i, (axis, weights)) in passes.iter().enumerate() {
            let input = match (i, &tmp) {
                (0, _) | (_, None) => src.buffer(),
                (_, Some(t)) => t.buffer(),
            };
            let output = match (&tmp, i + 1 == passes.len()) {
                (Some(t), false) => t.buffer(),
                _ => out.buffer(),
            };
            self.gaussian_pass(&mut batch, src, *axis, weights, input, output)?;
        }
        if let Some(t) = tmp {
            batch.retire(t.into_buffer());
        }
        batch.submit()?;
        Ok(out)
    }

    fn gaussian_pass(
        &self,
        batch: &mut Batch<'_>,
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
        let (kernel, groups) = match (axis, tiled) {
            (Axis::X, true) => (Kernel::GaussHorizontalTiled, [w.div_ceil(TILE_X), h, c]),
            (Axis::Y, true) => (
                Kernel::GaussVerticalTiled,
                [w.div_ceil(TILE_COLS), h.div_ceil(TILE_ROWS), c],
            ),
            (Axis::X, false) => (
                Kernel::GaussHorizontalDirect,
                [w.div_ceil(DIRECT.0), h.div_ceil(DIRECT.1), c],
            ),
            (Axis::Y, false) => (
                Kernel::GaussVerticalDirect,
                [w.div_ceil(DIRECT.0), h.div_ceil(DIRECT.1), c],
            ),
        };
        let groups = self.check_groups("gaussian", groups)?;
        let weights = self
            .inner
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("imflow.gaussian.weights"),
                contents: bytemuck::cast_slice(weights),
                usage: wgpu::BufferUsages::STORAGE,
            });
        let params = Params {
            width: s.width,
            height: s.height,
            radius,
            _pad: 0,
        };
        batch.dispatch(
            kernel,
            &params,
            &[(1, input), (2, output), (3, &weights)],
            groups,
        )
    }
}
