//! What the store keeps about each output: its record (key, lineage, file, hash, sample
//! type, shape, device, time), the draft a run hands over before the file exists, and
//! the outcome of a look-up.

use crate::image::{SampleType, Shape};
use crate::io::{Animation, Format};
use crate::key::Key;
use crate::Error;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// Objects the output holds, for labels (their count) and measurement tables (their
    /// rows), so a cache hit can say it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
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
    /// The source's voxel size (a microscopy volume's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voxel: Option<crate::image::VoxelSize>,
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
    /// Objects the output holds (labels, table rows), if it holds objects.
    pub objects: Option<u64>,
    /// Replace a stored record of this key even where it checks (`--refresh`);
    /// otherwise a record another worker committed first stands.
    pub replace: bool,
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
                voxel: None,
            },
            format: Format::Tiff,
            device: "cpu".into(),
            objects: None,
            replace: false,
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
