//! The engine's part of a run. Each unit of the plan is recorded frame by frame as one
//! program (every computed node of the unit, every output's download, the Otsu values),
//! submitted while the previous frame's results are read back, at most
//! [`MAX_FRAMES_IN_FLIGHT`] at once. Sources are decoded ahead and outputs written
//! behind by the pools of [`super::front`].

use super::front::{with_workers, Front, Pinned, Work};
use super::plan::{How, Plan};
use super::report::OutputReport;
use super::run::Run;
use super::value::Value;
use super::workers::lock;
use super::{Executor, Ready, Typed};
use crate::engine::{Engine, Outcome, Program, Slot, MAX_FRAMES_IN_FLIGHT};
use crate::flow::NodeKind;
use crate::image::SampleType;
use crate::ops::Op;
use crate::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Runs the misses of `run` on `exec`'s engine, acquiring it only once a unit can run.
pub(super) fn evaluate(
    exec: &Executor,
    run: &mut Run<'_>,
    progress: &mut dyn FnMut(&OutputReport),
) -> Result<()> {
    match exec.current().as_deref() {
        Some(Ready::Cpu(t)) => with_resident(t, run, progress),
        Some(Ready::Gpu(t)) => with_resident(t, run, progress),
        None => {
            // No engine yet, so nothing is resident.
            let plan = run.plan(|_| false);
            with_workers(run, &plan, progress, |front| {
                let Some(first) = front.first_viable(&plan) else {
                    return Ok(());
                };
                match &*exec.acquire()? {
                    Ready::Cpu(t) => {
                        Evaluator::new(t, front, HashMap::new()).units(&plan, Some(first))
                    }
                    Ready::Gpu(t) => {
                        Evaluator::new(t, front, HashMap::new()).units(&plan, Some(first))
                    }
                }
            })
        }
    }
}

/// Plans against the engine's resident cache, pinning what the plan takes from it so
/// that other runs' insertions cannot evict it meanwhile, and evaluates.
fn with_resident<E: Engine>(
    t: &Typed<E>,
    run: &mut Run<'_>,
    progress: &mut dyn FnMut(&OutputReport),
) -> Result<()> {
    let (plan, pinned) = {
        let mut resident = lock(&t.resident);
        let plan = run.plan(|k| resident.contains(k));
        let pinned: HashMap<usize, Value<E::Frame>> = (0..plan.how.len())
            .filter(|&i| plan.how[i] == How::Resident)
            .filter_map(|i| Some((i, resident.get(&run.keys[i]?)?)))
            .collect();
        (plan, pinned)
    };
    with_workers(run, &plan, progress, |front| {
        Evaluator::new(t, front, pinned).units(&plan, None)
    })
}

/// Where a frame's program put each node's value.
struct Layout {
    /// Node of each command.
    node_of: Vec<usize>,
    /// Output node of each download, in order.
    downloads: Vec<usize>,
    /// Node of each keep, in order.
    keeps: Vec<usize>,
    /// Threshold ops' slots.
    thresholds: Vec<(usize, Slot)>,
    /// Measure nodes, each with two downloads (labels, intensity) ahead of the outputs'.
    measures: Vec<usize>,
}

struct Evaluator<'e, 'f, 'a, E: Engine> {
    t: &'e Typed<E>,
    front: &'e mut Front<'f, 'a>,
    pinned: HashMap<usize, Value<E::Frame>>,
    /// The resident cache's budget: values of a unit that fit it are kept resident.
    budget: u64,
    in_flight: VecDeque<(usize, E::Pending, Layout)>,
    work: HashMap<usize, Work>,
    kept: HashMap<usize, HashMap<usize, Vec<E::Frame>>>,
}

impl<'e, 'f, 'a, E: Engine> Evaluator<'e, 'f, 'a, E> {
    fn new(
        t: &'e Typed<E>,
        front: &'e mut Front<'f, 'a>,
        pinned: HashMap<usize, Value<E::Frame>>,
    ) -> Self {
        front.run.device = Some(t.engine.device_name());
        t.engine.prepare(&front.run.options.budget);
        Evaluator {
            budget: lock(&t.resident).budget(),
            t,
            front,
            pinned,
            in_flight: VecDeque::new(),
            work: HashMap::new(),
            kept: HashMap::new(),
        }
    }

