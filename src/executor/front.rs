//! The engine-free side of evaluation: files read for a unit, what of it can run, and
//! what happens to its outputs once computed (encoded and written behind the engine, or
//! reported failed). A run acquires its engine only when a unit can actually run, so a
//! re-run whose only misses are files that cannot be decoded never creates a device.

use super::plan::{How, Plan, Unit};
use super::report::{OutputReport, Status};
use super::run::Run;
use super::value::Meta;
use super::workers::{self, encode_worker, EncodeJob, Fetch, Fetched, LazyTiff, Payload, Prefetch};
use crate::flow::NodeKind;
use crate::image::{Image, SampleType};
use crate::io::{self, Stack};
use crate::ops::Op;
use crate::store::Hit;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// What the resident cache holds for a unit's input.
pub(super) struct Pinned {
    pub meta: Arc<Meta>,
    pub value_type: SampleType,
    pub frames: usize,
    /// Bytes of one frame.
    pub frame_bytes: u64,
}

/// One unit being evaluated.
pub(super) struct Work {
    pub unit: Unit,
    pub frames: usize,
    /// Read files (sources decoded, stored outputs loaded), until the last frame is
    /// submitted.
    pub stacks: HashMap<usize, Stack>,
    /// What the values of loaded files are.
    pub loaded_as: HashMap<usize, SampleType>,
    /// Members that can run (their inputs are at hand), in node order.
    pub viable: Vec<usize>,
    pub meta: HashMap<usize, Arc<Meta>>,
    /// What each node's values are (records keep it).
    pub value_types: HashMap<usize, SampleType>,
    /// Downloaded frames, per output.
    pub images: HashMap<usize, Vec<Image>>,
    /// Measured frames, per measure node.
    pub tables: HashMap<usize, Vec<crate::measure::FrameTable>>,
    /// Bytes of one frame of one value (f32 planes): what keeping it resident costs.
    pub frame_bytes: u64,
    /// TIFFs too large to read whole: streamed band by band.
    pub lazy: HashMap<usize, LazyTiff>,
    /// Frames read back.
    pub done: usize,
    pub failed: Option<Arc<Error>>,
}

impl Work {
    /// Files what a reader handed over for node `i` (a decoded file, or a TIFF to
    /// stream), with the meta of its source (`None`: the file's own); returns its frames.
    fn take(&mut self, i: usize, got: Fetched, meta: Option<Meta>) -> usize {
        match got {
            Fetched::Whole(stack) => {
                let first = &stack.frames[0];
                self.meta
                    .insert(i, Arc::new(meta.unwrap_or_else(|| Meta::of(&stack))));
                self.value_types.insert(i, first.sample_type());
                self.frame_bytes = self.frame_bytes.max(first.shape().samples_u64() * 4);
                let n = stack.frames.len();
                self.stacks.insert(i, stack);
                n
            }
            Fetched::Lazy(lazy) => {
                let own = Meta {
                    source_type: lazy.sample_type,
                    format: Some(crate::io::Format::Tiff),
                    animation: None,
                    voxel: lazy.voxel.clone(),
                };
                self.meta.insert(i, Arc::new(meta.unwrap_or(own)));
                self.value_types.insert(i, lazy.sample_type);
                self.frame_bytes = self.frame_bytes.max(lazy.shape.samples_u64() * 4);
                let n = lazy.frames;
                self.lazy.insert(i, lazy);
                n
            }
        }
    }
}

/// The run with its readers and writers.
pub(super) struct Front<'f, 'a> {
    pub run: &'f mut Run<'a>,
    prefetch: &'f Prefetch,
    encode: Option<SyncSender<EncodeJob>>,
    encoded: &'f Receiver<(usize, Result<Hit>)>,
    progress: &'f mut dyn FnMut(&OutputReport),
}

