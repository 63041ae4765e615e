//! Expanding labels (`skimage.segmentation.expand_labels`) on the GPU backend: the
//! labels are read back, expanded by the exact CPU twin (`cpu::expand`, a port of
//! scipy's feature transform, whose tie-breaking between equally near labels a
//! parallel transform would not reproduce) and uploaded again, in the same chain.
//! No WGSL of its own.

use super::batch::{Batch, ReadSlot};
use super::{GpuImage, PLANES};
use crate::ops::ExpandLabels;
use crate::Result;

impl Batch<'_> {
    /// Records a copy of `src`'s f32 planes to read back after the submit.
    pub fn read_planes(&mut self, src: &GpuImage) -> Result<ReadSlot> {
        let bytes = src.shape().samples_u64() * 4;
        let copy = self.buffer("expand.read", bytes, PLANES)?;
        self.encoder
            .copy_buffer_to_buffer(src.buffer(), 0, &copy, 0, bytes);
        Ok(self.read_back(copy, 0, bytes))
    }

    /// `expand_labels` of planes read back (`read` from [`Batch::read_planes`] of
    /// `src`), by the CPU twin, uploaded as planes like `src`'s.
    pub fn expanded(&mut self, src: &GpuImage, read: &[u8], e: &ExpandLabels) -> Result<GpuImage> {
        let data: Vec<f32> = bytemuck::pod_collect_to_vec(read);
        let planes = crate::cpu::PlanesRef {
            shape: src.shape(),
            data: &data,
            value_type: src.value_type(),
            window: src.window(),
        };
        let out = crate::cpu::expand::expand_labels(planes, e);
        let bytes = src.shape().samples_u64() * 4;
        // A fresh buffer: the write lands before every command of the next submit.
        let buffer = self.fresh("expand.upload", bytes, PLANES)?;
        self.ctx
            .inner
            .queue
            .write_buffer(&buffer, 0, bytemuck::cast_slice(&out.data));
        Ok(GpuImage {
            buffer,
            shape: src.shape(),
            value_type: src.value_type(),
            window: src.window(),
        })
    }
}

impl super::GpuContext {
    /// `expand_labels` of a resident image (one wait).
    pub fn expand_labels(&self, src: &GpuImage, e: &ExpandLabels) -> Result<GpuImage> {
        e.validate()?;
        let mut batch = self.batch("imflow.expand_labels.read");
        let slot = batch.read_planes(src)?;
        let read = batch.submit()?.wait(|m| Ok(slot.of(m).to_vec()))?;
        let mut batch = self.batch("imflow.expand_labels");
        let out = batch.expanded(src, &read, e)?;
        batch.submit()?;
        Ok(out)
    }
}
