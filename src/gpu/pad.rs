//! Host side of `shaders/pad.wgsl`, and the filters with a boundary mode: the reflect
//! filter of the planes padded by the mode, cropped (see
//! [`crate::ops::Boundary`]'s module). Twin: [`crate::cpu::pad`] and `cpu::apply_ref`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::cpu::pad::{inner, padded_window};
use crate::image::SampleType;
use crate::image::Shape;
use crate::ops::{Axis, Boundary, Combine, Op, Reach};
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 256;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

/// Keep in sync with `Params` in shaders/pad.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    depth: u32,
    pad_x: u32,
    pad_y: u32,
    pad_z: u32,
    origin_x: u32,
    origin_y: u32,
    origin_z: u32,
    full_w: u32,
    full_h: u32,
    full_d: u32,
    mode_x: u32,
    mode_y: u32,
    mode_z: u32,
    cval: f32,
    samples: u32,
    row_pitch: u32,
    _pad: [u32; 2],
}

impl Batch<'_> {
    /// `src` padded by `by` on both sides of each axis with samples of `boundary`'s mode:
    /// a window, at the same origin, of a whole image larger by `2 * by`.
    pub fn pad(&mut self, src: &GpuImage, by: Reach, boundary: Boundary) -> Result<GpuImage> {
        let s = src.shape();
        let w = src.window();
        let grow = |n: u32, by: u32| {
            n.checked_add(by.saturating_mul(2))
                .ok_or_else(|| Error::usage(format!("padding {n} samples by {by} overflows")))
        };
        let shape = Shape {
            width: grow(s.width, by.x)?,
            height: grow(s.height, by.y)?,
            depth: grow(s.depth, by.z)?,
            channels: s.channels,
        };
        let window = padded_window(w, by);
        let out = self.planes("pad", shape, src.value_type(), window)?;
        let n = shape.samples_u64();
        let (groups, row_pitch) = self.ctx.grid_1d("pad", n, WORKGROUP)?;
        let params = Params {
            width: s.width,
            height: s.height,
            depth: s.depth,
            pad_x: by.x,
            pad_y: by.y,
            pad_z: by.z,
            origin_x: w.x,
            origin_y: w.y,
            origin_z: w.z,
            full_w: w.full_width,
            full_h: w.full_height,
            full_d: w.full_depth,
            mode_x: boundary.mode.along(Axis::X).code(),
            mode_y: boundary.mode.along(Axis::Y).code(),
            mode_z: boundary.mode.along(Axis::Z).code(),
            cval: boundary.cval as f32,
            samples: n as u32,
            row_pitch,
            _pad: [0; 2],
        };
        self.dispatch(
            Kernel::Pad,
            &params,
            &[(1, src.buffer()), (2, out.buffer())],
            groups,
        )?;
        Ok(out)
    }

    /// A local filter (gaussian, box, median, dog, log, gradient) of `src` with its
    /// boundary mode.
    pub fn filter(&mut self, src: &GpuImage, op: &Op) -> Result<GpuImage> {
        if let Some((combine, terms)) = op.by_passes(src.window().full_depth > 1) {
            return self.by_passes(src, combine, &terms);
        }
        if let Some((boundary, reflected, by)) =
            op.padded(src.window().full_depth > 1, src.value_type())
        {
            let padded = self.pad(src, by, boundary)?;
            let out = self.filter(&padded, &reflected)?;
            self.free(padded.into_buffer());
            let mut cropped = self.crop(&out, inner(out.shape(), by))?;
            self.free(out.into_buffer());
            cropped.window = src.window();
            return Ok(cropped);
        }
        match op {
            Op::Gaussian(g) => self.gaussian(src, g),
            Op::Box(b) => self.box_blur(src, b),
            Op::Median(m) => self.median(src, m),
            Op::Dog(d) => self.dog(src, d),
            Op::Log(l) => self.log(src, l),
            Op::Gradient(g) => self.gradient(src, g),
            op => Err(Error::usage(format!(
                "`{}` is not a local filter",
                op.name()
            ))),
        }
    }

    /// [`Op::by_passes`]'s terms, each chain run op by op, combined in order in f32 as
    /// the twin combines them.
    fn by_passes(
        &mut self,
        src: &GpuImage,
        combine: Combine,
        terms: &[Vec<Op>],
    ) -> Result<GpuImage> {
        let mut acc: Option<GpuImage> = None;
        for chain in terms {
            let mut term: Option<GpuImage> = None;
            for op in chain {
                let next = self.filter(term.as_ref().unwrap_or(src), op)?;
                if let Some(old) = term.replace(next) {
                    self.free(old.into_buffer());
                }
            }
            // `by_passes` gives no empty chain; one would be a bug, not bad input.
            let term = term.ok_or_else(|| Error::usage("a filter term with no pass"))?;
            acc = Some(match (acc, combine) {
                (None, Combine::RootSumSquares) => {
                    let sum = self.planes_like("filter.sum", &term, SampleType::F32)?;
                    self.square_sum(&term, &sum, true)?;
                    self.free(term.into_buffer());
                    sum
                }
                (None, _) => term,
                (Some(a), Combine::Sum) => {
                    self.add_to(&term, &a)?;
                    self.free(term.into_buffer());
                    a
                }
                (Some(a), Combine::Difference) => {
                    // term = a - term
                    self.subtract_from(&a, &term)?;
                    self.free(a.into_buffer());
                    term
                }
                (Some(a), Combine::RootSumSquares) => {
                    self.square_sum(&term, &a, false)?;
                    self.free(term.into_buffer());
                    a
                }
            });
        }
        let out = acc.ok_or_else(|| Error::usage("a filter with no term"))?;
        if combine == Combine::RootSumSquares {
            self.root(&out)?;
        }
        Ok(out)
    }
}
