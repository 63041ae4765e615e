//! `imflow apply`: one file, no cache.

use super::{fail, output_type};
use crate::exit;
use clap::Args;
use imflow::io::{self, Format};
use imflow::{Backend, Op, Processor};
use std::path::PathBuf;

#[derive(Args)]
pub struct ApplyArgs {
    /// Input image (TIFF, PNG, JPEG, GIF); every page or frame is processed.
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
}

pub fn apply(a: ApplyArgs) -> u8 {
    let ops: Vec<Op> = match a.ops.iter().map(|s| Op::parse(s)).collect() {
        Ok(ops) => ops,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let format = match Format::from_path(&a.output) {
        Ok(f) => f,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let backend: Backend = a.backend.parse().expect("clap checked the value");
    let run = || -> imflow::Result<()> {
        let stack = io::load_stack(&a.input)?;
        let processor = Processor::new(backend)?;
        if let Some(notice) = processor.notice() {
            eprintln!("imflow: {notice}");
        }
        let (result, thresholds) = processor.run_stack(&stack, &ops, output_type(&a.dtype))?;
        let first = &stack.frames[0];
        io::save_stack(&result, format, &a.output)?;
        let t: Vec<String> = thresholds
            .iter()
            .flatten()
            .map(|t| format!("threshold {t}"))
            .collect();
        eprintln!(
            "{} -> {} ({} {}{} -> {}) on {}{}{}",
            a.input.display(),
            a.output.display(),
            first.shape(),
            first.sample_type(),
            if stack.frames.len() > 1 {
                format!(" x{} frames", stack.frames.len())
            } else {
                String::new()
            },
            result.frames[0].sample_type(),
            processor.device_name(),
            if t.is_empty() { "" } else { "; " },
            t.join(", "),
        );
        Ok(())
    };
    match run() {
        Ok(()) => exit::OK,
        Err(e) => fail(exit::FAILED, &e),
    }
}
