//! scipy's boundary modes (`mode=nearest|mirror|wrap|constant`) on the filters that take
//! them, both backends: the GPU equals the CPU twin (the median bit for bit, the
//! gaussians within 1e-5 of the range, as without a mode), a mode pads exactly as scipy
//! extends (a 1-D case written out by hand), tiles and bricks are bit-identical to the
//! whole frame except under `wrap`, which tiles refuse by name, and reflect keeps the
//! keys and bytes it had. Parity with scipy on every mode is in
//! python/tests/test_boundary.py.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::{Image, Op, OutputType, Processor, SampleType, Samples};

const MODES: [&str; 7] = [
    "mode=nearest",
    "mode=mirror",
    "mode=wrap",
    "mode=constant",
    "mode=constant,cval=37.5",
    // scipy's mode=[...], one per axis.
    "mode_y=nearest,mode_x=mirror",
    "mode_z=constant,mode_y=reflect,mode_x=nearest,cval=3",
];

const FILTERS: [&str; 7] = [
    "gaussian:sigma=1.5",
    "gaussian:sigma_y=0.7,sigma_x=2.5,truncate=3",
    "box:size=4",
    "median:size=3",
    "dog:low=1,high=2",
    "log:sigma=1.2",
    "gradient:sigma=1",
];

fn op(spec: &str) -> Op {
    Op::parse(spec).unwrap()
}

/// The filter with the mode; `None` where the op refuses it as scipy's does: a mode per
/// axis on the median (refused naming the parameter).
fn with_mode(filter: &str, mode: &str) -> Option<Op> {
    let spec = format!("{filter},{mode}");
    match Op::parse(&spec) {
        Ok(op) => Some(op),
        Err(e) => {
            let per_axis = mode.contains("mode_");
            let refused = filter.starts_with("median") && per_axis;
            assert!(refused, "{spec}: {e}");
            let e = e.to_string();
            assert!(e.contains("mode"), "{spec}: {e}");
            None
        }
    }
}

fn image(w: u32, h: u32, d: u32, c: u32, t: SampleType, seed: u64) -> Image {
    if d == 1 {
        random_image(w, h, c, t, seed)
    } else {
        random_volume(w, h, d, c, t, seed)
    }
}

#[test]
fn specs_round_trip_and_reflect_is_the_default() {
    for filter in FILTERS {
        for mode in MODES {
            let Some(o) = with_mode(filter, mode) else {
                continue;
            };
            assert_eq!(Op::parse(&o.to_string()).unwrap(), o, "{o}");
            assert!(o.to_string().contains(",mode"), "{o}");
        }
        let plain = op(filter);
        assert_eq!(with_mode(filter, "mode=reflect"), Some(plain.clone()));
        assert!(!plain.to_string().contains("mode"), "{plain}");
        // The serialised op (what keys hash) is what it was before modes existed.
        assert!(!serde_json::to_string(&plain).unwrap().contains("mode"));
        assert!(!serde_json::to_string(&plain).unwrap().contains("cval"));
    }
    let e = Op::parse("gaussian:sigma=1,mode=edge")
        .unwrap_err()
        .to_string();
    assert!(e.contains("mode") && e.contains("nearest"), "{e}");
    let e = Op::parse("box:size=3,mode=wrap,cval=1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cval") && e.contains("constant"), "{e}");
    let e = Op::parse("label:mode=nearest").unwrap_err().to_string();
    assert!(e.contains("mode") && e.contains("unknown parameter"), "{e}");
}

#[test]
fn keys_of_reflect_stay_and_modes_differ() {
    let reflect = imflow::key::task(&op("gaussian:sigma=2"), &[]);
    assert_eq!(
        reflect,
        imflow::key::task(&op("gaussian:sigma=2,mode=reflect"), &[])
    );
    let mut seen = vec![reflect];
    for mode in MODES {
        let k = imflow::key::task(&with_mode("gaussian:sigma=2", mode).unwrap(), &[]);
        assert!(!seen.contains(&k), "{mode}: key not distinct");
        seen.push(k);
    }
}

