//! Times ops (or chains of ops) on a synthetic image, best of N, and prints one JSON line
//! per entry. The peers scripts (benches/peers/) and the GPU session
//! (benches/gpu/session.py) call this to put imflow's kernels in the same table as scipy,
//! scikit-image, OpenCV and CuPy; criterion benches (`cargo bench`) are the detailed view.
//!
//!     cargo run --release --example kernel_timing -- OPS SIZE [f32|u16|u8|mask[P]] [BACKEND] [REPS]
//!     e.g. ... -- gaussian:sigma=2 4096 f32 cpu 10
//!     or a volume, SIZE as DEPTHxHEIGHTxWIDTH: ... -- gaussian:sigma=2 128x1024x1024
//!     or an RGB image, SIZE with `c3` after it: ... -- box:size=5 4096c3 u8
//!     or a chain, ops joined by `|`: ... -- 'gaussian:sigma=2|box:size=5' 2048 f32 gpu
//!     or several entries, joined by `;`, each with its own input after `@`, in one
//!     process (one device, one pipeline cache):
//!        ... -- 'box:size=5;threshold:method=otsu;label@mask' 4096 f32 gpu 10
//!
//! Input: uniform noise (f32 in [0, 1), u16 from 500, u8 over all 256 levels), or
//! `mask`: a u8 0/255 mask with half its pixels set at random (what label and
//! remove_small_objects are timed on, as in BENCHMARKS.md's labelling table); `maskP`
//! sets each pixel with probability P instead (`mask0.3`).
//!
//! BACKEND: `cpu` times the CPU twin on f32 planes already in memory; `run` the whole
//! one-image call `Processor::run` on the CPU (the image in, the result image out: f32
//! for filters, as Python's default; masks and labels as they come). `gpu` times the
//! kernels on a resident image (one submit per op, then wait; no transfers) and, where
//! the adapter has timestamp queries, the GPU's own kernel time too (best of REPS timed
//! runs, each run timed alone so no run outgrows the timer's query set). `gpu-roundtrip`
//! does the same chain but downloads each op's result to the host and uploads it again
//! before the next op, as a caller without resident images would.
//!
//! An entry that cannot run (an op this build lacks, an image too large for the adapter)
//! prints `{"op": ..., "error": ...}` and the others still run; the exit code is 1 then.

