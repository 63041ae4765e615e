//! Host side of `shaders/convert.wgsl`: upload in the source's sample type, narrow for a
//! download in the requested one. Twin: `src/cpu/convert.rs`.

use super::batch::{Batch, ReadSlot};
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::{Image, ImageView, SampleType, Samples, Shape, Window};
use crate::Result;
use bytemuck::{Pod, Zeroable};
use std::sync::atomic::Ordering::Relaxed;

/// Threads per workgroup (the shader's `WORKGROUP` override).
pub(crate) const WORKGROUP: u32 = 256;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

/// Keep in sync with `Params` in shaders/convert.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
    samples: u32,
    channels: u32,
    plane_len: u32,
    sample_type: u32,
    row_pitch: u32,
    _pad: [u32; 3],
}

/// The shader's code for the samples that travel in `t`, and the type they travel as:
/// 32-bit integers and f64 travel as f32 (rounded on the host: no more bytes than their
/// own, and the f32 rounding every backend applies).
fn wire(t: SampleType) -> (u32, SampleType) {
    match t {
        SampleType::U8 => (0, t),
        SampleType::U16 => (1, t),
        SampleType::I8 => (3, t),
        SampleType::I16 => (4, t),
        SampleType::F32 | SampleType::I32 | SampleType::U32 | SampleType::F64 => {
            (2, SampleType::F32)
        }
    }
}

/// Bytes per sample on the bus for samples of type `t`.
pub(crate) fn wire_size(t: SampleType) -> u64 {
    wire(t).1.size() as u64
}

const RAW: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// A download recorded into a batch: where its packed bytes land, and what they are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PackedImage {
    pub slot: ReadSlot,
    pub shape: Shape,
    /// The type asked for.
    pub sample_type: SampleType,
}

impl PackedImage {
    /// The image, from the mapped staging bytes. Types narrowed on the host (32-bit
    /// integers, f64) arrive as f32 and are converted here as the CPU twin does.
    pub fn read(&self, mapped: &[u8]) -> Result<Image> {
        let raw = self.slot.of(mapped);
        let s = self.shape;
        let samples = match self.sample_type {
            SampleType::U8 => Samples::U8(raw.to_vec()),
            SampleType::U16 => Samples::U16(bytemuck::pod_collect_to_vec(raw)),
            SampleType::F32 => Samples::F32(bytemuck::pod_collect_to_vec(raw)),
            SampleType::I8 => Samples::I8(bytemuck::pod_collect_to_vec(raw)),
            SampleType::I16 => Samples::I16(bytemuck::pod_collect_to_vec(raw)),
            to => {
                let f: Vec<f32> = bytemuck::pod_collect_to_vec(raw);
                let image = Image::with_shape(s, Samples::F32(f))?;
                return Ok(crate::cpu::convert::retype(&image, to));
            }
        };
        Image::with_shape(s, samples)
    }
}

impl Batch<'_> {
    /// Uploads an image in its own sample type (u8/u16 packed into u32 words) and widens
    /// it to f32 planes on the GPU. `value_type` says what the values are (the sample
    /// type for a source; a stored result may hold floats in a u8 file, say).
    pub fn upload(
        &mut self,
        image: ImageView<'_>,
        value_type: SampleType,
        window: Window,
    ) -> Result<GpuImage> {
        let shape = image.shape();
        let (code, travels) = wire(image.sample_type());
        let rounded;
        let bytes = if travels == image.sample_type() {
            image.samples().as_le_bytes()
        } else {
            rounded = Samples::F32(image.to_f32_vec());
            rounded.as_le_bytes()
        };
        let planes = self.planes("planes", shape, value_type, window)?;
        let raw_len = (bytes.len() as u64).next_multiple_of(4);
        let raw = self.fresh("upload", raw_len, RAW)?;
        // write_buffer needs whole words: the aligned body goes as is, a ragged tail
        // (odd u8/u16 counts) is padded, so the image is never copied whole.
        let body = bytes.len() / 4 * 4;
        let inner = &self.ctx.inner;
        if body > 0 {
            inner.queue.write_buffer(&raw, 0, &bytes[..body]);
        }
        if body < bytes.len() {
            let mut tail = [0u8; 4];
            tail[..bytes.len() - body].copy_from_slice(&bytes[body..]);
            inner.queue.write_buffer(&raw, body as u64, &tail);
        }
        let c = &inner.counters;
        c.bytes_uploaded.fetch_add(bytes.len() as u64, Relaxed);
        c.uploads.fetch_add(1, Relaxed);

        let (groups, row_pitch) = self.ctx.grid_1d("upload", shape.samples_u64(), WORKGROUP)?;
        let params = Params {
            samples: shape.samples() as u32,
            channels: shape.channels,
            plane_len: shape.plane_len() as u32,
            sample_type: code,
            row_pitch,
            _pad: [0; 3],
        };
        self.dispatch(
            Kernel::Unpack,
            &params,
            &[(1, &raw), (2, planes.buffer())],
            groups,
        )?;
        // Written before every command of the submit and read only by the unpack above,
        // so later commands of this recording may reuse it.
        self.free(raw);
        Ok(planes)
    }

    /// Narrows planes to `to` on the GPU (round half to even, clamp) and schedules the
    /// interleaved result for read-back: a u8 mask comes back as one byte per sample.
    pub fn download(&mut self, image: &GpuImage, to: SampleType) -> Result<PackedImage> {
        let shape = image.shape();
        let n = shape.samples_u64();
        let (code, travels) = wire(to);
        let bytes = n * travels.size() as u64;
        let words = bytes.div_ceil(4);
        let packed = self.buffer("download", words * 4, RAW)?;
        let (groups, row_pitch) = self.ctx.grid_1d("download", words, WORKGROUP)?;
        let params = Params {
            samples: n as u32,
            channels: shape.channels,
            plane_len: shape.plane_len() as u32,
            sample_type: code,
            row_pitch,
            _pad: [0; 3],
        };
        self.dispatch(
            Kernel::Pack,
            &params,
            &[(1, image.buffer()), (2, &packed)],
            groups,
        )?;
        let c = &self.ctx.inner.counters;
        c.bytes_downloaded.fetch_add(bytes, Relaxed);
        c.downloads.fetch_add(1, Relaxed);
        Ok(PackedImage {
            slot: self.read_back(packed, 0, bytes),
            shape,
            sample_type: to,
        })
    }
}
