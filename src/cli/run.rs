//! `imflow run`: sources in, cached verified results out.

use super::{fail, output_type};
use crate::{exit, StoreArgs};
use clap::Args;
use imflow::executor::{OutputReport, Status};
use imflow::flowfile::FlowSpec;
use imflow::io::Format;
use imflow::shard::Shard;
use imflow::store::Location;
use imflow::{Backend, Executor, Flow, Op, RunOptions, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// What a flow is made of: its inputs, its ops, and where its results go (shared by
/// `run` and `gather`, so both key the same outputs).
#[derive(Args)]
pub struct FlowArgs {
    /// A file, a folder (its files, not sub-folders), a glob (`data/*.tif`), or an object
    /// URL (`s3://bucket/raw/` lists the prefix; `s3://bucket/raw/*.tif` filters it);
    /// repeatable.
    #[arg(long, short, required = true, value_name = "PATH")]
    pub(crate) input: Vec<String>,
    /// An op, `name[:key=value,...]`; repeat for a chain. Or use --flow.
    #[arg(long = "op", value_name = "SPEC", conflicts_with = "flow", long_help = imflow::ops::OP_HELP)]
    pub(crate) ops: Vec<String>,
    /// A flow file (TOML; can branch, e.g. one denoised image feeding two masks).
    #[arg(long, value_name = "FILE")]
    pub(crate) flow: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output sample type with --op: `same` keeps the source's (masks are u8), or
    /// u8/u16/f32/i8/i16/i32/u32/f64.
    #[arg(long, default_value = "same", value_parser = super::DTYPES)]
    pub(crate) dtype: String,
    /// Output format with --op: tif, png, jpg, gif, webp or bmp (default: by content;
    /// GIFs and WebPs stay so), or ome-zarr (NGFF 0.5 with sharding, from OME-Zarr
    /// inputs; with --shard, the processes split each image's rows of shards).
    #[arg(long, value_parser = ["tif", "png", "jpg", "gif", "webp", "bmp", "ome-zarr"])]
    pub(crate) format: Option<String>,
    /// Read each multi-page TIFF as one volume (a z-stack of its pages). ImageJ
    /// hyperstacks and OME-TIFFs are read by the axes they record, without it.
    #[arg(long)]
    pub(crate) volume: bool,
}

/// A flow over the inputs, and its store, or the exit code of why not.
pub struct Built {
    pub flow: Flow,
    pub files: Vec<PathBuf>,
    pub store: Store,
}

impl FlowArgs {
    /// Parses the ops (or flow file), checks where results go, expands the inputs
    /// (keeping those of `shard`) and opens the store. Nothing is written before the
    /// store's location is known good: an unsupported URL is exit 2 with no local trace.
    pub fn build(&self, shard: Option<Shard>) -> Result<Built, u8> {
        let spec = match (&self.flow, self.ops.is_empty()) {
            (Some(f), _) => FlowSpec::load(f),
            (None, false) => self
                .ops
                .iter()
                .map(|s| Op::parse(s))
                .collect::<imflow::Result<Vec<_>>>()
                .map(|ops| {
                    FlowSpec::chain(
                        ops,
                        output_type(&self.dtype),
                        self.format.as_deref().and_then(Format::from_extension),
                    )
                }),
            (None, true) => {
                return Err(fail(
                    exit::USAGE,
                    &"give ops with --op, or a flow file with --flow",
                ))
            }
        };
        let mut spec = spec.map_err(|e| fail(exit::USAGE, &e))?;
        if self.volume {
            spec.reading = imflow::io::Reading::Volume;
        }
        let store_dir = self.store.store.as_ref();
        for place in std::iter::once(&self.store.out).chain(store_dir) {
            Location::of_path(place).map_err(|e| fail(exit::USAGE, &e))?;
        }
        // Never read our own outputs back in as inputs.
        let skip = [
            self.store.out.clone(),
            self.store.store.clone().unwrap_or_default(),
        ];
        let mut files =
            imflow::inputs::expand(&self.input, &skip).map_err(|e| fail(exit::USAGE, &e))?;
        if let Some(shard) = shard {
            let all = files.len();
            files = shard.select(files);
            eprintln!("imflow: shard {shard}: {} of {all} inputs", files.len());
        }
        let mut flow = Flow::new();
        for f in &files {
            spec.add_source(&mut flow, f)
                .map_err(|e| fail(exit::USAGE, &e))?;
        }
        let store = Store::open(&self.store.out, self.store.store.as_deref()).map_err(|e| {
            let code = match e {
                imflow::Error::Usage { .. } => exit::USAGE,
                _ => exit::FAILED,
            };
            fail(code, &e)
        })?;
        Ok(Built { flow, files, store })
    }
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub(crate) what: FlowArgs,
    /// Where kernels run: a hardware GPU if there is one, else the CPU twins (auto; a
    /// software adapter such as llvmpipe is passed over), the GPU (any adapter), or
    /// the CPU.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub(crate) backend: String,
    /// Recompute everything and overwrite the stored results.
    #[arg(long)]
    pub(crate) refresh: bool,
    /// Host memory to work within (e.g. 1GiB; default: half of RAM). Larger TIFFs are
    /// streamed through tiles, read and written band by band.
    #[arg(long, value_name = "SIZE")]
    pub(crate) memory: Option<String>,
    /// Treat stored results older than this as missing (e.g. 12h, 7d).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    max_age: Option<std::time::Duration>,
    /// Decode/encode threads (each pool; default: one per core).
    #[arg(long, short, default_value_t = 0)]
    jobs: usize,
    /// Run only part K of N (0-based) of the inputs, chosen by file name so parts are
    /// disjoint and stable; `auto` reads the index of a Slurm array task
    /// (SLURM_ARRAY_TASK_ID, _MIN, _MAX/_COUNT), a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX) or an AWS Batch array job (AWS_BATCH_JOB_ARRAY_INDEX), the
    /// last two with IMFLOW_SHARD_COUNT. Every shard writes to the same store.
    #[arg(long, value_name = "K/N|auto")]
    pub(crate) shard: Option<String>,
    /// Print one JSON report on stdout (paths, hashes, status per output; failures).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--shard K/N|auto`.
pub fn parse_shard(text: Option<&str>) -> Result<Option<Shard>, u8> {
    let shard = match text {
        None => return Ok(None),
        Some("auto") => Shard::from_env(),
        Some(t) => Shard::parse(t),
    };
    shard.map(Some).map_err(|e| fail(exit::USAGE, &e))
}

struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    hits: usize,
    failed: usize,
    started: Instant,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            total,
            done: 0,
            hits: 0,
            failed: 0,
            started: Instant::now(),
        }
    }

    fn update(&mut self, o: &OutputReport) {
        self.done += 1;
        match o.status {
            Status::StoreHit => self.hits += 1,
            Status::Failed => self.failed += 1,
            _ => {}
        }
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!(
                    "{} hits, {} failed, {rate:.1} files/s",
                    self.hits, self.failed
                ));
                bar.inc(1);
            }
            None => {
                let what = match (&o.path, &o.error) {
                    (_, Some(e)) => e.root().to_string(),
                    (Some(p), _) => p.display().to_string(),
                    _ => String::new(),
                };
                let what = match o.objects {
                    Some(n) => format!("{what} ({n} objects)"),
                    None => what,
                };
                let status = match o.status {
                    Status::StoreHit => "hit",
                    Status::Failed => "FAILED",
                    _ => "computed",
                };
                eprintln!("[{}/{}] {status} {}: {what}", self.done, self.total, o.name);
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn run(a: RunArgs) -> u8 {
    let shard = match parse_shard(a.shard.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if a.what.format.as_deref() == Some("ome-zarr") {
        #[cfg(feature = "ome-zarr")]
        return super::zarr::run(&a, shard);
        #[cfg(not(feature = "ome-zarr"))]
        return fail(
            exit::USAGE,
            &"--format ome-zarr needs imflow's `ome-zarr` feature (this build lacks it)",
        );
    }
    let Built { flow, files, store } = match a.what.build(shard) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let backend: Backend = a.backend.parse().expect("clap checked the value");
    // One run per process: values shared within the run are kept by the run itself,
    // so a resident cache would only hold up to its budget of GPU memory (or RAM) of
    // finished results until exit. Memory stays bounded by the pipeline instead.
    let exec = Executor::new(backend).with_resident_budget(0);
    let budget = match super::budget(a.memory.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let options = RunOptions {
        refresh: a.refresh,
        max_age: a.max_age,
        jobs: a.jobs,
        budget,
    };
    let total = flow.outputs().count();
    let mut progress = Progress::new(total, false);
    let report = exec.run_with_progress(&flow, &store, &options, &mut |o| progress.update(o));
    progress.finish();
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(exit::FAILED, &e),
    };
    if let Some(n) = exec.notice() {
        eprintln!("imflow: {n}");
    }
    for w in &report.warnings {
        eprintln!("imflow: warning: {w}");
    }
    let s = &report.summary;
    eprintln!(
        "{} outputs from {} files: {} computed, {} cached, {} failed; {:.1} MB written in {:.2} s on {}",
        s.outputs,
        files.len(),
        s.computed,
        s.hits,
        s.failed,
        s.bytes_written as f64 / 1e6,
        report.wall_ms / 1e3,
        report.device.as_deref().unwrap_or("no device (nothing computed)"),
    );
    let counted: Vec<_> = (report.outputs.iter())
        .filter_map(|o| Some((o.name.as_str(), o.objects?)))
        .collect();
    if !counted.is_empty() {
        let each: Vec<String> = (counted.iter().take(8))
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let more = match counted.len() {
            n if n > 8 => format!(", ... ({} more)", n - 8),
            _ => String::new(),
        };
        eprintln!("  objects: {}{more}", each.join(", "));
    }
    for f in &report.failures {
        eprintln!("  failed: {}", f.error);
    }
    if a.json {
        println!("{}", report.to_json());
    }
    if report.failures.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    }
}
