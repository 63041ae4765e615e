//! One engine for both backends. A frame's whole chain is first recorded as a
//! [`Program`] (what), then executed by an [`Engine`] (how): on the CPU twins, or on the
//! GPU as one encoder, one submit and one map (vello's `Recording` and `wgpu_engine`).
//!
//! [`crate::Processor`] and [`crate::Executor`] both run programs; neither knows how a
//! backend executes them. Frames are pipelined: a caller submits frame k+1 before it
//! waits for frame k ([`Engine::submit`], then [`Engine::finish`]), so on the GPU one
//! frame is recorded while the other runs.

mod cpu;
mod cut;
mod gpu;
pub mod graph;
mod pass;
mod program;
mod reduced;
mod rows;
pub mod tiled;
mod whole_frame;

pub use cpu::CpuEngine;
pub use gpu::GpuEngine;
pub use graph::Graph;
pub use program::{Outcome, Program, Reduced, Reduction, Slot};
pub use reduced::{ExactSum, ValueCounts};
pub use tiled::{Tile, Tiling};

use crate::budget::Budget;
use crate::image::SampleType;
use crate::Result;

/// Plane buffers a tile's program may hold at once, counting two tiles in flight (input,
/// output and scratch planes, the upload and the cropped download of each), with room
/// for the bands a tiled frame reads and writes. A tile's planes get this share of the
/// budget.
pub const PLANES_PER_TILE: u64 = 16;

/// Frames a caller keeps submitted before it waits for the oldest: one recording while
/// one runs. More would only hold more memory.
pub const MAX_FRAMES_IN_FLIGHT: usize = 2;

/// A backend that executes [`Program`]s.
pub trait Engine: Send + Sync + 'static {
    /// A frame resident on this backend (GPU buffers, or planes in RAM), shared cheaply.
    type Frame: Clone + Send + Sync + 'static;
    /// A submitted program whose results may still be on their way.
    type Pending: Send;

    /// `cpu`, or the adapter's name.
    fn device_name(&self) -> String;

    /// Bytes a resident frame holds.
    fn frame_bytes(frame: &Self::Frame) -> u64;

    /// What a resident frame's values are.
    fn frame_value_type(frame: &Self::Frame) -> SampleType;

    /// The most bytes one f32 plane buffer of a program may take under `budget` (the
    /// GPU's binding limit, a share of the device's or host's memory): larger frames are
    /// tiled.
    fn plane_limit(&self, budget: &Budget) -> u64;

    /// Bytes of values a tiled frame may keep resident between its passes under
    /// `budget` ([`Budget::resident`], by default a quarter of the memory this engine
    /// computes in): values an untiled frame would hold anyway, and far less than it
    /// holds at once.
    fn keep_limit(&self, budget: &Budget) -> u64;

    /// Adapts to `budget` before frames run under it (the GPU keeps fewer free buffers
    /// under a small one).
    fn prepare(&self, _budget: &Budget) {}

    /// Takes back a resident frame no one needs any more (the CPU keeps its planes for
    /// reuse; GPU buffers go back to their pool when dropped anyway).
    fn recycle(&self, frame: Self::Frame) {
        drop(frame);
    }

    /// Records and submits one frame's program. The CPU engine runs it here.
    fn submit(&self, program: Program<'_, Self::Frame>) -> Result<Self::Pending>;

    /// Waits for a submitted program and returns its results.
    fn finish(&self, pending: Self::Pending) -> Result<Outcome<Self::Frame>>;

    /// [`Engine::submit`] then [`Engine::finish`]: one frame, no pipelining.
    fn run(&self, program: Program<'_, Self::Frame>) -> Result<Outcome<Self::Frame>> {
        let pending = self.submit(program)?;
        self.finish(pending)
    }
}

/// A threshold an engine computed, checked: an automatic one is NaN where the values
/// include an infinity (its bins would span an infinite range) or no number at all, and
/// skimage refuses such data too. A mask made with it would be silently empty.
pub(crate) fn defined_threshold(t: f64) -> Result<f64> {
    if t.is_nan() {
        return Err(crate::Error::Undefined {
            op: "threshold",
            reason: "an automatic threshold (Otsu's, Li's, ...) needs finite values, and \
                     these include infinities (or are all NaN); replace them first, or use a \
                     fixed threshold",
        });
    }
    Ok(t)
}
