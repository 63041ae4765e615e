//! One engine for both backends. A frame's whole chain is first recorded as a
//! [`Program`] (what), then executed by an [`Engine`] (how): on the CPU twins, or on the
//! GPU as one encoder, one submit and one map (vello's `Recording` and `wgpu_engine`).
//!
//! [`crate::Processor`] and [`crate::Executor`] both run programs; neither knows how a
//! backend executes them. Frames are pipelined: a caller submits frame k+1 before it
//! waits for frame k ([`Engine::submit`], then [`Engine::finish`]), so on the GPU one
//! frame is recorded while the other runs.

mod cpu;
mod gpu;
mod program;

pub use cpu::CpuEngine;
pub use gpu::GpuEngine;
pub use program::{Outcome, Program, Slot};

use crate::image::SampleType;
use crate::Result;

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
