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
use crate::io::{self, Format};
use crate::key::{self, Key};
use crate::ops::Op;
use crate::store::{Hit, LineageStep, Lookup, Record, Store, RECORD_VERSION};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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
    /// For threshold ops: the threshold used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
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
    /// The result, for outputs with `persist: false`.
    #[serde(skip)]
    pub image: Option<Image>,
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

/// A node's value during a run.
#[derive(Clone)]
enum Data {
    Gpu(Arc<GpuImage>),
    Cpu(Arc<Planes>),
}

#[derive(Clone)]
struct Value {
    data: Data,
    /// The sample type of the source it came from (for `OutputType::Same`).
    source_type: SampleType,
}

impl Value {
    fn bytes(&self) -> u64 {
        match &self.data {
            Data::Gpu(g) => g.gpu_bytes(),
            Data::Cpu(p) => p.data.len() as u64 * 4,
        }
    }
    fn value_type(&self) -> SampleType {
        match &self.data {
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
        let engine = match self.backend {
            Backend::Cpu => Engine::Cpu,
            Backend::Gpu => Engine::Gpu(GpuContext::new()?),
            Backend::Auto => match GpuContext::new() {
                Ok(ctx) => Engine::Gpu(ctx),
                Err(e @ (Error::NoAdapter { .. } | Error::Device { .. })) => {
                    let notice = format!("no usable GPU ({e}); running on the CPU");
                    log::warn!("{notice}");
                    *lock(&self.notice) = Some(notice);
                    Engine::Cpu
                }
                Err(e) => return Err(e),
            },
        };
        *slot = Some(engine.clone());
        Ok(engine)
    }

    /// Runs `flow`: every materialized output is a store hit, or is computed and written.
    /// Per-source failures do not stop the run: they are in the report's `failures`,
    /// next to the outputs that did complete. `Err` means the run could not happen at
    /// all (no GPU for `Backend::Gpu`, an unwritable store).
    pub fn run(&self, flow: &Flow, store: &Store, options: &RunOptions) -> Result<RunReport> {
        Run::new(self, flow, store, options).execute()
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

struct Run<'a> {
    exec: &'a Executor,
    flow: &'a Flow,
    store: &'a Store,
    options: &'a RunOptions,
    started: Instant,
    run_id: String,
    keys: Vec<std::result::Result<Key, String>>,
    hits: HashMap<usize, Hit>,
    plan: Vec<Plan>,
    consumers: Vec<usize>,
    values: HashMap<usize, Value>,
    /// Resident-cache values planned for use, held so later insertions cannot evict them.
    pinned: HashMap<usize, Value>,
    thresholds: HashMap<usize, GpuThreshold>,
    threshold_values: HashMap<usize, f64>,
    nodes: Vec<NodeReport>,
    failures: Vec<Failure>,
    warnings: Vec<String>,
    engine: Option<Engine>,
    /// Transfer counters when this run acquired its engine: the run's totals start here.
    base: (u64, u64),
    touched: Vec<Key>,
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
                    threshold: None,
                    error: None,
                })
                .collect(),
            failures: Vec::new(),
            warnings: Vec::new(),
            engine: None,
            base: (0, 0),
            touched: Vec::new(),
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

