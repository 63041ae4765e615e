//! `imflow run`: sources in, cached verified results out.

use super::{fail, output_type};
use crate::{exit, StoreArgs};
use clap::Args;
use imflow::executor::{OutputReport, Status};
use imflow::flowfile::FlowSpec;
use imflow::io::Format;
use imflow::{Backend, Executor, Flow, Op, RunOptions, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct RunArgs {
    /// A file, a folder (its files, not sub-folders) or a glob (`data/*.tif`); repeatable.
    #[arg(long, short, required = true, value_name = "PATH")]
    input: Vec<String>,
    /// An op, `name[:key=value,...]`; repeat for a chain. Or use --flow.
    #[arg(long = "op", value_name = "SPEC", conflicts_with = "flow")]
    ops: Vec<String>,
    /// A flow file (TOML; can branch, e.g. one denoised image feeding two masks).
    #[arg(long, value_name = "FILE")]
    flow: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    /// Where kernels run: the GPU if there is one (auto), the GPU, or the CPU.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    backend: String,
    /// Read each multi-page TIFF as one volume (a z-stack of its pages). ImageJ
    /// hyperstacks and OME-TIFFs are read by the axes they record, without it.
    #[arg(long)]
    volume: bool,
    /// Recompute everything and overwrite the stored results.
    #[arg(long)]
    refresh: bool,
    /// Output sample type with --op: `same` keeps the source's (masks are u8), or
    /// u8/u16/f32/i8/i16/i32/u32/f64.
    #[arg(long, default_value = "same", value_parser = super::DTYPES)]
    dtype: String,
    /// Output format with --op: tif, png, jpg, gif, webp or bmp (default: by content;
    /// GIFs and WebPs stay so).
    #[arg(long, value_parser = ["tif", "png", "jpg", "gif", "webp", "bmp"])]
    format: Option<String>,
    /// Host memory to work within (e.g. 1GiB; default: half of RAM). Larger TIFFs are
    /// streamed through tiles, read and written band by band.
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Treat stored results older than this as missing (e.g. 12h, 7d).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    max_age: Option<std::time::Duration>,
    /// Decode/encode threads (each pool; default: one per core).
    #[arg(long, short, default_value_t = 0)]
    jobs: usize,
    /// Print one JSON report on stdout (paths, hashes, status per output; failures).
    #[arg(long)]
    json: bool,
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
    let spec = match (&a.flow, a.ops.is_empty()) {
        (Some(f), _) => FlowSpec::load(f),
        (None, false) => a
            .ops
            .iter()
            .map(|s| Op::parse(s))
            .collect::<imflow::Result<Vec<_>>>()
            .map(|ops| {
                FlowSpec::chain(
                    ops,
                    output_type(&a.dtype),
                    a.format.as_deref().and_then(Format::from_extension),
                )
            }),
        (None, true) => {
            return fail(
                exit::USAGE,
                &"give ops with --op, or a flow file with --flow",
            )
        }
    };
    let mut spec = match spec {
        Ok(s) => s,
        Err(e) => return fail(exit::USAGE, &e),
    };
    if a.volume {
        spec.reading = imflow::io::Reading::Volume;
    }
    // Never read our own outputs back in as inputs.
    let skip = [
        a.store.out.clone(),
        a.store.store.clone().unwrap_or_default(),
    ];
    let files = match imflow::inputs::expand(&a.input, &skip) {
        Ok(f) => f,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let mut flow = Flow::new();
    for f in &files {
        if let Err(e) = spec.add_source(&mut flow, f) {
            return fail(exit::USAGE, &e);
        }
    }
    let store = match Store::open(&a.store.out, a.store.store.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(exit::FAILED, &e),
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