/// Starts the decode and encode pools for `plan`, runs `f`, then lets the pools drain
/// and files every output they finish.
pub(super) fn with_workers(
    run: &mut Run<'_>,
    plan: &Plan,
    progress: &mut dyn FnMut(&OutputReport),
    f: impl FnOnce(&mut Front<'_, '_>) -> Result<()>,
) -> Result<()> {
    let jobs = match run.options.jobs {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        j => j,
    };
    // Files read ahead and waiting share a quarter of the memory budget; larger TIFFs
    // are streamed when their turn comes.
    let whole_limit = run.options.budget.memory / 4 / (jobs as u64 + 1);
    let prefetch = Prefetch::new(fetch_order(run, plan), jobs + 1, whole_limit);
    let (job_tx, job_rx) = sync_channel::<EncodeJob>(jobs);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = channel();
    let store = run.store;
    let write = workers::store_write(store);
    let out_dir = store.out_dir().to_path_buf();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(prefetch.len()) {
            s.spawn(|| prefetch.worker());
        }
        for _ in 0..jobs {
            let tx = done_tx.clone();
            let (rx, write, out_dir) = (&job_rx, &write, &out_dir);
            s.spawn(move || encode_worker(rx, tx, write, out_dir));
        }
        drop(done_tx);
        let mut front = Front {
            run,
            prefetch: &prefetch,
            encode: Some(job_tx),
            encoded: &done_rx,
            progress,
        };
        // Stop the readers however `f` ends: a panic would otherwise leave the scope
        // waiting for them forever.
        struct StopOnDrop<'p>(&'p Prefetch);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let stop = StopOnDrop(&prefetch);
        let result = f(&mut front);
        drop(stop);
        front.encode = None; // the encoders end once they have written what they hold
        for (node, written) in done_rx.iter() {
            front.written(node, written);
        }
        result
    })
}

/// The files to read, in the order evaluation will want them.
fn fetch_order(run: &Run<'_>, plan: &Plan) -> Vec<(usize, Fetch)> {
    let mut order = Vec::new();
    for unit in &plan.units {
        let mut nodes: Vec<usize> = unit.inputs.iter().chain(&unit.members).copied().collect();
        nodes.sort_unstable();
        for i in nodes {
            match (plan.how[i], run.kind(i)) {
                (How::Load, _) => order.push((
                    i,
                    Fetch::Load(run.store.clone(), Box::new(run.hits[&i].clone())),
                )),
                (How::Compute, NodeKind::File(_, _)) => {
                    if let Some(s) = run.sources.get(&i) {
                        order.push((i, Fetch::Decode(s.clone())));
                    }
                }
                _ => {}
            }
        }
    }
    order
}

impl Front<'_, '_> {
    /// Gathers units in order until one can run, finishing those that cannot (their
    /// outputs fail); returns it with its index.
    pub fn first_viable(&mut self, plan: &Plan) -> Option<(usize, Work)> {
        for (k, unit) in plan.units.iter().enumerate() {
            let w = self.gather(unit.clone(), &|_| None);
            if w.frames > 0 && w.failed.is_none() {
                return Some((k, w));
            }
            self.finish(w, None);
        }
        None
    }

