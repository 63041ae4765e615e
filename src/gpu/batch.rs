//! One frame's recording: every command of a chain goes into one encoder and is submitted
//! once; downloads and scalars (Otsu's threshold) are copied into one staging buffer and
//! mapped once. vello's `Recording` + engine is the model: data flows one way, and only
//! an explicit read-back comes home.
//!
//! Buffer lifetimes follow the queue. A buffer freed by a command of this recording goes
//! to the recording's own free list, where later commands of the same encoder may reuse
//! it (they run in order); every buffer the recording touched goes back to the shared
//! pool only after the submit. Buffers written with `queue.write_buffer` (uploads,
//! uniforms) always come fresh from the pool, because those writes land at the start of
//! the submit, ahead of every command in it.

use super::context::POLL_TIMEOUT;
use super::pipelines::Kernel;
use super::pool::{BufferPool, Counters, PooledBuffer};
use super::{GpuContext, GpuImage, PLANES};
use crate::image::{SampleType, Shape, Window};
use crate::{Error, Result};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

/// Where a read-back lands in the staging buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadSlot {
    pub offset: u64,
    pub len: u64,
}

impl ReadSlot {
    /// The slot's bytes in the mapped staging buffer.
    pub fn of<'m>(&self, mapped: &'m [u8]) -> &'m [u8] {
        &mapped[self.offset as usize..][..self.len as usize]
    }
}

struct Copy {
    src: PooledBuffer,
    src_offset: u64,
    slot: ReadSlot,
}

/// Where host-written data (a kernel's params, gaussian weights) sits in an arena.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DataSlot {
    chunk: usize,
    offset: u64,
    len: u64,
}

/// Bytes of one arena chunk: many dispatches' params, or one long gaussian's weights.
const ARENA_CHUNK: u64 = 16 << 10;

/// Small host-written data of a recording, packed into a few pooled buffers at aligned
/// offsets and written with one `write_buffer` per chunk at the submit, so the memory a
/// recording holds for it does not grow with the number of dispatches.
struct Arena {
    what: &'static str,
    usage: wgpu::BufferUsages,
    align: u64,
    chunks: Vec<(PooledBuffer, Vec<u8>)>,
}

impl Arena {
    fn new(what: &'static str, usage: wgpu::BufferUsages, align: u32) -> Self {
        Arena {
            what,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            align: u64::from(align).max(wgpu::COPY_BUFFER_ALIGNMENT),
            chunks: Vec::new(),
        }
    }

    fn put(&mut self, ctx: &GpuContext, bytes: &[u8]) -> Result<DataSlot> {
        let len = (bytes.len() as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        let fits = |(buf, data): &(PooledBuffer, Vec<u8>)| {
            (data.len() as u64).next_multiple_of(self.align) + len <= buf.size()
        };
        if !self.chunks.last().is_some_and(fits) {
            let buffer = ctx.storage_buffer(self.what, ARENA_CHUNK.max(len), self.usage)?;
            self.chunks.push((buffer, Vec::new()));
        }
        let chunk = self.chunks.len() - 1;
        let data = &mut self.chunks[chunk].1;
        let offset = (data.len() as u64).next_multiple_of(self.align);
        data.resize(offset as usize, 0);
        data.extend_from_slice(bytes);
        data.resize((offset + len) as usize, 0);
        Ok(DataSlot { chunk, offset, len })
    }

    fn binding(&self, slot: DataSlot) -> wgpu::BufferBinding<'_> {
        wgpu::BufferBinding {
            buffer: &self.chunks[slot.chunk].0,
            offset: slot.offset,
            size: wgpu::BufferSize::new(slot.len),
        }
    }

    /// Writes every chunk (ahead of the submit's commands), and gives the buffers up.
    fn write(self, queue: &wgpu::Queue) -> Vec<PooledBuffer> {
        self.chunks
            .into_iter()
            .map(|(buffer, data)| {
                queue.write_buffer(&buffer, 0, &data);
                buffer
            })
            .collect()
    }
}

/// The commands of one submit. Every wgpu error raised while recording or submitting
/// comes back from [`Batch::submit`] as an [`Error::Gpu`] naming the batch.
pub(crate) struct Batch<'a> {
    pub(super) ctx: &'a GpuContext,
    label: String,
    pub encoder: wgpu::CommandEncoder,
    /// Freed by earlier commands of this encoder; reusable by later ones.
    free: Vec<PooledBuffer>,
    /// Images other owners share (the resident cache), held until the submit.
    held: Vec<Arc<GpuImage>>,
    copies: Vec<Copy>,
    staging_len: u64,
    /// Kernel params.
    uniforms: Arena,
    /// Read-only storage data: gaussian weights.
    constants: Arena,
    scopes: Scopes,
}

