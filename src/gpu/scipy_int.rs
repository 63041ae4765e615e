//! Host side of `shaders/gaussian_int.wgsl` and `shaders/box_int.wgsl`, scipy's integer
//! path (`int=scipy`). Twin: `src/cpu/scipy_int.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::ops::{Axis, BoxBlur, Gaussian};
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};

/// Keep in sync with `Params` in shaders/gaussian_int.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct GaussParams {
    width: u32,
    height: u32,
    radius: u32,
    origin_x: u32,
    origin_y: u32,
    full_w: u32,
    full_h: u32,
    lo: i32,
    hi: i32,
    opaque: u32,
    _pad: [u32; 2],
}

/// Keep in sync with `Params` in shaders/box_int.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct BoxParams {
    width: u32,
    height: u32,
    lo: u32,
    hi: u32,
    origin_x: u32,
    origin_y: u32,
    full_w: u32,
    full_h: u32,
}

/// Workgroup of both shaders: a row of 64 threads reads 64 adjacent samples.
const WORKGROUP: (u32, u32) = (64, 4);

/// Both shaders' override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[
    ("WORKGROUP_X", WORKGROUP.0 as f64),
    ("WORKGROUP_Y", WORKGROUP.1 as f64),
];

impl Batch<'_> {
    /// Gaussian filter on integer levels, scipy's integer path: axis 0 then axis 1.
    pub fn gaussian_int(&mut self, src: &GpuImage, g: &Gaussian) -> Result<GpuImage> {
        crate::ops::Op::Gaussian(*g).check_shape(src.shape())?;
        if !self.ctx.inner.f64 {
            return Err(Error::NeedsFeature {
                what: "gaussian with int=scipy".into(),
                feature: "SHADER_F64",
                adapter: self.ctx.name().to_string(),
            });
        }
        let (lo, hi) = int_range(src)?;
        let passes: Vec<(Kernel, Vec<f64>)> = [
            (Kernel::GaussIntVertical, Axis::Y),
            (Kernel::GaussIntHorizontal, Axis::X),
        ]
        .into_iter()
        .filter_map(|(k, a)| g.kernel64(a).map(|w| (k, w)))
        .collect();
        let win = src.window();
        let s = src.shape();
        self.separable(
            src,
            src.value_type(),
            passes.len(),
            |batch, i, input, output| {
                let (kernel, weights) = &passes[i];
                let weights = batch.constants(bytemuck::cast_slice(weights))?;
                let params = GaussParams {
                    width: s.width,
                    height: s.height,
                    radius: (passes[i].1.len() / 2) as u32,
                    origin_x: win.x,
                    origin_y: win.y,
                    full_w: win.full_width,
                    full_h: win.full_height,
                    lo,
                    hi,
                    opaque: 0,
                    _pad: [0; 2],
                };
                let groups = batch.int_groups(src)?;
                batch.dispatch_with(
                    *kernel,
                    &params,
                    &[(1, input), (2, output)],
                    &[(3, weights)],
                    groups,
                )
            },
        )
    }

    /// Box filter on integer levels, scipy's integer path: axis 0 then axis 1 (2-D: see
    /// [`crate::Op::check_shape`]).
    pub fn box_int(&mut self, src: &GpuImage, b: &BoxBlur) -> Result<GpuImage> {
        crate::ops::Op::Box(*b).check_shape(src.shape())?;
        int_range(src)?;
        let win = src.window();
        let s = src.shape();
        let params = |axis| {
            let (lo, hi) = b.window(axis);
            BoxParams {
                width: s.width,
                height: s.height,
                lo,
                hi,
                origin_x: win.x,
                origin_y: win.y,
                full_w: win.full_width,
                full_h: win.full_height,
            }
        };
        let passes = [
            (Kernel::BoxIntVertical, params(Axis::Y)),
            (Kernel::BoxIntHorizontal, params(Axis::X)),
        ];
        self.separable(src, src.value_type(), 2, |batch, i, input, output| {
            let groups = batch.int_groups(src)?;
            let (kernel, params) = &passes[i];
            batch.dispatch(*kernel, params, &[(1, input), (2, output)], groups)
        })
    }

    fn int_groups(&self, src: &GpuImage) -> Result<[u32; 3]> {
        let s = src.shape();
        self.ctx.check_groups(
            "int",
            [
                u64::from(s.width).div_ceil(u64::from(WORKGROUP.0)),
                u64::from(s.height).div_ceil(u64::from(WORKGROUP.1)),
                u64::from(s.channels),
            ],
        )
    }
}

/// The range of `src`'s integer value type, which must be an 8- or 16-bit one.
fn int_range(src: &GpuImage) -> Result<(i32, i32)> {
    let t = src.value_type();
    match t.range() {
        Some((lo, hi)) if t.is_small_integer() => Ok((lo as i32, hi as i32)),
        _ => Err(Error::param(
            "int",
            "int",
            format!("int=scipy runs on 8- or 16-bit integer levels, not {t}"),
        )),
    }
}