    /// Takes the unit's files from the readers and works out what can run.
    pub fn gather(&mut self, unit: Unit, pinned: &dyn Fn(usize) -> Option<Pinned>) -> Work {
        let run = &mut *self.run;
        let mut w = Work {
            frames: 0,
            stacks: HashMap::new(),
            loaded_as: HashMap::new(),
            viable: Vec::new(),
            meta: HashMap::new(),
            value_types: HashMap::new(),
            images: HashMap::new(),
            tables: HashMap::new(),
            frame_bytes: 0,
            lazy: HashMap::new(),
            done: 0,
            failed: None,
            unit,
        };
        let mut available: Vec<usize> = Vec::new();
        let mut frames: Vec<(usize, usize)> = Vec::new(); // (node, frame count)
        for i in w.unit.inputs.clone() {
            if let Some(p) = pinned(i) {
                w.frame_bytes = w.frame_bytes.max(p.frame_bytes);
                w.meta.insert(i, p.meta);
                w.value_types.insert(i, p.value_type);
                frames.push((i, p.frames));
                available.push(i);
                run.nodes[i].status = Status::ResidentHit;
                continue;
            }
            // Loaded from the store.
            match self.prefetch.take(i) {
                Some(Ok(got)) => {
                    let record = &run.hits[&i].record;
                    w.loaded_as.insert(i, record.value_type);
                    let meta = record.source.as_ref().map(|s| Meta {
                        source_type: s.sample_type,
                        format: s.format,
                        animation: s.animation.clone(),
                        voxel: s.voxel.clone(),
                    });
                    run.touched.push(record.key);
                    run.nodes[i].status = Status::StoreHit;
                    let n = w.take(i, got, meta);
                    w.value_types.insert(i, record.value_type);
                    frames.push((i, n));
                    available.push(i);
                }
                Some(Err(e)) => run.fail(i, Arc::new(e), true),
                None => run.fail(i, Arc::new(Error::usage("the run stopped")), true),
            }
        }
        for i in w.unit.members.clone() {
            let inputs = run.inputs(i);
            if !inputs.iter().all(|j| available.contains(j)) {
                run.fail_from_inputs(i);
                continue;
            }
            match run.kind(i) {
                NodeKind::File(_, _) => match self.prefetch.take(i) {
                    Some(Ok(got)) => frames.push((i, w.take(i, got, None))),
                    Some(Err(e)) => {
                        run.fail(i, Arc::new(e), true);
                        continue;
                    }
                    None => {
                        run.fail(i, Arc::new(Error::usage("the run stopped")), true);
                        continue;
                    }
                },
                NodeKind::Image { image, .. } => {
                    w.meta.insert(i, Arc::new(Meta::of_image(image)));
                    w.value_types.insert(i, image.sample_type());
                    w.frame_bytes = w.frame_bytes.max(image.shape().samples_u64() * 4);
                    frames.push((i, 1));
                }
                NodeKind::Op { op, .. } => {
                    let m = Arc::clone(&w.meta[&inputs[0]]);
                    w.meta.insert(i, m);
                    let t = op.output_type(w.value_types[&inputs[0]]);
                    w.value_types.insert(i, t);
                }
                NodeKind::Measure { .. } => {
                    let m = Arc::clone(&w.meta[&inputs[0]]);
                    w.meta.insert(i, m);
                    w.value_types.insert(i, SampleType::F64);
                }
            }
            available.push(i);
            w.viable.push(i);
        }
        w.frames = frames.first().map_or(0, |f| f.1);
        if let Some(&(j, n)) = frames.iter().find(|(_, n)| *n != w.frames) {
            let (i, m) = frames[0];
            w.failed = Some(Arc::new(Error::usage(format!(
                "the inputs of one computation differ in frames: `{}` has {m}, `{}` has {n}",
                run.nodes[i].label, run.nodes[j].label
            ))));
        }
        // An output is had when computed here, or at hand (resident, to be written to a
        // store that lacks it).
        if !(w.unit.outputs.iter()).any(|o| w.viable.contains(o) || available.contains(o)) {
            w.frames = 0; // nothing to compute: every output lost an input
        }
        w
    }

    /// A unit is done (all frames read back) or failed: its outputs go to the encoders,
    /// or are reported failed. `device` names the engine that computed them.
    pub fn finish(&mut self, mut w: Work, device: Option<&str>) {
        let run = &mut *self.run;
        match w.failed.take() {
            Some(e) => {
                for &i in &w.viable {
                    run.fail(i, Arc::clone(&e), w.unit.outputs.contains(&i));
                }
                if w.viable.is_empty() {
                    for &o in &w.unit.outputs {
                        run.fail(o, Arc::clone(&e), true);
                    }
                }
            }
            None if device.is_some() => {
                for &i in &w.viable {
                    run.nodes[i].status = Status::Computed;
                }
            }
            None => {}
        }
        for &o in &w.unit.outputs.clone() {
            self.output(&mut w, o, device);
        }
    }

