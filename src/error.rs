//! The crate's one error type. Every variant names what went wrong in terms a user can act
//! on: the file, the parameter, or the limit.

use std::path::PathBuf;

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

    /// A file exists but could not be decoded as an image (truncated, corrupt, not an image).
    #[error("{path}: cannot decode image: {reason}")]
    Decode {
        /// The file involved.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },

    /// The file decodes, but holds something imflow does not process (sample type, layout).
    #[error("{path}: unsupported image: {reason}")]
    Unsupported {
        /// The file involved.
        path: PathBuf,
        /// What is not supported and, where there is one, what to do instead.
        reason: String,
    },

    /// Writing an image failed, or the chosen format cannot hold the data.
    #[error("{path}: cannot write image: {reason}")]
    Encode {
        /// The output file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// An image has a zero width or height, or dimensions that overflow memory sizes.
    #[error("invalid image shape {width}x{height}x{channels}: {reason}")]
    Shape {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
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
    #[error("GPU adapter `{adapter}` could not create a device: {reason}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// wgpu's reason.
        reason: String,
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

    /// The GPU reported an error (validation, out of memory, device lost, timeout) while
    /// running a kernel.
    #[error("GPU error in `{label}`: {message}")]
    Gpu {
        /// The kernel or transfer, labelled `imflow.<kernel>`.
        label: String,
        /// The driver's or wgpu's message.
        message: String,
    },
}

/// `Result` with imflow's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
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
}
