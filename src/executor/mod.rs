//! The caching executor: runs the parts of a [`Flow`] that its requested outputs need.
//!
//! A run:
//! 1. keys every node the materialized outputs depend on (sources by their bytes);
//! 2. looks each output up in the [`Store`]; a verified record is a hit, a broken one
//!    (missing or corrupt file, unreadable record) a miss with a warning;
//! 3. plans the misses back to values it already has ([`plan`]): the executor's
//!    resident cache, or a stored upstream output that holds its values exactly;
//! 4. evaluates unit by unit ([`eval`]): each frame of a unit is one program on the
//!    engine (on the GPU one submit and one map), frames pipelined, sources decoded
//!    ahead and outputs encoded and written behind by worker threads ([`workers`]).
//!
//! On the GPU a chain costs one upload of the source's own samples and one download of
//! each materialized output (and 4 bytes for each Otsu threshold, read back with it);
//! intermediates never leave the device. A run whose outputs are all hits creates no
//! GPU device.

mod eval;
mod front;
mod plan;
mod report;
mod resident;
mod run;
mod source;
mod tiled;
mod value;
mod workers;

pub use report::{
    Failure, NodeReport, OutputReport, RunReport, Status, Summary, Warning, REPORT_SCHEMA,
};

use crate::backend::Backend;
use crate::engine::{CpuEngine, Engine, GpuEngine};
use crate::flow::Flow;
use crate::gpu::GpuContext;
use crate::store::Store;
use crate::Result;
use resident::Resident;
use run::Run;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workers::lock;

/// Default budget of the resident cache. wgpu does not report an adapter's memory size,
/// so this is a fixed, modest default; set it with [`Executor::with_resident_budget`].
pub const DEFAULT_RESIDENT_BYTES: u64 = 1 << 30;

/// Per-run controls.
/// Looks every output of `flow` up in `store` without computing anything: each is a
/// `StoreHit` (checked as a run's hits are) or `Failed` with [`crate::Error::NotStored`]
/// (or why its source could not be keyed). `imflow gather` runs it after sharded runs to
/// list the whole result set and name what is missing.
pub fn gather(flow: &Flow, store: &Store, options: &RunOptions) -> RunReport {
    run::gather(flow, store, options)
}

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Recompute every output and overwrite what is stored (the store and the resident
    /// cache are not read).
    pub refresh: bool,
    /// Treat stored outputs older than this as missing.
    pub max_age: Option<Duration>,
    /// Threads that decode sources ahead of the engine and encode outputs behind it
    /// (each pool this size; 0 = one per core). Also bounds how many decoded sources and
    /// encoded outputs wait in memory.
    pub jobs: usize,
    /// Memory and tile limits: files too large for a share of `budget.memory` are
    /// streamed, frames too large for one program are tiled.
    pub budget: crate::budget::Budget,
}

/// An engine and the results it keeps resident.
pub(crate) struct Typed<E: Engine> {
    pub engine: E,
    pub resident: Mutex<Resident<E::Frame>>,
}

/// The executor's engine, once it has one.
pub(crate) enum Ready {
    Cpu(Typed<CpuEngine>),
    Gpu(Typed<GpuEngine>),
}

/// Runs flows, caching results in a store and keeping recent ones resident. Share one
/// per process (a service, a notebook): the resident cache and the GPU device live here,
/// and runs on several threads at once each get their own report.
pub struct Executor {
    backend: Backend,
    ready: Mutex<Option<Arc<Ready>>>,
    notice: Mutex<Option<String>>,
    budget: AtomicU64,
}

impl Executor {
    /// An executor on `backend`. The GPU device is created on first need, so a run that
    /// finds every output stored never touches the GPU.
    pub fn new(backend: Backend) -> Self {
        Executor {
            backend,
            ready: Mutex::new(None),
            notice: Mutex::new(None),
            budget: AtomicU64::new(DEFAULT_RESIDENT_BYTES),
        }
    }

    /// An executor on a GPU context the caller made.
    pub fn with_gpu(ctx: GpuContext) -> Self {
        let e = Self::new(Backend::Gpu);
        let budget = e.budget.load(Relaxed);
        *lock(&e.ready) = Some(Arc::new(Ready::Gpu(Typed::new(
            GpuEngine::new(ctx),
            budget,
        ))));
        e
    }

