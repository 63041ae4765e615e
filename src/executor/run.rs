//! One run's bookkeeping, engine-free: keying the nodes, looking outputs up, the state
//! the planner reads, failures and their causes, lineage and record drafts, and the final
//! report. [`super::eval`] does the engine's part.

use super::plan::{self, NodeState, Plan, Stored};
use super::report::{
    Failure, NodeReport, OutputReport, RunReport, Status, Summary, Warning, REPORT_SCHEMA,
};
use super::source::Source;
use super::value::Meta;
use super::RunOptions;
use crate::flow::{Flow, Materialize, NodeId, NodeKind};
use crate::image::SampleType;
use crate::key::{self, Key};
use crate::ops::Op;
use crate::store::{Draft, Hit, LineageStep, Lookup, SourceMeta, Store};
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The state of one run.
pub(super) struct Run<'a> {
    pub flow: &'a Flow,
    pub store: &'a Store,
    pub options: &'a RunOptions,
    started: Instant,
    pub run_id: String,
    /// Per node: its key, once keyed.
    pub keys: Vec<Option<Key>>,
    /// File sources, keyed.
    pub sources: HashMap<usize, Source>,
    /// Verified stored outputs, by node.
    pub hits: HashMap<usize, Hit>,
    pub nodes: Vec<NodeReport>,
    /// The flow's outputs, in order.
    pub outputs: Vec<(usize, Materialize)>,
    reports: Vec<Option<OutputReport>>,
    failures: Vec<Failure>,
    warnings: Vec<Warning>,
    /// Records produced or reused (for gc).
    pub touched: Vec<Key>,
    pub device: Option<String>,
}

/// Looks every output of `flow` up without computing anything (see [`super::gather`]).
pub(super) fn gather(flow: &Flow, store: &Store, options: &RunOptions) -> RunReport {
    let options = RunOptions {
        refresh: false,
        ..options.clone()
    };
    let mut run = Run::new(flow, store, &options);
    run.key_nodes();
    run.look_up();
    for o in run.outputs.iter().map(|(o, _)| *o).collect::<Vec<_>>() {
        match run.hits.get(&o).cloned() {
            Some(hit) => {
                run.nodes[o].status = Status::StoreHit;
                run.set_report(o, Status::StoreHit, Some(&hit));
            }
            None => {
                if run.nodes[o].error.is_none() {
                    let name = run
                        .outputs
                        .iter()
                        .find(|(n, _)| *n == o)
                        .map(|(_, m)| m.name.clone());
                    let e = Error::NotStored {
                        name: name.unwrap_or_default(),
                    };
                    run.fail(o, Arc::new(e), true);
                }
                run.set_report(o, Status::Failed, None);
            }
        }
    }
    run.finish()
}

impl<'a> Run<'a> {
    /// A run of `flow` over `store`, nothing keyed yet.
    pub fn new(flow: &'a Flow, store: &'a Store, options: &'a RunOptions) -> Self {
        let n = flow.len();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let outputs: Vec<(usize, Materialize)> = flow
            .outputs()
            .map(|(id, m)| (id.index(), m.clone()))
            .collect();
        Run {
            flow,
            store,
            options,
            started: Instant::now(),
            run_id: format!("{nanos:024}-{}", std::process::id()),
            keys: vec![None; n],
            sources: HashMap::new(),
            hits: HashMap::new(),
            nodes: (0..n)
                .map(|i| NodeReport {
                    node: i,
                    label: flow.label(NodeId::from(i)),
                    key: None,
                    status: Status::Skipped,
                    bytes_uploaded: 0,
                    bytes_downloaded: 0,
                    thresholds: Vec::new(),
                    error: None,
                })
                .collect(),
            reports: vec![None; outputs.len()],
            outputs,
            failures: Vec::new(),
            warnings: Vec::new(),
            touched: Vec::new(),
            device: None,
        }
    }

