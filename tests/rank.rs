//! Rank filters (median, grey morphology) on both backends: the GPU equals the CPU twin
//! exactly (ranks and extremes pick one input sample, so there is no rounding to allow
//! for), the twin equals a brute-force definition written here, and tiles or bricks
//! give what the whole frame gives, bit for bit, with footprints wider than a tile.
//! Parity with scipy and scikit-image is in python/tests/test_rank.py.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::{Image, Op, OutputType, Processor, SampleType};

fn ops(specs: &[&str]) -> Vec<Op> {
    specs.iter().map(|s| Op::parse(s).unwrap()).collect()
}

/// Every rank op in the shapes that matter: odd, even and per-axis windows; each
/// footprint kind; composites; a chain after a blur.
const SPECS: &[&[&str]] = &[
    &["median:size=3"],
    &["median:size=4"],
    &["median:size_z=1,size_y=3,size_x=5"],
    &["median:size=5"],
    &["erode:footprint=disk,radius=1"],
    &["erode:footprint=disk,radius=4"],
    &["dilate:footprint=ball,radius=2"],
    &["open:footprint=square,size=4"],
    &["close:footprint=cross,radius=2"],
    &["tophat:footprint=disk,radius=3"],
    &["blackhat:footprint=cube,size=3"],
    &["dilate:footprint=square,size=1"],
    &["gaussian:sigma=1", "median:size=3", "threshold:method=otsu"],
    &["threshold:value=128", "open:footprint=disk,radius=2"],
];

fn images() -> Vec<(String, Image)> {
    let mut out = Vec::new();
    for (k, &(w, h, d)) in [
        (1u32, 1u32, 1u32),
        (17, 13, 1),
        (40, 33, 1),
        (1, 9, 1),
        (19, 11, 7),
        (3, 1, 9),
    ]
    .iter()
    .enumerate()
    {
        for (c, t) in [
            (1, SampleType::U8),
            (1, SampleType::U16),
            (3, SampleType::F32),
        ] {
            let image = if d == 1 {
                random_image(w, h, c, t, 90 + k as u64)
            } else {
                random_volume(w, h, d, c, t, 90 + k as u64)
            };
            out.push((format!("{w}x{h}x{d}x{c} {t}"), image));
        }
    }
    out
}

#[test]
fn gpu_equals_the_cpu_twin() {
    let Some(ctx) = gpu("gpu_equals_the_cpu_twin") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    for (what, image) in images() {
        for chain in SPECS {
            let chain = ops(chain);
            for out in [OutputType::Same, OutputType::Exactly(SampleType::F32)] {
                let g = gpu.run(&image, &chain, out).unwrap();
                let p = cpu.run(&image, &chain, out).unwrap();
                assert_eq!(g.image, p.image, "{what} {chain:?} {out:?}");
            }
        }
    }
}

/// scipy's `reflect` of index `i` into `0..n`.
fn reflect(i: i64, n: i64) -> i64 {
    let m = i.rem_euclid(2 * n);
    if m >= n {
        2 * n - 1 - m
    } else {
        m
    }
}

/// Erosion or dilation of one plane by the offsets `(dz, dy, dx)`, straight from the
/// definition (scikit-image's: `min`/`max` of `x[p + o]` over the footprint's offsets).
fn brute(
    v: &[f32],
    (w, h, d): (i64, i64, i64),
    offsets: &[(i64, i64, i64)],
    max: bool,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.len());
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let s = offsets.iter().map(|&(dz, dy, dx)| {
                    let (z, y, x) = (reflect(z + dz, d), reflect(y + dy, h), reflect(x + dx, w));
                    v[((z * h + y) * w + x) as usize]
                });
                out.push(if max {
                    s.fold(f32::MIN, f32::max)
                } else {
                    s.fold(f32::MAX, f32::min)
                });
            }
        }
    }
    out
}

