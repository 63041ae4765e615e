//! Tiles with a halo give what the untiled computation gives, bit for bit: every op and
//! chain, every sample type, gray/RGB/RGBA, halos larger than a tile, one-pixel-wide
//! frames, on both backends. Tiling is forced by lowering the tile size.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::{Image, Op, OutputType, Processor, SampleType};

fn ops(specs: &[&str]) -> Vec<Op> {
    specs.iter().map(|s| Op::parse(s).unwrap()).collect()
}

/// Tiles of `tile`; Otsu's input kept resident between its passes (the default budget
/// fits these frames' values) ...
fn tiled(p: Processor, tile: u32) -> Processor {
    p.with_budget(Budget {
        max_tile: Some(tile),
        ..Budget::default()
    })
}

/// ... or recomputed by every pass, as frames too large to keep are.
fn recomputing(p: Processor, tile: u32) -> Processor {
    p.with_budget(Budget {
        max_tile: Some(tile),
        resident: Some(0),
        ..Budget::default()
    })
}

/// `untiled` and `tiled` agree on `image` for every chain, exactly, in f32 and in the
/// source's type.
fn agree(untiled: &Processor, tiled: &Processor, image: &Image, chains: &[Vec<Op>], what: &str) {
    for chain in chains {
        for out in [OutputType::Exactly(SampleType::F32), OutputType::Same] {
            let a = untiled.run(image, chain, out).unwrap();
            let b = tiled.run(image, chain, out).unwrap();
            let spec: Vec<String> = chain.iter().map(|o| o.to_string()).collect();
            assert!(
                tiled
                    .tiling(image.shape(), chain)
                    .map_or(true, |t| !t.is_whole()),
                "{what}: not tiled"
            );
            assert_eq!(a.thresholds, b.thresholds, "{what} {spec:?}: thresholds");
            if a.image != b.image {
                let (x, y) = (a.image.to_f32_vec(), b.image.to_f32_vec());
                let first = x
                    .iter()
                    .zip(&y)
                    .position(|(p, q)| p.to_bits() != q.to_bits());
                panic!("{what} {spec:?} {out:?}: tiled differs first at sample {first:?}");
            }
        }
    }
}

fn every_op_chain() -> Vec<Vec<Op>> {
    [
        &["gaussian:sigma=0.7"][..],
        &["gaussian:sigma=2"],
        &["gaussian:sigma=20"], // direct kernels, a halo of 80
        &["gaussian:sigma_x=3,sigma_y=0.5,truncate=3"],
        &["box:size=1"],
        &["box:size=4"],
        &["box:size=5"],
        &["box:size=40"],
        &["threshold:value=100"],
        &["threshold:method=otsu"],
        &["gaussian:sigma=2,int=scipy"],
        &["gaussian:sigma=20,int=scipy"],
        &["box:size=4,int=scipy"],
        &["gaussian:sigma=1.5,int=scipy", "threshold:method=otsu"],
        &["threshold:method=otsu", "label:connectivity=1"],
        &[
            "gaussian:sigma=1",
            "threshold:method=otsu",
            "label:connectivity=2",
        ],
        &["threshold:method=otsu", "remove_small_objects:min_size=4"],
        &[
            "threshold:method=otsu",
            "remove_small_objects:max_size=3,connectivity=2",
            "label:connectivity=2",
            "box:size=3",
        ],
        &["gaussian:sigma=1.5", "threshold:method=otsu"],
        &["gaussian:sigma=2", "box:size=3", "threshold:method=otsu"],
        &[
            "threshold:method=otsu",
            "gaussian:sigma=1",
            "threshold:method=otsu",
        ],
    ]
    .iter()
    .map(|s| ops(s))
    .collect()
}