    fn execute(mut self) -> Result<RunReport> {
        let n = self.flow.nodes.len();
        // 1. Key every node some output depends on.
        let mut needed = vec![false; n];
        for (node, _) in self.flow.outputs() {
            let mut i = Some(node.0);
            while let Some(j) = i.filter(|&j| !needed[j]) {
                needed[j] = true;
                i = self.input_of(j);
            }
        }
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
        let mut todo = Vec::new();
        for (i, m) in &outputs {
            let Ok(task) = self.keys[*i] else { continue };
            if !m.persist {
                todo.push(*i);
                continue;
            }
            let out_key = output_key(&task, m);
            match self.store.lookup(&out_key, self.options.max_age) {
                Lookup::Hit(hit) if !self.options.refresh => {
                    self.hits.insert(*i, *hit);
                }
                Lookup::Broken(reason) => {
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

        // 4. Evaluate depth first, output by output, and write.
        let mut reports = Vec::new();
        for (i, m) in &outputs {
            let report = if let Some(hit) = self.hits.get(i) {
                self.touched.push(hit.record.key);
                let r = &mut self.nodes[*i];
                r.status = Status::StoreHit;
                OutputReport {
                    node: *i,
                    name: m.name.clone(),
                    status: Status::StoreHit,
                    key: Some(hit.record.key),
                    task: Some(hit.record.task),
                    path: Some(hit.path.clone()),
                    file_blake3: Some(hit.record.file_blake3),
                    source: self.source_path(*i),
                    image: None,
                    error: None,
                }
            } else {
                self.evaluate(*i)?;
                let r = self.materialize(*i, m);
                self.release(*i);
                r
            };
            reports.push(report);
        }
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
            outputs: reports,
            failures: self.failures,
            warnings: self.warnings,
            wall_ms: self.started.elapsed().as_secs_f64() * 1e3,
            bytes_uploaded: end.0 - self.base.0,
            bytes_downloaded: end.1 - self.base.1,
        })
    }

    fn key_of(&self, i: usize) -> std::result::Result<Key, String> {
        match &self.flow.nodes[i].kind {
            NodeKind::File(path) => std::fs::read(path)
                .map(|bytes| key::file_source(&Key::of_bytes(&bytes)))
                .map_err(|e| Error::io(path, e).to_string()),
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
            self.engine = Some(self.exec.engine()?);
            self.base = self.counters();
        }
        Ok(self.engine.clone().expect("set"))
    }

    /// Makes node `i`'s value available (or marks it failed).
    fn evaluate(&mut self, i: usize) -> Result<()> {
        if self.values.contains_key(&i) || self.nodes[i].status == Status::Failed {
            return Ok(());
        }
        if self.keys[i].is_err() {
            return Ok(()); // failed while keying
        }
        if let Some(j) = self.input_of(i).filter(|_| self.plan[i] == Plan::Compute) {
            self.evaluate(j)?;
            if !self.values.contains_key(&j) {
                let reason = format!("input failed: {}", self.root_error(j));
                self.fail(i, reason, false);
                return Ok(());
            }
        }
        let engine = self.engine()?;
        let before = self.counters();
        let t0 = Instant::now();
        let key = self.keys[i].clone().expect("checked");
        let outcome: Result<(Value, Status)> = match self.plan[i] {
            Plan::Resident => Ok((
                self.pinned.remove(&i).expect("pinned when planned"),
                Status::ResidentHit,
            )),
            Plan::Load => {
                let hit = self.hits[&i].clone();
                io::load(&hit.path).and_then(|img| {
                    let v = self.value_from_image(&engine, &img, hit.record.value_type)?;
                    self.touched.push(hit.record.key);
                    Ok((v, Status::StoreHit))
                })
            }
            Plan::Compute | Plan::None => self.compute(&engine, i).map(|v| (v, Status::Computed)),
        };
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

    fn value_from_image(
        &self,
        engine: &Engine,
        image: &Image,
        value_type: SampleType,
    ) -> Result<Value> {
        let data = match engine {
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
        };
        Ok(Value {
            data,
            source_type: image.sample_type(),
        })
    }

    fn compute(&mut self, engine: &Engine, i: usize) -> Result<Value> {
        match &self.flow.nodes[i].kind {
            NodeKind::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                // The key was made from the bytes read earlier in this run.
                if Ok(key::file_source(&Key::of_bytes(&bytes))) != self.keys[i] {
                    return Err(Error::Decode {
                        path: path.clone(),
                        reason: "the file changed during the run".into(),
                    });
                }
                let image = io::decode(&bytes, path)?;
                self.value_from_image(engine, &image, image.sample_type())
            }
            NodeKind::Image { image, .. } => {
                self.value_from_image(engine, image, image.sample_type())
            }
            NodeKind::Op { op, input } => {
                let src = self.values[&input.0].clone();
                let data = match (&src.data, op, engine) {
                    (Data::Gpu(g), op, Engine::Gpu(ctx)) => Data::Gpu(Arc::new(match op {
                        Op::Gaussian(p) => ctx.gaussian(g, p)?,
                        Op::Box(p) => ctx.box_blur(g, p)?,
                        Op::Threshold(t) => {
                            let (mask, value) = ctx.threshold(g, t)?;
                            self.thresholds.insert(i, value);
                            mask
                        }
                    })),
                    (Data::Cpu(p), op, _) => Data::Cpu(Arc::new(match op {
                        Op::Gaussian(g) => cpu::gaussian::gaussian(p, g),
                        Op::Box(b) => cpu::box_blur::box_blur(p, b),
                        Op::Threshold(t) => {
                            let (mask, value) = cpu::threshold::threshold(p, t);
                            self.threshold_values.insert(i, value);
                            mask
                        }
                    })),
                    (Data::Gpu(_), _, Engine::Cpu) => unreachable!("one engine per executor"),
                };
                Ok(Value {
                    data,
                    source_type: src.source_type,
                })
            }
        }
    }

    fn threshold(&mut self, i: usize) -> Option<f64> {
        if let Some(t) = self.threshold_values.get(&i) {
            return Some(*t);
        }
        let t = self.thresholds.get(&i)?.value().ok()?;
        self.threshold_values.insert(i, t);
        self.nodes[i].threshold = Some(t);
        Some(t)
    }

    fn source_path(&self, mut i: usize) -> Option<PathBuf> {
        while let Some(j) = self.input_of(i) {
            i = j;
        }
        match &self.flow.nodes[i].kind {
            NodeKind::File(p) => Some(p.clone()),
            _ => None,
        }
    }

    fn lineage(&mut self, node: usize) -> Vec<LineageStep> {
        let mut steps = Vec::new();
        let mut i = Some(node);
        while let Some(j) = i {
            let key = self.keys[j].clone().expect("lineage of a keyed node");
            let step = match &self.flow.nodes[j].kind {
                NodeKind::Op { op, .. } => LineageStep {
                    key,
                    op: Some(op.to_string()),
                    threshold: if matches!(op, Op::Threshold(_)) {
                        self.threshold(j)
                    } else {
                        None
                    },
                    source_path: None,
                    source: None,
                },
                NodeKind::File(p) => LineageStep {
                    key,
                    op: None,
                    threshold: None,
                    source_path: Some(std::path::absolute(p).unwrap_or_else(|_| p.clone())),
                    source: None,
                },
                NodeKind::Image { name, .. } => LineageStep {
                    key,
                    op: None,
                    threshold: None,
                    source_path: None,
                    source: Some(name.clone()),
                },
            };
            steps.push(step);
            i = self.input_of(j);
        }
        steps
    }

    fn materialize(&mut self, i: usize, m: &Materialize) -> OutputReport {
        let mut report = OutputReport {
            node: i,
            name: m.name.clone(),
            status: Status::Failed,
            key: None,
            task: self.keys[i].clone().ok(),
            path: None,
            file_blake3: None,
            source: self.source_path(i),
            image: None,
            error: None,
        };
        let Some(value) = self.values.get(&i).cloned() else {
            report.error = self.nodes[i]
                .error
                .clone()
                .or_else(|| Some(format!("input failed: {}", self.root_error(i))));
            return report;
        };
        let result = (|| -> Result<(Image, Option<Hit>)> {
            let to = m.dtype.resolve(value.source_type, value.value_type());
            let before = self.counters();
            let image = match &value.data {
                Data::Gpu(g) => match &self.engine {
                    Some(Engine::Gpu(ctx)) => ctx.download(g, to)?,
                    _ => unreachable!("GPU values come from a GPU engine"),
                },
                Data::Cpu(p) => cpu::convert::to_image(p, to),
            };
            let after = self.counters();
            self.nodes[i].bytes_downloaded += after.1 - before.1;
            if !m.persist {
                return Ok((image, None));
            }
            let format = m.format.unwrap_or_else(|| default_format(&image));
            let file_name = std::path::PathBuf::from(format!("{}.{}", m.name, extension(format)));
            let bytes = io::encode(&image, format, &self.store.out_dir().join(file_name))?;
            let task = self.keys[i].clone().expect("computed nodes are keyed");
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
                sample_type: image.sample_type(),
                value_type: value.value_type(),
                shape: image.shape(),
                format: format.name().into(),
                device: match &self.engine {
                    Some(Engine::Gpu(c)) => c.adapter().name.clone(),
                    _ => "cpu".into(),
                },
                crate_version: env!("CARGO_PKG_VERSION").into(),
                created_unix: 0,
            };
            let hit = self.store.commit(record, &bytes, extension(format))?;
            Ok((image, Some(hit)))
        })();
        match result {
            Ok((image, hit)) => {
                report.status = Status::Computed;
                if let Some(hit) = hit {
                    self.touched.push(hit.record.key);
                    report.key = Some(hit.record.key);
                    report.path = Some(hit.path);
                    report.file_blake3 = Some(hit.record.file_blake3);
                } else {
                    report.image = Some(image);
                }
            }
            Err(e) => {
                report.error = Some(e.to_string());
                self.fail(i, e.to_string(), true);
            }
        }
        report
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

/// TIFF for everything but 8-bit colour, which is PNG.
pub fn default_format(image: &Image) -> Format {
    if image.sample_type() == SampleType::U8 && image.channels() > 1 {
        Format::Png
    } else {
        Format::Tiff
    }
}

fn extension(f: Format) -> &'static str {
    match f {
        Format::Tiff => "tif",
        Format::Png => "png",
        Format::Jpeg => "jpg",
    }
}
