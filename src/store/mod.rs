//! The store of materialized outputs, on local disk or object storage.
//!
//! Layout (the same in a folder and under an object prefix):
//! ```text
//! <out>/<name>-<hash16>.<ext>         the image, an ordinary file; hash16 = blake3 of its bytes
//! <store>/records/<output key>.json   one record per output: what it is and where
//! <store>/runs/<run id>.json          which outputs each run produced or reused (for gc)
//! <out>/<name>-<key16>.ome.zarr/      an OME-Zarr output (written by region, see crate::zarr)
//! <store>/parts/<part key>.json       one record per region of it that a process wrote
//! ```
//! `<store>` defaults to `<out>/.imflow`. `<out>` and `<store>` are paths or object URLs
//! (`s3://bucket/prefix`, with the `s3` feature); each is a [`space::Space`], so the
//! store's logic is one whichever holds the bytes.
//!
//! Files are named by the hash of their own bytes, so two processes writing the same
//! output at once each write a complete file under a name that matches its content.
//! Records are put only if absent: of two workers that computed one output, the second
//! finds the first's record and keeps it (its own file is the same, by name). On disk
//! every write is temp file + fsync + rename (or link, for put-if-absent), the record
//! last, as the commit marker; a crash leaves at worst a `.imflow-tmp-*` file, which gc
//! removes. An object store shows an object only once its put completed. No lock files.

mod location;
mod maintenance;
#[cfg(feature = "object-store-base")]
pub mod object;
mod record;
mod space;

pub use location::{Location, ObjectUrl, Service};
pub use maintenance::{GcPolicy, GcReport, Problem, StoreStats, VerifyReport};
pub use record::{Draft, Hit, LineageStep, Lookup, Record, SourceMeta};
pub use space::LocalFile;

use crate::io::{self, Stack};
use crate::key::Key;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use space::{LocalSpace, Space};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Version of the record format.
pub const RECORD_VERSION: u32 = 1;
/// The file in a store folder that names its output folder.
const STORE_META: &str = "store.json";
const RECORDS: &str = "records";
const RUNS: &str = "runs";
/// Records of the parts of OME-Zarr outputs written by region.
#[cfg_attr(not(feature = "ome-zarr"), allow(dead_code))]
const PARTS: &str = "parts";

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
    /// Where it is (a path, or an object URL).
    pub path: PathBuf,
    /// Its name in the output folder.
    pub name: String,
    /// blake3 of its bytes.
    pub hash: Key,
    /// Its size.
    pub bytes: u64,
}

/// A store: an output folder plus its records, each local or on object storage.
#[derive(Clone, Debug)]
pub struct Store {
    out: PathBuf,
    dir: PathBuf,
    outputs: Arc<dyn Space>,
    records: Arc<dyn Space>,
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn parse_json<T: for<'de> Deserialize<'de>>(path: &Path, text: &[u8]) -> Result<T> {
    serde_json::from_slice(text).map_err(|e| Error::Record {
        path: path.to_path_buf(),
        reason: e.to_string(),
        source: Some(e),
    })
}

/// A path made absolute, or an object URL as given; and the space that holds it.
fn resolve(text: &Path) -> Result<(PathBuf, Arc<dyn Space>)> {
    match Location::of_path(text)? {
        Location::Local(p) => {
            // Absolute, so paths in records and reports stay valid wherever they are read.
            let p = std::path::absolute(&p).unwrap_or(p);
            Ok((p.clone(), Arc::new(LocalSpace::new(p))))
        }
        #[cfg(feature = "object-store-base")]
        Location::Object(url) => {
            let space = object::ObjectSpace::open(&url)?;
            Ok((PathBuf::from(url.url()), Arc::new(space)))
        }
        #[cfg(not(feature = "object-store-base"))]
        Location::Object(url) => unreachable!("{url}: parsed only where the build reaches it"),
    }
}

/// `<out>/.imflow` for a path or a URL.
fn default_dir(out: &Path) -> PathBuf {
    out.join(".imflow")
}

impl Store {
    /// Opens (creating as needed) a store writing outputs to `out`, records under
    /// `store_dir` (default `<out>/.imflow`). Either may be an object URL
    /// (`s3://bucket/prefix`); a scheme this build cannot reach is a usage error naming
    /// the feature it needs.
    pub fn open(out: impl AsRef<Path>, store_dir: Option<&Path>) -> Result<Self> {
        let (out, outputs) = resolve(out.as_ref())?;
        let (dir, records) =
            resolve(&store_dir.map_or_else(|| default_dir(&out), Path::to_path_buf))?;
        outputs.prepare(&[""])?;
        records.prepare(&[RECORDS, RUNS])?;
        // Say which output folder the records' file names are relative to, so the store
        // can be found again from its own folder (`imflow cache verify --store DIR`).
        let out_text = serde_json::to_vec(&StoreMeta { out: out.clone() }).expect("serialisable");
        if records.read(STORE_META)?.as_deref() != Some(&out_text[..]) {
            records.write(STORE_META, &out_text)?;
        }
        Ok(Store {
            out,
            dir,
            outputs,
            records,
        })
    }

