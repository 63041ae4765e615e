//! Host side of `shaders/box_blur.wgsl`. Twin: `src/cpu/box_blur.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::BoxBlur;
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Keep in sync with `Params` in shaders/box_blur.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    lo: u32,
    hi: u32,
    seg_len: u32,
    origin_x: u32,
    origin_y: u32,
    full_w: u32,
    full_h: u32,
    _pad: [u32; 3],
}

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 64;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];
/// Outputs per thread, at least the window so the first sum is amortised.
const MIN_SEGMENT: u32 = 64;

/// Outputs per running sum (one thread) for a box of `size`: segments start at
/// multiples of this in the whole image, so a tile's halo must reach back this far.
pub(crate) fn segment_len(size: u32) -> u32 {
    size.max(MIN_SEGMENT)
}

impl Batch<'_> {
    /// Box filter, axis 0 then axis 1.
    pub fn box_blur(&mut self, src: &GpuImage, b: &BoxBlur) -> Result<GpuImage> {
        b.validate()?;
        if b.int.applies_to(src.value_type()) {
            return self.box_int(src, b);
        }
        let s = src.shape();
        let out = self.planes_like("box", src, SampleType::F32)?;
        if b.size == 1 {
            self.encoder.copy_buffer_to_buffer(
                src.buffer(),
                0,
                out.buffer(),
                0,
                s.samples_u64() * 4,
            );
            return Ok(out);
        }
        let tmp = self.planes_like("box.tmp", src, SampleType::F32)?;
        let (lo, hi) = b.window();
        let seg_len = segment_len(b.size);
        let win = src.window();
        let params = Params {
            width: s.width,
            height: s.height,
            lo,
            hi,
            seg_len,
            origin_x: win.x,
            origin_y: win.y,
            full_w: win.full_width,
            full_h: win.full_height,
            _pad: [0; 3],
        };
        let (w, h, c, seg) = (
            u64::from(s.width),
            u64::from(s.height),
            u64::from(s.channels),
            u64::from(seg_len),
        );
        // Segments of the whole image that meet the window, along each axis.
        let segments =
            |origin: u32, n: u64| (u64::from(origin) + n).div_ceil(seg) - u64::from(origin) / seg;
        let group = u64::from(WORKGROUP);
        let v = self
            .ctx
            .check_groups("box", [w.div_ceil(group), segments(win.y, h), c])?;
        self.dispatch(
            Kernel::BoxVertical,
            &params,
            &[(1, src.buffer()), (2, tmp.buffer())],
            v,
        )?;
        let hz = self
            .ctx
            .check_groups("box", [h.div_ceil(group), segments(win.x, w), c])?;
        self.dispatch(
            Kernel::BoxHorizontal,
            &params,
            &[(1, tmp.buffer()), (2, out.buffer())],
            hz,
        )?;
        self.free(tmp.into_buffer());
        Ok(out)
    }
}
