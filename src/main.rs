//! The `imflow` command line: a thin layer over the library.

use clap::{Parser, Subcommand};
use imflow::gpu::{adapters, GpuOptions};
use imflow::{io, Backend, Op, OutputType, Processor, SampleType};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when the work failed (bad file, GPU error).
const EXIT_FAILED: u8 = 1;
/// Exit code for a usage error (bad op spec or option), as clap uses.
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "imflow",
    version,
    about = "GPU image transforms (WGSL on wgpu) with CPU twins of equal numerics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply ops, in order, to one image file and write the result.
    ///
    /// Ops: gaussian:sigma=S[,truncate=T] (or sigma_x=..,sigma_y=..), box:size=N,
    /// threshold:value=T, threshold:method=otsu. Output format from OUT's extension
    /// (.tif/.tiff, .png, .jpg/.jpeg).
    Apply {
        /// Input image (TIFF, PNG, JPEG, GIF).
        input: PathBuf,
        /// Output image.
        output: PathBuf,
        /// An op, `name[:key=value,...]`; repeat for a chain.
        #[arg(long = "op", required = true, value_name = "SPEC")]
        ops: Vec<String>,
        /// Where kernels run: the GPU if there is one (auto), the GPU, or the CPU.
        #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
        backend: String,
        /// Output sample type: `same` keeps the source's (masks are u8), or u8/u16/f32.
        #[arg(long, default_value = "same", value_parser = ["same", "u8", "u16", "f32"])]
        dtype: String,
    },
    /// List GPU adapters and their limits.
    Info {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match Cli::parse().command {
        Command::Apply {
            input,
            output,
            ops,
            backend,
            dtype,
        } => apply(input, output, &ops, &backend, &dtype),
        Command::Info { json } => info(json),
    }
}

fn apply(
    input: PathBuf,
    output: PathBuf,
    specs: &[String],
    backend: &str,
    dtype: &str,
) -> ExitCode {
    let ops: Vec<Op> = match specs.iter().map(|s| Op::parse(s)).collect() {
        Ok(ops) => ops,
        Err(e) => return fail(EXIT_USAGE, &e),
    };
    if let Err(e) = io::Format::from_path(&output) {
        return fail(EXIT_USAGE, &e);
    }
    let out_type = match dtype {
        "same" => OutputType::Same,
        t => OutputType::Exactly(t.parse::<SampleType>().expect("clap checked")),
    };
    let backend: Backend = backend.parse().expect("clap checked");
    let run = || -> imflow::Result<()> {
        let image = io::load(&input)?;
        let processor = Processor::new(backend)?;
        if let Some(notice) = processor.notice() {
            eprintln!("imflow: {notice}");
        }
        let result = processor.run(&image, &ops, out_type)?;
        io::save(&result.image, &output)?;
        let thresholds: Vec<String> = result
            .thresholds
            .iter()
            .map(|t| format!("threshold {t}"))
            .collect();
        eprintln!(
            "{} -> {} ({} {} -> {}) on {}{}{}",
            input.display(),
            output.display(),
            image.shape(),
            image.sample_type(),
            result.image.sample_type(),
            processor.device_name(),
            if thresholds.is_empty() { "" } else { "; " },
            thresholds.join(", "),
        );
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(EXIT_FAILED, &e),
    }
}

fn info(json: bool) -> ExitCode {
    let list = adapters(&GpuOptions::from_env());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).expect("serialisable")
        );
        return ExitCode::SUCCESS;
    }
    if list.is_empty() {
        println!(
            "no GPU adapter found: install a Vulkan driver (without a GPU: `apt-get install mesa-vulkan-drivers`), or use --backend cpu"
        );
    }
    for (i, a) in list.iter().enumerate() {
        println!(
            "{}{} ({}, {}){}",
            if i == 0 { "* " } else { "  " },
            a.name,
            a.device_type,
            a.backend,
            if i == 0 { "  <- used by default" } else { "" }
        );
        println!("    driver: {}", a.driver);
        println!(
            "    max storage binding: {} MiB, max buffer: {} MiB, workgroup memory: {} KiB",
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_compute_workgroup_storage_size >> 10
        );
        println!(
            "    shader f64: {}, timestamp queries: {}",
            a.shader_f64, a.timestamp_query
        );
    }
    println!("CPU backend: {} threads", rayon::current_num_threads());
    ExitCode::SUCCESS
}

fn fail(code: u8, e: &imflow::Error) -> ExitCode {
    eprintln!("imflow: error: {e}");
    ExitCode::from(code)
}
