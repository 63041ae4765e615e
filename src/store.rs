//! The disk store of materialized outputs.
//!
//! Layout:
//! ```text
//! <out>/<name>-<hash16>.<ext>         the image, an ordinary file; hash16 = blake3 of its bytes
//! <store>/records/<output key>.json   one record per output: what it is and where
//! <store>/runs/<run id>.json          which outputs each run produced or reused (for gc)
//! ```
//! `<store>` defaults to `<out>/.imflow`.
//!
//! Files are named by the hash of their own bytes, so two processes writing the same
//! output at once each write a complete file under a name that matches its content, and
//! whichever record lands last points at a file that exists and verifies. Every write is
//! temp file + fsync + rename, the record last, as the commit marker; a crash leaves at
//! worst a `.imflow-tmp-*` file, which gc removes. No lock files.

use crate::error::serialize_error;
use crate::image::{SampleType, Shape};
use crate::io::{self, write_atomic, Animation, Format, Stack};
use crate::key::Key;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Version of the record format.
pub const RECORD_VERSION: u32 = 1;
/// The file in a store folder that names its output folder.
const STORE_META: &str = "store.json";

#[derive(Serialize, Deserialize)]
struct StoreMeta {
    out: PathBuf,
}
/// Temporary files older than this are crash leftovers.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// One step of an output's lineage, from the output back to its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineageStep {
    /// The step's key (task key, or source key for the source).
    pub key: Key,
    /// The op's canonical spec, for op steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// The threshold a threshold op used (Otsu's computed value), one per frame.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<f64>,
    /// For a file source: its path when the output was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<PathBuf>,
    /// For a file source: blake3 of its bytes; for an in-memory one, its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What the store knows about one materialized output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record format version.
    pub version: u32,
    /// The output key: task key plus name, sample type and format.
    pub key: Key,
    /// The task key of the node.
    pub task: Key,
    /// The output name.
    pub name: String,
    /// Ops and params back to the source, output first.
    pub lineage: Vec<LineageStep>,
    /// The task's input keys.
    pub inputs: Vec<Key>,
    /// The file, relative to the output folder.
    pub file: String,
    /// blake3 of the file's bytes.
    pub file_blake3: Key,
    /// The file's size.
    pub file_bytes: u64,
    /// Sample type written.
    pub sample_type: SampleType,
    /// What the values were before writing; equal to `sample_type` when the file holds
    /// them exactly (so it can stand in for the computation).
    pub value_type: SampleType,
    /// Width, height, channels (of each frame).
    pub shape: Shape,
    /// What the output inherits from its source (sample type, format, animation), so a
    /// loaded file stands in for its values exactly. Absent in records of imflow 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceMeta>,
    /// Frames (pages of a TIFF, frames of a GIF).
    pub frames: usize,
    /// `TIFF`, `PNG`, `JPEG` or `GIF`.
    pub format: String,
    /// The device that computed it (`cpu` or the adapter name).
    pub device: String,
    /// imflow's version.
    pub crate_version: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
}

/// What an output inherits from the source it was computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceMeta {
    /// The source's sample type.
    pub sample_type: SampleType,
    /// The source's format, if it came from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// The source's animation timing (GIF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animation: Option<Animation>,
}

/// A record before its file is written: everything but where the file is, its hash and
/// size, its shape (taken from the frames) and when it was made, which
/// [`Store::write`] fills in.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// The output key: task key plus name, sample type and format.
    pub key: Key,
    /// The task key of the node.
    pub task: Key,
    /// The output name.
    pub name: String,
    /// Ops and params back to the source, output first.
    pub lineage: Vec<LineageStep>,
    /// The task's input keys.
    pub inputs: Vec<Key>,
    /// What the values were before writing.
    pub value_type: SampleType,
    /// What the output inherits from its source.
    pub source: SourceMeta,
    /// The file format to write.
    pub format: Format,
    /// The device that computed it (`cpu` or the adapter name).
    pub device: String,
}

impl Draft {
    #[cfg(test)]
    pub(crate) fn example() -> Self {
        let k = Key::of_bytes(b"example");
        Draft {
            key: k,
            task: k,
            name: "example".into(),
            lineage: Vec::new(),
            inputs: Vec::new(),
            value_type: SampleType::U8,
            source: SourceMeta {
                sample_type: SampleType::U8,
                format: None,
                animation: None,
            },
            format: Format::Tiff,
            device: "cpu".into(),
        }
    }
}

