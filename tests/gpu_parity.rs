//! GPU kernels against their CPU twins, beyond the goldens: every kernel, every sample
//! type, gray/RGB/RGBA, sizes that do not divide the workgroup tiles, radii on both
//! sides of the tiled/direct switch, and the transfers themselves.

mod common;
use common::*;
use imflow::gpu::{GpuContext, GpuOptions};
use imflow::{Error, Image, Op, OutputType, Processor, SampleType, Samples};

const TYPES: [SampleType; 3] = [SampleType::U8, SampleType::U16, SampleType::F32];
const SIZES: [(u32, u32); 4] = [(1, 1), (1, 17), (33, 7), (300, 257)];

fn both(
    gpu: &Processor,
    image: &Image,
    ops: &[Op],
    out: OutputType,
) -> (Image, Vec<f64>, Image, Vec<f64>) {
    let g = gpu.run(image, ops, out).unwrap();
    let c = Processor::cpu().run(image, ops, out).unwrap();
    (g.image, g.thresholds, c.image, c.thresholds)
}

#[test]
fn filters_agree_with_cpu_twins() {
    let Some(ctx) = gpu("filters_agree_with_cpu_twins") else {
        return;
    };
    let p = Processor::gpu(ctx);
    let specs = [
        "gaussian:sigma=0.5",
        "gaussian:sigma=2",
        "gaussian:sigma=16", // radius 64: the largest tiled one
        "gaussian:sigma=20", // radius 80: direct kernels
        "gaussian:sigma_x=3,sigma_y=0.7,truncate=3",
        "gaussian:sigma_x=0,sigma_y=2,truncate=4",
        "box:size=1",
        "box:size=4",
        "box:size=5",
        "box:size=20",
        "box:size=129", // window longer than a segment and than most images here
    ];
    let mut worst = 0.0f32;
    for t in TYPES {
        for (w, h) in SIZES {
            for c in [1, 3, 4] {
                let image = random_image(w, h, c, t, u64::from(w * 31 + h * 7 + c));
                let tol_basis = range(&image.to_f32_vec());
                for spec in specs {
                    let ops = [Op::parse(spec).unwrap()];
                    let (g, _, cpu, _) =
                        both(&p, &image, &ops, OutputType::Exactly(SampleType::F32));
                    let err = max_abs_diff(&f32_samples(&g), &f32_samples(&cpu)) / tol_basis;
                    worst = worst.max(err);
                    assert!(
                        err <= 1e-5,
                        "{spec} on {w}x{h}x{c} {t}: relative error {err}"
                    );
                    // Narrowed on the GPU to the source type: rounding may differ only
                    // where the f32 values straddle a .5 boundary.
                    let (g, _, cpu, _) = both(&p, &image, &ops, OutputType::Same);
                    assert_eq!(g.sample_type(), t);
                    let steps = max_abs_diff(&g.to_f32_vec(), &cpu.to_f32_vec());
                    assert!(
                        steps
                            <= if t == SampleType::F32 {
                                1e-5 * tol_basis
                            } else {
                                1.0
                            },
                        "{spec} {t}: {steps}"
                    );
                }
            }
        }
    }
    eprintln!("worst GPU/CPU relative difference: {worst:e}");
}

#[test]
fn thresholds_agree_with_cpu_twins() {
    let Some(ctx) = gpu("thresholds_agree_with_cpu_twins") else {
        return;
    };
    let exact_float = ctx.adapter().shader_f64;
    let p = Processor::gpu(ctx);
    for t in TYPES {
        for (w, h) in SIZES {
            for c in [1, 3, 4] {
                let image = random_image(w, h, c, t, u64::from(w + h + c) * 13);
                for spec in [
                    "threshold:value=100",
                    "threshold:value=99.5",
                    "threshold:method=otsu",
                ] {
                    let ops = [Op::parse(spec).unwrap()];
                    let (g, gt, cpu, ct) = both(&p, &image, &ops, OutputType::Same);
                    assert_eq!(g.sample_type(), SampleType::U8, "a mask downloads as u8");
                    if t != SampleType::F32 || exact_float {
                        assert_eq!(gt, ct, "{spec} on {w}x{h}x{c} {t}");
                        assert_eq!(g, cpu, "{spec} on {w}x{h}x{c} {t}: masks differ");
                    }
                    assert!(g.to_f32_vec().iter().all(|&v| v == 0.0 || v == 255.0));
                }
                // After a filter the values are floats: Otsu bins [min, max] 256 ways,
                // and GPU and CPU filter outputs differ in the last bits.
                let ops = [
                    Op::parse("gaussian:sigma=1.5").unwrap(),
                    Op::parse("threshold:method=otsu").unwrap(),
                ];
                let (_, gt, _, ct) = both(&p, &image, &ops, OutputType::Same);
                let filtered = Processor::cpu()
                    .run(&image, &ops[..1], OutputType::Exactly(SampleType::F32))
                    .unwrap();
                let bin = f64::from(range(&f32_samples(&filtered.image))) / 256.0;
                assert!(
                    (gt[0] - ct[0]).abs() <= bin,
                    "{w}x{h}x{c} {t}: {} vs {}",
                    gt[0],
                    ct[0]
                );
            }
        }
    }
}

