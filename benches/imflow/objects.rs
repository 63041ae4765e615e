//! Labelling: a random mask of density 0.5 (4096², 1024² quick), the worst case for
//! run-based and iterative labellers alike (about a million small components), on the
//! CPU twin and the GPU kernels. scipy's and OpenCV's figures, from the same machine in
//! one run, come from `benches/peers/compare.py`.

use crate::kernels::run_gpu;
use crate::{gpu, quick};
use criterion::{BenchmarkId, Criterion, Throughput};
use imflow::cpu::{self, convert};
use imflow::{Image, Op, OutputType, Processor, Samples};

/// A deterministic mask: each pixel foreground with probability `density`.
pub fn mask(side: u32, density: f64) -> Image {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let cut = (density * f64::from(u32::MAX)) as u64;
    let v: Vec<u8> = (0..side * side)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if (s >> 32) < cut {
                255
            } else {
                0
            }
        })
        .collect();
    Image::gray(side, side, Samples::U8(v)).expect("valid")
}

pub fn bench(c: &mut Criterion) {
    let side = if quick() { 1024 } else { 4096 };
    let img = mask(side, 0.5);
    for spec in ["label:connectivity=1", "label:connectivity=2"] {
        let op = Op::parse(spec).expect("valid");
        let mut group = c.benchmark_group(format!("objects/{}", spec.replace([':', ','], "/")));
        group.throughput(Throughput::Elements(u64::from(side) * u64::from(side)));
        let id = |b: &str| BenchmarkId::from_parameter(format!("{side}x{side}/d0.5/{b}"));
        let planes = convert::to_planes(&img);
        group.bench_function(id("cpu"), |b| b.iter(|| cpu::apply(&planes, &op)));
        if let Some(ctx) = gpu() {
            let resident = ctx.upload(&img).expect("upload");
            drop(run_gpu(ctx, &resident, &op));
            ctx.wait();
            group.bench_function(id("gpu"), |b| {
                b.iter(|| {
                    let out = run_gpu(ctx, &resident, &op);
                    ctx.wait();
                    out
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
        group.finish();
    }
}
