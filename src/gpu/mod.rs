//! The GPU backend: device and adapter ([`GpuContext`]), pipelines, the buffer pool, and
//! the host side of each kernel family (one module per `shaders/*.wgsl`).
//!
//! Images live on the GPU as [`GpuImage`]s: f32 planes, one per channel, in one pooled
//! storage buffer. Ops take a `&GpuImage` and return a new one without leaving the GPU;
//! only [`GpuContext::download`] comes back. Each op submits its commands before it
//! returns, which is what makes returning buffers to the pool on drop safe.

mod box_blur;
mod context;
mod convert;
mod gaussian;
mod pipelines;
mod pool;
mod threshold;

pub(crate) use context::Batch;
pub use context::{adapters, AdapterSummary, GpuContext, GpuOptions};
pub use pool::{GpuStats, PooledBuffer};
pub use threshold::GpuThreshold;

use crate::image::{SampleType, Shape};

/// An image resident on the GPU: f32 planes (plane `c` at `c * width * height`).
#[derive(Debug)]
pub struct GpuImage {
    buffer: PooledBuffer,
    shape: Shape,
    value_type: SampleType,
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

    /// Bytes of GPU memory the planes occupy.
    pub fn gpu_bytes(&self) -> u64 {
        self.buffer.size()
    }

    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

/// Usage of every plane buffer, one set so the pool can reuse any of them for any op.
pub(crate) const PLANES: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl GpuContext {
    /// Applies one op to a resident image; for a threshold op also returns its
    /// threshold (still on the GPU for Otsu until asked for).
    pub fn apply(
        &self,
        src: &GpuImage,
        op: &crate::ops::Op,
    ) -> crate::Result<(GpuImage, Option<GpuThreshold>)> {
        use crate::ops::Op;
        match op {
            Op::Gaussian(g) => Ok((self.gaussian(src, g)?, None)),
            Op::Box(b) => Ok((self.box_blur(src, b)?, None)),
            Op::Threshold(t) => self.threshold(src, t).map(|(m, v)| (m, Some(v))),
        }
    }

    /// A new plane buffer of `shape`, not yet written.
    pub(crate) fn new_planes(
        &self,
        what: &str,
        shape: Shape,
        value_type: SampleType,
    ) -> crate::Result<GpuImage> {
        let bytes = shape.samples_u64() * 4;
        Ok(GpuImage {
            buffer: self.storage_buffer(what, bytes, PLANES)?,
            shape,
            value_type,
        })
    }
}

impl GpuImage {
    /// Declares what the values are (for values loaded from a file that holds results).
    pub(crate) fn set_value_type(&mut self, value_type: SampleType) {
        self.value_type = value_type;
    }

    /// Gives up the buffer (to retire it into a batch).
    pub(crate) fn into_buffer(self) -> PooledBuffer {
        self.buffer
    }
}