/// A row of 4 filtered by a 3-wide box under each mode, against scipy's
/// `uniform_filter1d([1, 2, 4, 8], 3, mode=...)` worked out by hand from scipy's
/// documented extensions.
#[test]
fn a_box_extends_each_mode_as_scipy_documents() {
    let row = Image::gray(4, 1, Samples::F32(vec![1.0, 2.0, 4.0, 8.0])).unwrap();
    let cases: [(&str, [f32; 4]); 5] = [
        // reflect: 1 | 1 2 4 8 | 8
        (
            "mode=reflect",
            [4.0 / 3.0, 7.0 / 3.0, 14.0 / 3.0, 20.0 / 3.0],
        ),
        // nearest: 1 | ... | 8
        (
            "mode=nearest",
            [4.0 / 3.0, 7.0 / 3.0, 14.0 / 3.0, 20.0 / 3.0],
        ),
        // mirror: 2 | ... | 4
        (
            "mode=mirror",
            [5.0 / 3.0, 7.0 / 3.0, 14.0 / 3.0, 16.0 / 3.0],
        ),
        // wrap: 8 | ... | 1
        ("mode=wrap", [11.0 / 3.0, 7.0 / 3.0, 14.0 / 3.0, 13.0 / 3.0]),
        // constant 6: 6 | ... | 6
        ("mode=constant,cval=6", [3.0, 7.0 / 3.0, 14.0 / 3.0, 6.0]),
    ];
    let mut backends = vec![("cpu", Processor::cpu())];
    if let Some(ctx) = gpu("a_box_extends_each_mode_as_scipy_documents") {
        backends.push(("gpu", Processor::gpu(ctx)));
    }
    for (name, p) in &backends {
        for (mode, want) in cases {
            let out = p
                .run(
                    &row,
                    &[op(&format!("box:size_y=1,size_x=3,{mode}"))],
                    OutputType::Exactly(SampleType::F32),
                )
                .unwrap();
            let got = out.image.to_f32_vec();
            assert!(
                max_abs_diff(&got, &want) <= 1e-6,
                "{name} {mode}: {got:?} != {want:?}"
            );
        }
    }
}

/// The median of a 3x3 window at a corner under each mode, worked out by hand.
#[test]
fn a_median_extends_each_mode_at_a_corner() {
    // 0 1 2
    // 3 4 5
    // 6 7 8
    let img = Image::gray(3, 3, Samples::U8((0..9).collect())).unwrap();
    let cases = [
        // corner window: rows -1..1, cols -1..1
        ("mode=nearest", 1u8), // 0 0 1 / 0 0 1 / 3 3 4 -> sorted 0 0 0 0 1 1 3 3 4
        ("mode=mirror", 3),    // 4 3 4 / 1 0 1 / 4 3 4 -> 0 1 1 3 3 4 4 4 4
        ("mode=wrap", 4),      // 8 6 7 / 2 0 1 / 5 3 4 -> 0 1 2 3 4 5 6 7 8
        ("mode=constant,cval=9", 9), // 9 9 9 / 9 0 1 / 9 3 4 -> 0 1 3 4 9 9 9 9 9
        ("mode=reflect", 1),   // as nearest for one sample past the edge
    ];
    let mut backends = vec![("cpu", Processor::cpu())];
    if let Some(ctx) = gpu("a_median_extends_each_mode_at_a_corner") {
        backends.push(("gpu", Processor::gpu(ctx)));
    }
    for (name, p) in &backends {
        for (mode, want) in cases {
            let out = p
                .run(
                    &img,
                    &[op(&format!("median:size=3,{mode}"))],
                    OutputType::Same,
                )
                .unwrap();
            let got = out.image.to_f32_vec()[0];
            assert_eq!(got, f32::from(want), "{name} {mode}");
        }
    }
}