fn check(
    backend: &str,
    untiled: Processor,
    tiled16: Processor,
    tiled7: Processor,
    tiled128: Processor,
) {
    // Float data wide and tall enough that tiles' windows start part-way into the box's
    // running-sum segments, whose rounding depends on where a sum starts. Its values span
    // 40 orders of magnitude, so that even the CPU twin's f64 sums round (integer data,
    // or floats of one scale, sum exactly whatever the path, and could not show it).
    let mut seed = 99u64;
    let wide: Vec<f32> = (0..640 * 700)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (m, e) = (
                (seed >> 40) as f32 / 16_777_216.0,
                ((seed >> 20) % 41) as i32 - 20,
            );
            m * 10f32.powi(e)
        })
        .collect();
    let image = Image::gray(640, 700, imflow::Samples::F32(wide)).unwrap();
    let chains = [
        ops(&["box:size=5"]),
        ops(&["gaussian:sigma=2", "box:size=3", "threshold:method=otsu"]),
    ];
    agree(
        &untiled,
        &tiled128,
        &image,
        &chains,
        &format!("{backend} wide f32"),
    );
    // Every op and chain, gray u16 and RGBA f32, on tiles of 16 (halos up to 80 cross
    // several tiles), Otsu's input kept resident.
    for (c, t) in [
        (1, SampleType::U16),
        (4, SampleType::F32),
        (3, SampleType::U8),
    ] {
        let image = random_image(61, 43, c, t, 7 + u64::from(c));
        agree(
            &untiled,
            &tiled16,
            &image,
            &every_op_chain(),
            &format!("{backend} {t} x{c}"),
        );
    }
    // Every sample type through the microscopy chain (Otsu on untouched 32-bit integers
    // is refused either way, so those go through a filter first), Otsu's input
    // recomputed by each pass.
    for t in SampleType::ALL {
        let image = random_image(40, 29, 1, t, 3);
        let chains = match t {
            SampleType::I32 | SampleType::U32 => {
                vec![ops(&["gaussian:sigma=1", "threshold:method=otsu"])]
            }
            _ => vec![
                ops(&["gaussian:sigma=1", "threshold:method=otsu"]),
                ops(&["threshold:method=otsu"]),
                ops(&["gaussian:sigma=1,int=scipy", "threshold:method=otsu"]),
            ],
        };
        agree(
            &untiled,
            &tiled7,
            &image,
            &chains,
            &format!("{backend} {t}"),
        );
    }
    // One pixel wide, one pixel high: tiles of one column or row, recomputed and kept.
    for (w, h) in [(1, 50), (50, 1)] {
        let image = random_image(w, h, 1, SampleType::U16, 11);
        agree(
            &untiled,
            &tiled7,
            &image,
            &every_op_chain(),
            &format!("{backend} {w}x{h}"),
        );
        agree(
            &untiled,
            &tiled16,
            &image,
            &every_op_chain(),
            &format!("{backend} {w}x{h}"),
        );
    }
}

#[test]
fn tiled_equals_untiled_on_the_cpu() {
    check(
        "cpu",
        Processor::cpu(),
        tiled(Processor::cpu(), 16),
        recomputing(Processor::cpu(), 7),
        tiled(Processor::cpu(), 128),
    );
}

#[test]
fn tiled_equals_untiled_on_the_gpu() {
    let Some(ctx) = gpu("tiled_equals_untiled_on_the_gpu") else {
        return;
    };
    check(
        "gpu",
        Processor::gpu(ctx.clone()),
        tiled(Processor::gpu(ctx.clone()), 16),
        recomputing(Processor::gpu(ctx.clone()), 7),
        tiled(Processor::gpu(ctx), 128),
    );
}

/// Crops of uneven sizes put back together (the copies tiles go through) give the image
/// again, for every sample type and channel count; mismatched parts are an error.
#[test]
fn crops_put_together_give_the_image_back() {
    use imflow::image::Rect;
    for t in SampleType::ALL {
        for c in [1, 3, 4] {
            let image = random_image(37, 23, c, t, 5);
            let (xs, ys) = ([0u32, 10, 11, 37], [0u32, 7, 23]);
            let rows: Vec<Vec<Image>> = (ys.windows(2))
                .map(|y| {
                    (xs.windows(2))
                        .map(|x| {
                            (image.crop(Rect::area(x[0], y[0], x[1] - x[0], y[1] - y[0]))).unwrap()
                        })
                        .collect()
                })
                .collect();
            assert_eq!(Image::mosaic(&rows).unwrap(), image, "{t} x{c}");
            let bands: Vec<Image> = rows.iter().map(|r| Image::beside(r).unwrap()).collect();
            assert_eq!(Image::stacked(&bands).unwrap(), image, "{t} x{c}");
        }
    }
    let a = random_image(4, 4, 1, SampleType::U16, 1);
    let b = random_image(4, 4, 1, SampleType::F32, 1);
    let err = Image::mosaic(&[vec![a.clone(), b]]).unwrap_err();
    assert!(err.to_string().contains("together"), "{err}");
    let err = Image::mosaic(&[vec![a.clone()], vec![a.clone(), a]]).unwrap_err();
    assert!(err.to_string().contains("columns"), "{err}");
}

