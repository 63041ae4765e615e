//! Each kernel: CPU twin vs GPU (kernel alone, and end to end).

use crate::{gpu, image, quick};
use criterion::{BenchmarkId, Criterion, Throughput};
use imflow::cpu::{self, convert};
use imflow::{GpuContext, GpuImage, Op, OutputType, Processor, SampleType};
use std::time::{Duration, Instant};

fn sizes() -> &'static [u32] {
    if quick() {
        &[256, 512]
    } else {
        &[512, 2048, 4096]
    }
}

/// Bytes a kernel must move at the least: separable filters read and write the plane
/// once per pass; a threshold reads it and writes the mask; Otsu reads it three times.
pub fn bytes_moved(op: &Op, px: u64) -> u64 {
    match op {
        Op::Gaussian(_) | Op::Box(_) => 2 * 2 * 4 * px,
        Op::Threshold(imflow::Threshold::Value { .. }) => 2 * 4 * px,
        Op::Threshold(imflow::Threshold::Otsu) => 4 * 4 * px,
        // Read the mask and the forest a few times each (benches/imflow/objects.rs).
        Op::Label(_) | Op::RemoveSmall(_) | Op::FillHoles | Op::ClearBorder => 6 * 4 * px,
        // Two gaussians and their difference.
        Op::Dog(_) => 5 * 2 * 4 * px,
        // Rows: the mask in, squared distances out; columns: those and the envelope's
        // three scratch words in and out; the roots: squared distances in, f32 out.
        Op::Distance(_) => 12 * 4 * px,
        // Ranks: the plane in and out per pass, two passes (chords, fold).
        _ => 2 * 2 * 4 * px,
    }
}

pub fn run_gpu(ctx: &GpuContext, src: &GpuImage, op: &Op) -> GpuImage {
    ctx.apply(src, op).expect("kernel runs").0
}

pub fn bench(c: &mut Criterion) {
    let specs = [
        "gaussian:sigma=1",
        "gaussian:sigma=2",
        "gaussian:sigma=5",
        "box:size=5",
        "threshold:value=0.5",
        "threshold:method=otsu",
    ];
    for spec in specs {
        let op = Op::parse(spec).expect("valid");
        let mut group = c.benchmark_group(format!("kernels/{}", spec.replace([':', ','], "/")));
        for &side in sizes() {
            for t in [SampleType::U16, SampleType::F32] {
                let img = image(side, t, 1);
                let px = u64::from(side) * u64::from(side);
                group.throughput(Throughput::Bytes(bytes_moved(&op, px)));
                let id = |b: &str| BenchmarkId::from_parameter(format!("{side}x{side}/{t}/{b}"));
                let planes = convert::to_planes(&img);
                group.bench_function(id("cpu"), |b| b.iter(|| cpu::apply(&planes, &op)));
                let Some(ctx) = gpu() else { continue };
                let resident = ctx.upload(&img).expect("upload");
                drop(run_gpu(ctx, &resident, &op)); // pipelines built, pool warm
                ctx.wait();
                group.bench_function(id("gpu"), |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        let mut gpu_time = Duration::ZERO;
                        let mut timed = true;
                        for _ in 0..iters {
                            let (out, t) = ctx
                                .time_kernels(|| {
                                    let out = run_gpu(ctx, &resident, &op);
                                    ctx.wait();
                                    Ok(out)
                                })
                                .expect("kernel runs");
                            drop(out);
                            match t {
                                Some(t) => gpu_time += t,
                                None => timed = false,
                            }
                        }
                        if timed {
                            gpu_time
                        } else {
                            start.elapsed()
                        }
                    })
                });
                let p = Processor::gpu(ctx.clone());
                group.bench_function(id("gpu-e2e"), |b| {
                    b.iter(|| {
                        p.run(&img, std::slice::from_ref(&op), OutputType::Same)
                            .expect("run")
                    })
                });
            }
        }
        group.finish();
    }
}