    /// Opens an existing store without creating anything, from whichever is known: the
    /// output folder, the store folder (which says where its outputs are), or neither,
    /// when the current folder is the output folder (holding `.imflow`) or a store.
    pub fn find(out: Option<&Path>, store_dir: Option<&Path>) -> Result<Self> {
        let is_store = |d: &Path| d.join(RECORDS).is_dir();
        let remote = |p: Option<&Path>| p.and_then(Path::to_str).is_some_and(Location::is_url);
        let (out, dir) = match (out, store_dir) {
            (Some(out), store) => {
                let out = match Location::of_path(out)? {
                    Location::Local(p) => std::path::absolute(&p).unwrap_or(p),
                    Location::Object(_) => out.to_path_buf(),
                };
                if !remote(Some(&out)) && !out.is_dir() {
                    return Err(Error::usage(format!(
                        "{}: no such output folder",
                        out.display()
                    )));
                }
                let dir = store.map_or_else(|| default_dir(&out), Path::to_path_buf);
                (out, dir)
            }
            (None, Some(store)) => (Self::out_of(store)?, store.to_path_buf()),
            (None, None) => {
                let here = std::path::absolute(Path::new(".")).unwrap_or_default();
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
        let (dir, records) = resolve(&dir)?;
        let found = if remote(Some(&dir)) {
            records.read(STORE_META)?.is_some() || !records.list(RECORDS)?.is_empty()
        } else {
            is_store(&dir)
        };
        if !found {
            return Err(Error::usage(format!(
                "{}: not an imflow store (no records/)",
                dir.display()
            )));
        }
        let (out, outputs) = resolve(&out)?;
        Ok(Store {
            out,
            dir,
            outputs,
            records,
        })
    }

    /// The output folder a store folder's records belong to.
    fn out_of(dir: &Path) -> Result<PathBuf> {
        let (dir, records) = resolve(dir)?;
        let meta = records
            .read(STORE_META)
            .and_then(|m| m.ok_or_else(|| Error::usage("no store.json")))
            .and_then(|m| parse_json::<StoreMeta>(&dir.join(STORE_META), &m));
        match meta {
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

    /// The output folder (or its URL).
    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    /// The records folder's parent (or its URL).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether outputs live on an object store (a hit then costs two small requests,
    /// the record and the object's metadata, and no download).
    pub fn is_remote(&self) -> bool {
        self.out.to_str().is_some_and(Location::is_url)
    }

    /// The bytes of the part record `<store>/parts/<key>.json` (a region of an
    /// OME-Zarr output one process wrote; see [`crate::zarr::region`]), if it exists.
    #[cfg_attr(not(feature = "ome-zarr"), allow(dead_code))]
    pub(crate) fn read_part(&self, key: &Key) -> Result<Option<Vec<u8>>> {
        self.records.read(&format!("{PARTS}/{}.json", key.hex()))
    }

    /// Puts a part record unless one is there already (`false`: another process wrote
    /// that part first).
    #[cfg_attr(not(feature = "ome-zarr"), allow(dead_code))]
    pub(crate) fn create_part(&self, key: &Key, bytes: &[u8]) -> Result<bool> {
        self.records.prepare(&[PARTS])?;
        self.records
            .create(&format!("{PARTS}/{}.json", key.hex()), bytes)
    }

    /// Where a part record is (for messages).
    #[cfg_attr(not(feature = "ome-zarr"), allow(dead_code))]
    pub(crate) fn part_path(&self, key: &Key) -> PathBuf {
        self.records.locate(&format!("{PARTS}/{}.json", key.hex()))
    }

    fn record_rel(key: &Key) -> String {
        format!("{RECORDS}/{}.json", key.hex())
    }

    fn record_path(&self, key: &Key) -> PathBuf {
        self.records.locate(&Self::record_rel(key))
    }

    /// Reads the record of `key`, if there is one.
    fn read_record(&self, key: &Key) -> Result<Option<Record>> {
        let path = self.record_path(key);
        let Some(text) = self.records.read(&Self::record_rel(key))? else {
            return Ok(None);
        };
        let record: Record = parse_json(&path, &text)?;
        if record.key != *key || record.version != RECORD_VERSION {
            return Err(Error::Record {
                path,
                reason: "it does not match its key or version".into(),
                source: None,
            });
        }
        Ok(Some(record))
    }

    /// Looks an output up and checks its file: on disk by hashing it again, on an
    /// object store by its size and recorded checksum (no download; `verify` downloads).
    /// Records older than `max_age` are misses.
    pub fn lookup(&self, key: &Key, max_age: Option<Duration>) -> Lookup {
        let record = match self.read_record(key) {
            Ok(Some(r)) => r,
            Ok(None) => return Lookup::Miss,
            Err(e) => return Lookup::Broken(e),
        };
        if let Some(age) = max_age {
            if now_unix().saturating_sub(record.created_unix) > age.as_secs() {
                return Lookup::Miss;
            }
        }
        match self.check_file(&record) {
            Ok(()) => Lookup::Hit(Box::new(self.hit(record))),
            Err(problem) => Lookup::Broken(problem),
        }
    }

    fn hit(&self, record: Record) -> Hit {
        let path = self.outputs.locate(&record.file);
        Hit { record, path }
    }

    fn check_file(&self, record: &Record) -> Result<()> {
        (self.outputs).check_output(&record.file, record.file_bytes, &record.file_blake3)
    }

    /// Hashes a record's file again, downloading it from an object store.
    pub(crate) fn verify_file(&self, record: &Record) -> Result<()> {
        self.outputs
            .verify_output(&record.file, &record.file_blake3)
    }

    /// A local file with a stored output's bytes, to read it: the file itself on disk,
    /// a verified download from an object store.
    pub fn fetch(&self, hit: &Hit) -> Result<LocalFile> {
        (self.outputs).fetch_output(&hit.record.file, &hit.record.file_blake3)
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
        self.outputs.put_output(&name, &bytes, &hash)?;
        let first = stack
            .frames
            .first()
            .ok_or_else(|| Error::encode("no frames").at(&self.outputs.locate(&name)))?;
        let file = StoredFile {
            path: self.outputs.locate(&name),
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
        self.outputs.put_output(&name, bytes, &hash)?;
        let columns = csv.lines().next().map_or(1, |h| h.split(',').count()) as u32;
        let lines = csv.lines().count().max(1) as u32;
        let shape = crate::image::Shape::new(columns, lines, 1)?;
        let file = StoredFile {
            path: self.outputs.locate(&name),
            name,
            hash,
            bytes: bytes.len() as u64,
        };
        self.commit(draft, file, shape, crate::image::SampleType::F64, frames)
    }

    /// Writes an output file that `write` produces (a TIFF streamed band by band, too
    /// large to hold in memory) into a temporary file (in the output folder, or a
    /// local scratch folder for an object store), then names it by the hash of its
    /// bytes and stores it (an upload in parts, for an object store). Commit it with
    /// [`Store::commit`] once its record's draft is complete.
    pub fn put_file(
        &self,
        name: &str,
        ext: &str,
        write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<()>,
    ) -> Result<StoredFile> {
        let planned = self.out.join(format!("{name}.{ext}"));
        let io = |e: std::io::Error| Error::io(&planned, e);
        let tmp = self.outputs.temp_file()?;
        {
            let mut w = std::io::BufWriter::new(tmp.as_file());
            write(&mut w).map_err(|e| e.at(&planned))?;
            std::io::Write::flush(&mut w).map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        let hash = crate::key::hash_file(tmp.path()).map_err(io)?;
        let bytes = tmp.as_file().metadata().map_err(io)?.len();
        let file_name = format!("{name}-{}.{ext}", hash.short());
        self.outputs
            .put_output_file(&file_name, tmp, &hash, bytes)?;
        Ok(StoredFile {
            path: self.outputs.locate(&file_name),
            name: file_name,
            hash,
            bytes,
        })
    }

    /// Writes the record of a file in place, the commit marker: the output is stored.
    /// The record is put only if absent: where another worker's record is there and
    /// its file checks, that record is the committed one (unless the draft says to
    /// replace it, as `--refresh` does); a broken one is replaced.
    pub fn commit(
        &self,
        draft: Draft,
        file: StoredFile,
        shape: crate::image::Shape,
        sample_type: crate::image::SampleType,
        frames: usize,
    ) -> Result<Hit> {
        let replace = draft.replace;
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
        let rel = Self::record_rel(&record.key);
        if replace {
            self.records.write(&rel, &json)?;
        } else if !self.records.create(&rel, &json)? {
            // Another worker finished first: theirs stands if its file checks.
            if let Ok(Some(theirs)) = self.read_record(&record.key) {
                if self.check_file(&theirs).is_ok() {
                    return Ok(self.hit(theirs));
                }
            }
            self.records.write(&rel, &json)?;
        }
        Ok(Hit {
            record,
            path: file.path,
        })
    }

    /// Stores `bytes` as the output file `name` (named by its content by the caller, as
    /// `ImageResult` in Python does) unless an intact copy is there; no record.
    pub fn put_named(&self, name: &str, bytes: &[u8]) -> Result<StoredFile> {
        let hash = Key::of_bytes(bytes);
        self.outputs.put_output(name, bytes, &hash)?;
        Ok(StoredFile {
            path: self.outputs.locate(name),
            name: name.to_string(),
            hash,
            bytes: bytes.len() as u64,
        })
    }

    /// The check a cache hit makes of the output file `name` (see [`Store::lookup`]):
    /// on an object store one metadata request, no download.
    pub fn check_named(&self, name: &str, bytes: u64, hash: &Key) -> Result<()> {
        self.outputs.check_output(name, bytes, hash)
    }

    /// The bytes of the output file `name`, checked against `hash` (downloaded once
    /// from an object store).
    pub fn read_named(&self, name: &str, hash: &Key) -> Result<Vec<u8>> {
        let file = self.outputs.fetch_output(name, hash)?;
        let bytes =
            std::fs::read(file.path()).map_err(|e| Error::io(self.outputs.locate(name), e))?;
        if Key::of_bytes(&bytes) != *hash {
            return Err(Error::Corrupt {
                path: self.outputs.locate(name),
            });
        }
        Ok(bytes)
    }

    /// Notes which outputs a run produced or reused (gc keeps the last runs' outputs).
    pub fn log_run(&self, run_id: &str, outputs: &[Key]) -> Result<()> {
        let log = RunLog {
            run_id: run_id.to_string(),
            finished_unix: now_unix(),
            outputs: outputs.to_vec(),
        };
        let rel = format!("{RUNS}/{run_id}.json");
        (self.records).write(&rel, &serde_json::to_vec(&log).expect("serialisable"))
    }

    /// Every record, by its path or URL, sorted.
    pub(crate) fn records(&self) -> Result<Vec<(PathBuf, Result<Record>)>> {
        let mut out = Vec::new();
        for name in self.records.list(RECORDS)? {
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let rel = format!("{RECORDS}/{name}");
            let path = self.records.locate(&rel);
            let r = match self.records.read(&rel) {
                Ok(Some(text)) => parse_json(&path, &text),
                Ok(None) => continue, // removed meanwhile
                Err(e) => Err(e),
            };
            out.push((path, r));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}