    /// Sets the resident cache's byte budget (0 turns it off).
    pub fn with_resident_budget(self, bytes: u64) -> Self {
        self.budget.store(bytes, Relaxed);
        if let Some(ready) = &*lock(&self.ready) {
            match &**ready {
                Ready::Cpu(t) => lock(&t.resident).set_budget(bytes),
                Ready::Gpu(t) => lock(&t.resident).set_budget(bytes),
            }
        }
        self
    }

    /// The GPU context, if this executor has created (or was given) one.
    pub fn gpu_context(&self) -> Option<GpuContext> {
        match self.current().as_deref() {
            Some(Ready::Gpu(t)) => Some(t.engine.context().clone()),
            _ => None,
        }
    }

    /// Why `Backend::Auto` chose the CPU, if it did.
    pub fn notice(&self) -> Option<String> {
        lock(&self.notice).clone()
    }

    /// Bytes held by the resident cache.
    pub fn resident_bytes(&self) -> u64 {
        match self.current().as_deref() {
            Some(Ready::Cpu(t)) => lock(&t.resident).used(),
            Some(Ready::Gpu(t)) => lock(&t.resident).used(),
            None => 0,
        }
    }

    /// The engine, if one was created.
    pub(crate) fn current(&self) -> Option<Arc<Ready>> {
        lock(&self.ready).clone()
    }

    /// The engine, created on first call.
    pub(crate) fn acquire(&self) -> Result<Arc<Ready>> {
        let mut slot = lock(&self.ready);
        if let Some(r) = &*slot {
            return Ok(Arc::clone(r));
        }
        let (gpu, notice) = self.backend.resolve()?;
        *lock(&self.notice) = notice;
        let budget = self.budget.load(Relaxed);
        let ready = Arc::new(match gpu {
            Some(ctx) => Ready::Gpu(Typed::new(GpuEngine::new(ctx), budget)),
            None => Ready::Cpu(Typed::new(CpuEngine, budget)),
        });
        *slot = Some(Arc::clone(&ready));
        Ok(ready)
    }

    /// Runs `flow`: every materialized output is a store hit, or is computed and written.
    /// Per-source failures do not stop the run: they are in the report's `failures`,
    /// next to the outputs that did complete. `Err` means the run could not happen at
    /// all (no GPU for `Backend::Gpu`, an unwritable store).
    pub fn run(&self, flow: &Flow, store: &Store, options: &RunOptions) -> Result<RunReport> {
        self.run_with_progress(flow, store, options, &mut |_| {})
    }

    /// [`Executor::run`], calling `progress` once per output as it completes (a hit,
    /// written, or failed), in completion order.
    pub fn run_with_progress(
        &self,
        flow: &Flow,
        store: &Store,
        options: &RunOptions,
        progress: &mut dyn FnMut(&OutputReport),
    ) -> Result<RunReport> {
        execute(self, flow, store, options, progress)
    }
}

impl<E: Engine> Typed<E> {
    fn new(engine: E, budget: u64) -> Self {
        Typed {
            engine,
            resident: Mutex::new(Resident::new(budget)),
        }
    }
}

/// Runs `flow` on `exec`'s engine (see [`Executor::run`]).
fn execute(
    exec: &Executor,
    flow: &Flow,
    store: &Store,
    options: &RunOptions,
    progress: &mut dyn FnMut(&OutputReport),
) -> Result<RunReport> {
    let mut run = Run::new(flow, store, options);
    run.key_nodes();
    run.look_up();
    // Hits and outputs that cannot be had are reported now; the rest as they finish.
    let untyped = plan::plan(&run.node_states(|_| false), options.refresh);
    for &o in &untyped.hits {
        let hit = run.hits[&o].clone();
        run.nodes[o].status = Status::StoreHit;
        run.touched.push(hit.record.key);
        progress(run.set_report(o, Status::StoreHit, Some(&hit)));
    }
    let failed: Vec<usize> = run
        .outputs
        .iter()
        .map(|(o, _)| *o)
        .filter(|&o| untyped.how[o] == plan::How::Failed)
        .collect();
    for o in failed {
        progress(run.set_report(o, Status::Failed, None));
    }
    // Only a run with something to compute creates an engine (and so a GPU device).
    if !untyped.units.is_empty() {
        eval::evaluate(exec, &mut run, progress)?;
    }
    store.log_run(&run.run_id, &run.touched)?;
    Ok(run.finish())
}
