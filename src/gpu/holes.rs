//! Host side of `shaders/holes.wgsl`: filling small holes
//! (`skimage.morphology.remove_small_holes`) as skimage computes it, removing small
//! objects (`label.wgsl`) from the mask's inverse and inverting the result back. Twin:
//! `remove_holes` in `src/cpu/label/mod.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::RemoveHoles;
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 256;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

/// Keep in sync with `Params` in shaders/holes.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
    samples: u32,
    row_pitch: u32,
    _pad0: u32,
    _pad1: u32,
}

impl Batch<'_> {
    /// `remove_small_holes(x != 0, max_size, connectivity)` as a 0/255 mask:
    /// `~remove_small_objects(~mask)`.
    pub fn remove_holes(&mut self, src: &GpuImage, r: &RemoveHoles) -> Result<GpuImage> {
        r.validate()?;
        let inverse = self.invert(src)?;
        let kept = self.remove_small(&inverse, &r.on_inverse())?;
        self.free(inverse.into_buffer());
        let out = self.invert(&kept)?;
        self.free(kept.into_buffer());
        Ok(out)
    }

    /// `logical_not(x)` as a 0/255 mask.
    fn invert(&mut self, src: &GpuImage) -> Result<GpuImage> {
        let n = src.shape().samples_u64();
        let (grid, row_pitch) = self.ctx.grid_1d("holes", n, WORKGROUP)?;
        let params = Params {
            samples: n as u32,
            row_pitch,
            _pad0: 0,
            _pad1: 0,
        };
        let out = self.planes_like("holes", src, SampleType::U8)?;
        self.dispatch(
            Kernel::HolesInvert,
            &params,
            &[(1, src.buffer()), (2, out.buffer())],
            grid,
        )?;
        Ok(out)
    }
}
