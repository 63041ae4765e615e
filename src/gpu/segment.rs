//! Host side of `shaders/segment.wgsl`: filling holes and clearing the border, from the
//! components that touch the border. Twin: `src/cpu/segment.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 256;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

const SCRATCH: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_DST);

/// Keep in sync with `Params` in shaders/segment.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    depth: u32,
    samples: u32,
    row_pitch: u32,
    connectivity: u32,
    mode: u32,
    _pad: u32,
}

impl Batch<'_> {
    /// `binary_fill_holes(x != 0)` as a 0/255 mask.
    pub fn fill_holes(&mut self, src: &GpuImage) -> Result<GpuImage> {
        self.border_components(src, 0, 1, SampleType::U8)
    }

    /// `clear_border(x)`: objects touching the border set to 0.
    pub fn clear_border(&mut self, src: &GpuImage) -> Result<GpuImage> {
        let full = if src.shape().is_volume() { 3 } else { 2 };
        self.border_components(src, 1, full, src.value_type())
    }

    fn border_components(
        &mut self,
        src: &GpuImage,
        mode: u32,
        connectivity: u32,
        value_type: SampleType,
    ) -> Result<GpuImage> {
        let s = src.shape();
        let n = s.samples_u64();
        let (grid, row_pitch) = self.ctx.grid_1d("segment", n, WORKGROUP)?;
        let params = Params {
            width: s.width,
            height: s.height,
            depth: s.depth,
            samples: n as u32,
            row_pitch,
            connectivity,
            mode,
            _pad: 0,
        };
        let parent = self.buffer("segment.parent", n * 4, SCRATCH)?;
        let touched = self.buffer("segment.touched", n * 4, SCRATCH)?;
        self.encoder.clear_buffer(&touched, 0, None);
        self.dispatch(Kernel::SegmentInit, &params, &[(3, &parent)], grid)?;
        self.dispatch(
            Kernel::SegmentUnite,
            &params,
            &[(1, src.buffer()), (3, &parent)],
            grid,
        )?;
        self.dispatch(Kernel::SegmentCompress, &params, &[(3, &parent)], grid)?;
        self.dispatch(
            Kernel::SegmentTouch,
            &params,
            &[(1, src.buffer()), (3, &parent), (4, &touched)],
            grid,
        )?;
        let out = self.planes_like("segment", src, value_type)?;
        self.dispatch(
            Kernel::SegmentWrite,
            &params,
            &[
                (1, src.buffer()),
                (2, out.buffer()),
                (3, &parent),
                (4, &touched),
            ],
            grid,
        )?;
        self.free(parent);
        self.free(touched);
        Ok(out)
    }
}