fn median_brute(v: &[f32], (w, h, d): (i64, i64, i64), [sz, sy, sx]: [i64; 3]) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.len());
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let mut win = Vec::new();
                for dz in -(sz / 2)..=(sz - 1) / 2 {
                    for dy in -(sy / 2)..=(sy - 1) / 2 {
                        for dx in -(sx / 2)..=(sx - 1) / 2 {
                            let (z, y, x) =
                                (reflect(z + dz, d), reflect(y + dy, h), reflect(x + dx, w));
                            win.push(v[((z * h + y) * w + x) as usize]);
                        }
                    }
                }
                win.sort_by(f32::total_cmp);
                out.push(win[win.len() / 2]);
            }
        }
    }
    out
}

#[test]
fn the_twin_equals_the_definition() {
    let cpu = Processor::cpu();
    let disk = |r: i64| -> Vec<(i64, i64, i64)> {
        let mut o = Vec::new();
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r {
                    o.push((0, dy, dx));
                }
            }
        }
        o
    };
    // An even square pads its start: offsets -(n-1)/2 ..= n/2 (scikit-image).
    let square = |n: i64| -> Vec<(i64, i64, i64)> {
        let r = -(n - 1) / 2..=n / 2;
        r.clone()
            .flat_map(|dy| r.clone().map(move |dx| (0, dy, dx)))
            .collect()
    };
    let ball = |r: i64| -> Vec<(i64, i64, i64)> {
        let mut o = Vec::new();
        for dz in -r..=r {
            for (_, dy, dx) in disk(r) {
                if dz * dz + dy * dy + dx * dx <= r * r {
                    o.push((dz, dy, dx));
                }
            }
        }
        o
    };
    for (w, h, d, seed) in [(37i64, 29i64, 1i64, 3u64), (9, 300, 1, 4), (13, 11, 6, 5)] {
        let image = if d == 1 {
            random_image(w as u32, h as u32, 1, SampleType::F32, seed)
        } else {
            random_volume(w as u32, h as u32, d as u32, 1, SampleType::F32, seed)
        };
        let v = image.to_f32_vec();
        let dims = (w, h, d);
        let mut cases: Vec<(String, Vec<f32>)> = Vec::new();
        for r in [0, 1, 2, 5, 15] {
            cases.push((
                format!("erode:footprint=disk,radius={r}"),
                brute(&v, dims, &disk(r), false),
            ));
            cases.push((
                format!("dilate:footprint=disk,radius={r}"),
                brute(&v, dims, &disk(r), true),
            ));
        }
        for n in [1, 2, 3, 4, 7] {
            cases.push((
                format!("erode:footprint=square,size={n}"),
                brute(&v, dims, &square(n), false),
            ));
            cases.push((
                format!("dilate:footprint=square,size={n}"),
                brute(&v, dims, &square(n), true),
            ));
        }
        if d > 1 {
            cases.push((
                "erode:footprint=ball,radius=2".into(),
                brute(&v, dims, &ball(2), false),
            ));
        }
        for s in [[1, 3, 3], [1, 4, 4], [1, 5, 5], [1, 2, 7], [3, 3, 3]] {
            if s[0] > 1 && d == 1 {
                continue;
            }
            let spec = format!("median:size_z={},size_y={},size_x={}", s[0], s[1], s[2]);
            cases.push((spec, median_brute(&v, dims, s)));
        }
        for (spec, want) in cases {
            let got = cpu.run(&image, &ops(&[&spec]), OutputType::Same).unwrap();
            assert_eq!(got.image.to_f32_vec(), want, "{w}x{h}x{d} {spec}");
        }
        // The composites are the passes in scikit-image's order.
        let open = cpu
            .run(
                &image,
                &ops(&["open:footprint=square,size=4"]),
                OutputType::Same,
            )
            .unwrap();
        let eroded = brute(&v, dims, &square(4), false);
        let mirrored: Vec<_> = square(4).iter().map(|&(a, b, c)| (-a, -b, -c)).collect();
        assert_eq!(
            open.image.to_f32_vec(),
            brute(&eroded, dims, &mirrored, true),
            "opening"
        );
        let hat = cpu
            .run(
                &image,
                &ops(&["tophat:footprint=square,size=4"]),
                OutputType::Same,
            )
            .unwrap();
        let want: Vec<f32> = v
            .iter()
            .zip(open.image.to_f32_vec())
            .map(|(a, b)| a - b)
            .collect();
        assert_eq!(hat.image.to_f32_vec(), want, "white top-hat");
    }
}