/// A record found and its file verified.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The record.
    pub record: Record,
    /// Absolute path of the file.
    pub path: PathBuf,
}

/// The outcome of a look-up.
#[derive(Debug)]
pub enum Lookup {
    /// Record and file present, file hash verified.
    Hit(Box<Hit>),
    /// Nothing stored (or expired).
    Miss,
    /// A record exists but cannot be used: the error says why (file missing or
    /// corrupt, record unreadable). The output must be recomputed.
    Broken(Error),
}

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

#[derive(Serialize, Deserialize)]
struct RunLog {
    run_id: String,
    finished_unix: u64,
    outputs: Vec<Key>,
}

/// A store: an output folder plus its records.
#[derive(Clone, Debug)]
pub struct Store {
    out: PathBuf,
    dir: PathBuf,
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&text).map_err(|e| Error::Record {
        path: path.to_path_buf(),
        reason: e.to_string(),
        source: Some(e),
    })
}

impl Store {
    /// Opens (creating as needed) a store writing outputs to `out`, records under
    /// `store_dir` (default `<out>/.imflow`).
    pub fn open(out: impl AsRef<Path>, store_dir: Option<&Path>) -> Result<Self> {
        // Absolute, so paths in records and reports stay valid wherever they are read.
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let out = absolute(out.as_ref());
        let dir = store_dir.map_or_else(|| out.join(".imflow"), absolute);
        for d in [out.clone(), dir.join("records"), dir.join("runs")] {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        // Say which output folder the records' file names are relative to, so the store
        // can be found again from its own folder (`imflow cache verify --store DIR`).
        let meta = dir.join(STORE_META);
        let out_text = serde_json::to_vec(&StoreMeta { out: out.clone() }).expect("serialisable");
        if std::fs::read(&meta).ok().as_deref() != Some(&out_text[..]) {
            write_atomic(&meta, &out_text)?;
        }
        Ok(Store { out, dir })
    }

    /// Opens an existing store without creating anything, from whichever is known: the
    /// output folder, the store folder (which says where its outputs are), or neither,
    /// when the current folder is the output folder (holding `.imflow`) or a store.
    pub fn find(out: Option<&Path>, store_dir: Option<&Path>) -> Result<Self> {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let is_store = |d: &Path| d.join("records").is_dir();
        let (out, dir) = match (out, store_dir) {
            (Some(out), store) => {
                let out = absolute(out);
                if !out.is_dir() {
                    return Err(Error::usage(format!(
                        "{}: no such output folder",
                        out.display()
                    )));
                }
                let dir = store.map_or_else(|| out.join(".imflow"), absolute);
                (out, dir)
            }
            (None, Some(store)) => {
                let dir = absolute(store);
                (Self::out_of(&dir)?, dir)
            }
            (None, None) => {
                let here = absolute(Path::new("."));
                if is_store(&here.join(".imflow")) {
                    (here.clone(), here.join(".imflow"))
                } else if is_store(&here) {
                    (Self::out_of(&here)?, here)
                } else {
                    return Err(Error::usage(
                        "no store here: give --out (the output folder) or --store, or run from inside the output folder",
                    ));
                }
            }
        };
        if !is_store(&dir) {
            return Err(Error::usage(format!(
                "{}: not an imflow store (no records/)",
                dir.display()
            )));
        }
        Ok(Store { out, dir })
    }

    /// The output folder a store folder's records belong to.
    fn out_of(dir: &Path) -> Result<PathBuf> {
        match read_json::<StoreMeta>(&dir.join(STORE_META)) {
            Ok(m) => Ok(m.out),
            // Stores made before the meta file: the default layout, <out>/.imflow.
            Err(_) if dir.file_name().is_some_and(|n| n == ".imflow") => Ok(dir
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)),
            Err(_) => Err(Error::usage(format!(
                "{}: the store does not say where its outputs are; give --out",
                dir.display()
            ))),
        }
    }

