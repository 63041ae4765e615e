//! The crate's one error type. Every variant names what went wrong in terms a user can act
//! on: the file, the parameter, or the limit. Errors keep their cause (`source()`) and
//! stay typed up to the edge that prints them: a library caller matches on why an output
//! failed; `--json` and Python turn it into text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A boxed cause from another crate (a codec, the TOML parser).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors from imflow. Variants are added over time, so match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed at the operating-system level.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Bytes that could not be decoded as an image (truncated, corrupt, not an image).
    /// Codecs raise it without a path; the caller that knows the file adds it
    /// ([`Error::at`]).
    #[error("{}cannot decode image: {reason}", at(.path))]
    Decode {
        /// The file involved, once known.
        path: Option<PathBuf>,
        /// What the decoder said.
        reason: String,
        /// The decoder's own error, where it gave one.
        #[source]
        source: Option<BoxError>,
    },

    /// The file decodes, but holds something imflow does not process (sample type, layout).
    #[error("{}unsupported image: {reason}", at(.path))]
    Unsupported {
        /// The file involved, once known.
        path: Option<PathBuf>,
        /// What is not supported and, where there is one, what to do instead.
        reason: String,
    },

    /// Writing an image failed, or the chosen format cannot hold the data.
    #[error("{}cannot write image: {reason}", at(.path))]
    Encode {
        /// The output file, once known.
        path: Option<PathBuf>,
        /// Why.
        reason: String,
        /// The encoder's own error, where it gave one.
        #[source]
        source: Option<BoxError>,
    },

    /// A source file's bytes changed between keying it and decoding it.
    #[error("{path}: the file changed during the run")]
    Changed {
        /// The source file.
        path: PathBuf,
    },

    /// An image has a zero width, height or depth, or dimensions that overflow memory
    /// sizes.
    #[error("invalid image shape {}: {reason}", crate::image::dims(*.width, *.height, *.depth, *.channels))]
    Shape {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Slices (1 for a 2-D image).
        depth: u32,
        /// Channels per pixel.
        channels: u32,
        /// Why the shape is rejected.
        reason: String,
    },

    /// An op specification names no known op.
    #[error("unknown op `{name}` (known ops: {known})")]
    UnknownOp {
        /// The name given.
        name: String,
        /// The names that would have been accepted.
        known: &'static str,
    },

    /// An op parameter is missing, malformed or out of range.
    #[error("op `{op}`: parameter `{param}`: {reason}")]
    InvalidParam {
        /// The op.
        op: &'static str,
        /// The parameter.
        param: String,
        /// What is wrong with it, including the value given.
        reason: String,
    },

    /// An op has no defined result on this data (Otsu on values with infinities).
    #[error("op `{op}` is undefined on this data: {reason}")]
    Undefined {
        /// The op.
        op: &'static str,
        /// Why.
        reason: &'static str,
    },

    /// The call itself is wrong: no inputs, options that contradict each other, a node
    /// from another flow.
    #[error("{message}")]
    Usage {
        /// What is wrong and what to do instead.
        message: String,
    },

    /// A flow file is not a valid flow.
    #[error("{}{}: {message}", .path.display(), line_suffix(*.line))]
    FlowFile {
        /// The flow file.
        path: PathBuf,
        /// The line the problem is on, where known (1-based).
        line: Option<usize>,
        /// What is wrong.
        message: String,
        /// The parser's or the op's own error.
        #[source]
        source: Option<BoxError>,
    },

    /// No GPU adapter could be found.
    #[error(
        "no GPU adapter found{detail}. Install a Vulkan driver (on a machine without a GPU, \
         Mesa's software driver: `apt-get install mesa-vulkan-drivers`), or use the CPU \
         backend (`--backend cpu`, `Backend::Cpu`)"
    )]
    NoAdapter {
        /// Extra context, e.g. the adapters seen when `WGPU_ADAPTER_NAME` matched none.
        detail: String,
    },

    /// The adapter was found but refused to create a device.
    #[error("GPU adapter `{adapter}` could not create a device: {source}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// wgpu's reason.
        #[source]
        source: wgpu::RequestDeviceError,
    },

    /// The work does not fit a limit of the adapter.
    #[error(
        "{what} needs {needed} but the adapter `{adapter}` allows at most {allowed} \
         ({limit}); use the CPU backend for images this large"
    )]
    TooLarge {
        /// What was being allocated or dispatched.
        what: String,
        /// The name of the wgpu limit.
        limit: &'static str,
        /// Amount needed.
        needed: u64,
        /// The adapter's limit.
        allowed: u64,
        /// Adapter name.
        adapter: String,
    },

    /// The work needs an adapter feature this adapter lacks.
    #[error(
        "{what} needs the GPU feature {feature}, which the adapter `{adapter}` lacks; \
         use the CPU backend (`--backend cpu`)"
    )]
    NeedsFeature {
        /// What needs it.
        what: String,
        /// The wgpu feature's name.
        feature: &'static str,
        /// Adapter name.
        adapter: String,
    },

    /// An OME-Zarr (NGFF) image that cannot be read or written as one: missing or
    /// malformed metadata (`zarr.json`, `.zattrs`), axes imflow cannot map to its image
    /// model, a sample type it does not process, a codec this build lacks.
    #[error("{path}: OME-Zarr: {reason}")]
    Ngff {
        /// The image (a folder or an object URL), or the file in it.
        path: PathBuf,
        /// What is wrong, and where there is one, what to do instead.
        reason: String,
    },

    /// An op that needs the whole image (Otsu's threshold, labels, measurements) in a
    /// run split by region over several processes (`--shard` with an OME-Zarr output):
    /// each process sees only its rows, so it cannot compute the op alone.
    #[error(
        "op `{op}` needs the whole image and cannot run split by region across processes; \
         run it without --shard (one process reads the whole image), or write a TIFF"
    )]
    NotRegional {
        /// The op's name.
        op: String,
    },

    /// An op computed on whole frames only (the distance transform, filling holes,
    /// clearing the border) in a frame that the memory budget or the GPU's binding limit
    /// cuts into tiles: it is refused rather than run whole beyond the budget.
    #[error(
        "op `{op}` needs the whole frame ({frame}) at once and cannot run in tiles yet, \
         but the memory budget (or the GPU's largest buffer binding) cuts this frame into \
         tiles of {tile}; raise the budget (--memory, or memory= in Python) so the frame \
         fits whole, use the CPU backend, or crop the image"
    )]
    WholeFrameOnly {
        /// The op's name.
        op: String,
        /// The frame's shape.
        frame: String,
        /// A tile's inner size.
        tile: String,
    },

    /// The GPU reported an error (validation, out of memory, device lost, timeout) while
    /// running a kernel or reading a result back.
    #[error("GPU error in `{label}`: {message}")]
    Gpu {
        /// The kernel or transfer, labelled `imflow.<kernel>`.
        label: String,
        /// The driver's or wgpu's message.
        message: String,
        /// wgpu's own error, where it is one that can travel between threads.
        #[source]
        source: Option<BoxError>,
    },

    /// A stored output's record cannot be read, or does not belong to its key.
    #[error("{path}: unreadable record: {reason}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
        /// The JSON parser's error, for a record that does not parse.
        #[source]
        source: Option<serde_json::Error>,
    },

    /// A stored output file does not hash to the value its record holds.
    #[error("{path}: contents do not match the recorded hash (corrupt or edited)")]
    Corrupt {
        /// The output file.
        path: PathBuf,
    },

    /// An object store request failed (the service answered an error, refused the
    /// credentials, or could not be reached).
    #[error("{url}: object store: {reason}")]
    Remote {
        /// The object or prefix involved.
        url: String,
        /// What the store said.
        reason: String,
        /// The client's own error.
        #[source]
        source: Option<BoxError>,
    },

    /// An output a flow should have is not in the store (`imflow gather`: a shard has
    /// not run, or failed on it).
    #[error("`{name}`: not in the store (its shard has not run, or failed)")]
    NotStored {
        /// The output's name.
        name: String,
    },

    /// A node could not run because one of its inputs failed.
    #[error("input failed: {0}")]
    Input(#[source] Arc<Error>),

    /// A worker thread panicked on this file (a decoder or encoder bug); the file failed,
    /// not the run.
    #[error("{path}: the {what} crashed on this file")]
    Crashed {
        /// The file being decoded or encoded.
        path: PathBuf,
        /// `decoder` or `encoder`.
        what: &'static str,
    },
}

