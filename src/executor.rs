//! The caching executor: runs the parts of a [`Flow`] that its requested outputs need.
//!
//! A run:
//! 1. keys every node the materialized outputs depend on (sources by their bytes);
//! 2. looks each output up in the [`Store`]; a verified record is a hit, a broken one
//!    (missing or corrupt file, unreadable record) a miss with a warning;
//! 3. plans the misses back to values it already has: the executor's resident cache
//!    (results kept on the GPU, or in RAM for the CPU backend, across runs), or a stored
//!    upstream output that holds its values exactly;
//! 4. evaluates depth first, one output's chain after another, dropping each value as
//!    soon as its last planned consumer has been recorded, and writes each output.
//!
//! On the GPU a chain costs one upload of the source's own samples and one download of
//! each materialized output; nothing else crosses the bus (a threshold op's value is read
//! back, 4 bytes, only for Otsu, to put it in the record). A run whose outputs are all
//! hits creates no GPU device.

use crate::backend::{Backend, OutputType};
use crate::cpu::{self, Planes};
use crate::flow::{Flow, Materialize, NodeId, NodeKind};
use crate::gpu::{GpuContext, GpuImage, GpuThreshold};
use crate::image::{Image, SampleType};
use crate::io::{self, Animation, Format, Stack};
use crate::key::{self, FileStamp, Key};
use crate::ops::Op;
use crate::store::{Hit, LineageStep, Lookup, Record, Store, RECORD_VERSION};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Default budget of the resident cache. wgpu does not report an adapter's memory size,
/// so this is a fixed, modest default; set it with [`Executor::with_resident_budget`].
pub const DEFAULT_RESIDENT_BYTES: u64 = 1 << 30;

/// Per-run controls.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Recompute every output and overwrite what is stored.
    pub refresh: bool,
    /// Treat stored outputs older than this as missing.
    pub max_age: Option<Duration>,
    /// Threads that decode sources ahead of the GPU and encode outputs behind it (each
    /// pool this size; 0 = one per core). Also bounds how many decoded sources and
    /// encoded outputs wait in memory.
    pub jobs: usize,
}

/// What happened to a node or an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Computed (or, for a source, read and decoded) in this run.
    Computed,
    /// Taken from the executor's resident cache: no compute, no upload.
    ResidentHit,
    /// Taken from the store: a verified file.
    StoreHit,
    /// Not needed by any missing output.
    Skipped,
    /// Failed, or an input failed.
    Failed,
}

/// One node's part in a run.
#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    /// Node index.
    pub node: usize,
    /// Op spec, or source path or name.
    pub label: String,
    /// The node's key.
    pub key: Option<Key>,
    /// What happened.
    pub status: Status,
    /// Wall time spent on this node (for GPU ops: recording and submitting).
    pub wall_ms: f64,
    /// Bytes uploaded for this node.
    pub bytes_uploaded: u64,
    /// Bytes downloaded for this node (its output, when materialized).
    pub bytes_downloaded: u64,
    /// For threshold ops: the threshold used, one per frame.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<f64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One materialized output.
#[derive(Clone, Debug, Serialize)]
pub struct OutputReport {
    /// Node index.
    pub node: usize,
    /// Output name.
    pub name: String,
    /// `Computed`, `StoreHit` or `Failed`.
    pub status: Status,
    /// The output key (the record's name).
    pub key: Option<Key>,
    /// The node's task key.
    pub task: Option<Key>,
    /// The written file.
    pub path: Option<PathBuf>,
    /// blake3 of the file's bytes.
    pub file_blake3: Option<Key>,
    /// The file source this output comes from, if any.
    pub source: Option<PathBuf>,
    /// blake3 of that source file's bytes (as `b3sum` prints it).
    pub source_blake3: Option<Key>,
    /// Size of the written file.
    pub file_bytes: Option<u64>,
    /// The result, for outputs with `persist: false`.
    #[serde(skip)]
    pub image: Option<Stack>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A failure at its root: the node (usually a source) and the reason.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// Node index.
    pub node: usize,
    /// The file, for a file source.
    pub path: Option<PathBuf>,
    /// The error, naming the file and the problem.
    pub reason: String,
}

/// The result of [`Executor::run`]: serialisable for `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// Unique, time-ordered run id.
    pub run_id: String,
    /// `cpu`, the adapter's name, or `None` when nothing needed computing.
    pub device: Option<String>,
    /// Every node.
    pub nodes: Vec<NodeReport>,
    /// Every materialized output.
    pub outputs: Vec<OutputReport>,
    /// Root causes of failed nodes.
    pub failures: Vec<Failure>,
    /// Broken records recomputed, and other things a user should know.
    pub warnings: Vec<String>,
    /// Wall time of the run.
    pub wall_ms: f64,
    /// Bytes uploaded in the run.
    pub bytes_uploaded: u64,
    /// Bytes downloaded in the run.
    pub bytes_downloaded: u64,
}

