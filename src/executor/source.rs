//! A file source: its path, the blake3 of its bytes (its content key) and, where the file
//! system can vouch for it, its stamp; and the decode that checks it reads those bytes.
//! A source given as an object URL is downloaded once, when it is keyed, and read from
//! that local copy.

use crate::io::{self, Reading, Stack};
use crate::key::{self, FileStamp, Key};
use crate::store::{LocalFile, Location};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// A file source, keyed by its bytes.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// As given: a path, or an object URL.
    path: PathBuf,
    /// How its pages are read (a part of what it is, so of its key).
    reading: Reading,
    /// The bytes on this machine: the file itself, or a downloaded copy.
    local: LocalFile,
    content: Key,
    /// Taken right after the bytes were hashed; `None` where it cannot vouch for them.
    stamp: Option<FileStamp>,
}

impl Source {
    /// Reads and hashes the file (downloading an object first), to read its pages as
    /// `reading` says.
    pub fn key(path: &Path, reading: Reading) -> Result<Source> {
        if path.to_str().is_some_and(crate::inputs::is_zarr) {
            return Self::key_zarr(path, reading);
        }
        let local = match Location::of_path(path)? {
            Location::Local(p) => LocalFile::at(p),
            #[cfg(feature = "object-store-base")]
            Location::Object(url) => crate::store::object::fetch_source(&url)?,
            #[cfg(not(feature = "object-store-base"))]
            Location::Object(url) => unreachable!("{url}: parsed only where the build reaches it"),
        };
        let (content, stamp) = key::hash_stamped(local.path()).map_err(|e| Error::io(path, e))?;
        Ok(Source {
            path: path.to_path_buf(),
            reading,
            local,
            content,
            stamp,
        })
    }

    /// An OME-Zarr image (see [`crate::zarr`]): keyed by what it holds, not by how
    /// its chunks happen to be encoded or named: level 0's metadata, the group's
    /// attributes and every decoded sample (so reading it costs a read of the whole
    /// level, as hashing a file does).
    #[cfg(feature = "ome-zarr")]
    fn key_zarr(path: &Path, reading: Reading) -> Result<Source> {
        let image = crate::zarr::ZarrImage::open(path)?;
        let content = zarr_content(&image, &image.read_all()?);
        Ok(Source {
            path: path.to_path_buf(),
            reading,
            // No file: `decode` reads the image again (and checks it against the key).
            local: LocalFile::at(path.to_path_buf()),
            content,
            stamp: None,
        })
    }

    #[cfg(not(feature = "ome-zarr"))]
    fn key_zarr(path: &Path, _reading: Reading) -> Result<Source> {
        Err(Error::Unsupported {
            path: Some(path.to_path_buf()),
            reason: "OME-Zarr images need imflow's `ome-zarr` feature (this build lacks it)".into(),
        })
    }

    /// Whether the source is an OME-Zarr image (a folder or prefix, not a file).
    pub fn is_zarr(&self) -> bool {
        self.path.to_str().is_some_and(crate::inputs::is_zarr)
    }

    /// How its pages are read.
    pub fn reading(&self) -> Reading {
        self.reading
    }

    /// The path or URL, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The local file with its bytes.
    pub fn local(&self) -> &LocalFile {
        &self.local
    }

    /// blake3 of the file's bytes, as `b3sum` prints it.
    pub fn content(&self) -> Key {
        self.content
    }

    /// The source node's key.
    pub fn node_key(&self) -> Key {
        key::file_source(&self.content, self.reading)
    }

    /// Decodes every frame, from the very bytes the source was keyed by: a file whose
    /// stamp still vouches for them is decoded straight from disk (and counts if its
    /// stamp still vouches afterwards); otherwise the bytes are read whole and hashed
    /// again, and must match.
    pub fn decode(&self) -> Result<Stack> {
        #[cfg(feature = "ome-zarr")]
        if self.is_zarr() {
            let image = crate::zarr::ZarrImage::open(&self.path)?;
            let frames = image.read_all()?;
            if zarr_content(&image, &frames) != self.content {
                return Err(Error::Changed {
                    path: self.path.clone(),
                });
            }
            return Ok(Stack {
                voxel: Some(image.voxel.clone()),
                ..Stack::of(frames)
            });
        }
        let (path, local) = (&self.path, self.local.path());
        if let Some(keyed) = &self.stamp {
            let (stack, now) =
                key::read_stamped(local, |f| io::decode_stack_from_file(f, self.reading))
                    .map_err(|e| Error::io(path, e))?;
            if now.as_ref() == Some(keyed) {
                return stack.map_err(|e| e.at(path));
            }
        }
        let bytes = std::fs::read(local).map_err(|e| Error::io(path, e))?;
        if Key::of_bytes(&bytes) != self.content {
            return Err(Error::Changed { path: path.clone() });
        }
        io::decode_stack_as(&bytes, self.reading).map_err(|e| e.at(path))
    }

    /// Checks that the file still holds the bytes it was keyed by, without reading them
    /// when its stamp vouches for them (a file streamed rather than read whole is
    /// checked before and after).
    pub fn check_unchanged(&self) -> Result<()> {
        let (path, local) = (&self.path, self.local.path());
        let file = std::fs::File::open(local).map_err(|e| Error::io(path, e))?;
        if let (Some(keyed), Some(now)) = (
            &self.stamp,
            FileStamp::of(&file, std::time::SystemTime::now()),
        ) {
            if keyed == &now {
                return Ok(());
            }
        }
        match key::hash_file(local) {
            Ok(k) if k == self.content => Ok(()),
            Ok(_) => Err(Error::Changed { path: path.clone() }),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

/// The content key of an OME-Zarr image: its level 0's metadata, its attributes, and
/// every frame's samples.
#[cfg(feature = "ome-zarr")]
fn zarr_content(image: &crate::zarr::ZarrImage, frames: &[crate::Image]) -> Key {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"imflow.ngff.source.v1\0");
    for field in [
        image.array_json.clone(),
        serde_json::to_vec(&image.attributes).expect("serialisable"),
    ] {
        bytes.extend_from_slice(&(field.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&field);
    }
    for f in frames {
        bytes.extend_from_slice(key::image_source(f).as_bytes());
    }
    Key::of_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_between_keying_and_decoding_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tif");
        let img = crate::Image::gray(3, 2, crate::Samples::U16(vec![1, 2, 3, 4, 5, 6])).unwrap();
        io::save(&img, &path).unwrap();
        let source = Source::key(&path, Reading::Auto).unwrap();
        assert_eq!(
            source.node_key(),
            key::file_source(&key::hash_file(&path).unwrap(), Reading::Auto)
        );
        assert_eq!(source.decode().unwrap().frames[0], img);
        let other = crate::Image::gray(3, 2, crate::Samples::U16(vec![9; 6])).unwrap();
        io::save(&other, &path).unwrap();
        let e = source.decode().unwrap_err();
        assert!(
            matches!(&e, Error::Changed { path: p } if p == &path),
            "{e}"
        );
    }
}
