//! Plane buffers kept for reuse, the CPU twin of the GPU's buffer pool. A program frees
//! its planes as soon as their last reader has run ([`crate::engine::CpuEngine`] hands
//! them back here), and the next planes of the same size take them instead of fresh
//! memory. Fresh memory is what costs: every first touch of a page is a fault and a
//! zeroed page, which on a VM took longer than a gaussian over the same bytes; a tiled
//! frame asks for the same few sizes tile after tile, and a folder of frames frame
//! after frame.
//!
//! The pool is the process's, like the allocator it stands in front of, and bounded:
//! it holds at most [`limit`] bytes (a share of the run's memory budget, set by
//! [`set_limit`]), dropping the oldest buffers first, and keeps no small buffers (the
//! allocator recycles those well itself).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// Buffers below this many bytes are left to the allocator.
const MIN_BYTES: u64 = 1 << 20;

/// The pool's bound until a run sets one.
pub const DEFAULT_LIMIT: u64 = 256 << 20;

/// The process's pool.
static POOL: Pool = Pool::new(DEFAULT_LIMIT);

/// Free plane buffers, at most `limit` bytes of them.
struct Pool {
    limit: AtomicU64,
    free: Mutex<Free>,
}

/// Free buffers, oldest first.
struct Free {
    buffers: Vec<Vec<f32>>,
    bytes: u64,
}

fn bytes_of(v: &Vec<f32>) -> u64 {
    (v.capacity() * std::mem::size_of::<f32>()) as u64
}

impl Free {
    /// Drops the oldest buffers until at most `limit` bytes are held.
    fn shrink_to(&mut self, limit: u64) {
        while self.bytes > limit && !self.buffers.is_empty() {
            let v = self.buffers.remove(0);
            self.bytes -= bytes_of(&v);
        }
    }
}

impl Pool {
    const fn new(limit: u64) -> Pool {
        Pool {
            limit: AtomicU64::new(limit),
            free: Mutex::new(Free {
                buffers: Vec::new(),
                bytes: 0,
            }),
        }
    }

    fn free(&self) -> MutexGuard<'_, Free> {
        // A panic while holding the lock leaves only a list of buffers behind: still
        // valid.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free buffer that holds `len` samples: the smallest, and at most twice as
    /// large, so a small plane does not pin a large one.
    fn take(&self, len: usize) -> Option<Vec<f32>> {
        if ((len * std::mem::size_of::<f32>()) as u64) < MIN_BYTES {
            return None;
        }
        let mut f = self.free();
        let best = (f.buffers.iter().enumerate())
            .filter(|(_, b)| b.capacity() >= len && b.capacity() / 2 <= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i)?;
        let mut v = f.buffers.remove(best);
        f.bytes -= bytes_of(&v);
        v.clear();
        Some(v)
    }

    fn give(&self, v: Vec<f32>) {
        let bytes = bytes_of(&v);
        let limit = self.limit.load(Relaxed);
        if bytes < MIN_BYTES || bytes > limit {
            return;
        }
        let mut f = self.free();
        f.shrink_to(limit - bytes);
        f.bytes += bytes;
        f.buffers.push(v);
    }

    fn set_limit(&self, bytes: u64) {
        self.limit.store(bytes, Relaxed);
        self.free().shrink_to(bytes);
    }

    fn held(&self) -> u64 {
        self.free().bytes
    }
}

/// An empty buffer with room for `len` samples: a free one that fits, or fresh memory
/// (with huge pages asked for, see [`super::advise_huge_pages`]).
pub(crate) fn take(len: usize) -> Vec<f32> {
    POOL.take(len).unwrap_or_else(|| {
        let mut v: Vec<f32> = Vec::with_capacity(len);
        super::advise_huge_pages(v.as_mut_ptr().cast(), len * std::mem::size_of::<f32>());
        v
    })
}

/// Hands a buffer back for reuse (or to the allocator, when it is small or the pool is
/// full).
pub(crate) fn give(v: Vec<f32>) {
    POOL.give(v)
}

/// Bounds the pool to `bytes` (what a run's budget allows it), dropping buffers over it.
pub fn set_limit(bytes: u64) {
    POOL.set_limit(bytes)
}

/// Bytes the pool holds now.
pub fn held() -> u64 {
    POOL.held()
}

/// Releases every free buffer to the allocator.
pub fn trim() {
    POOL.free().shrink_to(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_bounded_and_of_a_fitting_size() {
        const MIB: u64 = 1 << 20;
        let mb = (MIB / 4) as usize; // samples in 1 MiB
        let pool = Pool::new(8 * MIB);
        let a: Vec<f32> = Vec::with_capacity(2 * mb);
        let ptr = a.as_ptr();
        pool.give(a);
        assert_eq!(pool.held(), 2 * MIB);
        // A plane of the same size, or a little smaller, gets it back, empty.
        let b = pool.take(2 * mb - 7).expect("fits");
        assert_eq!((b.as_ptr(), b.len(), pool.held()), (ptr, 0, 0));
        // One under half its size does not; neither does a larger one.
        pool.give(b);
        assert!(pool.take(mb - 1).is_none());
        assert!(pool.take(2 * mb + 1).is_none());
        // Small buffers are left to the allocator.
        pool.give(vec![0.0; 1000]);
        assert_eq!(pool.held(), 2 * MIB);
        // Past the limit the oldest go first; a buffer over the limit is not kept.
        for _ in 0..5 {
            pool.give(Vec::with_capacity(2 * mb));
        }
        assert_eq!(pool.held(), 8 * MIB);
        pool.give(Vec::with_capacity(3 * mb));
        assert_eq!(pool.held(), 7 * MIB);
        pool.give(Vec::with_capacity(9 * mb));
        assert_eq!(pool.held(), 7 * MIB);
        pool.set_limit(0);
        assert_eq!(pool.held(), 0);
    }
}