impl RunReport {
    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The output of this name.
    pub fn output(&self, name: &str) -> Option<&OutputReport> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// The report of a node.
    pub fn node(&self, node: NodeId) -> &NodeReport {
        &self.nodes[node.index()]
    }
}

/// One frame's data on one backend.
#[derive(Clone)]
enum Data {
    Gpu(Arc<GpuImage>),
    Cpu(Arc<Planes>),
}

/// A node's value during a run: its frames (one for a plain image, the pages of a
/// multi-page TIFF, the frames of a GIF), and where they came from.
#[derive(Clone)]
struct Value {
    frames: Vec<Data>,
    /// The source's sample type (for `OutputType::Same`).
    source_type: SampleType,
    /// The source's format (a GIF stays a GIF by default) and animation timing.
    source_format: Option<Format>,
    animation: Option<Arc<Animation>>,
}

impl Value {
    fn bytes(&self) -> u64 {
        self.frames
            .iter()
            .map(|d| match d {
                Data::Gpu(g) => g.gpu_bytes(),
                Data::Cpu(p) => p.data.len() as u64 * 4,
            })
            .sum()
    }
    fn value_type(&self) -> SampleType {
        match &self.frames[0] {
            Data::Gpu(g) => g.value_type(),
            Data::Cpu(p) => p.value_type,
        }
    }
}

/// Results kept across runs, least recently used evicted first, under a byte budget.
struct Resident {
    budget: u64,
    used: u64,
    tick: u64,
    entries: HashMap<Key, (Value, u64)>,
}

impl Resident {
    fn get(&mut self, key: &Key) -> Option<Value> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|(v, t)| {
            *t = tick;
            v.clone()
        })
    }

    fn put(&mut self, key: Key, value: &Value) {
        let bytes = value.bytes();
        if bytes > self.budget || self.entries.contains_key(&key) {
            return;
        }
        while self.used + bytes > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some((v, _)) = self.entries.remove(&oldest) {
                self.used -= v.bytes();
            }
        }
        self.tick += 1;
        self.used += bytes;
        self.entries.insert(key, (value.clone(), self.tick));
    }
}

#[derive(Clone)]
enum Engine {
    Gpu(GpuContext),
    Cpu,
}

/// Runs flows, caching results in a store and keeping recent ones resident. Share one
/// per process (a service, a notebook): the resident cache and the GPU device live here.
pub struct Executor {
    backend: Backend,
    engine: Mutex<Option<Engine>>,
    notice: Mutex<Option<String>>,
    resident: Mutex<Resident>,
}

impl Executor {
    /// An executor on `backend`. The GPU device is created on first need, so a run that
    /// finds every output stored never touches the GPU.
    pub fn new(backend: Backend) -> Self {
        Executor {
            backend,
            engine: Mutex::new(None),
            notice: Mutex::new(None),
            resident: Mutex::new(Resident {
                budget: DEFAULT_RESIDENT_BYTES,
                used: 0,
                tick: 0,
                entries: HashMap::new(),
            }),
        }
    }

    /// An executor on a GPU context the caller made.
    pub fn with_gpu(ctx: GpuContext) -> Self {
        let e = Self::new(Backend::Gpu);
        *lock(&e.engine) = Some(Engine::Gpu(ctx));
        e
    }

    /// Sets the resident cache's byte budget (0 turns it off).
    pub fn with_resident_budget(self, bytes: u64) -> Self {
        lock(&self.resident).budget = bytes;
        self
    }

    /// The GPU context, if this executor has created (or was given) one.
    pub fn gpu_context(&self) -> Option<GpuContext> {
        match &*lock(&self.engine) {
            Some(Engine::Gpu(c)) => Some(c.clone()),
            _ => None,
        }
    }

    /// Why `Backend::Auto` chose the CPU, if it did.
    pub fn notice(&self) -> Option<String> {
        lock(&self.notice).clone()
    }

    /// Bytes held by the resident cache.
    pub fn resident_bytes(&self) -> u64 {
        lock(&self.resident).used
    }

