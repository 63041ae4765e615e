//! Host side of `shaders/convert.wgsl`: upload in the source's sample type, download in
//! the requested one. Twin: `src/cpu/convert.rs`.

use super::{GpuContext, GpuImage};
use crate::gpu::pipelines::Kernel;
use crate::image::{Image, SampleType, Samples};
use crate::Result;
use bytemuck::{Pod, Zeroable};
use std::sync::atomic::Ordering::Relaxed;

/// Keep in sync with `Params` in shaders/convert.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Params {
    samples: u32,
    channels: u32,
    plane_len: u32,
    sample_type: u32,
    row_pitch: u32,
    _pad: [u32; 3],
}

fn type_code(t: SampleType) -> u32 {
    match t {
        SampleType::U8 => 0,
        SampleType::U16 => 1,
        SampleType::F32 => 2,
    }
}

const RAW: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

impl GpuContext {
    /// Uploads an image in its own sample type (u8/u16 packed into u32 words) and widens
    /// it to f32 planes on the GPU.
    pub fn upload(&self, image: &Image) -> Result<GpuImage> {
        let shape = image.shape();
        let bytes = image.samples().as_le_bytes();
        let planes = self.new_planes("planes", shape, image.sample_type())?;
        let raw_len = (bytes.len() as u64).next_multiple_of(4);
        let raw = self.storage_buffer("upload", raw_len, RAW)?;
        // write_buffer needs whole words: the aligned body goes as is, a ragged tail
        // (odd u8/u16 counts) is padded, so the image is never copied whole.
        let body = bytes.len() / 4 * 4;
        let q = &self.inner.queue;
        if body > 0 {
            q.write_buffer(&raw, 0, &bytes[..body]);
        }
        if body < bytes.len() {
            let mut tail = [0u8; 4];
            tail[..bytes.len() - body].copy_from_slice(&bytes[body..]);
            q.write_buffer(&raw, body as u64, &tail);
        }
        let c = &self.inner.counters;
        c.bytes_uploaded.fetch_add(bytes.len() as u64, Relaxed);
        c.uploads.fetch_add(1, Relaxed);

        let (groups, row_pitch) = self.grid_1d("upload", shape.samples_u64())?;
        let params = Params {
            samples: shape.samples() as u32,
            channels: shape.channels,
            plane_len: shape.plane_len() as u32,
            sample_type: type_code(image.sample_type()),
            row_pitch,
            _pad: [0; 3],
        };
        let mut batch = self.batch("imflow.upload");
        batch.dispatch(
            Kernel::Unpack,
            &params,
            &[(1, &raw), (2, planes.buffer())],
            groups,
        )?;
        batch.retire(raw);
        batch.submit()?;
        Ok(planes)
    }

    /// Narrows planes to `to` on the GPU (round half to even, clamp) and downloads them
    /// as an interleaved image: a u8 mask comes back as one byte per sample.
    pub fn download(&self, image: &GpuImage, to: SampleType) -> Result<Image> {
        let shape = image.shape();
        let n = shape.samples_u64();
        let bytes = n * to.size() as u64;
        let words = bytes.div_ceil(4);
        let packed = self.storage_buffer("download", words * 4, RAW)?;
        let (groups, row_pitch) = self.grid_1d("download", words)?;
        let params = Params {
            samples: n as u32,
            channels: shape.channels,
            plane_len: shape.plane_len() as u32,
            sample_type: type_code(to),
            row_pitch,
            _pad: [0; 3],
        };
        let mut batch = self.batch("imflow.download");
        batch.dispatch(
            Kernel::Pack,
            &params,
            &[(1, image.buffer()), (2, &packed)],
            groups,
        )?;
        batch.submit()?;
        let raw = self.read_back("imflow.download", &packed, 0, bytes)?;
        let samples = match to {
            SampleType::U8 => Samples::U8(raw),
            SampleType::U16 => Samples::U16(bytemuck::pod_collect_to_vec::<u8, u16>(&raw)),
            SampleType::F32 => Samples::F32(bytemuck::pod_collect_to_vec::<u8, f32>(&raw)),
        };
        Image::new(shape.width, shape.height, shape.channels, samples)
    }
}