    /// Evaluates the plan's units, starting with `first` (already gathered) if given.
    fn units(&mut self, plan: &Plan, first: Option<(usize, Work)>) -> Result<()> {
        let start = first.as_ref().map_or(0, |(k, _)| *k);
        let mut first = first;
        for (k, unit) in plan.units.iter().enumerate().skip(start) {
            let work = match first.take() {
                Some((_, w)) => w,
                None => {
                    let pinned = &self.pinned;
                    self.front.gather(unit.clone(), &|i| {
                        let first = pinned.get(&i)?.frames.first();
                        pinned.get(&i).map(|v| Pinned {
                            meta: Arc::clone(&v.meta),
                            value_type: first
                                .map_or(crate::image::SampleType::F32, E::frame_value_type),
                            frames: v.frames.len(),
                            frame_bytes: first.map_or(0, E::frame_bytes),
                        })
                    })
                }
            };
            let mut work = work;
            // Frames too large for one program run in tiles (their sources may stream).
            let resident_input = work.unit.inputs.iter().any(|i| self.pinned.contains_key(i));
            if resident_input && !work.lazy.is_empty() {
                work.failed = Some(Arc::new(crate::Error::usage(
                    "a streamed file and a resident value in one computation: run with a resident budget of 0",
                )));
            }
            if work.frames > 0 && work.failed.is_none() && !resident_input {
                let budget = self.front.run.options.budget;
                match super::tiled::tiling(&self.t.engine, self.front, &work, &budget) {
                    Ok(Some(tiling)) => {
                        // Finish what is in flight first: memory goes to the tiles.
                        while !self.in_flight.is_empty() {
                            self.complete_oldest();
                        }
                        super::tiled::run_unit(&self.t.engine, self.front, work, tiling, &budget);
                        self.front.pick_up_written();
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => work.failed = Some(Arc::new(e)),
                }
            }
            let frames = work.frames;
            self.work.insert(k, work);
            for f in 0..frames {
                if self.work[&k].failed.is_some() {
                    break;
                }
                let submitted = self
                    .program(&self.work[&k], f)
                    .and_then(|(p, layout)| Ok((self.t.engine.submit(p)?, layout)));
                match submitted {
                    Ok((pending, layout)) => self.in_flight.push_back((k, pending, layout)),
                    Err(e) => self.unit_failed(k, Arc::new(e)),
                }
                if f + 1 == frames {
                    // All uploaded: the decoded pixels are no longer needed.
                    if let Some(w) = self.work.get_mut(&k) {
                        w.stacks.clear();
                    }
                }
                while self.in_flight.len() >= MAX_FRAMES_IN_FLIGHT {
                    self.complete_oldest();
                }
                self.front.pick_up_written();
            }
            if frames == 0 || self.work.get(&k).is_some_and(|w| w.failed.is_some()) {
                self.finish_unit(k);
            }
        }
        while !self.in_flight.is_empty() {
            self.complete_oldest();
        }
        Ok(())
    }

    /// Frame `f` of a unit as one program.
    fn program<'w>(&self, w: &'w Work, f: usize) -> Result<(Program<'w, E::Frame>, Layout)>
    where
        'a: 'w,
    {
        let run = &*self.front.run;
        // A value is kept resident only if all its frames fit the budget: keeping it
        // holds its memory on the device until the program ends.
        let keep = self.budget > 0 && w.frame_bytes * w.frames as u64 <= self.budget;
        let mut p = Program::new();
        let mut slot: HashMap<usize, Slot> = HashMap::new();
        let mut layout = Layout {
            node_of: Vec::new(),
            downloads: Vec::new(),
            keeps: Vec::new(),
            thresholds: Vec::new(),
            measures: Vec::new(),
        };
        for &i in &w.unit.inputs {
            let s = if let Some(v) = self.pinned.get(&i) {
                let frame = v.frames[f].clone();
                let t = E::frame_value_type(&frame);
                p.resident(frame, t)
            } else if let Some(stack) = w.stacks.get(&i) {
                p.upload_as(&stack.frames[f], w.loaded_as[&i])
            } else {
                continue; // failed to load: nothing reads it
            };
            slot.insert(i, s);
            layout.node_of.push(i);
        }
        for &i in &w.viable {
            let s = match run.kind(i) {
                NodeKind::Measure { labels, intensity } => {
                    // Measured on the host from both inputs, read back as label values
                    // and as f32 (exact for every 8- and 16-bit intensity).
                    for (n, to) in [(labels, SampleType::U32), (intensity, SampleType::F32)] {
                        p.download(slot[&n.index()], to);
                        layout.node_of.push(n.index());
                    }
                    layout.measures.push(i);
                    continue;
                }
                NodeKind::File(_, _) => p.upload(&w.stacks[&i].frames[f]),
                NodeKind::Image { image, .. } => p.upload(image),
                NodeKind::Op { op, .. } => {
                    let s = p.apply(op, slot[&run.inputs(i)[0]])?;
                    if matches!(op, Op::Threshold(_)) {
                        layout.thresholds.push((i, s));
                    }
                    s
                }
            };
            slot.insert(i, s);
            layout.node_of.push(i);
            if keep {
                p.keep(s);
                layout.node_of.push(i);
                layout.keeps.push(i);
            }
        }
        for &o in w.unit.outputs.iter().filter(|o| slot.contains_key(o)) {
            let (_, m) = run
                .outputs
                .iter()
                .find(|(n, _)| *n == o)
                .expect("an output");
            let to = m.dtype.resolve(w.meta[&o].source_type, w.value_types[&o]);
            p.download(slot[&o], to);
            layout.node_of.push(o);
            layout.downloads.push(o);
        }
        debug_assert_eq!(layout.node_of.len(), p.len());
        Ok((p, layout))
    }

    /// Waits for the oldest frame in flight and files its results.
    fn complete_oldest(&mut self) {
        let Some((k, pending, layout)) = self.in_flight.pop_front() else {
            return;
        };
        match self.t.engine.finish(pending) {
            Ok(outcome) => self.frame_done(k, outcome, layout),
            Err(e) => self.unit_failed(k, Arc::new(e)),
        }
    }

    fn frame_done(&mut self, k: usize, mut outcome: Outcome<E::Frame>, layout: Layout) {
        let run = &mut *self.front.run;
        for (c, &node) in layout.node_of.iter().enumerate() {
            run.nodes[node].bytes_uploaded += outcome.uploaded[c];
            run.nodes[node].bytes_downloaded += outcome.downloaded[c];
        }
        for &(node, s) in &layout.thresholds {
            if let Some(t) = outcome.threshold(s) {
                run.nodes[node].thresholds.push(t);
            }
        }
        let Some(w) = self.work.get_mut(&k) else {
            return;
        };
        let mut images = outcome.images.drain(..);
        for &m in &layout.measures {
            let (Some(labels), Some(intensity)) = (images.next(), images.next()) else {
                w.failed
                    .get_or_insert(Arc::new(Error::usage("a measure's inputs went missing")));
                break;
            };
            let voxel = w.meta.get(&m).and_then(|m| m.voxel.clone());
            match crate::measure::measure_with(labels.view(), intensity.view(), voxel.as_ref()) {
                Ok(t) => w.tables.entry(m).or_default().push(t),
                Err(e) => {
                    w.failed.get_or_insert(Arc::new(e));
                }
            }
        }
        for (o, image) in layout.downloads.iter().zip(images) {
            w.images.entry(*o).or_default().push(image);
        }
        let kept = self.kept.entry(k).or_default();
        for (node, frame) in layout.keeps.iter().zip(outcome.kept.drain(..)) {
            kept.entry(*node).or_default().push(frame);
        }
        w.done += 1;
        if w.done == w.frames && w.failed.is_none() {
            self.finish_unit(k);
        }
    }

    /// A frame of unit `k` could not run: every output of the unit fails with `e`.
    fn unit_failed(&mut self, k: usize, e: Arc<Error>) {
        if let Some(w) = self.work.get_mut(&k) {
            w.failed.get_or_insert(e);
        }
        // Frames of this unit still in flight are read back first, then dropped.
        if !self.in_flight.iter().any(|(u, ..)| *u == k) {
            self.finish_unit(k);
        }
    }

    /// A unit's frames are all back (or it failed): its values stay resident where the
    /// budget allows, and its outputs go to the encoders.
    fn finish_unit(&mut self, k: usize) {
        let Some(w) = self.work.remove(&k) else {
            return;
        };
        let kept = self.kept.remove(&k).unwrap_or_default();
        if w.failed.is_none() {
            let run = &*self.front.run;
            let mut resident = lock(&self.t.resident);
            for (i, frames) in kept {
                let (Some(key), Some(meta)) = (run.keys[i], w.meta.get(&i)) else {
                    continue;
                };
                let bytes = frames.iter().map(E::frame_bytes).sum();
                let value = Value {
                    frames,
                    meta: Arc::clone(meta),
                };
                resident.put(key, value, bytes);
            }
        }
        let device = self.t.engine.device_name();
        self.front.finish(w, Some(&device));
    }
}
