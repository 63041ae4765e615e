//! Host side of `shaders/box_blur.wgsl`. Twin: `src/cpu/box_blur.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::{Axis, BoxBlur};
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
    /// The first column this dispatch covers (`vertical` only: the z pass's columns are
    /// a slice's pixels, more than one dispatch's grid holds).
    x_base: u32,
    _pad: [u32; 2],
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
    /// Box filter: axis z (a volume's slices) first, then y, then x; an axis of size 1
    /// is not filtered.
    pub fn box_blur(&mut self, src: &GpuImage, b: &BoxBlur) -> Result<GpuImage> {
        b.validate()?;
        if b.int.applies_to(src.value_type()) {
            return self.box_int(src, b);
        }
        let win = src.window();
        let axes: Vec<Axis> = [Axis::Z, Axis::Y, Axis::X]
            .into_iter()
            .filter(|&a| b.size(a) > 1 && (a != Axis::Z || win.full_depth > 1))
            .collect();
        self.separable(
            src,
            SampleType::F32,
            axes.len(),
            |batch, i, input, output| batch.box_pass(src, b, axes[i], input, output),
        )
    }

    fn box_pass(
        &mut self,
        src: &GpuImage,
        b: &BoxBlur,
        axis: Axis,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
    ) -> Result<()> {
        let s = src.shape();
        let win = src.window();
        let (lo, hi) = b.window(axis);
        // Along z each output sums its own window (a segment of one): a brick's halo
        // along z is then just the window, as on the CPU.
        let seg_len = match axis {
            Axis::Z => 1,
            _ => segment_len(b.size(axis)),
        };
        // The z pass is the vertical one on "rows" of whole slices.
        let (width, height, planes, origin_y, full_h) = match axis {
            Axis::Z => (
                s.width * s.height,
                s.depth,
                s.channels,
                win.z,
                win.full_depth,
            ),
            _ => (
                s.width,
                s.height,
                s.channels * s.depth,
                win.y,
                win.full_height,
            ),
        };
        let params = |x_base: u32| Params {
            width,
            height,
            lo,
            hi,
            seg_len,
            origin_x: win.x,
            origin_y,
            full_w: win.full_width,
            full_h,
            x_base,
            _pad: [0; 2],
        };
        let (w, h, c, seg) = (
            u64::from(width),
            u64::from(height),
            u64::from(planes),
            u64::from(seg_len),
        );
        // Segments of the whole image that meet the window, along each axis.
        let segments =
            |origin: u32, n: u64| (u64::from(origin) + n).div_ceil(seg) - u64::from(origin) / seg;
        let group = u64::from(WORKGROUP);
        let bind = [(1, input), (2, output)];
        if axis == Axis::X {
            let groups = self
                .ctx
                .check_groups("box", [h.div_ceil(group), segments(win.x, w), c])?;
            return self.dispatch(Kernel::BoxHorizontal, &params(0), &bind, groups);
        }
        // Columns in chunks of what one dispatch's grid holds.
        let per = u64::from(self.ctx.max_groups()) * group;
        let mut x = 0;
        while x < w {
            let cols = per.min(w - x);
            let groups = self
                .ctx
                .check_groups("box", [cols.div_ceil(group), segments(origin_y, h), c])?;
            self.dispatch(Kernel::BoxVertical, &params(x as u32), &bind, groups)?;
            x += cols;
        }
        Ok(())
    }
}