/// The recording's error scopes: validation, out-of-memory, internal. wgpu requires them
/// popped innermost first, at the submit or when a recording is abandoned (an error
/// while recording); a plain drop of the array would pop them in the wrong order.
struct Scopes(Option<[wgpu::ErrorScopeGuard; 3]>);

impl Scopes {
    fn push(device: &wgpu::Device) -> Self {
        Scopes(Some([
            device.push_error_scope(wgpu::ErrorFilter::Validation),
            device.push_error_scope(wgpu::ErrorFilter::OutOfMemory),
            device.push_error_scope(wgpu::ErrorFilter::Internal),
        ]))
    }

    /// The first error any scope caught.
    fn pop(mut self) -> Option<wgpu::Error> {
        let [validation, oom, internal] = self.0.take()?;
        let errors = [internal.pop(), oom.pop(), validation.pop()].map(pollster::block_on);
        errors.into_iter().flatten().next()
    }
}

impl Drop for Scopes {
    fn drop(&mut self) {
        if let Some([validation, oom, internal]) = self.0.take() {
            drop(internal);
            drop(oom);
            drop(validation);
        }
    }
}

impl GpuContext {
    /// Starts recording one submit's worth of commands.
    pub(crate) fn batch(&self, label: &str) -> Batch<'_> {
        let mut batch = self.batch_unscoped(label);
        batch.scopes = Scopes::push(&self.inner.device);
        batch
    }

    /// A recording whose error scopes are not pushed yet.
    fn batch_unscoped(&self, label: &str) -> Batch<'_> {
        let device = &self.inner.device;
        let scopes = Scopes(None);
        let encoder =
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        let limits = &self.inner.limits;
        Batch {
            uniforms: Arena::new(
                "params",
                wgpu::BufferUsages::UNIFORM,
                limits.min_uniform_buffer_offset_alignment,
            ),
            constants: Arena::new(
                "constants",
                wgpu::BufferUsages::STORAGE,
                limits.min_storage_buffer_offset_alignment,
            ),
            ctx: self,
            label: label.to_string(),
            encoder,
            free: Vec::new(),
            held: Vec::new(),
            copies: Vec::new(),
            staging_len: 0,
            scopes,
        }
    }
}

