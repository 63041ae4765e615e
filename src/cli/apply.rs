//! `imflow apply`: one file, no cache.

use super::{fail, output_type};
use crate::exit;
use clap::Args;
use imflow::io::Format;
use imflow::{Backend, Op, Processor};
use std::path::PathBuf;

#[derive(Args)]
pub struct ApplyArgs {
    /// Input image (TIFF, PNG, JPEG, GIF, WebP, BMP); every page or frame is processed.
    input: PathBuf,
    /// Output image.
    output: PathBuf,
    /// An op, `name[:key=value,...]`; repeat for a chain (--help lists the ops).
    #[arg(long = "op", required = true, value_name = "SPEC", long_help = imflow::ops::OP_HELP)]
    ops: Vec<String>,
    /// Where kernels run: the GPU if there is one (auto), the GPU, or the CPU.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    backend: String,
    /// Output sample type: `same` keeps the source's (masks are u8), or
    /// u8/u16/f32/i8/i16/i32/u32/f64.
    #[arg(long, default_value = "same", value_parser = super::DTYPES)]
    dtype: String,
    /// Host memory to work within (e.g. 1GiB; default: half of RAM). Larger TIFFs are
    /// streamed through tiles (volumes through bricks).
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Read a multi-page TIFF as one volume (a z-stack of its pages). ImageJ
    /// hyperstacks and OME-TIFFs are read by the axes they record, without it.
    #[arg(long)]
    volume: bool,
}

pub fn apply(a: ApplyArgs) -> u8 {
    let ops: Vec<Op> = match a.ops.iter().map(|s| Op::parse(s)).collect() {
        Ok(ops) => ops,
        Err(e) => return fail(exit::USAGE, &e),
    };
    if let Err(e) = Format::from_path(&a.output) {
        return fail(exit::USAGE, &e);
    }
    let budget = match super::budget(a.memory.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let backend: Backend = a.backend.parse().expect("clap checked the value");
    let run = || -> imflow::Result<()> {
        let processor = Processor::new(backend)?.with_budget(budget);
        if let Some(notice) = processor.notice() {
            eprintln!("imflow: {notice}");
        }
        let reading = if a.volume {
            imflow::io::Reading::Volume
        } else {
            imflow::io::Reading::Auto
        };
        let done =
            processor.apply_file_as(&a.input, &a.output, &ops, output_type(&a.dtype), reading)?;
        let t: Vec<String> = done
            .thresholds
            .iter()
            .flatten()
            .map(|t| format!("threshold {t}"))
            .collect();
        eprintln!(
            "{} -> {} ({}{} {}{} -> {}{}) on {}{}{}",
            a.input.display(),
            a.output.display(),
            if done.shape.is_volume() {
                "volume "
            } else {
                ""
            },
            done.shape,
            done.source_type,
            if done.frames > 1 {
                format!(" x{} frames", done.frames)
            } else {
                String::new()
            },
            done.output_type,
            if done.streamed {
                ", streamed in tiles"
            } else {
                ""
            },
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