#[test]
fn otsu_without_f64_stays_within_a_bin() {
    let opts = GpuOptions {
        disable_f64: true,
        ..GpuOptions::from_env()
    };
    let ctx = match GpuContext::with_options(&opts) {
        Ok(c) => c,
        Err(_) => {
            let Some(_) = gpu("otsu_without_f64_stays_within_a_bin") else {
                return;
            };
            panic!("adapter found but not with f64 disabled");
        }
    };
    assert!(!ctx.adapter().shader_f64);
    let p = Processor::gpu(ctx);
    let m = manifest();
    for id in [
        "u16_517x389",
        "u16wide_517x389",
        "u8_517x389",
        "f32_517x389",
    ] {
        let image = load_input(&m, id);
        let gold = m
            .cases
            .iter()
            .find(|c| c.input == id && c.op == "threshold:method=otsu" && c.then.is_none())
            .unwrap();
        let t = p
            .run(
                &image,
                &[Op::parse("threshold:method=otsu").unwrap()],
                OutputType::Same,
            )
            .unwrap()
            .thresholds[0];
        let bin = f64::from(range(&image.to_f32_vec())) / 256.0;
        let t_gold = gold.threshold.unwrap();
        eprintln!("{id}: f32-only Otsu {t} vs skimage {t_gold}");
        assert!((t - t_gold).abs() <= bin, "{id}: {t} vs {t_gold}");
    }
}

#[test]
fn samples_round_trip_in_their_own_type() {
    let Some(ctx) = gpu("samples_round_trip_in_their_own_type") else {
        return;
    };
    for t in TYPES {
        for (w, h) in [(1, 1), (3, 1), (5, 3), (257, 3)] {
            for c in [1, 3, 4] {
                let image = random_image(w, h, c, t, 99);
                let before = ctx.stats();
                let back = ctx.download(&ctx.upload(&image).unwrap(), t).unwrap();
                assert_eq!(back, image, "{w}x{h}x{c} {t}");
                let after = ctx.stats();
                let bytes = u64::from(w * h * c) * t.size() as u64;
                assert_eq!(
                    after.bytes_uploaded - before.bytes_uploaded,
                    bytes,
                    "upload is the native bytes"
                );
                assert_eq!(after.bytes_downloaded - before.bytes_downloaded, bytes);
            }
        }
    }
}

#[test]
fn narrowing_rounds_half_to_even_and_clamps() {
    let Some(ctx) = gpu("narrowing_rounds_half_to_even_and_clamps") else {
        return;
    };
    let v = vec![
        -3.0f32,
        -0.5,
        0.5,
        1.5,
        2.5,
        254.5,
        255.49,
        255.5,
        300.0,
        f32::NAN,
        65535.5,
        1e9,
    ];
    let image = Image::gray(v.len() as u32, 1, Samples::F32(v)).unwrap();
    let gpu_img = ctx.upload(&image).unwrap();
    for t in [SampleType::U8, SampleType::U16] {
        let g = ctx.download(&gpu_img, t).unwrap();
        let c = imflow::cpu::convert::to_image(&imflow::cpu::convert::to_planes(&image), t);
        assert_eq!(g, c, "{t}");
    }
    let u8s = ctx.download(&gpu_img, SampleType::U8).unwrap();
    assert_eq!(
        u8s.samples(),
        &Samples::U8(vec![0, 0, 0, 2, 2, 254, 255, 255, 255, 0, 255, 255])
    );
}

#[test]
fn a_chain_moves_only_native_bytes() {
    let Some(ctx) = gpu("a_chain_moves_only_native_bytes") else {
        return;
    };
    let image = random_image(640, 480, 1, SampleType::U16, 5);
    let ops: Vec<Op> = ["gaussian:sigma=2", "box:size=3", "threshold:method=otsu"]
        .iter()
        .map(|s| Op::parse(s).unwrap())
        .collect();
    let before = ctx.stats();
    let out = Processor::gpu(ctx.clone())
        .run(&image, &ops, OutputType::Same)
        .unwrap();
    let after = ctx.stats();
    assert_eq!(out.image.sample_type(), SampleType::U8);
    assert_eq!(after.uploads - before.uploads, 1);
    assert_eq!(
        after.bytes_uploaded - before.bytes_uploaded,
        640 * 480 * 2,
        "the u16 bytes, once"
    );
    // The u8 mask, plus the 4-byte Otsu threshold the caller asked for.
    assert_eq!(
        after.bytes_downloaded - before.bytes_downloaded,
        640 * 480 + 4
    );
    assert_eq!(after.downloads - before.downloads, 2);
}

#[test]
fn larger_than_a_binding_is_tiled_and_the_resident_api_says_too_large() {
    let Some(ctx) = gpu("larger_than_a_binding_is_tiled_and_the_resident_api_says_too_large")
    else {
        return;
    };
    let limit = ctx.limits().max_storage_buffer_binding_size;
    // The smallest RGBA u8 square whose f32 planes overflow the binding limit.
    let side = (((limit / 16) as f64).sqrt() as u32 + 1).min(65535);
    if u64::from(side) * u64::from(side) * 16 <= limit {
        eprintln!("adapter allows {limit} bytes; no image overflows it here, skipping");
        return;
    }
    let image = random_image(side, side, 4, SampleType::U8, 3);
    let ops = [Op::parse("gaussian:sigma=1").unwrap()];
    let p = Processor::gpu(ctx.clone());
    assert!(
        !p.tiling(image.shape(), &ops).unwrap().is_whole(),
        "not tiled"
    );
    let gpu = p.run(&image, &ops, OutputType::Same).unwrap().image;
    let cpu = Processor::cpu()
        .run(&image, &ops, OutputType::Same)
        .unwrap()
        .image;
    // Narrowed to u8: rounding may differ only where the f32 values straddle a .5.
    let steps = max_abs_diff(&gpu.to_f32_vec(), &cpu.to_f32_vec());
    assert!(
        steps <= 1.0,
        "tiled GPU result differs from the CPU twin by {steps}"
    );
    // The resident API does not tile: it says what does not fit.
    let err = ctx.upload(&image).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                limit: "max_storage_buffer_binding_size",
                ..
            }
        ),
        "{err}"
    );
}
