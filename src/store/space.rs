//! Where a store keeps its bytes: a local folder ([`LocalSpace`]) or a prefix in an
//! object store (`super::object`). The store speaks only to this trait, with names
//! relative to the space's root (`records/<key>.json`, `cell-<hash16>.tif`), so neither
//! it nor the executor knows which one it has.
//!
//! Two kinds of thing live in a space: small documents (records, run logs), read and
//! written whole, and content-named outputs, put once and checked against their hash.

use crate::io::write_atomic;
use crate::key::{self, Key};
use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A local file with an output's or a source's bytes; a downloaded copy is removed once
/// the last clone is dropped.
#[derive(Clone, Debug)]
pub struct LocalFile {
    path: PathBuf,
    _temp: Option<Arc<tempfile::TempPath>>,
}

impl LocalFile {
    /// A file that is already local (and stays).
    pub fn at(path: PathBuf) -> Self {
        LocalFile { path, _temp: None }
    }

    /// A downloaded copy, removed when dropped.
    #[cfg_attr(not(feature = "object-store-base"), allow(dead_code))]
    pub(crate) fn temporary(temp: tempfile::TempPath) -> Self {
        LocalFile {
            path: temp.to_path_buf(),
            _temp: Some(Arc::new(temp)),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A store's place for bytes. Implementations: [`LocalSpace`], `ObjectSpace`.
pub(crate) trait Space: Send + Sync + std::fmt::Debug {
    /// The path or URL of `rel`, for records, reports and messages.
    fn locate(&self, rel: &str) -> PathBuf;

    /// Makes the space usable (a local folder and its sub-folders are created).
    fn prepare(&self, dirs: &[&str]) -> Result<()>;

    /// The bytes of a document, or `None` where there is none.
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>>;

    /// Writes a document atomically, replacing any.
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<()>;

    /// Writes a document only if there is none: `true` when written, `false` when one
    /// was there (another worker's). Atomic: of racing creators exactly one wins.
    fn create(&self, rel: &str, bytes: &[u8]) -> Result<bool>;

    /// Names of the documents directly in `dir` (not the folder's sub-folders).
    fn list(&self, dir: &str) -> Result<Vec<String>>;

    /// Removes a document or output; `false` when there was none.
    fn remove(&self, rel: &str) -> Result<bool>;

    /// Stores an output, named by its content, unless an intact copy is there already
    /// (puts of one name are idempotent).
    fn put_output(&self, rel: &str, bytes: &[u8], hash: &Key) -> Result<()>;

    /// A temporary file to write an output into before its name (its hash) is known.
    fn temp_file(&self) -> Result<tempfile::NamedTempFile>;

    /// Stores a finished temporary file from [`Space::temp_file`] as an output.
    fn put_output_file(
        &self,
        rel: &str,
        tmp: tempfile::NamedTempFile,
        hash: &Key,
        size: u64,
    ) -> Result<()>;

    /// The check of a stored output on a cache hit. On disk the file is hashed again;
    /// on an object store its size and the checksum recorded when it was put are
    /// compared, without downloading it.
    fn check_output(&self, rel: &str, size: u64, hash: &Key) -> Result<()>;

    /// Hashes the stored bytes again (downloading them from an object store).
    fn verify_output(&self, rel: &str, hash: &Key) -> Result<()>;

    /// A local file with the output's bytes, to read it (a download is verified against
    /// `hash` on the way).
    fn fetch_output(&self, rel: &str, hash: &Key) -> Result<LocalFile>;

    /// Removes temporary files older than `age` that killed processes left in `dirs`
    /// (an object store shows no half-written object, so has none).
    fn remove_stale_temps(&self, dirs: &[&str], age: Duration) -> usize;
}

/// A local folder: files written through a temporary file, fsync and rename, so a
/// reader never sees a part.
#[derive(Debug)]
pub(crate) struct LocalSpace {
    root: PathBuf,
}

impl LocalSpace {
    pub fn new(root: PathBuf) -> Self {
        LocalSpace { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

impl Space for LocalSpace {
    fn locate(&self, rel: &str) -> PathBuf {
        self.path(rel)
    }

    fn prepare(&self, dirs: &[&str]) -> Result<()> {
        for d in dirs {
            let d = self.path(d);
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        Ok(())
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(rel);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path(rel), bytes)
    }

    fn create(&self, rel: &str, bytes: &[u8]) -> Result<bool> {
        // A complete temporary file, then a hard link to the name: link(2) fails when
        // the name exists, so of racing creators exactly one wins, and the name never
        // shows a partial file.
        let path = self.path(rel);
        let dir = path.parent().unwrap_or(Path::new("."));
        let io = |e: std::io::Error| Error::io(&path, e);
        let mut tmp = tempfile::Builder::new()
            .prefix(".imflow-tmp-")
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(e)),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let d = self.path(dir);
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    fn remove(&self, rel: &str) -> Result<bool> {
        let path = self.path(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn put_output(&self, rel: &str, bytes: &[u8], hash: &Key) -> Result<()> {
        let path = self.path(rel);
        // An identical file may be there already (another run, another process): keep it.
        if !key::hash_file(&path).is_ok_and(|h| h == *hash) {
            write_atomic(&path, bytes)?;
        }
        Ok(())
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        // In the output folder itself, so the rename that names it is atomic.
        tempfile::Builder::new()
            .prefix(".imflow-tmp-")
            .tempfile_in(&self.root)
            .map_err(|e| Error::io(&self.root, e))
    }

    fn put_output_file(
        &self,
        rel: &str,
        tmp: tempfile::NamedTempFile,
        hash: &Key,
        _size: u64,
    ) -> Result<()> {
        let path = self.path(rel);
        if key::hash_file(&path).is_ok_and(|h| h == *hash) {
            drop(tmp); // an identical file is there already
        } else {
            tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        }
        Ok(())
    }

    fn check_output(&self, rel: &str, _size: u64, hash: &Key) -> Result<()> {
        self.verify_output(rel, hash)
    }

    fn verify_output(&self, rel: &str, hash: &Key) -> Result<()> {
        let file = self.path(rel);
        match key::hash_file(&file) {
            Err(e) => Err(Error::io(file, e)),
            Ok(h) if h != *hash => Err(Error::Corrupt { path: file }),
            Ok(_) => Ok(()),
        }
    }

    fn fetch_output(&self, rel: &str, _hash: &Key) -> Result<LocalFile> {
        // Verified when it was looked up; the reader reads it where it lies.
        Ok(LocalFile::at(self.path(rel)))
    }

    fn remove_stale_temps(&self, dirs: &[&str], age: Duration) -> usize {
        let mut removed = 0;
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(self.path(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                let stale = e.file_name().to_string_lossy().starts_with(".imflow-tmp-")
                    && e.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t.elapsed().unwrap_or_default() > age);
                if stale && std::fs::remove_file(e.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }
}