    /// The output folder.
    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    /// The records folder's parent.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, key: &Key) -> PathBuf {
        self.dir.join("records").join(format!("{}.json", key.hex()))
    }

    /// Looks an output up and verifies its file. Records older than `max_age` are
    /// misses.
    pub fn lookup(&self, key: &Key, max_age: Option<Duration>) -> Lookup {
        let path = self.record_path(key);
        if !path.exists() {
            return Lookup::Miss;
        }
        let record: Record = match read_json(&path) {
            Ok(r) => r,
            Err(e) => return Lookup::Broken(e),
        };
        if record.key != *key || record.version != RECORD_VERSION {
            return Lookup::Broken(Error::Record {
                path,
                reason: "it does not match its key or version".into(),
                source: None,
            });
        }
        if let Some(age) = max_age {
            if now_unix().saturating_sub(record.created_unix) > age.as_secs() {
                return Lookup::Miss;
            }
        }
        let file = self.out.join(&record.file);
        match self.check_file(&record) {
            Ok(()) => Lookup::Hit(Box::new(Hit { record, path: file })),
            Err(problem) => Lookup::Broken(problem),
        }
    }

    fn check_file(&self, record: &Record) -> Result<()> {
        let file = self.out.join(&record.file);
        match crate::key::hash_file(&file) {
            Err(e) => Err(Error::io(file, e)),
            Ok(hash) if hash != record.file_blake3 => Err(Error::Corrupt { path: file }),
            Ok(_) => Ok(()),
        }
    }

    /// Encodes `stack` in the draft's format, names the file by the hash of its bytes
    /// (`<name>-<hash16>.<ext>`), writes it and then its record, each atomically, and
    /// returns the committed record.
    pub fn write(&self, draft: Draft, stack: &Stack) -> Result<Hit> {
        let ext = draft.format.extension();
        let planned = self.out.join(format!("{}.{ext}", draft.name));
        let bytes = io::encode_stack(stack, draft.format).map_err(|e| e.at(&planned))?;
        let hash = Key::of_bytes(&bytes);
        let name = format!("{}-{}.{ext}", draft.name, hash.short());
        let path = self.out.join(&name);
        // An identical file may be there already (another run, another process): keep it.
        let present = crate::key::hash_file(&path).is_ok_and(|h| h == hash);
        if !present {
            write_atomic(&path, &bytes)?;
        }
        let first = stack
            .frames
            .first()
            .ok_or_else(|| Error::encode("no frames").at(&path))?;
        let record = Record {
            version: RECORD_VERSION,
            key: draft.key,
            task: draft.task,
            name: draft.name,
            lineage: draft.lineage,
            inputs: draft.inputs,
            file: name,
            file_blake3: hash,
            file_bytes: bytes.len() as u64,
            sample_type: first.sample_type(),
            value_type: draft.value_type,
            shape: first.shape(),
            source: Some(draft.source),
            frames: stack.frames.len(),
            format: draft.format.name().into(),
            device: draft.device,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            created_unix: now_unix(),
        };
        let json = serde_json::to_vec_pretty(&record).expect("records serialise");
        write_atomic(&self.record_path(&record.key), &json)?;
        Ok(Hit { record, path })
    }

    /// Notes which outputs a run produced or reused (gc keeps the last runs' outputs).
    pub fn log_run(&self, run_id: &str, outputs: &[Key]) -> Result<()> {
        let log = RunLog {
            run_id: run_id.to_string(),
            finished_unix: now_unix(),
            outputs: outputs.to_vec(),
        };
        let path = self.dir.join("runs").join(format!("{run_id}.json"));
        write_atomic(&path, &serde_json::to_vec(&log).expect("serialisable"))
    }

    fn records(&self) -> Result<Vec<(PathBuf, Result<Record>)>> {
        let dir = self.dir.join("records");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let r = read_json(&path);
                out.push((path, r));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Re-hashes every record's file.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for (path, record) in self.records()? {
            report.records += 1;
            let outcome = record.and_then(|r| self.check_file(&r));
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

    fn run_logs(&self) -> Result<Vec<(PathBuf, RunLog)>> {
        let dir = self.dir.join("runs");
        let mut logs = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if let Ok(log) = read_json::<RunLog>(&path) {
                logs.push((path, log));
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
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
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
            let path = self.out.join(&file);
            if std::fs::remove_file(&path).is_ok() {
                report.files_removed += 1;
                report.bytes_freed += bytes;
            }
        }
        if let Some(n) = policy.keep_runs {
            for (path, _) in logs.iter().rev().skip(n) {
                let _ = std::fs::remove_file(path);
            }
        }
        for dir in [
            self.out.clone(),
            self.dir.join("records"),
            self.dir.join("runs"),
        ] {
            report.temp_files_removed += remove_stale_temps(&dir);
        }
        Ok(report)
    }
}

fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let stale = e.file_name().to_string_lossy().starts_with(".imflow-tmp-")
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() > STALE_TEMP);
        if stale && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