    /// One output of a finished unit: to the encoders, into the report (not persisted),
    /// or failed.
    fn output(&mut self, w: &mut Work, o: usize, device: Option<&str>) {
        // Computed here, or taken resident and downloaded (an output the resident
        // cache holds, written to a store that lacks it).
        let computed = matches!(
            self.run.nodes[o].status,
            Status::Computed | Status::ResidentHit
        );
        let (_, m) = (self.run.outputs.iter())
            .find(|(n, _)| *n == o)
            .expect("an output")
            .clone();
        let Some(meta) = w.meta.get(&o).cloned().filter(|_| computed) else {
            return self.lost(o);
        };
        let (payload, objects, format) = if self.run.kind(o).is_table() {
            let Some(tables) = w.tables.remove(&o).filter(|_| computed) else {
                return self.lost(o);
            };
            let csv = crate::measure::to_csv(&tables);
            let objects = crate::measure::count(&tables);
            if !m.persist {
                let mut r = self.run.output_report(o, Status::Computed, None);
                (r.table, r.objects) = (Some(csv), Some(objects));
                let r = self.run.put_report(r);
                return (self.progress)(r);
            }
            let frames = tables.len();
            (
                Payload::Table { csv, frames },
                Some(objects),
                io::Format::Csv,
            )
        } else {
            let Some(frames) = w.images.remove(&o).filter(|_| computed) else {
                return self.lost(o);
            };
            let objects = matches!(
                self.run.kind(o),
                NodeKind::Op {
                    op: Op::Label(_),
                    ..
                }
            )
            .then(|| crate::measure::label_count(&frames));
            let stack = Stack {
                frames,
                animation: meta.animation.clone(),
                format: meta.format,
                voxel: meta.voxel.clone(),
            };
            if !m.persist {
                let mut r = self.run.output_report(o, Status::Computed, None);
                (r.image, r.objects) = (Some(stack), objects);
                let r = self.run.put_report(r);
                return (self.progress)(r);
            }
            let format = m.format.unwrap_or_else(|| io::default_format(&stack));
            (Payload::Image(stack), objects, format)
        };
        let device = device.unwrap_or("cpu").to_string();
        let mut draft = self.run.draft(o, w.value_types[&o], &meta, format, device);
        draft.objects = objects;
        let job = EncodeJob {
            node: o,
            payload,
            draft,
        };
        if self.encode.as_ref().is_none_or(|tx| tx.send(job).is_err()) {
            let e = Error::encode("the encoder threads stopped").at(self.run.store.out_dir());
            self.run.fail(o, Arc::new(e), true);
            let r = self.run.set_report(o, Status::Failed, None);
            (self.progress)(r);
        }
    }

    /// An output whose value never came: failed, because an input did.
    fn lost(&mut self, o: usize) {
        let run = &mut *self.run;
        if run.nodes[o].status != Status::Failed {
            run.fail_from_inputs(o);
        }
        let r = run.set_report(o, Status::Failed, None);
        (self.progress)(r);
    }

    /// Files whatever the encoders have finished meanwhile.
    pub fn pick_up_written(&mut self) {
        while let Ok((node, written)) = self.encoded.try_recv() {
            self.written(node, written);
        }
    }

    /// An output the encoders have written (or failed to).
    pub fn written(&mut self, o: usize, written: Result<Hit>) {
        let run = &mut *self.run;
        let r = match written {
            Ok(hit) => {
                run.touched.push(hit.record.key);
                let status = match run.nodes[o].status {
                    Status::ResidentHit => Status::ResidentHit,
                    _ => Status::Computed,
                };
                run.set_report(o, status, Some(&hit))
            }
            Err(e) => {
                run.fail(o, Arc::new(e), true);
                run.set_report(o, Status::Failed, None)
            }
        };
        (self.progress)(r);
    }
}
