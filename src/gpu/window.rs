//! Host side of `shaders/window.wgsl`: the inner part of a tile, cropped into compact
//! planes. Twin: [`crate::cpu::Planes::crop`].

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::Rect;
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 256;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

/// Keep in sync with `Params` in shaders/window.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    x0: u32,
    y0: u32,
    crop_w: u32,
    crop_h: u32,
    samples: u32,
    row_pitch: u32,
    depth: u32,
    z0: u32,
    crop_d: u32,
    _pad: u32,
}

impl Batch<'_> {
    /// The `rect` (a box of slices for a volume) of `src`'s planes, as compact planes at
    /// that place of the whole image.
    pub fn crop(&mut self, src: &GpuImage, rect: Rect) -> Result<GpuImage> {
        let s = src.shape();
        if !rect.fits(s) {
            return Err(Error::usage(format!(
                "crop {rect:?} does not fit a {s} window"
            )));
        }
        let shape = rect.shape(s.channels);
        let out = self.planes("crop", shape, src.value_type(), src.window().crop(rect))?;
        let n = shape.samples_u64();
        let (groups, row_pitch) = self.ctx.grid_1d("crop", n, WORKGROUP)?;
        let params = Params {
            width: s.width,
            height: s.height,
            x0: rect.x,
            y0: rect.y,
            crop_w: rect.width,
            crop_h: rect.height,
            samples: n as u32,
            row_pitch,
            depth: s.depth,
            z0: rect.z,
            crop_d: rect.depth,
            _pad: 0,
        };
        self.dispatch(
            Kernel::Crop,
            &params,
            &[(1, src.buffer()), (2, out.buffer())],
            groups,
        )?;
        Ok(out)
    }
}
