//! What a run reports: per node, per output, the failures at their roots, and a summary.
//! [`RunReport`] serialises to the documented `--json` schema (README, "`--json`"); errors
//! stay typed in memory and become their messages in JSON.

use crate::error::{serialize_error, serialize_opt_error};
use crate::flow::NodeId;
use crate::io::Stack;
use crate::key::Key;
use crate::Error;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Version of the JSON form of [`RunReport`]; bumped when a field changes meaning or
/// goes away (new fields may appear without a bump).
pub const REPORT_SCHEMA: u32 = 2;

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
    /// Bytes uploaded for this node in this run.
    pub bytes_uploaded: u64,
    /// Bytes downloaded for this node in this run (its output, when materialized; 4 per
    /// frame for an Otsu threshold's value).
    pub bytes_downloaded: u64,
    /// For threshold ops: the threshold used, one per frame.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<f64>,
    /// Why it failed.
    #[serde(
        serialize_with = "serialize_opt_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<Arc<Error>>,
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
    pub output_key: Option<Key>,
    /// The node's task key.
    pub task_key: Option<Key>,
    /// The written file.
    pub path: Option<PathBuf>,
    /// blake3 of the file's bytes.
    pub file_blake3: Option<Key>,
    /// Size of the written file.
    pub file_bytes: Option<u64>,
    /// The file source this output comes from, if any.
    pub source: Option<PathBuf>,
    /// blake3 of that source file's bytes (as `b3sum` prints it).
    pub source_blake3: Option<Key>,
    /// Objects the output holds: labels (their count, over all frames) and measurement
    /// tables (their rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    /// The result, for outputs with `persist: false`.
    #[serde(skip)]
    pub image: Option<Stack>,
    /// The table as CSV, for measurement outputs with `persist: false`.
    #[serde(skip)]
    pub table: Option<String>,
    /// Why it failed.
    #[serde(
        serialize_with = "serialize_opt_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<Arc<Error>>,
}

/// A failure at its root: the node (usually a source) and the error.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// Node index.
    pub node: usize,
    /// The file, for a file source.
    pub path: Option<PathBuf>,
    /// The error, naming the file and the problem.
    #[serde(rename = "reason", serialize_with = "serialize_error")]
    pub error: Arc<Error>,
}

/// Something a user should know that did not fail the run: a stored output that could
/// not be used and was recomputed.
#[derive(Clone, Debug)]
pub struct Warning {
    /// The output concerned.
    pub output: String,
    /// What was wrong with what was stored.
    pub error: Arc<Error>,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "output `{}`: recomputing: {}", self.output, self.error)
    }
}

impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Counts of a run's outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Materialized outputs.
    pub outputs: usize,
    /// Computed and written in this run.
    pub computed: usize,
    /// Found verified in the store.
    pub hits: usize,
    /// Failed.
    pub failed: usize,
    /// Bytes of the files written in this run.
    pub bytes_written: u64,
}

/// The result of [`crate::Executor::run`], and the `--json` document.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// Version of this document's form ([`REPORT_SCHEMA`]).
    pub schema: u32,
    /// The imflow that ran.
    pub imflow_version: &'static str,
    /// Unique, time-ordered run id.
    pub run_id: String,
    /// `cpu`, the adapter's name, or `None` when nothing needed computing.
    pub device: Option<String>,
    /// Wall time of the run.
    pub wall_ms: f64,
    /// Counts of the outputs.
    pub summary: Summary,
    /// Every materialized output, in the order the flow marked them.
    pub outputs: Vec<OutputReport>,
    /// Root causes of failed nodes, in node order.
    pub failures: Vec<Failure>,
    /// Broken records recomputed, and other things a user should know.
    pub warnings: Vec<Warning>,
    /// Bytes uploaded in this run (its own, even when runs share an executor).
    pub bytes_uploaded: u64,
    /// Bytes downloaded in this run.
    pub bytes_downloaded: u64,
    /// The process's peak resident memory so far, in bytes, when the run ended (Linux's
    /// `VmHWM`; `None` elsewhere). For a one-run process such as the CLI, the run's
    /// peak: what `--memory` bounds, plus the process's own footprint.
    pub peak_rss_bytes: Option<u64>,
    /// Every node.
    pub nodes: Vec<NodeReport>,
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

    /// The report as JSON text (the `--json` document).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }
}

/// The process's peak resident set (`VmHWM` of /proc/self/status), where there is one.
/// (getrusage's `ru_maxrss` would also count the memory of whatever process exec'd this
/// one, which a test harness's can exceed.)
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

impl Summary {
    /// Counts over a run's outputs.
    pub fn of(outputs: &[OutputReport]) -> Self {
        let mut s = Summary {
            outputs: outputs.len(),
            ..Default::default()
        };
        for o in outputs {
            match o.status {
                Status::StoreHit => s.hits += 1,
                Status::Failed => s.failed += 1,
                _ => {
                    s.computed += 1;
                    s.bytes_written += o.file_bytes.unwrap_or(0);
                }
            }
        }
        s
    }
}
