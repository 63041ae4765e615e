//! Times one op on a synthetic image, best of N, and prints one JSON line. The peers
//! script (benches/peers/compare.py) calls this to put imflow's kernels in the same table
//! as scipy, scikit-image and OpenCV; criterion benches (`cargo bench`) are the detailed
//! view.
//!
//!     cargo run --release --example kernel_timing -- OP SIZE [f32|u16|maskP] [cpu|gpu] [REPS]
//!     e.g. ... -- gaussian:sigma=2 4096 f32 cpu 10
//!     or a volume, SIZE as DEPTHxHEIGHTxWIDTH: ... -- gaussian:sigma=2 128x1024x1024
//!     or labels of a random mask of density P (u8, 0 or 1): ... -- label 4096 mask0.5
//!
//! `cpu` times the CPU twin on f32 planes already in memory. `gpu` times the kernel on a
//! resident image (submit and wait; no transfers) and, where the adapter has timestamp
//! queries, the GPU's own kernel time too.

use imflow::cpu::{self, convert, Planes};
use imflow::{GpuContext, Image, Op, SampleType, Samples};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let op = Op::parse(a.first().map_or("gaussian:sigma=2", String::as_str))?;
    let size = a.get(1).map_or("4096", String::as_str);
    let dims: Vec<u32> = size.split('x').map(str::parse).collect::<Result<_, _>>()?;
    let (d, h, w) = match dims[..] {
        [side] => (1, side, side),
        [d, h, w] => (d, h, w),
        _ => return Err(format!("SIZE is N or DxHxW, not {size}").into()),
    };
    let kind = a.get(2).map_or("f32", String::as_str);
    // `maskP`: a u8 mask, each pixel 1 with probability P.
    let density: Option<f64> = kind.strip_prefix("mask").map(str::parse).transpose()?;
    let t: SampleType = match density {
        Some(_) => SampleType::U8,
        None => kind.parse()?,
    };
    let backend = a.get(3).map_or("cpu", String::as_str);
    let reps: usize = a.get(4).map_or(Ok(10), |s| s.parse())?;
    let n = d as usize * h as usize * w as usize;
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let samples = match t {
        SampleType::U8 => {
            let p = density.unwrap_or(0.5);
            Samples::U8(
                (0..n)
                    .map(|_| u8::from(((next() >> 11) as f64) < p * (1u64 << 53) as f64))
                    .collect(),
            )
        }
        SampleType::U16 => Samples::U16((0..n).map(|_| (next() >> 52) as u16 + 500).collect()),
        _ => Samples::F32(
            (0..n)
                .map(|_| (next() >> 40) as f32 / 16_777_216.0)
                .collect(),
        ),
    };
    let image = Image::with_shape(imflow::Shape::volume(w, h, d, 1)?, samples)?;
    let mut times = Vec::with_capacity(reps);
    let mut gpu_kernel_ms = None;
    let device = match backend {
        "cpu" => {
            let planes: Planes = convert::to_planes(&image);
            // The input is borrowed and the output dropped inside the timing, as when
            // timing cv2 or scipy on a numpy array.
            let run = || cpu::apply(&planes, &op);
            drop(run()); // warm-up
            for _ in 0..reps {
                let t0 = Instant::now();
                drop(std::hint::black_box(run()));
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            format!("cpu ({} threads)", rayon::current_num_threads())
        }
        _ => {
            let ctx = GpuContext::new()?;
            let resident = ctx.upload(&image)?;
            let run = |ctx: &GpuContext| -> imflow::Result<()> {
                let out = ctx.apply(&resident, &op)?;
                ctx.wait();
                drop(out);
                Ok(())
            };
            run(&ctx)?; // warm-up: pipelines compiled, buffers pooled
            for _ in 0..reps {
                let t0 = Instant::now();
                run(&ctx)?;
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            if let Some(kernel) = ctx.time_kernels(|| run(&ctx))?.1 {
                gpu_kernel_ms = Some(kernel.as_secs_f64() * 1e3);
            }
            ctx.adapter().name.clone()
        }
    };
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "op": op.to_string(), "size": size, "dtype": kind, "backend": backend, "device": device,
            "best_ms": times[0], "median_ms": times[times.len() / 2], "gpu_kernel_ms": gpu_kernel_ms,
        })
    );
    Ok(())
}