#[test]
fn gpu_equals_the_cpu_twin() {
    let Some(ctx) = gpu("gpu_equals_the_cpu_twin") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    for (w, h, d, c, t) in [
        (1, 1, 1, 1, SampleType::U8),
        (29, 17, 1, 1, SampleType::U8),
        (23, 19, 1, 3, SampleType::U16),
        (13, 11, 7, 1, SampleType::F32),
    ] {
        let image = image(w, h, d, c, t, 7);
        let basis = range(&image.to_f32_vec()).max(37.5);
        for filter in FILTERS {
            for mode in MODES {
                let Some(filter) = with_mode(filter, mode) else {
                    continue;
                };
                let chain = [filter];
                let what = format!("{w}x{h}x{d}x{c} {t} {}", chain[0]);
                let to = match chain[0] {
                    Op::Median(_) => OutputType::Same,
                    _ => OutputType::Exactly(SampleType::F32),
                };
                let g = gpu.run(&image, &chain, to).unwrap().image;
                let p = cpu.run(&image, &chain, to).unwrap().image;
                if let Op::Median(_) = chain[0] {
                    assert!(g == p, "{what}: median differs");
                } else {
                    let err = max_abs_diff(&g.to_f32_vec(), &p.to_f32_vec());
                    assert!(err <= 1e-5 * basis, "{what}: {err} of {basis}");
                }
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

fn tiles_agree(whole: &Processor, make: &dyn Fn(u32) -> Processor) {
    for (w, h, d, c, t) in [
        (47u32, 38u32, 1u32, 3u32, SampleType::U16),
        (19, 15, 9, 1, SampleType::F32),
    ] {
        let image = image(w, h, d, c, t, 11);
        // Tiles of 4: smaller than most of these filters' reach.
        for tile in [16, 4] {
            let p = make(tile);
            for filter in FILTERS.iter().chain(&["gaussian:sigma=4", "box:size=11"]) {
                for mode in MODES {
                    let Some(filter) = with_mode(filter, mode) else {
                        continue;
                    };
                    let chain = [op("box:size=2"), filter];
                    let what = format!("{w}x{h}x{d} tile {tile} {}", chain[1]);
                    let to = OutputType::Exactly(SampleType::F32);
                    assert!(!p.tiling(image.shape(), &chain).unwrap().is_whole());
                    let a = whole.run(&image, &chain, to).unwrap().image;
                    let b = p.run(&image, &chain, to);
                    if mode == "mode=wrap" {
                        let e = b.unwrap_err().to_string();
                        assert!(
                            e.contains("mode=wrap") && e.contains("whole frame"),
                            "{what}: {e}"
                        );
                        continue;
                    }
                    assert!(a == b.unwrap().image, "{what}: tiled differs");
                }
            }
        }
    }
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

/// A mode pads the frame it filters, so a tile's planes take more: the tiling counts the
/// padding within the same plane limit.
#[test]
fn padding_counts_against_the_memory_budget() {
    let image = random_image(400, 300, 1, SampleType::F32, 3);
    let p = Processor::cpu().with_budget(Budget {
        memory: 16 << 20,
        ..Budget::default()
    });
    let plain = [op("gaussian:sigma=20")];
    let moded = [op("gaussian:sigma=20,mode=nearest")];
    let a = p.tiling(image.shape(), &plain).unwrap();
    let b = p.tiling(image.shape(), &moded).unwrap();
    let area = |t: &imflow::engine::Tiling| u64::from(t.tile.0) * u64::from(t.tile.1);
    assert!(area(&b) < area(&a), "{:?} vs {:?}", a.tile, b.tile);
    let whole = Processor::cpu().run(&image, &moded, OutputType::Exactly(SampleType::F32));
    let cut = p.run(&image, &moded, OutputType::Exactly(SampleType::F32));
    assert!(whole.unwrap().image == cut.unwrap().image);
}

/// scipy's `gaussian_filter(order=...)`: derivatives of the gaussian per axis, the GPU
/// within 1e-5 of the range of the twin, tiles bit for bit, and an order 0 that is the
/// plain gaussian (its spec, key and bytes).
#[test]
fn gaussian_orders_on_both_backends_and_in_tiles() {
    let plain = op("gaussian:sigma=1.5");
    assert_eq!(op("gaussian:sigma=1.5,order=0"), plain);
    assert_eq!(
        imflow::key::task(&plain, &[]),
        imflow::key::task(&op("gaussian:sigma=1.5,order_y=0,order_x=0"), &[])
    );
    let specs = [
        "gaussian:sigma=1.5,order=1",
        "gaussian:sigma_y=1,sigma_x=2,order_y=0,order_x=3",
        "gaussian:sigma=1.2,order_y=2,order_x=1",
        "gaussian:sigma=2,order_z=1,order_y=0,order_x=2,mode=nearest",
    ];
    let f32 = OutputType::Exactly(SampleType::F32);
    let mut backends = vec![(Processor::cpu(), tiled(Processor::cpu(), 5))];
    if let Some(ctx) = gpu("gaussian_orders_on_both_backends_and_in_tiles") {
        backends.push((Processor::gpu(ctx.clone()), tiled(Processor::gpu(ctx), 5)));
    }
    for (w, h, d, c) in [(31u32, 23u32, 1u32, 1u32), (19, 15, 1, 3), (13, 11, 7, 1)] {
        let image = image(w, h, d, c, SampleType::F32, 13);
        let basis = range(&image.to_f32_vec());
        for spec in specs {
            let chain = [op(spec)];
            let want = backends[0].0.run(&image, &chain, f32).unwrap().image;
            for (p, tiled) in &backends {
                let got = p.run(&image, &chain, f32).unwrap().image;
                let err = max_abs_diff(&got.to_f32_vec(), &want.to_f32_vec());
                assert!(err <= 1e-5 * basis, "{w}x{h}x{d}x{c} {spec}: {err}");
                assert!(!tiled.tiling(image.shape(), &chain).unwrap().is_whole());
                let cut = tiled.run(&image, &chain, f32).unwrap().image;
                assert!(cut == got, "{w}x{h}x{d}x{c} {spec}: tiled differs");
            }
        }
    }
    let e = Op::parse("gaussian:sigma=1,order=9")
        .unwrap_err()
        .to_string();
    assert!(e.contains("order") && e.contains("at most 8"), "{e}");
    let e = Op::parse("gaussian:sigma=1,order=1,int=scipy")
        .unwrap_err()
        .to_string();
    assert!(e.contains("order"), "{e}");
}