impl Batch<'_> {
    /// A storage buffer of at least `bytes`, after checking it fits the adapter: one
    /// this recording freed if one of the right size class is free, else the pool's.
    /// Of the freed buffers, the smallest that is large enough is taken (kernels index
    /// by their params, never by a buffer's length), so a download's packed bytes, say,
    /// reuse a freed plane instead of holding more memory.
    pub fn buffer(
        &mut self,
        what: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<PooledBuffer> {
        self.ctx.check_binding(what, bytes)?;
        let (size, usage) = BufferPool::key_for(bytes, self.ctx.max_binding(), usage);
        let best = (self.free.iter().enumerate())
            .filter(|(_, b)| b.key().1 == usage && b.size() >= size)
            .min_by_key(|(_, b)| b.size())
            .map(|(i, _)| i);
        if let Some(i) = best {
            return Ok(self.free.swap_remove(i));
        }
        self.fresh(what, bytes, usage)
    }

    /// Puts read-only data (gaussian weights) in this recording's constants arena, to
    /// bind with [`Batch::dispatch_with`].
    pub fn constants(&mut self, bytes: &[u8]) -> Result<DataSlot> {
        self.constants.put(self.ctx, bytes)
    }

    /// A buffer straight from the pool, never one this recording used: the target of a
    /// `write_buffer`, which lands before every command of the submit.
    pub fn fresh(
        &mut self,
        what: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<PooledBuffer> {
        self.ctx.storage_buffer(what, bytes, usage)
    }

    /// New planes of `shape`, not yet written, at `window` of the whole image.
    pub fn planes(
        &mut self,
        what: &str,
        shape: Shape,
        value_type: SampleType,
        window: Window,
    ) -> Result<GpuImage> {
        let buffer = self.buffer(what, shape.samples_u64() * 4, PLANES)?;
        Ok(GpuImage {
            buffer,
            shape,
            value_type,
            window,
        })
    }

    /// New planes like `src` (same shape and window), holding values of `value_type`.
    pub fn planes_like(
        &mut self,
        what: &str,
        src: &GpuImage,
        value_type: SampleType,
    ) -> Result<GpuImage> {
        self.planes(what, src.shape(), value_type, src.window())
    }

    /// Runs `passes` dispatches of a separable filter, the first reading `src`, each
    /// next one the previous one's output, the last writing the result (planes like
    /// `src`'s holding values of `value_type`); the passes alternate between the result
    /// and one scratch buffer. No pass: the result is a copy of `src`.
    pub fn separable(
        &mut self,
        src: &GpuImage,
        value_type: SampleType,
        passes: usize,
        mut pass: impl FnMut(&mut Self, usize, &wgpu::Buffer, &wgpu::Buffer) -> Result<()>,
    ) -> Result<GpuImage> {
        let out = self.planes_like("filter", src, value_type)?;
        if passes == 0 {
            let bytes = src.shape().samples_u64() * 4;
            self.encoder
                .copy_buffer_to_buffer(src.buffer(), 0, out.buffer(), 0, bytes);
            return Ok(out);
        }
        let tmp = match passes {
            1 => None,
            _ => Some(self.planes_like("filter.tmp", src, value_type)?),
        };
        for i in 0..passes {
            // The last pass writes `out`, the one before it `tmp`, and so on back.
            let into_out = (passes - 1 - i).is_multiple_of(2);
            let output = match (&tmp, into_out) {
                (Some(t), false) => t.buffer(),
                _ => out.buffer(),
            };
            let input = match (i, &tmp, into_out) {
                (0, _, _) | (_, None, _) => src.buffer(),
                (_, Some(t), true) => t.buffer(),
                (_, Some(_), false) => out.buffer(),
            };
            pass(self, i, input, output)?;
        }
        if let Some(t) = tmp {
            self.free(t.into_buffer());
        }
        Ok(out)
    }

    /// `buffer` is dead for this recording: later commands may reuse it.
    pub fn free(&mut self, buffer: PooledBuffer) {
        self.free.push(buffer);
    }

    /// An image this recording no longer reads: reusable if nobody else holds it, else
    /// kept alive until the submit.
    pub fn release(&mut self, image: Arc<GpuImage>) {
        match Arc::try_unwrap(image) {
            Ok(image) => self.free(image.buffer),
            Err(shared) => self.held.push(shared),
        }
    }

    /// Copies `len` bytes of `src` from `offset` into this recording's staging buffer,
    /// at the end of the recording; the returned slot says where they land once mapped.
    /// `src` is held until the submit.
    pub fn read_back(&mut self, src: PooledBuffer, offset: u64, len: u64) -> ReadSlot {
        let slot = ReadSlot {
            offset: self.staging_len,
            len,
        };
        self.staging_len += len.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        self.copies.push(Copy {
            src,
            src_offset: offset,
            slot,
        });
        slot
    }

    /// Records one dispatch. `params` is the kernel's uniform struct; `buffers` pairs
    /// binding numbers with buffers, in the kernel's order.
    pub fn dispatch<P: bytemuck::Pod>(
        &mut self,
        kernel: Kernel,
        params: &P,
        buffers: &[(u32, &wgpu::Buffer)],
        groups: [u32; 3],
    ) -> Result<()> {
        self.dispatch_with(kernel, params, buffers, &[], groups)
    }

    /// [`Batch::dispatch`] with bindings of arena data too.
    pub fn dispatch_with<P: bytemuck::Pod>(
        &mut self,
        kernel: Kernel,
        params: &P,
        buffers: &[(u32, &wgpu::Buffer)],
        data: &[(u32, DataSlot)],
        groups: [u32; 3],
    ) -> Result<()> {
        let inner = &self.ctx.inner;
        let pipeline = inner.pipelines.get(&inner.device, inner.f64, kernel)?;
        let label = kernel.label();
        let uniform = self.uniforms.put(self.ctx, bytemuck::bytes_of(params))?;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(self.uniforms.binding(uniform)),
        }];
        entries.extend(buffers.iter().map(|&(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        }));
        entries.extend(data.iter().map(|&(binding, slot)| wgpu::BindGroupEntry {
            binding,
            resource: wgpu::BindingResource::Buffer(self.constants.binding(slot)),
        }));
        let bind_group = inner.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label),
            layout: &pipeline.layout,
            entries: &entries,
        });
        let mut timer = inner.timer.lock().unwrap_or_else(|e| e.into_inner());
        let timestamp_writes = timer.as_mut().and_then(|t| t.next_pass());
        let mut pass = self
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(&label),
                timestamp_writes,
            });
        pass.set_pipeline(&pipeline.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        drop(pass);
        drop(timer);
        inner.counters.dispatches.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Submits what is recorded so far ([`Batch::submit`]) and goes on recording into a
    /// fresh batch: a host round trip in the middle of a frame. This recording's error
    /// scopes are popped before the next one's are pushed, as wgpu requires.
    pub fn submit_and_continue(&mut self) -> Result<Submitted> {
        let ctx = self.ctx;
        let fresh = ctx.batch_unscoped(&self.label);
        let submitted = std::mem::replace(self, fresh).submit();
        self.scopes = Scopes::push(&ctx.inner.device);
        submitted
    }

    /// Records the read-back copies, submits, and starts mapping the staging buffer.
    /// Every buffer the recording touched goes back to the pool here.
    pub fn submit(self) -> Result<Submitted> {
        let Batch {
            ctx,
            label,
            mut encoder,
            free,
            held,
            copies,
            staging_len,
            uniforms,
            constants,
            scopes,
        } = self;
        let inner = &ctx.inner;
        let arenas = [uniforms.write(&inner.queue), constants.write(&inner.queue)];
        let staging = (staging_len > 0).then(|| {
            inner.pool.get(
                "imflow.staging",
                staging_len,
                u64::MAX,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            )
        });
        if let Some(staging) = &staging {
            for c in &copies {
                encoder.copy_buffer_to_buffer(
                    &c.src,
                    c.src_offset,
                    staging,
                    c.slot.offset,
                    c.slot.len.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
                );
            }
        }
        let index = inner.queue.submit([encoder.finish()]);
        inner.counters.submits.fetch_add(1, Relaxed);
        let error = scopes.pop();
        // Every buffer the recording held goes back to the pool.
        drop((free, held, copies, arenas));
        if let Some(e) = error {
            return Err(Error::gpu(label, e.to_string()));
        }
        let mapping = staging.map(|staging| {
            let (tx, rx) = channel();
            staging
                .slice(..staging_len)
                .map_async(wgpu::MapMode::Read, move |r| {
                    let _ = tx.send(r);
                });
            inner.counters.frame_submitted();
            Mapping {
                staging,
                len: staging_len,
                rx,
                in_flight: Some(Arc::clone(&inner.counters)),
            }
        });
        Ok(Submitted {
            ctx: ctx.clone(),
            label,
            index,
            mapping,
        })
    }
}

