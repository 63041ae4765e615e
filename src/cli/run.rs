//! `imflow run`: sources in, cached verified results out.

use super::{fail, output_type};
use crate::{exit, StoreArgs};
use clap::Args;
use imflow::executor::{OutputReport, Status};
use imflow::flowfile::FlowSpec;
use imflow::io::Format;
use imflow::{Backend, Executor, Flow, Op, RunOptions, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    /// Recompute everything and overwrite the stored results.
    #[arg(long)]
    refresh: bool,
    /// Output sample type with --op: `same` keeps the source's (masks are u8), or u8/u16/f32.
    #[arg(long, default_value = "same", value_parser = ["same", "u8", "u16", "f32"])]
    dtype: String,
    /// Output format with --op: tif, png, jpg or gif (default: by content; GIFs stay GIFs).
    #[arg(long, value_parser = ["tif", "png", "jpg", "gif"])]
    format: Option<String>,
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

/// What `--json` prints. Documented in README.md; keep the two in step.
#[derive(Serialize)]
struct JsonReport<'a> {
    imflow_version: &'static str,
    run_id: &'a str,
    device: Option<&'a str>,
    wall_ms: f64,
    summary: Summary,
    outputs: Vec<JsonOutput<'a>>,
    failures: Vec<JsonFailure<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize, Default)]
struct Summary {
    outputs: usize,
    computed: usize,
    hits: usize,
    failed: usize,
    bytes_written: u64,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    source: Option<&'a Path>,
    source_blake3: Option<String>,
    name: &'a str,
    status: Status,
    task_key: Option<String>,
    path: Option<&'a Path>,
    file_blake3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    path: Option<&'a Path>,
    reason: &'a str,
}

/// Expands `--input` values into files: folders to their files (sorted, hidden ones
/// skipped), globs to their matches. Explicit files are kept even if missing, so they
/// are reported as failures rather than silently dropped.
fn expand_inputs(inputs: &[String], skip: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        let mut found: Vec<PathBuf> = if path.is_dir() {
            std::fs::read_dir(path)
                .map_err(|e| format!("{input}: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        } else if input.contains(['*', '?', '[']) {
            glob::glob(input)
                .map_err(|e| format!("{input}: bad glob: {e}"))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect()
        } else {
            vec![path.to_path_buf()]
        };
        found.retain(|p| !skip.iter().any(|s| p.starts_with(s)));
        if found.is_empty() {
            return Err(format!("{input}: no input files"));
        }
        found.sort();
        files.extend(found);
    }
    files.dedup();
    Ok(files)
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
                    (_, Some(e)) => format!("failed: {e}"),
                    (Some(p), _) => p.display().to_string(),
                    _ => String::new(),
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
                    a.format.as_deref().map(|f| {
                        Format::from_path(Path::new(&format!("x.{f}"))).expect("clap checked")
                    }),
                )
            }),
        (None, true) => {
            return fail(
                exit::USAGE,
                &"give ops with --op, or a flow file with --flow",
            )
        }
    };
    let spec = match spec {
        Ok(s) => s,
        Err(e) => return fail(exit::USAGE, &e),
    };
    // Never read our own outputs back in as inputs.
    let skip = [
        a.store.out.clone(),
        a.store.store.clone().unwrap_or_default(),
    ];
    let skip: Vec<PathBuf> = skip
        .iter()
        .filter(|p| !p.as_os_str().is_empty())
        .filter_map(|p| std::path::absolute(p).ok())
        .collect();
    let files = match expand_inputs(&a.input, &skip).map(|f| {
        f.into_iter()
            .map(|p| std::path::absolute(&p).unwrap_or(p))
            .collect::<Vec<_>>()
    }) {
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
    let options = RunOptions {
        refresh: a.refresh,
        max_age: a.max_age,
        jobs: a.jobs,
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
    let mut summary = Summary {
        outputs: report.outputs.len(),
        ..Default::default()
    };
    for o in &report.outputs {
        match o.status {
            Status::StoreHit => summary.hits += 1,
            Status::Failed => summary.failed += 1,
            _ => {
                summary.computed += 1;
                summary.bytes_written += o.file_bytes.unwrap_or(0);
            }
        }
    }
    for w in &report.warnings {
        eprintln!("imflow: warning: {w}");
    }
    eprintln!(
        "{} outputs from {} files: {} computed, {} cached, {} failed; {:.1} MB written in {:.2} s on {}",
        summary.outputs,
        files.len(),
        summary.computed,
        summary.hits,
        summary.failed,
        summary.bytes_written as f64 / 1e6,
        report.wall_ms / 1e3,
        report.device.as_deref().unwrap_or("no device (nothing computed)"),
    );
    for f in &report.failures {
        eprintln!("  failed: {}", f.reason);
    }
    if a.json {
        let json = JsonReport {
            imflow_version: env!("CARGO_PKG_VERSION"),
            run_id: &report.run_id,
            device: report.device.as_deref(),
            wall_ms: report.wall_ms,
            outputs: report
                .outputs
                .iter()
                .map(|o| JsonOutput {
                    source: o.source.as_deref(),
                    source_blake3: o.source_blake3.map(|k| k.hex()),
                    name: &o.name,
                    status: o.status,
                    task_key: o.task.map(|k| k.hex()),
                    path: o.path.as_deref(),
                    file_blake3: o.file_blake3.map(|k| k.hex()),
                    error: o.error.as_deref(),
                })
                .collect(),
            failures: report
                .failures
                .iter()
                .map(|f| JsonFailure {
                    path: f.path.as_deref(),
                    reason: &f.reason,
                })
                .collect(),
            warnings: &report.warnings,
            summary,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("serialisable")
        );
    }
    if report.failures.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    }
}