/// A window's limit counts the axes the image has: `median:size=27` is 27x27 on an
/// image (729 samples) but 27x27x27 on a volume, which both backends refuse by name.
#[test]
fn median_limits_count_the_image_axes() {
    let op = ops(&["median:size=27"]);
    let image = random_image(40, 30, 1, SampleType::U8, 2);
    let volume = random_volume(12, 10, 4, 1, SampleType::U8, 2);
    let mut backends = vec![Processor::cpu()];
    backends.extend(gpu("median_limits_count_the_image_axes").map(Processor::gpu));
    for p in backends {
        p.run(&image, &op, OutputType::Same).unwrap();
        let e = p
            .run(&volume, &op, OutputType::Same)
            .unwrap_err()
            .to_string();
        assert!(e.contains("27x27x27") && e.contains("729"), "{e}");
    }
}

fn tiled(p: Processor, tile: u32, resident: Option<u64>) -> Processor {
    p.with_budget(Budget {
        max_tile: Some(tile),
        resident,
        ..Budget::default()
    })
}

fn tiles_agree(whole: &Processor, make: &dyn Fn(u32, Option<u64>) -> Processor) {
    let chains = [
        &["median:size=9"][..],
        &["median:size=4"],
        &["erode:footprint=disk,radius=20"],
        &["open:footprint=disk,radius=9"],
        &["blackhat:footprint=square,size=6"],
        &["dilate:footprint=ball,radius=5"],
        &["close:footprint=cube,size=4"],
        &[
            "gaussian:sigma=1",
            "tophat:footprint=cross,radius=7",
            "threshold:method=otsu",
        ],
    ];
    for (w, h, d) in [(61u32, 47u32, 1u32), (1, 40, 1), (23, 17, 9)] {
        for (c, t) in [(1, SampleType::U16), (3, SampleType::F32)] {
            let image = if d == 1 {
                random_image(w, h, c, t, 7)
            } else {
                random_volume(w, h, d, c, t, 7)
            };
            for (tile, resident) in [(16, None), (5, Some(0))] {
                let p = make(tile, resident);
                for chain in chains {
                    let chain = ops(chain);
                    let what = format!("{w}x{h}x{d}x{c} {t} tile {tile} {chain:?}");
                    assert!(
                        p.tiling(image.shape(), &chain)
                            .map_or(true, |t| !t.is_whole()),
                        "{what}: not tiled"
                    );
                    let a = whole.run(&image, &chain, OutputType::Same).unwrap();
                    let b = p.run(&image, &chain, OutputType::Same).unwrap();
                    assert_eq!(a.thresholds, b.thresholds, "{what}");
                    assert!(a.image == b.image, "{what}: tiled differs");
                }
            }
        }
    }
}

#[test]
fn tiled_equals_untiled_on_the_cpu() {
    tiles_agree(&Processor::cpu(), &|t, r| tiled(Processor::cpu(), t, r));
}

#[test]
fn tiled_equals_untiled_on_the_gpu() {
    let Some(ctx) = gpu("tiled_equals_untiled_on_the_gpu") else {
        return;
    };
    let whole = Processor::gpu(ctx.clone());
    tiles_agree(&whole, &|t, r| tiled(Processor::gpu(ctx.clone()), t, r));
}