struct Mapping {
    staging: PooledBuffer,
    len: u64,
    rx: Receiver<std::result::Result<(), wgpu::BufferAsyncError>>,
    /// The counters this frame is counted in flight by, until it is read back.
    in_flight: Option<Arc<Counters>>,
}

/// A submitted recording whose read-backs may still be on their way.
pub(crate) struct Submitted {
    ctx: GpuContext,
    label: String,
    index: wgpu::SubmissionIndex,
    mapping: Option<Mapping>,
}

impl Submitted {
    /// Waits for the GPU to finish this submit and hands the mapped staging bytes (empty
    /// when nothing was read back) to `read`. One wait, one map.
    pub fn wait<T>(mut self, read: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
        let ctx = self.ctx.clone();
        let inner = &ctx.inner;
        let label = self.label.clone();
        let gpu_err = |message: String| Error::gpu(label.clone(), message);
        let Some(mut m) = self.mapping.take() else {
            return read(&[]);
        };
        let result = (|| {
            inner
                .device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(self.index.clone()),
                    timeout: Some(POLL_TIMEOUT),
                })
                .map_err(|e| gpu_err(format!("waiting for the GPU: {e}")))?;
            finish_map(&m.rx, &label)?;
            inner.counters.maps.fetch_add(1, Relaxed);
            let out = {
                let view = m
                    .staging
                    .slice(..m.len)
                    .get_mapped_range()
                    .map_err(|e| gpu_err(format!("reading the mapped buffer: {e}")))?;
                read(&view)
            };
            m.staging.unmap();
            out
        })();
        if let Some(c) = m.in_flight.take() {
            c.frame_done();
        }
        result
    }
}

/// The outcome of a `map_async`, which the callback has sent by the time the submit's
/// wait returns. A mapping that fails, or never reports, is an error naming the batch.
fn finish_map(
    rx: &Receiver<std::result::Result<(), wgpu::BufferAsyncError>>,
    label: &str,
) -> Result<()> {
    match rx.recv_timeout(POLL_TIMEOUT) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Gpu {
            label: label.to_string(),
            message: format!("mapping the read-back buffer: {e}"),
            source: Some(Box::new(e)),
        }),
        Err(_) => Err(Error::gpu(label, "the read-back buffer was never mapped")),
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Abandoned before its wait (an error elsewhere in the run).
        if let Some(c) = self.in_flight.take() {
            c.frame_done();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read-back whose mapping fails surfaces as an error naming the batch: it is
    /// never dropped (Otsu's threshold was once read with `.ok()` and lost).
    #[test]
    fn a_failed_mapping_is_an_error() {
        let (tx, rx) = channel();
        tx.send(Err(wgpu::BufferAsyncError)).unwrap();
        let e = finish_map(&rx, "imflow.frame").unwrap_err();
        assert!(
            matches!(&e, Error::Gpu { label, source: Some(_), .. } if label == "imflow.frame"),
            "{e}"
        );
        let (tx, rx) = channel::<std::result::Result<(), wgpu::BufferAsyncError>>();
        drop(tx);
        assert!(finish_map(&rx, "x")
            .unwrap_err()
            .to_string()
            .contains("never mapped"));
    }
}