/// Borrowed samples (what the Python package passes for a C-ordered array) give what an
/// owned image gives, whole and in tiles, on both backends.
#[test]
fn borrowed_samples_give_what_owned_images_give() {
    let mut processors = vec![("cpu", Processor::cpu(), tiled(Processor::cpu(), 16))];
    if let Some(ctx) = gpu("borrowed_samples_give_what_owned_images_give") {
        let t = tiled(Processor::gpu(ctx.clone()), 16);
        processors.push(("gpu", Processor::gpu(ctx), t));
    }
    let chain = ops(&["gaussian:sigma=2", "box:size=3", "threshold:method=otsu"]);
    let owned = random_image(61, 47, 3, SampleType::U16, 3);
    let imflow::Samples::U16(raw) = owned.samples() else {
        unreachable!("made as u16")
    };
    let view = imflow::ImageView::new(61, 47, 3, imflow::SamplesRef::from(&raw[..])).unwrap();
    assert!(imflow::ImageView::new(61, 46, 3, imflow::SamplesRef::from(&raw[..])).is_err());
    for (name, p, t) in processors {
        for (what, p) in [("whole", &p), ("tiled", &t)] {
            let want = p.run(&owned, &chain, OutputType::Same).unwrap();
            let got = p.run_view(view, &chain, OutputType::Same).unwrap();
            assert_eq!(got.image, want.image, "{name} {what}");
            assert_eq!(got.thresholds, want.thresholds, "{name} {what}");
        }
    }
}

/// Otsu's passes read the source once when its filtered values fit the budget (kept
/// resident on the GPU between the passes), and three times when they do not: counted
/// uploads, the same mask either way.
#[test]
fn otsu_keeps_its_input_resident_when_it_fits() {
    let Some(ctx) = gpu("otsu_keeps_its_input_resident_when_it_fits") else {
        return;
    };
    let image = random_image(96, 80, 1, SampleType::U16, 5);
    let chain = ops(&["gaussian:sigma=2", "threshold:method=otsu"]);
    let run = |p: &Processor| {
        let before = ctx.stats();
        let r = p.run(&image, &chain, OutputType::Same).unwrap();
        let after = ctx.stats();
        (r, after.bytes_uploaded - before.bytes_uploaded)
    };
    let (whole, _) = run(&Processor::gpu(ctx.clone()));
    let (kept, kept_up) = run(&tiled(Processor::gpu(ctx.clone()), 32));
    let (again, again_up) = run(&recomputing(Processor::gpu(ctx.clone()), 32));
    assert_eq!(
        (&kept.image, &kept.thresholds),
        (&whole.image, &whole.thresholds)
    );
    assert_eq!(
        (&again.image, &again.thresholds),
        (&whole.image, &whole.thresholds)
    );
    // 3x3 tiles of 32 with a halo of 8 (clipped at the frame's edges): windows 40, 48
    // and 40 wide, 40, 48 and 24 high, two bytes a sample, uploaded once (then kept) or
    // once per pass.
    let windows: u64 = [40u64, 48, 40]
        .iter()
        .flat_map(|w| [40u64, 48, 24].map(|h| w * h))
        .sum();
    assert_eq!(kept_up, windows * 2, "kept: one upload per tile");
    assert_eq!(
        again_up,
        3 * windows * 2,
        "recomputed: one per tile and pass"
    );
}
