//! The GPU backend: device and adapter ([`GpuContext`]), pipelines, the buffer pool, the
//! recording of a frame's commands ([`batch`]), and the host side of each kernel family
//! (one module per `shaders/*.wgsl`).
//!
//! Images live on the GPU as [`GpuImage`]s: f32 planes, one per channel, in one pooled
//! storage buffer. The engine records a frame's whole chain into one batch and submits it
//! once; the methods on [`GpuContext`] below are the same kernels one call at a time, for
//! embedders that hold resident images themselves.

pub(crate) mod batch;
mod box_blur;
mod context;
pub(crate) mod convert;
mod derivative;
mod distance;
mod expand;
mod gaussian;
mod holes;
mod label;
mod local;
mod pad;
mod pipelines;
mod pool;
mod rank;
mod scipy_int;
mod segment;
mod threshold;
mod window;

#[cfg(test)]
mod layout_tests;

pub use context::{adapters, auto_pick, AdapterSummary, GpuContext, GpuOptions};
pub use pool::{GpuStats, PooledBuffer};
pub(crate) use threshold::{PendingReduction, PendingThreshold};

use crate::image::{Image, SampleType, Shape, Window};
use crate::ops::{BoxBlur, Gaussian, Op, Threshold};
use crate::Result;

/// An image resident on the GPU: f32 planes (plane `c` at `c * width * height`).
#[derive(Debug)]
pub struct GpuImage {
    buffer: PooledBuffer,
    shape: Shape,
    value_type: SampleType,
    window: Window,
}

impl GpuImage {
    /// Width, height, channels.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// What the values are (see [`crate::cpu::Planes::value_type`]).
    pub fn value_type(&self) -> SampleType {
        self.value_type
    }

    /// Where these planes sit in the whole image.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Bytes of GPU memory the planes occupy.
    pub fn gpu_bytes(&self) -> u64 {
        self.buffer.size()
    }

    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Gives up the buffer (to free it into a recording).
    pub(crate) fn into_buffer(self) -> PooledBuffer {
        self.buffer
    }
}

/// Usage of every plane buffer, one set so the pool can reuse any of them for any op.
pub(crate) const PLANES: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// One kernel at a time on resident images: each call is one submit (and a download or
/// an Otsu threshold one wait). The engine ([`crate::engine`]) records whole chains
/// instead; use these to hold GPU images across calls yourself.
impl GpuContext {
    /// Uploads an image in its own sample type and widens it to f32 planes on the GPU.
    pub fn upload(&self, image: &Image) -> Result<GpuImage> {
        let mut batch = self.batch("imflow.upload");
        let planes = batch.upload(
            image.view(),
            image.sample_type(),
            Window::whole(image.shape()),
        )?;
        batch.submit()?;
        Ok(planes)
    }

    /// Gaussian filter of a resident image.
    pub fn gaussian(&self, src: &GpuImage, g: &Gaussian) -> Result<GpuImage> {
        let mut batch = self.batch("imflow.gaussian");
        let out = batch.filter(src, &Op::Gaussian(*g))?;
        batch.submit()?;
        Ok(out)
    }

    /// Box filter of a resident image.
    pub fn box_blur(&self, src: &GpuImage, b: &BoxBlur) -> Result<GpuImage> {
        let mut batch = self.batch("imflow.box");
        let out = batch.filter(src, &Op::Box(*b))?;
        batch.submit()?;
        Ok(out)
    }

    /// `x > t` as a 0/255 mask, and the threshold used (Otsu's is read back: 4 bytes;
    /// the other methods' are found on the host from reductions read back first; a local
    /// threshold has none, NaN).
    pub fn threshold(&self, src: &GpuImage, t: &Threshold) -> Result<(GpuImage, f64)> {
        t.validate()?;
        let resolved;
        let t = match *t {
            Threshold::Local { block, offset } => {
                let (mask, _) = self.one_batch("imflow.threshold", |b| {
                    b.local_threshold(src, block, offset)
                })?;
                return Ok((mask, f64::NAN));
            }
            Threshold::Value { .. } | Threshold::Otsu => t,
            ref method => {
                let integer = crate::cpu::threshold::integer_levels(src.value_type());
                let value = crate::cpu::auto_threshold::resolve(method, integer, &mut |r| {
                    let mut batch = self.batch("imflow.threshold.reduce");
                    let pending = batch.reduce(src, r)?;
                    batch.submit()?.wait(|m| pending.read(m))
                })?;
                resolved = Threshold::Value {
                    value: crate::engine::defined_threshold(value)?,
                };
                &resolved
            }
        };
        let mut batch = self.batch("imflow.threshold");
        let (mask, pending) = batch.threshold(src, t)?;
        let value = batch.submit()?.wait(|m| Ok(pending.read(m)))?;
        Ok((mask, value))
    }

    /// Applies one op; for a threshold op also returns its threshold.
    pub fn apply(&self, src: &GpuImage, op: &Op) -> Result<(GpuImage, Option<f64>)> {
        match op {
            Op::Gaussian(g) => Ok((self.gaussian(src, g)?, None)),
            Op::Box(b) => Ok((self.box_blur(src, b)?, None)),
            Op::Threshold(t) => self.threshold(src, t).map(|(m, v)| (m, Some(v))),
            Op::Label(l) => self.one_batch("imflow.label", |b| b.label(src, l)),
            Op::RemoveSmall(r) => self.one_batch("imflow.remove_small", |b| b.remove_small(src, r)),
            Op::RemoveHoles(r) => self.one_batch("imflow.remove_holes", |b| b.remove_holes(src, r)),
            Op::Median(_) | Op::Dog(_) | Op::Log(_) | Op::Gradient(_) => {
                let label = format!("imflow.{}", op.name());
                self.one_batch(&label, |b| b.filter(src, op))
            }
            Op::Distance(d) => self.one_batch("imflow.distance", |b| b.distance(src, d)),
            Op::FillHoles => self.one_batch("imflow.fill_holes", |b| b.fill_holes(src)),
            Op::ClearBorder => self.one_batch("imflow.clear_border", |b| b.clear_border(src)),
            Op::ExpandLabels(e) => Ok((self.expand_labels(src, e)?, None)),
            Op::Erode(_)
            | Op::Dilate(_)
            | Op::Open(_)
            | Op::Close(_)
            | Op::Tophat(_)
            | Op::Blackhat(_) => {
                let m = op.morph().expect("a morphology op");
                self.one_batch("imflow.morph", |b| b.morph(src, &m))
            }
        }
    }

    /// Records `f` as one batch and submits it.
    fn one_batch(
        &self,
        label: &str,
        f: impl FnOnce(&mut batch::Batch<'_>) -> Result<GpuImage>,
    ) -> Result<(GpuImage, Option<f64>)> {
        let mut batch = self.batch(label);
        let out = f(&mut batch)?;
        batch.submit()?;
        Ok((out, None))
    }

    /// Narrows planes to `to` on the GPU (round half to even, clamp) and downloads them
    /// as an interleaved image: a u8 mask comes back as one byte per sample.
    pub fn download(&self, image: &GpuImage, to: SampleType) -> Result<Image> {
        let mut batch = self.batch("imflow.download");
        let packed = batch.download(image, to)?;
        batch.submit()?.wait(|m| packed.read(m))
    }
}