/// `Result` with imflow's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `"<path>: "` for errors that know their file.
fn at(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(String::new, |p| format!("{}: ", p.display()))
}

fn line_suffix(line: Option<usize>) -> String {
    line.map_or_else(String::new, |l| format!(":{l}"))
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn param(
        op: &'static str,
        param: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidParam {
            op,
            param: param.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
        }
    }

    pub(crate) fn decode(reason: impl Into<String>) -> Self {
        Error::Decode {
            path: None,
            reason: reason.into(),
            source: None,
        }
    }

    /// A decoder's error, kept as the cause.
    pub(crate) fn decode_from(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Decode {
            path: None,
            reason: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn unsupported(reason: impl Into<String>) -> Self {
        Error::Unsupported {
            path: None,
            reason: reason.into(),
        }
    }

    pub(crate) fn encode(reason: impl Into<String>) -> Self {
        Error::Encode {
            path: None,
            reason: reason.into(),
            source: None,
        }
    }

    /// An encoder's error, kept as the cause.
    pub(crate) fn encode_from(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Encode {
            path: None,
            reason: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn gpu(label: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Gpu {
            label: label.into(),
            message: message.into(),
            source: None,
        }
    }

    /// The same error, naming `path` as the file it is about where it does not name one
    /// yet (codec errors are raised without a path; the caller knows the file).
    pub fn at(self, path: &Path) -> Self {
        match self {
            Error::Decode {
                path: None,
                reason,
                source,
            } => Error::Decode {
                path: Some(path.to_path_buf()),
                reason,
                source,
            },
            Error::Unsupported { path: None, reason } => Error::Unsupported {
                path: Some(path.to_path_buf()),
                reason,
            },
            Error::Encode {
                path: None,
                reason,
                source,
            } => Error::Encode {
                path: Some(path.to_path_buf()),
                reason,
                source,
            },
            Error::Shape {
                width,
                height,
                depth,
                channels,
                reason,
            } => Error::Decode {
                path: Some(path.to_path_buf()),
                reason: format!(
                    "image {}: {reason}",
                    crate::image::dims(width, height, depth, channels)
                ),
                source: None,
            },
            e => e,
        }
    }

    /// The error at the root of a chain of [`Error::Input`]s.
    pub fn root(&self) -> &Error {
        match self {
            Error::Input(inner) => inner.root(),
            e => e,
        }
    }
}

/// Serialises an error as its message, for reports (`--json`, Python).
pub(crate) fn serialize_error<S: serde::Serializer>(
    e: &Arc<Error>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

/// [`serialize_error`] for an optional error.
pub(crate) fn serialize_opt_error<S: serde::Serializer>(
    e: &Option<Arc<Error>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.collect_str(e),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_errors_gain_their_path_once() {
        let e = Error::decode("truncated").at(Path::new("/d/a.tif"));
        assert_eq!(e.to_string(), "/d/a.tif: cannot decode image: truncated");
        // A second caller does not relabel it.
        let e = e.at(Path::new("/elsewhere"));
        assert_eq!(e.to_string(), "/d/a.tif: cannot decode image: truncated");
        assert_eq!(
            Error::encode("no frames").to_string(),
            "cannot write image: no frames"
        );
        let input = Error::Input(Arc::new(Error::Input(Arc::new(e))));
        assert!(matches!(input.root(), Error::Decode { .. }));
        assert!(input
            .to_string()
            .starts_with("input failed: input failed: /d/a.tif"));
    }

    #[test]
    fn flow_file_errors_name_the_line() {
        let e = Error::FlowFile {
            path: "flow.toml".into(),
            line: Some(3),
            message: "no node named `b`".into(),
            source: None,
        };
        assert_eq!(e.to_string(), "flow.toml:3: no node named `b`");
    }
}
