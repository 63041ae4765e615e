//! The difference of gaussians, the Laplacian of a gaussian and the gradient magnitude
//! on both backends: the GPU within 1e-5 of the range of
//! the CPU twin (the gaussians' fused multiply-adds round alike only to an ulp or so),
//! the twin equal to its two gaussians subtracted, and tiles or bricks bit-identical to
//! the whole frame. Parity with scikit-image is in python/tests/test_edges.py.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::{Op, OutputType, Processor, SampleType};

fn op(spec: &str) -> Vec<Op> {
    vec![Op::parse(spec).unwrap()]
}

const SPECS: [&str; 7] = [
    "gradient:sigma=1.5",
    "gradient:sigma=0.8,truncate=3",
    "dog:low=1",
    "dog:low=0.5,high=3,truncate=3",
    "dog:low=2,high=2",
    "log:sigma=1.5",
    "log:sigma=0.7,truncate=3",
];

#[test]
fn the_twin_is_two_gaussians_subtracted() {
    let cpu = Processor::cpu();
    let image = random_image(37, 29, 3, SampleType::U16, 1);
    let f32 = OutputType::Exactly(SampleType::F32);
    let dog = cpu.run(&image, &op("dog:low=1,high=2.5"), f32).unwrap();
    let a = cpu.run(&image, &op("gaussian:sigma=1"), f32).unwrap();
    let b = cpu.run(&image, &op("gaussian:sigma=2.5"), f32).unwrap();
    let want: Vec<f32> = (a.image.to_f32_vec().iter().zip(b.image.to_f32_vec()))
        .map(|(x, y)| x - y)
        .collect();
    assert_eq!(dog.image.to_f32_vec(), want);
    assert!(
        want.iter().any(|&x| x < 0.0),
        "a band-pass of noise is signed"
    );
}

#[test]
fn gpu_equals_the_cpu_twin() {
    let Some(ctx) = gpu("gpu_equals_the_cpu_twin") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    for (w, h, d, c, t) in [
        (1, 1, 1, 1, SampleType::U8),
        (40, 31, 1, 1, SampleType::U16),
        (33, 20, 1, 3, SampleType::F32),
        (17, 13, 7, 1, SampleType::F32),
    ] {
        let image = if d == 1 {
            random_image(w, h, c, t, 3)
        } else {
            random_volume(w, h, d, c, t, 3)
        };
        let basis = range(&image.to_f32_vec()).max(1.0);
        let f32 = OutputType::Exactly(SampleType::F32);
        for spec in SPECS {
            let g = gpu.run(&image, &op(spec), f32).unwrap();
            let p = cpu.run(&image, &op(spec), f32).unwrap();
            let err = max_abs_diff(&g.image.to_f32_vec(), &p.image.to_f32_vec());
            assert!(
                err <= 1e-5 * basis,
                "{w}x{h}x{d}x{c} {t} {spec}: {err} of {basis}"
            );
        }
    }
}

fn tiles_agree(whole: &Processor, tiled: &dyn Fn(u32) -> Processor) {
    for (w, h, d) in [(61u32, 47u32, 1u32), (23, 17, 9)] {
        let image = if d == 1 {
            random_image(w, h, 3, SampleType::F32, 5)
        } else {
            random_volume(w, h, d, 1, SampleType::U16, 5)
        };
        for tile in [16, 5] {
            let p = tiled(tile);
            for spec in SPECS {
                let chain = op(spec);
                assert!(
                    !p.tiling(image.shape(), &chain).unwrap().is_whole(),
                    "not tiled"
                );
                let f32 = OutputType::Exactly(SampleType::F32);
                let a = whole.run(&image, &chain, f32).unwrap();
                let b = p.run(&image, &chain, f32).unwrap();
                assert!(
                    a.image == b.image,
                    "{w}x{h}x{d} tile {tile} {spec}: tiled differs"
                );
            }
        }
    }
}

fn tiled(p: Processor, tile: u32) -> Processor {
    p.with_budget(Budget {
        max_tile: Some(tile),
        ..Budget::default()
    })
}

#[test]
fn tiled_equals_untiled_on_the_cpu() {
    tiles_agree(&Processor::cpu(), &|t| tiled(Processor::cpu(), t));
}

#[test]
fn tiled_equals_untiled_on_the_gpu() {
    let Some(ctx) = gpu("tiled_equals_untiled_on_the_gpu") else {
        return;
    };
    let whole = Processor::gpu(ctx.clone());
    tiles_agree(&whole, &|t| tiled(Processor::gpu(ctx.clone()), t));
}