    pub fn kind(&self, i: usize) -> &'a NodeKind {
        self.flow.kind(NodeId::from(i)).expect("nodes of this flow")
    }

    pub fn inputs(&self, i: usize) -> Vec<usize> {
        self.kind(i)
            .inputs()
            .into_iter()
            .map(NodeId::index)
            .collect()
    }

    /// Keys every node some output depends on: file sources by their bytes (hashed in
    /// parallel), in-memory ones by their samples, ops by op, version and input keys.
    pub fn key_nodes(&mut self) {
        use rayon::prelude::*;
        let n = self.flow.len();
        let mut needed = vec![false; n];
        let mut stack: Vec<usize> = self.outputs.iter().map(|(o, _)| *o).collect();
        while let Some(i) = stack.pop() {
            if !needed[i] {
                needed[i] = true;
                stack.extend(self.inputs(i));
            }
        }
        let files: Vec<(usize, &PathBuf, crate::io::Reading)> = (0..n)
            .filter(|&i| needed[i])
            .filter_map(|i| match self.kind(i) {
                NodeKind::File(p, r) => Some((i, p, *r)),
                _ => None,
            })
            .collect();
        let keyed: Vec<(usize, Result<Source>)> = files
            .par_iter()
            .map(|(i, p, r)| (*i, Source::key(p, *r)))
            .collect();
        for (i, source) in keyed {
            match source {
                Ok(s) => {
                    self.keys[i] = Some(s.node_key());
                    self.sources.insert(i, s);
                }
                Err(e) => self.fail(i, Arc::new(e), true),
            }
        }
        // Node order is topological: inputs are keyed (or failed) first.
        for i in (0..n).filter(|&i| needed[i]) {
            let key = match self.kind(i) {
                NodeKind::File(_, _) => continue,
                NodeKind::Image { image, .. } => Some(key::image_source(image)),
                NodeKind::Op { op, .. } => {
                    let inputs: Option<Vec<Key>> =
                        self.inputs(i).iter().map(|&j| self.keys[j]).collect();
                    inputs.map(|k| key::task(op, &k))
                }
                NodeKind::Measure { .. } => {
                    let inputs: Option<Vec<Key>> =
                        self.inputs(i).iter().map(|&j| self.keys[j]).collect();
                    inputs.map(|k| key::measure(&k))
                }
            };
            match key {
                Some(k) => self.keys[i] = Some(k),
                None => self.fail_from_inputs(i),
            }
        }
        for i in 0..n {
            self.nodes[i].key = self.keys[i];
        }
    }

    /// Looks the persisted outputs up (each look-up re-hashes its file, so they run in
    /// parallel). A broken record is a miss, with a warning.
    pub fn look_up(&mut self) {
        use rayon::prelude::*;
        if self.options.refresh {
            return;
        }
        let (keys, store, max_age) = (&self.keys, self.store, self.options.max_age);
        let found: Vec<(usize, String, Lookup)> = self
            .outputs
            .par_iter()
            .filter(|(_, m)| m.persist)
            .filter_map(|(o, m)| {
                let task = keys[*o]?;
                Some((
                    *o,
                    m.name.clone(),
                    store.lookup(&m.output_key(&task), max_age),
                ))
            })
            .collect();
        for (o, name, lookup) in found {
            match lookup {
                Lookup::Hit(hit) => {
                    self.hits.insert(o, *hit);
                }
                Lookup::Broken(e) => {
                    let w = Warning {
                        output: name,
                        error: Arc::new(e),
                    };
                    log::warn!("{w}");
                    self.warnings.push(w);
                }
                Lookup::Miss => {}
            }
        }
    }

    /// What the planner reads, per node.
    pub fn node_states(&self, resident: impl Fn(&Key) -> bool) -> Vec<NodeState> {
        (0..self.flow.len())
            .map(|i| {
                let stored = match self.hits.get(&i) {
                    None => Stored::Nothing,
                    Some(h) if h.record.sample_type == h.record.value_type => Stored::Exact,
                    Some(_) => Stored::Inexact,
                };
                NodeState {
                    inputs: self.inputs(i),
                    keyed: self.keys[i].is_some(),
                    output: self.outputs.iter().any(|(o, _)| *o == i),
                    stored,
                    resident: self.keys[i].as_ref().is_some_and(&resident),
                }
            })
            .collect()
    }

    /// The planner's answer for this run.
    pub fn plan(&self, resident: impl Fn(&Key) -> bool) -> Plan {
        plan::plan(&self.node_states(resident), self.options.refresh)
    }

    /// Marks `i` failed; a root failure (a source that cannot be read, an output that
    /// cannot be written) is listed among the run's failures.
    pub fn fail(&mut self, i: usize, error: Arc<Error>, root: bool) {
        let r = &mut self.nodes[i];
        r.status = Status::Failed;
        r.error = Some(Arc::clone(&error));
        if root {
            let path = match self.kind(i) {
                NodeKind::File(p, _) => Some(p.clone()),
                _ => None,
            };
            self.failures.push(Failure {
                node: i,
                path,
                error,
            });
        }
    }

    /// The error of a failed input of `i`, if any.
    pub fn failed_input(&self, i: usize) -> Option<Arc<Error>> {
        self.inputs(i)
            .iter()
            .find_map(|&j| self.nodes[j].error.clone())
    }

    /// Marks `i` failed because an input failed.
    pub fn fail_from_inputs(&mut self, i: usize) {
        let cause = self
            .failed_input(i)
            .unwrap_or_else(|| Arc::new(Error::usage("an input was not computed")));
        // Name the failure at the root once, not once per step of the chain.
        let root = match &*cause {
            Error::Input(inner) => Arc::clone(inner),
            _ => cause,
        };
        self.fail(i, Arc::new(Error::Input(root)), false);
    }

    /// The source node an output derives from (its first input, all the way back).
    pub fn root(&self, mut i: usize) -> usize {
        while let Some(&j) = self.inputs(i).first() {
            i = j;
        }
        i
    }

    /// An output's report; a hit (stored or just written) fills in where it is.
    pub fn output_report(&self, o: usize, status: Status, hit: Option<&Hit>) -> OutputReport {
        let (_, m) = self
            .outputs
            .iter()
            .find(|(n, _)| *n == o)
            .expect("an output");
        let root = self.root(o);
        OutputReport {
            node: o,
            name: m.name.clone(),
            status,
            output_key: self.keys[o].map(|t| m.output_key(&t)),
            task_key: self.keys[o],
            path: hit.map(|h| h.path.clone()),
            file_blake3: hit.map(|h| h.record.file_blake3),
            file_bytes: hit.map(|h| h.record.file_bytes),
            source: match self.kind(root) {
                NodeKind::File(p, _) => Some(p.clone()),
                _ => None,
            },
            source_blake3: self.sources.get(&root).map(Source::content),
            objects: hit.and_then(|h| h.record.objects),
            image: None,
            table: None,
            error: match status {
                Status::Failed => self.nodes[o].error.clone(),
                _ => None,
            },
        }
    }

    /// Files the output's report in its place.
    pub fn set_report(&mut self, o: usize, status: Status, hit: Option<&Hit>) -> &OutputReport {
        let r = self.output_report(o, status, hit);
        self.put_report(r)
    }

    pub fn put_report(&mut self, r: OutputReport) -> &OutputReport {
        let k = self
            .outputs
            .iter()
            .position(|(n, _)| *n == r.node)
            .expect("an output");
        self.reports[k].insert(r)
    }

    /// Every step from the output back to its sources, output first (descending node
    /// order: inputs always come before the nodes that read them).
    pub fn lineage(&self, o: usize) -> Vec<LineageStep> {
        let mut seen = vec![false; self.flow.len()];
        let mut stack = vec![o];
        while let Some(i) = stack.pop() {
            if !seen[i] {
                seen[i] = true;
                stack.extend(self.inputs(i));
            }
        }
        (0..=o)
            .rev()
            .filter(|&i| seen[i])
            .map(|i| {
                let mut step = LineageStep {
                    key: self.keys[i].expect("lineage of a keyed node"),
                    op: None,
                    thresholds: Vec::new(),
                    source_path: None,
                    source: None,
                };
                match self.kind(i) {
                    NodeKind::Op { op, .. } => {
                        step.op = Some(op.to_string());
                        if matches!(op, Op::Threshold(_)) {
                            step.thresholds = self.nodes[i].thresholds.clone();
                        }
                    }
                    NodeKind::File(p, _) => {
                        step.source_path =
                            Some(std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                    }
                    NodeKind::Image { name, .. } => step.source = Some(name.clone()),
                    NodeKind::Measure { .. } => step.op = Some("measure".into()),
                }
                step
            })
            .collect()
    }

    /// The record of output `o` before its file exists.
    pub fn draft(
        &self,
        o: usize,
        value_type: SampleType,
        meta: &Meta,
        format: crate::io::Format,
        device: String,
    ) -> Draft {
        let (_, m) = self
            .outputs
            .iter()
            .find(|(n, _)| *n == o)
            .expect("an output");
        let task = self.keys[o].expect("computed outputs are keyed");
        Draft {
            objects: None,
            key: m.output_key(&task),
            task,
            name: m.name.clone(),
            lineage: self.lineage(o),
            inputs: self
                .inputs(o)
                .iter()
                .filter_map(|&j| self.keys[j])
                .collect(),
            value_type,
            source: SourceMeta {
                sample_type: meta.source_type,
                format: meta.format,
                animation: meta.animation.clone(),
                voxel: meta.voxel.clone(),
            },
            format,
            device,
            replace: self.options.refresh,
        }
    }

    /// The run's report, once every output is done.
    pub fn finish(mut self) -> RunReport {
        self.failures.sort_by_key(|f| f.node);
        let outputs: Vec<OutputReport> = self
            .reports
            .into_iter()
            .zip(&self.outputs)
            .map(|(r, (o, m))| {
                r.unwrap_or_else(|| OutputReport {
                    node: *o,
                    name: m.name.clone(),
                    status: Status::Failed,
                    output_key: None,
                    task_key: None,
                    path: None,
                    file_blake3: None,
                    file_bytes: None,
                    source: None,
                    source_blake3: None,
                    objects: None,
                    image: None,
                    table: None,
                    error: Some(Arc::new(Error::usage("the run ended before this output"))),
                })
            })
            .collect();
        RunReport {
            schema: REPORT_SCHEMA,
            imflow_version: env!("CARGO_PKG_VERSION"),
            run_id: self.run_id,
            device: self.device,
            wall_ms: self.started.elapsed().as_secs_f64() * 1e3,
            summary: Summary::of(&outputs),
            bytes_uploaded: self.nodes.iter().map(|n| n.bytes_uploaded).sum(),
            bytes_downloaded: self.nodes.iter().map(|n| n.bytes_downloaded).sum(),
            peak_rss_bytes: super::report::peak_rss(),
            outputs,
            failures: self.failures,
            warnings: self.warnings,
            nodes: self.nodes,
        }
    }
}
