//! The `imflow` command line: a thin layer over the library.

mod cli;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "imflow",
    version,
    about = "GPU image transforms (WGSL on wgpu) with cached, verified results"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Exit codes, for scripts and orchestrators.
pub mod exit {
    /// Every output is done.
    pub const OK: u8 = 0;
    /// The work could not run at all (no GPU for `--backend gpu`, unwritable output).
    pub const FAILED: u8 = 1;
    /// Bad arguments: unknown op, bad parameter, no inputs.
    pub const USAGE: u8 = 2;
    /// Some sources failed; the others' outputs are done (see the summary or `--json`).
    pub const PARTIAL: u8 = 3;
}

#[derive(Subcommand)]
enum Command {
    /// Run ops over files, folders or globs, writing cached, verified results.
    ///
    /// Each output is `<out>/<stem>[_<output>]-<hash16>.<ext>`, where hash16 is the
    /// blake3 of the file's bytes, with a JSON record in the store. Re-runs reuse every
    /// verified output; a missing or corrupt one is recomputed.
    Run(cli::run::RunArgs),
    /// Apply ops, in order, to one image file and write the result (no cache).
    ///
    /// The ops (gaussian, box, median, dog, log, gradient, thresholds, label,
    /// remove_small_objects, remove_small_holes, the morphology ops, distance, fill_holes,
    /// clear_border, expand_labels) are
    /// listed under --op. On a volume each op works in 3-D (connectivity 3: corners too;
    /// ball and cube footprints).
    /// Output format from OUT's extension (.tif/.tiff, .png, .jpg/.jpeg, .gif, .webp,
    /// .bmp).
    Apply(cli::apply::ApplyArgs),
    /// List the complete result set of a flow (every shard's outputs) without
    /// computing anything; exit 1 naming the outputs that are missing.
    ///
    /// Takes the same inputs, ops and store as the `run`s it gathers (without --shard):
    /// every input is keyed by its bytes and each output looked up, as a run's hits are.
    Gather(cli::gather::GatherArgs),
    /// Inspect and maintain a result store.
    Cache {
        #[command(subcommand)]
        command: cli::cache::CacheCommand,
    },
    /// List GPU adapters and their limits.
    Info {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where results go, for `run`.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// Output folder, or an object URL (`s3://bucket/prefix`; credentials and endpoint
    /// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL).
    #[arg(long, value_name = "DIR|URL")]
    pub out: PathBuf,
    /// Record folder or URL (default: <out>/.imflow).
    #[arg(long, value_name = "DIR|URL", env = "IMFLOW_STORE")]
    pub store: Option<PathBuf>,
}

/// Which store, for `cache`: the output folder, the record folder, or (neither) the
/// current folder when it is the output folder.
#[derive(Args, Clone, Debug)]
pub struct FindStoreArgs {
    /// Output folder or URL.
    #[arg(long, value_name = "DIR|URL")]
    pub out: Option<PathBuf>,
    /// Record folder or URL (default: <out>/.imflow; alone, it says where its outputs
    /// are).
    #[arg(long, value_name = "DIR|URL", env = "IMFLOW_STORE")]
    pub store: Option<PathBuf>,
}

/// Keeps freed image buffers in the process for the next file. glibc otherwise hands
/// every multi-megabyte buffer back to the kernel when it is freed (mmap'd chunks, and
/// heap tops trimmed past 2x the last such size), so each file of a folder run paid
/// for fresh zeroed pages again. On a 50-file 1024x1024 flow on two cores: 0.27 s wall
/// before, 0.23 s after (system time 0.17 -> 0.10 s). Held memory is bounded by the
/// run's peak, not its length. The process owns this policy, so the
/// binary sets it; the library leaves its users' allocator alone.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is called before any
    // thread exists. 32 MiB is glibc's largest allowed mmap threshold on 64-bit.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

/// Lowers the freed heap memory the allocator keeps (see [`keep_freed_buffers`]) to
/// `bytes` where that is less: what is kept counts in the process's memory like what
/// is used, and 512 MiB of it is half of a `--memory 1GiB` budget. (On the 4 GiB volume
/// of BENCHMARKS.md it made little difference, 1.74 -> 1.71 GiB; what brought that run
/// under its budget was the CPU tiles' share, see `CpuEngine::plane_limit`.)
pub(crate) fn retain_freed_at_most(bytes: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let bytes = bytes.min(512 << 20) as libc::c_int;
        // SAFETY: mallopt only changes an allocator tunable; glibc serialises it with
        // the arenas' own locks, so calling it while threads run is allowed.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, bytes);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = bytes;
}

fn main() -> ExitCode {
    keep_freed_buffers();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let code = match Cli::parse().command {
        Command::Run(args) => cli::run::run(args),
        Command::Gather(args) => cli::gather::gather(args),
        Command::Apply(args) => cli::apply::apply(args),
        Command::Cache { command } => cli::cache::cache(command),
        Command::Info { json } => cli::info(json),
    };
    ExitCode::from(code)
}
