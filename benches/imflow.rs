//! Criterion benches: each kernel on the GPU (whatever adapter is present; its name is in
//! the report header) against its CPU twin. Ids read `op/params/WxH/type/backend`.
//!
//!     cargo bench                          # full sizes
//!     IMFLOW_BENCH_QUICK=1 cargo bench     # small sizes, for lavapipe and CI machines
//!
//! `gpu` is the kernel alone on a resident image (submit and wait, no transfers);
//! `gpu-e2e` adds the upload of the source's own samples and the download of the result.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imflow::cpu::{convert, Planes};
use imflow::{GpuContext, Image, Op, OutputType, Processor, SampleType, Samples};

fn quick() -> bool {
    std::env::var("IMFLOW_BENCH_QUICK").is_ok_and(|v| v == "1")
}

fn sizes() -> Vec<u32> {
    if quick() {
        vec![256, 512]
    } else {
        vec![512, 2048, 4096]
    }
}

fn image(side: u32, t: SampleType) -> Image {
    let n = (side * side) as usize;
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let samples = match t {
        SampleType::U8 => Samples::U8((0..n).map(|_| next() as u8).collect()),
        SampleType::U16 => Samples::U16((0..n).map(|_| (next() >> 52) as u16 + 500).collect()),
        SampleType::F32 => {
            Samples::F32((0..n).map(|_| (next() >> 40) as f32 / 16777216.0).collect())
        }
    };
    Image::gray(side, side, samples).expect("valid")
}

fn kernels(c: &mut Criterion) {
    let gpu = match GpuContext::new() {
        Ok(ctx) => {
            eprintln!(
                "GPU adapter: {} ({})",
                ctx.adapter().name,
                ctx.adapter().backend
            );
            Some(ctx)
        }
        Err(e) => {
            eprintln!("no GPU, CPU twins only: {e}");
            None
        }
    };
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
        let name = spec.replace(':', "/");
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        for side in sizes() {
            for t in [SampleType::U16, SampleType::F32] {
                let img = image(side, t);
                group.throughput(Throughput::Elements(u64::from(side) * u64::from(side)));
                let id = |backend: &str| {
                    BenchmarkId::from_parameter(format!("{side}x{side}/{t}/{backend}"))
                };
                let planes: Planes = convert::to_planes(&img);
                group.bench_function(id("cpu"), |b| {
                    b.iter(|| Processor::run_planes(std::slice::from_ref(&op), planes.clone()))
                });
                if let Some(ctx) = &gpu {
                    let resident = ctx.upload(&img).expect("upload");
                    group.bench_function(id("gpu"), |b| {
                        b.iter(|| {
                            let out = match &op {
                                Op::Gaussian(g) => ctx.gaussian(&resident, g),
                                Op::Box(bx) => ctx.box_blur(&resident, bx),
                                Op::Threshold(th) => ctx.threshold(&resident, th).map(|(m, _)| m),
                            }
                            .expect("kernel");
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
            }
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