use imflow::cpu::{self, convert};
use imflow::{GpuContext, GpuImage, Image, Op, OutputType, Processor, SampleType, Samples};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Instant;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Fallible<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let specs = a.first().map_or("gaussian:sigma=2", String::as_str);
    let size = a.get(1).map_or("4096", String::as_str);
    // A trailing `cN` gives the image N interleaved channels (`4096c3`: RGB).
    let (size_only, channels) = match size.split_once('c') {
        Some((s, c)) => (s, c.parse::<u32>()?),
        None => (size, 1),
    };
    let dims: Vec<u32> = size_only
        .split('x')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let (d, h, w) = match dims[..] {
        [side] => (1, side, side),
        [d, h, w] => (d, h, w),
        _ => return Err(format!("SIZE is N or DxHxW, not {size}").into()),
    };
    let default_input = a.get(2).map_or("f32", String::as_str);
    let backend = a.get(3).map_or("cpu", String::as_str);
    let reps: usize = a.get(4).map_or(Ok(10), |s| s.parse())?;
    if reps == 0 {
        return Err("REPS must be at least 1".into());
    }
    if !matches!(backend, "cpu" | "run" | "gpu" | "gpu-roundtrip") {
        return Err(format!("BACKEND is cpu, run, gpu or gpu-roundtrip, not {backend}").into());
    }
    // One device for every entry: creating it costs more than most kernels.
    let ctx = match backend {
        "cpu" | "run" => None,
        _ => Some(GpuContext::new()?),
    };
    let mut images: HashMap<String, Image> = HashMap::new();
    let mut failed = false;
    for entry in specs.split(';').filter(|e| !e.trim().is_empty()) {
        let (chain, input) = entry.split_once('@').unwrap_or((entry, default_input));
        let result = (|| -> Fallible<Value> {
            let ops: Vec<Op> = chain.split('|').map(Op::parse).collect::<Result<_, _>>()?;
            if !images.contains_key(input) {
                images.insert(input.to_string(), synthetic((d, h, w, channels), input)?);
            }
            let image = &images[input];
            let mut out = match &ctx {
                None if backend == "run" => time_run(image, &ops, reps)?,
                None => time_cpu(image, &ops, reps)?,
                Some(ctx) => time_gpu(ctx, image, &ops, reps, backend == "gpu-roundtrip")?,
            };
            let op = ops.iter().map(Op::to_string).collect::<Vec<_>>().join("|");
            out.insert("op".into(), op.into());
            out.insert("elements".into(), image.shape().samples().into());
            Ok(Value::Object(out))
        })();
        let mut line = result.unwrap_or_else(|e| {
            failed = true;
            json!({"op": chain, "error": e.to_string()})
        });
        if let Some(map) = line.as_object_mut() {
            map.insert("spec".into(), chain.into());
            map.insert("size".into(), size.into());
            map.insert("dtype".into(), input.into());
            map.insert("backend".into(), backend.into());
        }
        println!("{line}");
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

fn summary(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

/// The CPU twins on f32 planes already in memory. The input is borrowed and the output
/// dropped inside the timing, as when timing cv2 or scipy on a numpy array.
fn time_cpu(image: &Image, ops: &[Op], reps: usize) -> Fallible<Map<String, Value>> {
    let planes = convert::to_planes(image);
    let run = || -> imflow::Result<()> {
        let mut cur = cpu::apply(&planes, &ops[0])?.0;
        for op in &ops[1..] {
            cur = cpu::apply(&cur, op)?.0;
        }
        drop(std::hint::black_box(cur));
        Ok(())
    };
    host_timed(
        run,
        reps,
        format!("cpu ({} threads)", rayon::current_num_threads()),
    )
}

/// Best and median wall time of `run` over `reps` calls after a warm-up, on the host.
fn host_timed(
    run: impl Fn() -> imflow::Result<()>,
    reps: usize,
    device: String,
) -> Fallible<Map<String, Value>> {
    run()?; // warm-up
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        run()?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let (best, median) = summary(times);
    Ok(fields(
        json!({"device": device, "best_ms": best, "median_ms": median, "gpu_kernel_ms": null}),
    ))
}

/// The whole call from Rust, `Processor::run` on the CPU: what Python's one-image calls
/// do without Python.
fn time_run(image: &Image, ops: &[Op], reps: usize) -> Fallible<Map<String, Value>> {
    let out = match ops.last() {
        Some(Op::Gaussian(_) | Op::Box(_)) => OutputType::Exactly(SampleType::F32),
        _ => OutputType::Same,
    };
    let p = Processor::cpu();
    let run = || {
        p.run(image, ops, out)
            .map(|r| drop(std::hint::black_box(r)))
    };
    let device = format!(
        "Processor::run, cpu ({} threads)",
        rayon::current_num_threads()
    );
    host_timed(run, reps, device)
}

/// The chain on a resident image: wall time of submit + wait, and the kernels' own time
/// from timestamp queries where the adapter has them.
fn time_gpu(
    ctx: &GpuContext,
    image: &Image,
    ops: &[Op],
    reps: usize,
    roundtrip: bool,
) -> Fallible<Map<String, Value>> {
    let resident = ctx.upload(image)?;
    let run = || -> imflow::Result<()> {
        let mut cur: Option<GpuImage> = None;
        for (i, op) in ops.iter().enumerate() {
            let out = ctx.apply(cur.as_ref().unwrap_or(&resident), op)?.0;
            cur = Some(if roundtrip && i + 1 < ops.len() {
                // To the host in the result's own type and back, as a caller holding
                // numpy arrays between calls would.
                let host = ctx.download(&out, out.value_type())?;
                drop(out);
                ctx.upload(&host)?
            } else {
                out
            });
        }
        ctx.wait();
        Ok(())
    };
    run()?; // warm-up: pipelines compiled, buffers pooled
    let before = ctx.stats();
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        run()?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let after = ctx.stats();
    let mut kernel = Vec::new();
    for _ in 0..reps {
        match ctx.time_kernels(run)?.1 {
            Some(k) => kernel.push(k.as_secs_f64() * 1e3),
            None => break,
        }
    }
    let (best, median) = summary(times);
    let (kernel_best, kernel_median) = match kernel.is_empty() {
        true => (None, None),
        false => {
            let (b, m) = summary(kernel);
            (Some(b), Some(m))
        }
    };
    let per_run = |a: u64, b: u64| (a - b) / reps as u64;
    let adapter = ctx.adapter();
    Ok(fields(json!({
        "device": adapter.name, "driver": adapter.driver, "device_type": adapter.device_type,
        "best_ms": best, "median_ms": median,
        "gpu_kernel_ms": kernel_best, "gpu_kernel_median_ms": kernel_median,
        "dispatches": per_run(after.dispatches, before.dispatches),
        "bytes_transferred": per_run(after.bytes_uploaded, before.bytes_uploaded)
            + per_run(after.bytes_downloaded, before.bytes_downloaded),
    })))
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The timed input: a fixed xorshift sequence, so every backend and every run sees the
/// same image.
fn synthetic((d, h, w, c): (u32, u32, u32, u32), input: &str) -> Fallible<Image> {
    let n = d as usize * h as usize * w as usize * c as usize;
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let samples = match input.strip_prefix("mask") {
        Some("") => Samples::U8((0..n).map(|_| ((next() >> 63) as u8) * 255).collect()),
        Some(p) => {
            let p: f64 = p.parse()?;
            let cut = (p * (1u64 << 53) as f64) as u64;
            Samples::U8(
                (0..n)
                    .map(|_| u8::from((next() >> 11) < cut) * 255)
                    .collect(),
            )
        }
        None => match input.parse::<SampleType>()? {
            SampleType::U8 => Samples::U8((0..n).map(|_| (next() >> 56) as u8).collect()),
            SampleType::U16 => Samples::U16((0..n).map(|_| (next() >> 52) as u16 + 500).collect()),
            SampleType::F32 => Samples::F32(
                (0..n)
                    .map(|_| (next() >> 40) as f32 / 16_777_216.0)
                    .collect(),
            ),
            other => {
                return Err(
                    format!("input is f32, u16, u8 or mask[P], not {}", other.name()).into(),
                )
            }
        },
    };
    Ok(Image::with_shape(
        imflow::Shape::volume(w, h, d, c)?,
        samples,
    )?)
}
