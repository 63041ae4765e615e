//! Buffer pool with byte counters.
//!
//! Buffers are handed out by (size class, usage) and come back when their
//! [`PooledBuffer`] drops. A recording ([`super::Batch`]) keeps every buffer its commands
//! touch until after its submit (buffers freed mid-recording are reused only by later
//! commands of the same encoder, which run in order), so a buffer is back in this pool
//! only once every command that touches it is on the queue; the queue's ordering then
//! makes any later use safe.
//!
//! The counters are how tests prove what crossed the bus and how much GPU memory a chain
//! held, without timing anything.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Free buffers above this many bytes are released rather than kept, by default
/// ([`BufferPool::set_limit`] lowers it under a memory budget).
const MAX_POOLED_BYTES: u64 = 512 << 20;

/// Transfer and memory counters of one [`super::GpuContext`], since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GpuStats {
    /// Bytes written from the host into GPU buffers (image data only, not parameters).
    pub bytes_uploaded: u64,
    /// Bytes read back from the GPU.
    pub bytes_downloaded: u64,
    /// Number of image uploads.
    pub uploads: u64,
    /// Number of readbacks (images and thresholds).
    pub downloads: u64,
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// Command buffers submitted to the queue. A frame's whole chain is one.
    pub submits: u64,
    /// Readback buffers mapped (each one wait for the GPU). A frame's downloads and
    /// scalars (Otsu's threshold) share one.
    pub maps: u64,
    /// The most frames submitted and not yet read back at any one time.
    pub max_frames_in_flight: u64,
    /// Buffers created (pool misses).
    pub buffers_created: u64,
    /// Bytes in buffers currently handed out.
    pub bytes_in_use: u64,
    /// The most bytes ever handed out at once.
    pub peak_bytes_in_use: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub bytes_uploaded: AtomicU64,
    pub bytes_downloaded: AtomicU64,
    pub uploads: AtomicU64,
    pub downloads: AtomicU64,
    pub dispatches: AtomicU64,
    pub submits: AtomicU64,
    pub maps: AtomicU64,
    pub frames_in_flight: AtomicU64,
    max_frames_in_flight: AtomicU64,
    buffers_created: AtomicU64,
    bytes_in_use: AtomicU64,
    peak_bytes_in_use: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> GpuStats {
        GpuStats {
            bytes_uploaded: self.bytes_uploaded.load(Relaxed),
            bytes_downloaded: self.bytes_downloaded.load(Relaxed),
            uploads: self.uploads.load(Relaxed),
            downloads: self.downloads.load(Relaxed),
            dispatches: self.dispatches.load(Relaxed),
            submits: self.submits.load(Relaxed),
            maps: self.maps.load(Relaxed),
            max_frames_in_flight: self.max_frames_in_flight.load(Relaxed),
            buffers_created: self.buffers_created.load(Relaxed),
            bytes_in_use: self.bytes_in_use.load(Relaxed),
            peak_bytes_in_use: self.peak_bytes_in_use.load(Relaxed),
        }
    }

    /// Restarts the peaks (memory, frames in flight) from the current values (the
    /// transfer counters keep counting).
    pub fn reset_peak(&self) {
        self.peak_bytes_in_use
            .store(self.bytes_in_use.load(Relaxed), Relaxed);
        self.max_frames_in_flight
            .store(self.frames_in_flight.load(Relaxed), Relaxed);
    }

    /// A frame was submitted: one more in flight.
    pub fn frame_submitted(&self) {
        let now = self.frames_in_flight.fetch_add(1, Relaxed) + 1;
        self.max_frames_in_flight.fetch_max(now, Relaxed);
    }

    /// A frame's results were read back (or abandoned).
    pub fn frame_done(&self) {
        self.frames_in_flight.fetch_sub(1, Relaxed);
    }
}

pub(crate) type Key = (u64, wgpu::BufferUsages);

pub(crate) struct BufferPool {
    device: wgpu::Device,
    counters: Arc<Counters>,
    free: Mutex<Free>,
    limit: AtomicU64,
}

