//! Host side of `shaders/derivative.wgsl`: the gaussian gradient magnitude.
//! Twin: `src/cpu/derivative.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::{Axis, Gradient};
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 64;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

const FLAG_FIRST: u32 = 1;

/// Keep in sync with `Params` in shaders/derivative.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    depth: u32,
    samples: u32,
    row_pitch: u32,
    axis: u32,
    radius: u32,
    origin: u32,
    full: u32,
    flags: u32,
    _pad: [u32; 2],
}

impl Batch<'_> {
    /// `scipy.ndimage.gaussian_gradient_magnitude`: per axis, the gaussian along the
    /// others and the order-1 derivative along it, squared and summed in axis order,
    /// then the square root.
    pub fn gradient(&mut self, src: &GpuImage, g: &Gradient) -> Result<GpuImage> {
        let volume = src.window().full_depth > 1;
        let out = self.planes_like("gradient", src, SampleType::F32)?;
        for (k, (axis, kernels, d1)) in g.terms(volume)?.into_iter().enumerate() {
            let smooth = self.separable_gaussian(src, kernels)?;
            let term = self.antisym(&smooth, axis, &d1)?;
            self.square_sum(&term, &out, k == 0)?;
            self.free(smooth.into_buffer());
            self.free(term.into_buffer());
        }
        self.root(&out)?;
        Ok(out)
    }

    /// `out[x] = sum_{j=1..r} w[r+j] * (in[x+j] - in[x-j])` along `axis` (`w`
    /// antisymmetric, `2r+1` taps), reflected at the whole image's edge: a gaussian
    /// derivative of odd order along one axis. New planes like `src`.
    pub(super) fn antisym(&mut self, src: &GpuImage, axis: Axis, w: &[f32]) -> Result<GpuImage> {
        let win = src.window();
        let (grid, base) = self.elementwise(src)?;
        let (a, origin, full) = match axis {
            Axis::Z => (0, win.z, win.full_depth),
            Axis::Y => (1, win.y, win.full_height),
            Axis::X => (2, win.x, win.full_width),
        };
        let out = self.planes_like("antisym", src, SampleType::F32)?;
        let slot = self.constants(bytemuck::cast_slice(w))?;
        let params = Params {
            axis: a,
            radius: (w.len() / 2) as u32,
            origin,
            full,
            ..base
        };
        self.dispatch_with(
            Kernel::Antisym,
            &params,
            &[(1, src.buffer()), (2, out.buffer())],
            &[(3, slot)],
            grid,
        )?;
        Ok(out)
    }

    /// `sum = term²` (`first`) or `sum += term²`, in f32, sample by sample.
    pub(super) fn square_sum(
        &mut self,
        term: &GpuImage,
        sum: &GpuImage,
        first: bool,
    ) -> Result<()> {
        let (grid, base) = self.elementwise(term)?;
        let flags = if first { FLAG_FIRST } else { 0 };
        self.dispatch(
            Kernel::SquareSum,
            &Params { flags, ..base },
            &[(1, term.buffer()), (2, sum.buffer())],
            grid,
        )
    }

    /// `x = sqrt(x)` of every sample, in place.
    pub(super) fn root(&mut self, x: &GpuImage) -> Result<()> {
        let (grid, base) = self.elementwise(x)?;
        self.dispatch(Kernel::Root, &base, &[(2, x.buffer())], grid)
    }

    /// The grid and the parameters every derivative kernel shares for `x` (one thread
    /// a sample).
    fn elementwise(&mut self, x: &GpuImage) -> Result<([u32; 3], Params)> {
        let s = x.shape();
        let n = s.samples_u64();
        let (grid, row_pitch) = self.ctx.grid_1d("derivative", n, WORKGROUP)?;
        Ok((
            grid,
            Params {
                width: s.width,
                height: s.height,
                depth: s.depth,
                samples: n as u32,
                row_pitch,
                ..Params::default()
            },
        ))
    }
}
