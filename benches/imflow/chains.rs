//! The executor's reason to exist: a chain kept resident on the GPU against the same ops
//! with a download and re-upload between each, and a cold run of a folder against a
//! fully cached re-run.

use crate::{gpu, image, quick};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use imflow::{
    io, Backend, Executor, Flow, Op, OutputType, Processor, RunOptions, SampleType, Store,
};
use std::path::PathBuf;

fn chain() -> Vec<Op> {
    ["gaussian:sigma=2", "box:size=5", "threshold:value=1000"]
        .iter()
        .map(|s| Op::parse(s).expect("valid"))
        .collect()
}

pub fn bench(c: &mut Criterion) {
    resident_vs_round_trip(c);
    cold_vs_cached(c);
}

fn resident_vs_round_trip(c: &mut Criterion) {
    let side = if quick() { 512 } else { 2048 };
    let img = image(side, SampleType::U16, 7);
    let ops = chain();
    let mut group = c.benchmark_group("chains/gaussian-box-threshold");
    group.throughput(criterion::Throughput::Elements(
        u64::from(side) * u64::from(side),
    ));
    let id = |b: &str| BenchmarkId::from_parameter(format!("{side}x{side}/u16/{b}"));
    let cpu = Processor::cpu();
    group.bench_function(id("cpu"), |b| {
        b.iter(|| cpu.run(&img, &ops, OutputType::Same).expect("run"))
    });
    if let Some(ctx) = gpu() {
        let p = Processor::gpu(ctx.clone());
        group.bench_function(id("gpu-resident"), |b| {
            b.iter(|| p.run(&img, &ops, OutputType::Same).expect("run"))
        });
        group.bench_function(id("gpu-round-trip"), |b| {
            b.iter(|| {
                // What a task engine does today: every op a task, every result downloaded
                // (as f32, to lose nothing) and uploaded again by the next.
                let mut current = img.clone();
                for (k, op) in ops.iter().enumerate() {
                    let last = k + 1 == ops.len();
                    let out = if last {
                        OutputType::Same
                    } else {
                        OutputType::Exactly(SampleType::F32)
                    };
                    current = p
                        .run(&current, std::slice::from_ref(op), out)
                        .expect("run")
                        .image;
                }
                current
            })
        });
    }
    group.finish();
}

fn cold_vs_cached(c: &mut Criterion) {
    let (files, side) = if quick() { (20, 128) } else { (100, 512) };
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs: Vec<PathBuf> = (0..files)
        .map(|k| {
            let p = dir.path().join(format!("img{k:03}.tif"));
            io::save(&image(side, SampleType::U16, k as u64), &p).expect("write");
            p
        })
        .collect();
    let mut flow = Flow::new();
    for f in &inputs {
        let src = flow.file(f);
        let g = flow
            .op(src, Op::parse("gaussian:sigma=2").expect("valid"))
            .expect("op");
        let m = flow
            .op(g, Op::parse("threshold:method=otsu").expect("valid"))
            .expect("op");
        flow.materialize(m, f.file_stem().expect("stem").to_string_lossy())
            .expect("name");
    }
    let mut group = c.benchmark_group(format!("chains/flow-{files}-files"));
    group.throughput(Throughput::Elements(files as u64));
    let id = |b: &str| BenchmarkId::from_parameter(format!("{side}x{side}/u16/{b}"));
    // The GPU by name: `auto` would pass a software adapter over for the CPU twins.
    for backend in [Backend::Cpu, Backend::Gpu] {
        let name = match backend {
            Backend::Cpu => "cpu",
            _ if gpu().is_some() => "gpu",
            _ => continue,
        };
        // One executor per backend, as a service would hold; the resident cache is off
        // so "cold" really recomputes.
        let exec = Executor::new(backend).with_resident_budget(0);
        group.bench_function(id(&format!("{name}-cold")), |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("tempdir"),
                |out| {
                    let store = Store::open(out.path(), None).expect("store");
                    let r = exec
                        .run(&flow, &store, &RunOptions::default())
                        .expect("run");
                    assert!(r.ok());
                    out
                },
                BatchSize::PerIteration,
            )
        });
    }
    let out = tempfile::tempdir().expect("tempdir");
    let store = Store::open(out.path(), None).expect("store");
    Executor::new(Backend::Cpu)
        .run(&flow, &store, &RunOptions::default())
        .expect("first run");
    group.bench_function(id("cached-rerun"), |b| {
        b.iter(|| {
            // A fresh executor each time: nothing resident, every output a verified hit.
            let r = Executor::new(Backend::Auto)
                .run(&flow, &store, &RunOptions::default())
                .expect("run");
            assert!(r.device.is_none());
        })
    });
    group.finish();
}