#[derive(Default)]
struct Free {
    buffers: HashMap<Key, Vec<wgpu::Buffer>>,
    bytes: u64,
}

/// A buffer on loan from the pool; dereferences to the [`wgpu::Buffer`].
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    key: Key,
    pool: Arc<BufferPool>,
}

/// Rounds a size up to one of 8 classes per power of two (at most 12.5% slack), so
/// images of nearly equal size share buffers. Never below 256 bytes.
fn size_class(bytes: u64) -> u64 {
    let n = bytes.max(256);
    let step = 1u64 << (63 - n.leading_zeros()).saturating_sub(3);
    n.div_ceil(step) * step
}

impl BufferPool {
    pub fn new(device: wgpu::Device, counters: Arc<Counters>) -> Self {
        BufferPool {
            device,
            counters,
            free: Mutex::default(),
            limit: AtomicU64::new(MAX_POOLED_BYTES),
        }
    }

    /// A buffer of at least `bytes` bytes (`max` caps the rounding up, so a buffer that
    /// fits a limit exactly is not rounded past it).
    pub fn get(
        self: &Arc<Self>,
        label: &str,
        bytes: u64,
        max: u64,
        usage: wgpu::BufferUsages,
    ) -> PooledBuffer {
        let key = Self::key_for(bytes, max, usage);
        let size = key.0;
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            let b = free.buffers.get_mut(&key).and_then(Vec::pop);
            if b.is_some() {
                free.bytes -= size;
            }
            b
        };
        let buffer = reused.unwrap_or_else(|| {
            self.counters.buffers_created.fetch_add(1, Relaxed);
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        });
        let in_use = self.counters.bytes_in_use.fetch_add(size, Relaxed) + size;
        self.counters.peak_bytes_in_use.fetch_max(in_use, Relaxed);
        PooledBuffer {
            buffer: Some(buffer),
            key,
            pool: Arc::clone(self),
        }
    }

    /// The (size, usage) a request is served with: `max` caps the rounding up, so a
    /// buffer that fits a limit exactly is not rounded past it.
    pub fn key_for(bytes: u64, max: u64, usage: wgpu::BufferUsages) -> Key {
        let mut size = size_class(bytes);
        if size > max {
            size = bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        }
        (size, usage)
    }

    fn give_back(&self, key: Key, buffer: wgpu::Buffer) {
        self.counters.bytes_in_use.fetch_sub(key.0, Relaxed);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.bytes + key.0 <= self.limit.load(Relaxed) {
            free.bytes += key.0;
            free.buffers.entry(key).or_default().push(buffer);
        } // else: dropped here, and wgpu frees it once the GPU is done with it
    }

    /// Keeps at most `bytes` of free buffers (releasing the excess now).
    pub fn set_limit(&self, bytes: u64) {
        self.limit.store(bytes, Relaxed);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while free.bytes > bytes {
            let Some(key) = free
                .buffers
                .iter()
                .find(|(_, v)| !v.is_empty())
                .map(|(k, _)| *k)
            else {
                break;
            };
            if free.buffers.get_mut(&key).and_then(Vec::pop).is_some() {
                free.bytes -= key.0;
            }
        }
    }

    /// Releases every free buffer.
    pub fn trim(&self) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.buffers.clear();
        free.bytes = 0;
    }
}

impl PooledBuffer {
    /// Size in bytes of the underlying buffer (at least what was asked for).
    pub fn size(&self) -> u64 {
        self.key.0
    }

    /// The pool's (size, usage) for this buffer.
    pub(crate) fn key(&self) -> Key {
        self.key
    }
}

impl std::ops::Deref for PooledBuffer {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("present until drop")
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.pool.give_back(self.key, b);
        }
    }
}

impl std::fmt::Debug for PooledBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBuffer")
            .field("size", &self.key.0)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_bound_slack() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 288);
        for n in [1000u64, 4096 * 4096 * 4, 517 * 389 * 4, 123_456_789] {
            let c = size_class(n);
            assert!(c >= n && (c - n) * 8 <= n, "{n} -> {c}");
        }
    }
}
