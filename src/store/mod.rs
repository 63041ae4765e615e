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

mod maintenance;
mod record;

pub use maintenance::{GcPolicy, GcReport, Problem, StoreStats, VerifyReport};
pub use record::{Draft, Hit, LineageStep, Lookup, Record, SourceMeta};

use crate::io::{self, write_atomic, Stack};
use crate::key::Key;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Version of the record format.
pub const RECORD_VERSION: u32 = 1;
/// The file in a store folder that names its output folder.
const STORE_META: &str = "store.json";

#[derive(Serialize, Deserialize)]
struct StoreMeta {
    out: PathBuf,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RunLog {
    run_id: String,
    finished_unix: u64,
    outputs: Vec<Key>,
}

/// An output file in place, named by its hash, whose record is not yet written.
#[derive(Clone, Debug)]
pub struct StoredFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name in the output folder.
    pub name: String,
    /// blake3 of its bytes.
    pub hash: Key,
    /// Its size.
    pub bytes: u64,
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

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
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
        let file = StoredFile {
            path,
            name,
            hash,
            bytes: bytes.len() as u64,
        };
        self.commit(
            draft,
            file,
            first.shape(),
            first.sample_type(),
            stack.frames.len(),
        )
    }

    /// Writes a measurement table as `<name>-<hash16>.csv` and its record. The record's
    /// shape is the CSV's columns by its lines (header included), its sample type f64.
    pub fn write_table(&self, draft: Draft, csv: &str, frames: usize) -> Result<Hit> {
        let bytes = csv.as_bytes();
        let hash = Key::of_bytes(bytes);
        let name = format!("{}-{}.csv", draft.name, hash.short());
        let path = self.out.join(&name);
        if !crate::key::hash_file(&path).is_ok_and(|h| h == hash) {
            write_atomic(&path, bytes)?;
        }
        let columns = csv.lines().next().map_or(1, |h| h.split(',').count()) as u32;
        let lines = csv.lines().count().max(1) as u32;
        let shape = crate::image::Shape::new(columns, lines, 1)?;
        let file = StoredFile {
            path,
            name,
            hash,
            bytes: bytes.len() as u64,
        };
        self.commit(draft, file, shape, crate::image::SampleType::F64, frames)
    }

    /// Writes an output file that `write` produces (a TIFF streamed band by band, too
    /// large to hold in memory) into a temporary file of the output folder, then names
    /// it by the hash of its bytes. Commit it with [`Store::commit`] once its record's
    /// draft is complete.
    pub fn put_file(
        &self,
        name: &str,
        ext: &str,
        write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<()>,
    ) -> Result<StoredFile> {
        let planned = self.out.join(format!("{name}.{ext}"));
        let io = |e: std::io::Error| Error::io(&planned, e);
        let tmp = tempfile::Builder::new()
            .prefix(".imflow-tmp-")
            .tempfile_in(&self.out)
            .map_err(io)?;
        {
            let mut w = std::io::BufWriter::new(tmp.as_file());
            write(&mut w).map_err(|e| e.at(&planned))?;
            std::io::Write::flush(&mut w).map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        let hash = crate::key::hash_file(tmp.path()).map_err(io)?;
        let bytes = tmp.as_file().metadata().map_err(io)?.len();
        let file_name = format!("{name}-{}.{ext}", hash.short());
        let path = self.out.join(&file_name);
        if crate::key::hash_file(&path).is_ok_and(|h| h == hash) {
            drop(tmp); // an identical file is there already
        } else {
            tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        }
        Ok(StoredFile {
            path,
            name: file_name,
            hash,
            bytes,
        })
    }

    /// Writes the record of a file in place, the commit marker: the output is stored.
    pub fn commit(
        &self,
        draft: Draft,
        file: StoredFile,
        shape: crate::image::Shape,
        sample_type: crate::image::SampleType,
        frames: usize,
    ) -> Result<Hit> {
        let record = Record {
            version: RECORD_VERSION,
            key: draft.key,
            task: draft.task,
            name: draft.name,
            lineage: draft.lineage,
            inputs: draft.inputs,
            file: file.name,
            file_blake3: file.hash,
            file_bytes: file.bytes,
            sample_type,
            value_type: draft.value_type,
            shape,
            source: Some(draft.source),
            frames,
            format: draft.format.name().into(),
            device: draft.device,
            objects: draft.objects,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            created_unix: now_unix(),
        };
        let json = serde_json::to_vec_pretty(&record).expect("records serialise");
        write_atomic(&self.record_path(&record.key), &json)?;
        Ok(Hit {
            record,
            path: file.path,
        })
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

    pub(crate) fn records(&self) -> Result<Vec<(PathBuf, Result<Record>)>> {
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
}
