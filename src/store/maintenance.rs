//! Keeping a store in order: verify every file against its record, count what is there,
//! and remove what no recent run uses (`imflow cache verify|stats|gc`).

use super::{now_unix, parse_json, Record, RunLog, Store, RECORDS, RUNS};
use crate::error::serialize_error;
use crate::key::Key;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Temporary files older than this are crash leftovers.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// A record [`Store::verify`] found wanting.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// The record file.
    pub record: PathBuf,
    /// What is wrong.
    #[serde(serialize_with = "serialize_error")]
    pub error: Arc<Error>,
}

/// Result of [`Store::verify`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Records read.
    pub records: usize,
    /// Records whose file exists and hashes to the recorded value.
    pub ok: usize,
    /// The others.
    pub problems: Vec<Problem>,
}

/// What [`Store::gc`] removes.
#[derive(Clone, Copy, Debug, Default)]
pub struct GcPolicy {
    /// Keep outputs produced or reused by the last N runs; remove the rest.
    pub keep_runs: Option<usize>,
    /// Remove outputs whose record is older than this.
    pub max_age: Option<Duration>,
}

/// Result of [`Store::gc`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct GcReport {
    /// Records removed.
    pub records_removed: usize,
    /// Output files removed.
    pub files_removed: usize,
    /// Stale temporary files removed.
    pub temp_files_removed: usize,
    /// Bytes freed.
    pub bytes_freed: u64,
}

/// Size of the store, for `imflow cache stats`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreStats {
    /// Records.
    pub records: usize,
    /// Runs logged.
    pub runs: usize,
    /// Bytes of the files the records point at.
    pub file_bytes: u64,
}

impl Store {
    /// Re-hashes every record's file (downloading it from an object store).
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for (path, record) in self.records()? {
            report.records += 1;
            let outcome = record.and_then(|r| self.verify_file(&r));
            match outcome {
                Ok(()) => report.ok += 1,
                Err(e) => report.problems.push(Problem {
                    record: path,
                    error: Arc::new(e),
                }),
            }
        }
        Ok(report)
    }

    /// Records, runs and bytes.
    pub fn stats(&self) -> Result<StoreStats> {
        let mut s = StoreStats::default();
        for (_, r) in self.records()? {
            s.records += 1;
            s.file_bytes += r.map_or(0, |r| r.file_bytes);
        }
        s.runs = self.run_logs()?.len();
        Ok(s)
    }

    fn run_logs(&self) -> Result<Vec<(String, RunLog)>> {
        let mut logs = Vec::new();
        for name in self.records.list(RUNS)? {
            let rel = format!("{RUNS}/{name}");
            let path = self.records.locate(&rel);
            let log = (self.records.read(&rel).ok().flatten())
                .and_then(|text| parse_json::<RunLog>(&path, &text).ok());
            if let Some(log) = log {
                logs.push((rel, log));
            }
        }
        // Run ids start with a zero-padded timestamp, so they sort by time.
        logs.sort_by(|a, b| a.1.run_id.cmp(&b.1.run_id));
        Ok(logs)
    }

    /// Removes outputs the policy no longer keeps: records not produced or reused by
    /// the last `keep_runs` runs, or older than `max_age`. A file is removed only when
    /// no kept record points at it. Unreadable records and stale temporary files go too.
    pub fn gc(&self, policy: GcPolicy) -> Result<GcReport> {
        let mut report = GcReport::default();
        let logs = self.run_logs()?;
        let recent: HashSet<Key> = match policy.keep_runs {
            Some(n) => logs
                .iter()
                .rev()
                .take(n)
                .flat_map(|(_, l)| l.outputs.iter().copied())
                .collect(),
            None => HashSet::new(),
        };
        let now = now_unix();
        let mut keep_files: HashSet<String> = HashSet::new();
        let mut drop_files: HashMap<String, u64> = HashMap::new();
        for (path, record) in self.records()? {
            let dead = |r: &Record| {
                policy.keep_runs.is_some_and(|_| !recent.contains(&r.key))
                    || policy
                        .max_age
                        .is_some_and(|a| now.saturating_sub(r.created_unix) > a.as_secs())
            };
            match record {
                Ok(r) if !dead(&r) => {
                    keep_files.insert(r.file);
                }
                // Dead, or unreadable.
                r => {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    let rel = format!("{RECORDS}/{}", name.unwrap_or_default());
                    self.records.remove(&rel)?;
                    report.records_removed += 1;
                    if let Ok(r) = r {
                        drop_files.insert(r.file, r.file_bytes);
                    }
                }
            }
        }
        for (file, bytes) in drop_files {
            if keep_files.contains(&file) {
                continue;
            }
            if self.outputs.remove(&file).unwrap_or(false) {
                report.files_removed += 1;
                report.bytes_freed += bytes;
            }
        }
        if let Some(n) = policy.keep_runs {
            for (rel, _) in logs.iter().rev().skip(n) {
                let _ = self.records.remove(rel);
            }
        }
        report.temp_files_removed += self.outputs.remove_stale_temps(&[""], STALE_TEMP);
        report.temp_files_removed +=
            (self.records).remove_stale_temps(&[RECORDS, RUNS], STALE_TEMP);
        Ok(report)
    }
}
