//! Tiles against one program per frame: the same chain on the same 4096² u16 image
//! (1024² quick), untiled and cut into tiles of 1024 (256 quick) with their halos, on
//! each backend. Issue 14's bar: the tiled path within 1.15x of the untiled one per
//! megapixel. Gaussian alone costs the halo (sigma 2: 8 px a side, 3% more samples for
//! 1024 tiles); gaussian -> Otsu also runs the whole-frame passes tiles need (min/max,
//! histogram, then the threshold pass), which read the filtered tiles kept resident
//! (the default budget fits them). BENCHMARKS.md has the figures.

use crate::{gpu, image, quick};
use criterion::{BenchmarkId, Criterion, Throughput};
use imflow::budget::Budget;
use imflow::{Op, OutputType, Processor, SampleType};

pub fn bench(c: &mut Criterion) {
    let (side, tile) = if quick() { (1024, 256) } else { (4096, 1024) };
    let img = image(side, SampleType::U16, 11);
    for (name, specs) in [
        ("gaussian", &["gaussian:sigma=2"][..]),
        (
            "gaussian-otsu",
            &["gaussian:sigma=2", "threshold:method=otsu"],
        ),
    ] {
        let ops: Vec<Op> = specs.iter().map(|s| Op::parse(s).expect("valid")).collect();
        let mut group = c.benchmark_group(format!("tiling/{name}"));
        group.throughput(Throughput::Elements(u64::from(side) * u64::from(side)));
        let make = |backend: &str| match backend {
            "cpu" => Some(Processor::cpu()),
            _ => gpu().map(|ctx| Processor::gpu(ctx.clone())),
        };
        for backend in ["cpu", "gpu"] {
            let (Some(p), Some(tiled)) = (make(backend), make(backend)) else {
                continue;
            };
            let tiled = tiled.with_budget(Budget {
                max_tile: Some(tile),
                ..Budget::default()
            });
            let id =
                |v: &str| BenchmarkId::from_parameter(format!("{side}x{side}/u16/{backend}-{v}"));
            group.bench_function(id("untiled"), |b| {
                b.iter(|| p.run(&img, &ops, OutputType::Same).expect("run"))
            });
            group.bench_function(id(&format!("tiled{tile}")), |b| {
                b.iter(|| tiled.run(&img, &ops, OutputType::Same).expect("run"))
            });
        }
        group.finish();
    }
}
