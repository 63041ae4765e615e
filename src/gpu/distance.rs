//! Host side of `shaders/distance.wgsl`: the Euclidean distance transform in separable
//! passes (rows, then columns along y and z, then the roots). Twin:
//! `src/cpu/distance.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::Distance;
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override): a pass has one thread
/// per line, a few thousand of them, so small groups keep every core busy.
const WORKGROUP: u32 = 64;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

const SCRATCH: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE;

/// Keep in sync with `Params` in shaders/distance.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    depth: u32,
    lines: u32,
    row_pitch: u32,
    len: u32,
    stride: u32,
    inner: u32,
    outer: u32,
    exact: u32,
    weight: f32,
    scale: f32,
    wz: f32,
    wy: f32,
    wx: f32,
    _pad: u32,
}

impl Batch<'_> {
    /// The distance of every foreground sample to the nearest background one.
    pub fn distance(&mut self, src: &GpuImage, d: &Distance) -> Result<GpuImage> {
        d.validate()?;
        let s = src.shape();
        let n = s.samples_u64();
        // Squared distances (and the envelope's sums of them) are i32 in the shader.
        let sides = [s.width, s.height, s.depth].map(|v| u64::from(v) * u64::from(v));
        let needed: u64 = sides.iter().sum();
        if needed > i32::MAX as u64 {
            return Err(Error::TooLarge {
                what: format!("the distance transform of a {s} image (squared sides summed)"),
                limit: "i32 squared distances",
                needed,
                allowed: i32::MAX as u64,
                adapter: self.ctx.adapter().name.clone(),
            });
        }
        let exact = d.isotropic(s.depth);
        let [wz, wy, wx] = crate::cpu::distance::weights(d);
        let base = Params {
            width: s.width,
            height: s.height,
            depth: s.depth,
            exact: u32::from(exact.is_some()),
            scale: exact.unwrap_or(1.0) as f32,
            wz,
            wy,
            wx,
            ..Params::default()
        };
        let g = self.buffer("distance.g", n * 4, SCRATCH)?;
        let rows = n / u64::from(s.width);
        let (grid, row_pitch) = self.ctx.grid_1d("distance", rows, WORKGROUP)?;
        let p = Params {
            lines: rows as u32,
            row_pitch,
            weight: wx,
            ..base
        };
        self.dispatch(
            Kernel::DistanceRows,
            &p,
            &[(1, src.buffer()), (3, &g)],
            grid,
        )?;
        let slice = s.width * s.height;
        // Along y: the columns of each slice; along z: of each plane's slices.
        let passes = [
            (s.height, s.width, s.width, slice, wy),
            (s.depth, slice, slice, slice * s.depth, wz),
        ];
        let live: Vec<_> = passes.into_iter().filter(|p| p.0 > 1).collect();
        if !live.is_empty() {
            let sv = self.buffer("distance.s", n * 4, SCRATCH)?;
            let tv = self.buffer("distance.t", n * 4, SCRATCH)?;
            let gs = self.buffer("distance.gs", n * 4, SCRATCH)?;
            for (len, stride, inner, outer, weight) in live {
                let lines = n / u64::from(len);
                let (grid, row_pitch) = self.ctx.grid_1d("distance", lines, WORKGROUP)?;
                let p = Params {
                    lines: lines as u32,
                    row_pitch,
                    len,
                    stride,
                    inner,
                    outer,
                    weight,
                    ..base
                };
                self.dispatch(
                    Kernel::DistanceColumns,
                    &p,
                    &[(3, &g), (4, &sv), (5, &tv), (6, &gs)],
                    grid,
                )?;
            }
            self.free(sv);
            self.free(tv);
            self.free(gs);
        }
        let out = self.planes_like("distance", src, SampleType::F32)?;
        let (grid, row_pitch) = self.ctx.grid_1d("distance", n, WORKGROUP)?;
        let p = Params {
            lines: n as u32,
            row_pitch,
            ..base
        };
        self.dispatch(
            Kernel::DistanceFinish,
            &p,
            &[(2, out.buffer()), (3, &g)],
            grid,
        )?;
        self.free(g);
        Ok(out)
    }
}