    fn engine(&self) -> Result<Engine> {
        let mut slot = lock(&self.engine);
        if let Some(e) = &*slot {
            return Ok(e.clone());
        }
        let (gpu, notice) = self.backend.resolve()?;
        *lock(&self.notice) = notice;
        let engine = gpu.map_or(Engine::Cpu, Engine::Gpu);
        *slot = Some(engine.clone());
        Ok(engine)
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
        Run::new(self, flow, store, options).execute(progress)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a planned node gets its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Not needed.
    None,
    /// Compute it (decode, for a source).
    Compute,
    /// Take it from the resident cache.
    Resident,
    /// Load it from the store (an exact stored upstream output).
    Load,
}

/// Sources decoded ahead of the GPU by worker threads, at most `lookahead` beyond the
/// one the run is waiting for, so memory stays bounded however many files a flow has.
struct Prefetch {
    order: Vec<Decode>,
    lookahead: usize,
    state: Mutex<PrefetchState>,
    ready: Condvar,
}

#[derive(Default)]
struct PrefetchState {
    next: usize,
    taken: usize,
    stop: bool,
    done: HashMap<usize, Result<Stack>>,
}

impl Prefetch {
    fn worker(&self) {
        loop {
            let Decode {
                node,
                path,
                key,
                stamp,
            } = {
                let mut st = lock(&self.state);
                while !st.stop && st.next < self.order.len() && st.next >= st.taken + self.lookahead
                {
                    st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop || st.next >= self.order.len() {
                    return;
                }
                st.next += 1;
                self.order[st.next - 1].clone()
            };
            let decode = || {
                // A file whose stamp vouched for the bytes it was keyed by is decoded
                // straight from disk, and counts if its stamp still vouches afterwards.
                if let Some(keyed) = &stamp {
                    let (stack, now) =
                        key::read_stamped(&path, |f| io::decode_stack_from_file(f, &path))
                            .map_err(|e| Error::io(&path, e))?;
                    if now.as_ref() == Some(keyed) {
                        return stack;
                    }
                }
                // Otherwise (no stamp, or the file moved during the decode) the bytes are
                // read whole and hashed again: they must be the ones the key was made of.
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                if key::file_source(&Key::of_bytes(&bytes)) != key {
                    return Err(Error::Decode {
                        path: path.clone(),
                        reason: "the file changed during the run".into(),
                    });
                }
                io::decode_stack(&bytes, &path)
            };
            // A decoder that panics on a malformed file fails that file, not the run.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode))
                .unwrap_or_else(|_| {
                    Err(Error::Decode {
                        path: path.clone(),
                        reason: "the decoder crashed on this file".into(),
                    })
                });
            lock(&self.state).done.insert(node, result);
            self.ready.notify_all();
        }
    }

    /// The decoded source of `node`, waiting for a worker if need be.
    fn take(&self, node: usize) -> Option<Result<Stack>> {
        let position = self.order.iter().position(|d| d.node == node)?;
        let mut st = lock(&self.state);
        loop {
            if let Some(r) = st.done.remove(&node) {
                // By position, so a source never asked for cannot hold the others back.
                st.taken = st.taken.max(position + 1);
                self.ready.notify_all();
                return Some(r);
            }
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn stop(&self) {
        lock(&self.state).stop = true;
        self.ready.notify_all();
    }
}

/// A file source to decode ahead: its key, and its stamp when that was keyed.
#[derive(Clone)]
struct Decode {
    node: usize,
    path: PathBuf,
    key: Key,
    stamp: Option<FileStamp>,
}

/// An output to encode and commit off the GPU thread.
struct EncodeJob {
    node: usize,
    stack: Stack,
    format: Format,
    record: Record,
}

fn encode_worker(
    store: &Store,
    jobs: &Mutex<Receiver<EncodeJob>>,
    done: Sender<(usize, Result<Hit>)>,
) {
    loop {
        let job = match lock(jobs).recv() {
            Ok(j) => j,
            Err(_) => return, // the run has sent everything
        };
        let path = store
            .out_dir()
            .join(format!("{}.{}", job.record.name, job.format.extension()));
        let result = io::encode_stack(&job.stack, job.format, &path)
            .and_then(|bytes| store.commit(job.record, &bytes, job.format.extension()));
        if done.send((job.node, result)).is_err() {
            return;
        }
    }
}

struct Run<'a> {
    exec: &'a Executor,
    flow: &'a Flow,
    store: &'a Store,
    options: &'a RunOptions,
    started: Instant,
    run_id: String,
    keys: Vec<std::result::Result<Key, String>>,
    hits: HashMap<usize, Hit>,
    /// blake3 of each file source's bytes, and its stamp when it was keyed where the
    /// file system can vouch for it.
    sources: HashMap<usize, (Key, Option<FileStamp>)>,
    plan: Vec<Plan>,
    consumers: Vec<usize>,
    values: HashMap<usize, Value>,
    /// Resident-cache values planned for use, held so later insertions cannot evict them.
    pinned: HashMap<usize, Value>,
    thresholds: HashMap<usize, Vec<GpuThreshold>>,
    threshold_values: HashMap<usize, Vec<f64>>,
    nodes: Vec<NodeReport>,
    failures: Vec<Failure>,
    warnings: Vec<String>,
    engine: Option<Engine>,
    /// Transfer counters when this run acquired its engine: the run's totals start here.
    base: (u64, u64),
    touched: Vec<Key>,
    prefetch: Option<Arc<Prefetch>>,
    encode: Option<SyncSender<EncodeJob>>,
    /// Set when the backend itself could not be had: that ends the run, it is not one
    /// node's failure.
    engine_failed: bool,
}

impl<'a> Run<'a> {
    fn new(exec: &'a Executor, flow: &'a Flow, store: &'a Store, options: &'a RunOptions) -> Self {
        let n = flow.nodes.len();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Run {
            exec,
            flow,
            store,
            options,
            started: Instant::now(),
            run_id: format!("{nanos:024}-{}", std::process::id()),
            keys: vec![Err("not needed".into()); n],
            hits: HashMap::new(),
            sources: HashMap::new(),
            plan: vec![Plan::None; n],
            consumers: vec![0; n],
            values: HashMap::new(),
            pinned: HashMap::new(),
            thresholds: HashMap::new(),
            threshold_values: HashMap::new(),
            nodes: (0..n)
                .map(|i| NodeReport {
                    node: i,
                    label: flow.label(NodeId(i)),
                    key: None,
                    status: Status::Skipped,
                    wall_ms: 0.0,
                    bytes_uploaded: 0,
                    bytes_downloaded: 0,
                    thresholds: Vec::new(),
                    error: None,
                })
                .collect(),
            failures: Vec::new(),
            warnings: Vec::new(),
            engine: None,
            base: (0, 0),
            touched: Vec::new(),
            prefetch: None,
            encode: None,
            engine_failed: false,
        }
    }

    fn input_of(&self, i: usize) -> Option<usize> {
        match &self.flow.nodes[i].kind {
            NodeKind::Op { input, .. } => Some(input.0),
            _ => None,
        }
    }

    fn fail(&mut self, i: usize, reason: String, root: bool) {
        let r = &mut self.nodes[i];
        r.status = Status::Failed;
        r.error = Some(reason.clone());
        if root {
            let path = match &self.flow.nodes[i].kind {
                NodeKind::File(p) => Some(p.clone()),
                _ => None,
            };
            self.failures.push(Failure {
                node: i,
                path,
                reason,
            });
        }
    }

    fn execute(mut self, progress: &mut dyn FnMut(&OutputReport)) -> Result<RunReport> {
        let n = self.flow.nodes.len();
        // 1. Key every node some output depends on (sources hashed in parallel).
        let mut needed = vec![false; n];
        for (node, _) in self.flow.outputs() {
            let mut i = Some(node.0);
            while let Some(j) = i.filter(|&j| !needed[j]) {
                needed[j] = true;
                i = self.input_of(j);
            }
        }
        self.key_sources(&needed);
        for i in (0..n).filter(|&i| needed[i]) {
            self.keys[i] = self.key_of(i);
            match &self.keys[i] {
                Ok(k) => self.nodes[i].key = Some(*k),
                Err(e) => {
                    let root = self.input_of(i).is_none();
                    self.fail(i, e.clone(), root);
                }
            }
        }

        // 2. Look the outputs up.
        let outputs: Vec<(usize, Materialize)> = self
            .flow
            .outputs()
            .map(|(id, m)| (id.0, m.clone()))
            .collect();
        // Each look-up re-hashes its file, so they run in parallel.
        let lookups: Vec<Option<Lookup>> = {
            use rayon::prelude::*;
            let (keys, store, options) = (&self.keys, self.store, self.options);
            outputs
                .par_iter()
                .map(|(i, m)| match keys[*i] {
                    Ok(task) if m.persist && !options.refresh => {
                        Some(store.lookup(&output_key(&task, m), options.max_age))
                    }
                    _ => None,
                })
                .collect()
        };
        let mut todo = Vec::new();
        for ((i, m), lookup) in outputs.iter().zip(lookups) {
            if self.keys[*i].is_err() {
                continue;
            }
            match lookup {
                Some(Lookup::Hit(hit)) => {
                    self.hits.insert(*i, *hit);
                }
                Some(Lookup::Broken(reason)) => {
                    let w = format!("output `{}`: recomputing: {reason}", m.name);
                    log::warn!("{w}");
                    self.warnings.push(w);
                    todo.push(*i);
                }
                _ => todo.push(*i),
            }
        }

        // 3. Plan the misses back to values already at hand.
        for &o in &todo {
            self.plan_node(o, o);
            self.consumers[o] += 1; // the write
        }

        // 4. Evaluate depth first, output by output, with sources decoded ahead by one
        //    pool of threads and outputs encoded and written behind by another.
        let jobs = match self.options.jobs {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            j => j,
        };
        let order = self.decode_order(&todo);
        let prefetch = Arc::new(Prefetch {
            order,
            lookahead: jobs + 1,
            state: Mutex::default(),
            ready: Condvar::new(),
        });
        let (job_tx, job_rx) = sync_channel::<EncodeJob>(jobs);
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = channel();
        self.prefetch = Some(Arc::clone(&prefetch));
        self.encode = Some(job_tx);
        let store = self.store;
        let mut reports: Vec<Option<OutputReport>> = vec![None; outputs.len()];
        let slot_of: HashMap<usize, usize> = outputs
            .iter()
            .enumerate()
            .map(|(k, (i, _))| (*i, k))
            .collect();
        let outcome = std::thread::scope(|s| -> Result<()> {
            for _ in 0..jobs.min(prefetch.order.len()) {
                let p = Arc::clone(&prefetch);
                s.spawn(move || p.worker());
            }
            for _ in 0..jobs {
                let (rx, tx) = (&job_rx, done_tx.clone());
                s.spawn(move || encode_worker(store, rx, tx));
            }
            drop(done_tx);
            let result = (|| -> Result<()> {
                for (k, (i, m)) in outputs.iter().enumerate() {
                    if let Some(hit) = self.hits.get(i).cloned() {
                        self.nodes[*i].status = Status::StoreHit;
                        let r = self.output_report(*i, m, Status::StoreHit, Some(&hit));
                        progress(&r);
                        reports[k] = Some(r);
                        continue;
                    }
                    if self.keys[*i].is_err() {
                        let r = self.failed_output(*i, m);
                        progress(&r);
                        reports[k] = Some(r);
                        continue;
                    }
                    self.evaluate(*i)?;
                    if let Some(r) = self.materialize(*i, m) {
                        progress(&r);
                        reports[k] = Some(r);
                    }
                    self.release(*i);
                    // Pick up whatever the encoders have finished meanwhile.
                    while let Ok((node, result)) = done_rx.try_recv() {
                        let r = self.finish_output(node, &outputs[slot_of[&node]].1, result);
                        progress(&r);
                        reports[slot_of[&node]] = Some(r);
                    }
                }
                Ok(())
            })();
            // Let the pools drain and end, whatever happened above.
            prefetch.stop();
            self.encode = None;
            result
        });
        for (node, result) in done_rx.iter() {
            let r = self.finish_output(node, &outputs[slot_of[&node]].1, result);
            progress(&r);
            reports[slot_of[&node]] = Some(r);
        }
        outcome?;
        self.store.log_run(&self.run_id, &self.touched)?;
        let end = self.counters();
        self.failures.sort_by_key(|f| f.node);
        Ok(RunReport {
            run_id: self.run_id,
            device: self.engine.as_ref().map(|e| match e {
                Engine::Gpu(c) => c.adapter().name.clone(),
                Engine::Cpu => "cpu".into(),
            }),
            nodes: self.nodes,
            outputs: reports
                .into_iter()
                .map(|r| r.expect("every output reported"))
                .collect(),
            failures: self.failures,
            warnings: self.warnings,
            wall_ms: self.started.elapsed().as_secs_f64() * 1e3,
            bytes_uploaded: end.0 - self.base.0,
            bytes_downloaded: end.1 - self.base.1,
        })
    }

    /// Hashes the needed file sources, several at a time.
    fn key_sources(&mut self, needed: &[bool]) {
        use rayon::prelude::*;
        let files: Vec<(usize, PathBuf)> = (0..needed.len())
            .filter(|&i| needed[i])
            .filter_map(|i| match &self.flow.nodes[i].kind {
                NodeKind::File(p) => Some((i, p.clone())),
                _ => None,
            })
            .collect();
        type Keyed = std::result::Result<(Key, Option<FileStamp>), String>;
        let hashes: Vec<(usize, Keyed)> = files
            .par_iter()
            .map(|(i, path)| {
                let h = key::hash_stamped(path).map_err(|e| Error::io(path, e).to_string());
                (*i, h)
            })
            .collect();
        for (i, h) in hashes {
            if let Ok(read) = &h {
                self.sources.insert(i, *read);
            }
            self.keys[i] = h.map(|(h, _)| key::file_source(&h));
        }
    }

    /// The file sources to decode, in the order evaluation will want them.
    fn decode_order(&self, todo: &[usize]) -> Vec<Decode> {
        let mut seen = vec![false; self.flow.nodes.len()];
        let mut order = Vec::new();
        for &o in todo {
            let mut chain = Vec::new();
            let mut i = Some(o);
            while let Some(j) = i.filter(|&j| !seen[j] && self.plan[j] == Plan::Compute) {
                seen[j] = true;
                chain.push(j);
                i = self.input_of(j);
            }
            for j in chain.into_iter().rev() {
                if let (NodeKind::File(p), Ok(k)) = (&self.flow.nodes[j].kind, &self.keys[j]) {
                    order.push(Decode {
                        node: j,
                        path: p.clone(),
                        key: *k,
                        stamp: self.sources.get(&j).and_then(|(_, s)| *s),
                    });
                }
            }
        }
        order
    }

    /// The key of an in-memory source or an op (file sources are keyed by
    /// `key_sources`, in parallel).
    fn key_of(&self, i: usize) -> std::result::Result<Key, String> {
        match &self.flow.nodes[i].kind {
            NodeKind::File(_) => self.keys[i].clone(),
            NodeKind::Image { image, .. } => Ok(key::image_source(image)),
            NodeKind::Op { op, input } => match &self.keys[input.0] {
                Ok(k) => Ok(key::task(op, &[*k])),
                Err(_) => Err(format!("input failed: {}", self.root_error(input.0))),
            },
        }
    }

    fn root_error(&self, mut i: usize) -> String {
        while let Some(j) = self.input_of(i) {
            if self.keys[j].is_ok() && self.nodes[j].status != Status::Failed {
                break;
            }
            i = j;
        }
        self.nodes[i]
            .error
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    /// Decides how node `i` (needed by output `o`) gets its value.
    fn plan_node(&mut self, i: usize, o: usize) {
        if self.plan[i] != Plan::None || self.keys[i].is_err() {
            return;
        }
        let key = self.keys[i].clone().expect("checked");
        if let Some(v) = lock(&self.exec.resident).get(&key) {
            self.pinned.insert(i, v);
            self.plan[i] = Plan::Resident;
            return;
        }
        // A stored upstream output that holds the values exactly can stand in for them.
        if i != o
            && self
                .hits
                .get(&i)
                .is_some_and(|h| h.record.sample_type == h.record.value_type)
        {
            self.plan[i] = Plan::Load;
            return;
        }
        self.plan[i] = Plan::Compute;
        if let Some(j) = self.input_of(i) {
            self.consumers[j] += 1;
            self.plan_node(j, o);
        }
    }

    fn counters(&self) -> (u64, u64) {
        match &self.engine {
            Some(Engine::Gpu(c)) => {
                let s = c.stats();
                (s.bytes_uploaded, s.bytes_downloaded)
            }
            _ => (0, 0),
        }
    }

    fn engine(&mut self) -> Result<Engine> {
        if self.engine.is_none() {
            let engine = self
                .exec
                .engine()
                .inspect_err(|_| self.engine_failed = true)?;
            self.engine = Some(engine);
            self.base = self.counters();
        }
        Ok(self.engine.clone().expect("set"))
    }

    /// Makes node `i`'s value available (or marks it failed).
    fn evaluate(&mut self, i: usize) -> Result<()> {
        if self.values.contains_key(&i)
            || self.nodes[i].status == Status::Failed
            || self.keys[i].is_err()
        {
            return Ok(());
        }
        if let Some(j) = self.input_of(i).filter(|_| self.plan[i] == Plan::Compute) {
            self.evaluate(j)?;
            if !self.values.contains_key(&j) {
                let reason = format!("input failed: {}", self.root_error(j));
                self.fail(i, reason, false);
                return Ok(());
            }
        }
        let before = self.counters();
        let t0 = Instant::now();
        let key = self.keys[i].clone().expect("checked");
        // The engine (and so the GPU device) is acquired only once there is data to
        // put on it: a run whose misses all fail to decode never creates a device.
        let outcome: Result<(Value, Status)> = match self.plan[i] {
            Plan::Resident => Ok((
                self.pinned.remove(&i).expect("pinned when planned"),
                Status::ResidentHit,
            )),
            Plan::Load => {
                let hit = self.hits[&i].clone();
                io::load_stack(&hit.path).and_then(|stack| {
                    let engine = self.engine()?;
                    let v = self.value_from_stack(&engine, stack, hit.record.value_type)?;
                    self.touched.push(hit.record.key);
                    Ok((v, Status::StoreHit))
                })
            }
            Plan::Compute | Plan::None => self.compute(i).map(|v| (v, Status::Computed)),
        };
        if self.engine_failed {
            return outcome.map(|_| ());
        }
        let after = self.counters();
        let r = &mut self.nodes[i];
        r.wall_ms = t0.elapsed().as_secs_f64() * 1e3;
        r.bytes_uploaded = after.0 - before.0;
        r.bytes_downloaded = after.1 - before.1;
        match outcome {
            Ok((value, status)) => {
                r.status = status;
                if status == Status::Computed {
                    lock(&self.exec.resident).put(key, &value);
                }
                self.values.insert(i, value);
                if let Some(j) = self.input_of(i).filter(|_| self.plan[i] == Plan::Compute) {
                    self.release(j);
                }
            }
            Err(e) => {
                let root = self.input_of(i).is_none();
                self.fail(i, e.to_string(), root);
            }
        }
        Ok(())
    }

    /// One consumer of `i` is done; drop the value when it was the last.
    fn release(&mut self, i: usize) {
        self.consumers[i] = self.consumers[i].saturating_sub(1);
        if self.consumers[i] == 0 {
            self.values.remove(&i);
        }
    }

    fn value_from_stack(
        &self,
        engine: &Engine,
        stack: Stack,
        value_type: SampleType,
    ) -> Result<Value> {
        let source_type = stack.frames[0].sample_type();
        let frames = stack
            .frames
            .iter()
            .map(|image| {
                Ok(match engine {
                    Engine::Gpu(ctx) => {
                        let mut g = ctx.upload(image)?;
                        g.set_value_type(value_type);
                        Data::Gpu(Arc::new(g))
                    }
                    Engine::Cpu => {
                        let mut p = cpu::convert::to_planes(image);
                        p.value_type = value_type;
                        Data::Cpu(Arc::new(p))
                    }
                })
            })
            .collect::<Result<_>>()?;
        Ok(Value {
            frames,
            source_type,
            source_format: stack.format,
            animation: stack.animation.map(Arc::new),
        })
    }

    fn compute(&mut self, i: usize) -> Result<Value> {
        match &self.flow.nodes[i].kind {
            NodeKind::File(path) => {
                let stack = match self.prefetch.as_ref().and_then(|p| p.take(i)) {
                    Some(r) => r?,
                    None => io::load_stack(path)?,
                };
                let t = stack.frames[0].sample_type();
                let engine = self.engine()?;
                self.value_from_stack(&engine, stack, t)
            }
            NodeKind::Image { image, .. } => {
                let engine = self.engine()?;
                self.value_from_stack(
                    &engine,
                    Stack::single(Image::clone(image)),
                    image.sample_type(),
                )
            }
            NodeKind::Op { op, input } => {
                let engine = &self.engine()?;
                let src = self.values[&input.0].clone();
                let mut frames = Vec::with_capacity(src.frames.len());
                let (mut gpu_t, mut cpu_t) = (Vec::new(), Vec::new());
                for data in &src.frames {
                    frames.push(match (data, engine) {
                        (Data::Gpu(g), Engine::Gpu(ctx)) => {
                            let (out, t) = ctx.apply(g, op)?;
                            gpu_t.extend(t);
                            Data::Gpu(Arc::new(out))
                        }
                        (Data::Cpu(p), _) => {
                            let (out, t) = cpu::apply(p, op);
                            cpu_t.extend(t);
                            Data::Cpu(Arc::new(out))
                        }
                        (Data::Gpu(_), Engine::Cpu) => unreachable!("one engine per executor"),
                    });
                }
                if !gpu_t.is_empty() {
                    self.thresholds.insert(i, gpu_t);
                }
                if !cpu_t.is_empty() {
                    self.nodes[i].thresholds = cpu_t.clone();
                    self.threshold_values.insert(i, cpu_t);
                }
                Ok(Value { frames, ..src })
            }
        }
    }

    /// A threshold node's values, reading Otsu's back from the GPU (4 bytes a frame)
    /// the first time they are asked for.
    fn threshold(&mut self, i: usize) -> Vec<f64> {
        if let Some(t) = self.threshold_values.get(&i) {
            return t.clone();
        }
        let Some(pending) = self.thresholds.get(&i) else {
            return Vec::new();
        };
        let t: Vec<f64> = pending.iter().filter_map(|p| p.value().ok()).collect();
        self.threshold_values.insert(i, t.clone());
        self.nodes[i].thresholds = t.clone();
        t
    }

    fn root(&self, mut i: usize) -> usize {
        while let Some(j) = self.input_of(i) {
            i = j;
        }
        i
    }

    fn source_path(&self, i: usize) -> Option<PathBuf> {
        match &self.flow.nodes[self.root(i)].kind {
            NodeKind::File(p) => Some(p.clone()),
            _ => None,
        }
    }

    fn source_blake3(&self, i: usize) -> Option<Key> {
        self.sources.get(&self.root(i)).map(|(h, _)| *h)
    }

    fn lineage(&mut self, node: usize) -> Vec<LineageStep> {
        let mut steps = Vec::new();
        let mut i = Some(node);
        while let Some(j) = i {
            let key = self.keys[j].clone().expect("lineage of a keyed node");
            let mut step = LineageStep {
                key,
                op: None,
                thresholds: Vec::new(),
                source_path: None,
                source: None,
            };
            match &self.flow.nodes[j].kind {
                NodeKind::Op { op, .. } => {
                    step.op = Some(op.to_string());
                    if matches!(op, Op::Threshold(_)) {
                        step.thresholds = self.threshold(j);
                    }
                }
                NodeKind::File(p) => {
                    step.source_path = Some(std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                }
                NodeKind::Image { name, .. } => step.source = Some(name.clone()),
            }
            steps.push(step);
            i = self.input_of(j);
        }
        steps
    }

    /// An output's report; a hit (stored or just written) fills in where it is.
    fn output_report(
        &mut self,
        i: usize,
        m: &Materialize,
        status: Status,
        hit: Option<&Hit>,
    ) -> OutputReport {
        if let Some(h) = hit {
            self.touched.push(h.record.key);
        }
        OutputReport {
            node: i,
            name: m.name.clone(),
            status,
            key: hit.map(|h| h.record.key),
            task: self.keys[i].clone().ok(),
            path: hit.map(|h| h.path.clone()),
            file_blake3: hit.map(|h| h.record.file_blake3),
            source: self.source_path(i),
            source_blake3: self.source_blake3(i),
            file_bytes: hit.map(|h| h.record.file_bytes),
            image: None,
            error: (status == Status::Failed).then(|| {
                self.nodes[i]
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("input failed: {}", self.root_error(i)))
            }),
        }
    }

    fn failed_output(&mut self, i: usize, m: &Materialize) -> OutputReport {
        self.output_report(i, m, Status::Failed, None)
    }

    /// Downloads output `i` and hands it to the encoders; returns a report now only for
    /// outputs that are finished here (failed, or kept in memory).
    fn materialize(&mut self, i: usize, m: &Materialize) -> Option<OutputReport> {
        let Some(value) = self.values.get(&i).cloned() else {
            return Some(self.failed_output(i, m));
        };
        let result = (|| -> Result<Option<Stack>> {
            let to = m.dtype.resolve(value.source_type, value.value_type());
            let before = self.counters();
            let frames = value
                .frames
                .iter()
                .map(|d| match (d, &self.engine) {
                    (Data::Gpu(g), Some(Engine::Gpu(ctx))) => ctx.download(g, to),
                    (Data::Cpu(p), _) => Ok(cpu::convert::to_image(p, to)),
                    (Data::Gpu(_), _) => unreachable!("GPU values come from a GPU engine"),
                })
                .collect::<Result<Vec<_>>>()?;
            let after = self.counters();
            self.nodes[i].bytes_downloaded += after.1 - before.1;
            let stack = Stack {
                frames,
                animation: value.animation.as_deref().cloned(),
                format: value.source_format,
            };
            if !m.persist {
                return Ok(Some(stack));
            }
            let format = m.format.unwrap_or_else(|| default_format(&stack));
            let task = self.keys[i].clone().expect("computed nodes are keyed");
            let first = &stack.frames[0];
            let record = Record {
                version: RECORD_VERSION,
                key: output_key(&task, m),
                task,
                name: m.name.clone(),
                lineage: self.lineage(i),
                inputs: self
                    .input_of(i)
                    .and_then(|j| self.keys[j].clone().ok())
                    .into_iter()
                    .collect(),
                file: String::new(),
                file_blake3: task,
                file_bytes: 0,
                sample_type: first.sample_type(),
                value_type: value.value_type(),
                shape: first.shape(),
                frames: stack.frames.len(),
                format: format.name().into(),
                device: match &self.engine {
                    Some(Engine::Gpu(c)) => c.adapter().name.clone(),
                    _ => "cpu".into(),
                },
                crate_version: env!("CARGO_PKG_VERSION").into(),
                created_unix: 0,
            };
            let job = EncodeJob {
                node: i,
                stack,
                format,
                record,
            };
            let sent = self.encode.as_ref().is_some_and(|tx| tx.send(job).is_ok());
            match sent {
                true => Ok(None),
                false => Err(Error::Encode {
                    path: self.store.out_dir().to_path_buf(),
                    reason: "the encoder threads stopped".into(),
                }),
            }
        })();
        match result {
            Ok(None) => None,
            Ok(Some(stack)) => {
                let mut r = self.output_report(i, m, Status::Computed, None);
                r.image = Some(stack);
                Some(r)
            }
            Err(e) => {
                self.fail(i, e.to_string(), true);
                Some(self.failed_output(i, m))
            }
        }
    }

    /// Completes the report of an output the encoders have written (or failed to).
    fn finish_output(&mut self, i: usize, m: &Materialize, result: Result<Hit>) -> OutputReport {
        match result {
            Ok(hit) => self.output_report(i, m, Status::Computed, Some(&hit)),
            Err(e) => {
                self.fail(i, e.to_string(), true);
                self.failed_output(i, m)
            }
        }
    }
}

/// The output key: task plus how the output is written, as specified (the resolved
/// type and format follow from the task, so the spec is enough).
fn output_key(task: &Key, m: &Materialize) -> Key {
    let dtype = match m.dtype {
        OutputType::Same => "same",
        OutputType::Exactly(t) => t.name(),
    };
    let format = m.format.map_or("default", Format::name);
    key::output(task, &m.name, dtype, format)
}

/// The default output format: a GIF source stays a GIF (when the result is 8-bit);
/// other stacks of several frames are multi-page TIFF; single 8-bit colour images PNG;
/// everything else (16-bit, float, masks) TIFF.
pub fn default_format(stack: &Stack) -> Format {
    let first = &stack.frames[0];
    let u8 = first.sample_type() == SampleType::U8;
    match stack.format {
        Some(Format::Gif) if u8 => Format::Gif,
        _ if stack.frames.len() > 1 => Format::Tiff,
        _ if u8 && first.channels() > 1 => Format::Png,
        _ => Format::Tiff,
    }
}
