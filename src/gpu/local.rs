//! Host side of `shaders/local.wgsl`: the local threshold (skimage's `threshold_local`
//! with method='gaussian'). Twin: `local` in `src/cpu/threshold.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::Threshold;
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 256;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

/// Keep in sync with `Params` in shaders/local.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
    samples: u32,
    row_pitch: u32,
    offset: f32,
    _pad: u32,
}

impl Batch<'_> {
    /// `x > gaussian(x) - offset` as a 0/255 mask, the gaussian of sigma `(block-1)/6`
    /// along every axis the whole image has; the mask is written over the blur.
    pub fn local_threshold(&mut self, src: &GpuImage, block: u32, offset: f64) -> Result<GpuImage> {
        let g = Threshold::local_gaussian(block, src.window().full_depth);
        let blur = self.gaussian(src, &g)?;
        let n = src.shape().samples_u64();
        let (grid, row_pitch) = self.ctx.grid_1d("threshold", n, WORKGROUP)?;
        let params = Params {
            samples: n as u32,
            row_pitch,
            offset: offset as f32,
            _pad: 0,
        };
        self.dispatch(
            Kernel::LocalCompare,
            &params,
            &[(1, src.buffer()), (2, blur.buffer())],
            grid,
        )?;
        Ok(GpuImage {
            buffer: blur.into_buffer(),
            shape: src.shape(),
            value_type: SampleType::U8,
            window: src.window(),
        })
    }
}
