//! The distance transform, filling holes and clearing the border on both backends: the
//! peers' own test cases (scipy `ndimage/tests/test_morphology.py`, scikit-image
//! `segmentation/tests/test_clear_border.py`) with their expected values, the CPU twin
//! against definitions written here (brute-force nearest background, flood fills), the
//! GPU against the twin on random masks of every density and awkward shape, and tiled
//! frames refused with a typed error. Parity with scipy and scikit-image computed in the
//! test is in python/tests/test_segmentation.py.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::{Error, Image, Op, OutputType, Processor, SampleType, Samples, Shape};

fn mask_image(v: &[u8], (w, h, d): (u32, u32, u32)) -> Image {
    let shape = Shape::volume(w, h, d, 1).unwrap();
    Image::with_shape(shape, Samples::U8(v.to_vec())).unwrap()
}

/// A mask of `density` foreground (1s), deterministic.
fn random_mask((w, h, d): (u32, u32, u32), density: f64, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..w * h * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            u8::from(((s >> 11) as f64 / (1u64 << 53) as f64) < density)
        })
        .collect()
}

/// Both backends (the GPU one where there is an adapter).
fn processors(test: &str) -> Vec<(&'static str, Processor)> {
    let mut out = vec![("cpu", Processor::cpu())];
    if let Some(ctx) = gpu(test) {
        out.push(("gpu", Processor::gpu(ctx)));
    }
    out
}

/// Runs one op: distances as f32 (the default output type would round them to the
/// source's type, as it does a filter's), masks and labels in their own type.
fn run(p: &Processor, image: &Image, spec: &str) -> Image {
    let out = if spec.starts_with("distance") {
        OutputType::Exactly(SampleType::F32)
    } else {
        OutputType::Same
    };
    p.run(image, &[Op::parse(spec).unwrap()], out)
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
        .image
}

/// `distance_transform_bf`'s definition: the least `sqrt(sum((s_i d_i)^2))` over the
/// background, in f64; with no background scipy's stand-in feature one step before the
/// first axis.
fn brute_edt(v: &[u8], (w, h, d): (usize, usize, usize), sampling: [f64; 3]) -> Vec<f64> {
    let at = |i: usize| (i / (w * h), (i / w) % h, i % w);
    let bg: Vec<usize> = (0..v.len()).filter(|&i| v[i] == 0).collect();
    let sq = |a: (usize, usize, usize), b: (i64, i64, i64)| {
        let dz = (a.0 as i64 - b.0) as f64 * sampling[0];
        let dy = (a.1 as i64 - b.1) as f64 * sampling[1];
        let dx = (a.2 as i64 - b.2) as f64 * sampling[2];
        dz * dz + dy * dy + dx * dx
    };
    (0..v.len())
        .map(|i| {
            if v[i] == 0 {
                return 0.0;
            }
            if bg.is_empty() {
                let stand_in = if d > 1 { (-1, 0, 0) } else { (0, -1, 0) };
                return sq(at(i), stand_in).sqrt();
            }
            bg.iter()
                .map(|&j| {
                    let b = at(j);
                    sq(at(i), (b.0 as i64, b.1 as i64, b.2 as i64))
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(err <= rel * w.abs(), "{what}: sample {i}: {g} vs {w}");
    }
}

/// The mask of scipy's `test_distance_transform_edt01` .. `edt4`.
#[rustfmt::skip]
const SCIPY_EDT: [u8; 81] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 1, 1, 1, 0, 0, 0,
    0, 0, 1, 1, 1, 1, 1, 0, 0,
    0, 0, 1, 1, 1, 1, 1, 0, 0,
    0, 0, 1, 1, 1, 1, 1, 0, 0,
    0, 0, 0, 1, 1, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0,
];

#[test]
fn scipy_edt_cases() {
    let image = mask_image(&SCIPY_EDT, (9, 9, 1));
    for (name, p) in processors("scipy_edt_cases") {
        // edt01: equal to distance_transform_bf, and here to np.float32 of it exactly.
        let got = run(&p, &image, "distance").to_f32_vec();
        let want = brute_edt(&SCIPY_EDT, (9, 9, 1), [1.0; 3]);
        let want32: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        assert_eq!(got, want32, "{name} edt01");
        // A few of scipy's own values: the centre is sqrt(8) from the blob's cut
        // corners, (3, 2) one step from its edge, (4, 3) two.
        assert_eq!(got[4 * 9 + 4], 8f64.sqrt() as f32, "{name}");
        assert_eq!(got[3 * 9 + 2], 1.0, "{name}");
        assert_eq!(got[4 * 9 + 3], 2.0, "{name}");
        assert_eq!(got[3 * 9 + 3], 2f64.sqrt() as f32, "{name}");
        // edt03: sampling=[2, 2]; edt4: sampling=[2, 1].
        let got = run(&p, &image, "distance:sampling=2").to_f32_vec();
        assert_close(
            &got,
            &brute_edt(&SCIPY_EDT, (9, 9, 1), [1.0, 2.0, 2.0]),
            1e-6,
            &format!("{name} edt03"),
        );
        let got = run(&p, &image, "distance:sampling_y=2,sampling_x=1").to_f32_vec();
        assert_close(
            &got,
            &brute_edt(&SCIPY_EDT, (9, 9, 1), [1.0, 2.0, 1.0]),
            1e-6,
            &format!("{name} edt4"),
        );
        // edt5 (ticket #954): a lone background sample is 0.
        let got = run(&p, &mask_image(&[0], (1, 1, 1)), "distance");
        assert_eq!(got.to_f32_vec(), [0.0], "{name} edt5");
        assert_eq!(got.sample_type(), SampleType::F32);
    }
}

#[test]
fn no_background_measures_to_scipys_stand_in() {
    // scipy.ndimage.distance_transform_edt(np.ones((3, 4))) and np.ones((2, 2, 2)).
    let s = |v: f64| v.sqrt() as f32;
    for (name, p) in processors("no_background_measures_to_scipys_stand_in") {
        let got = run(&p, &mask_image(&[1; 12], (4, 3, 1)), "distance").to_f32_vec();
        #[rustfmt::skip]
        let want = [
            1.0, s(2.0), s(5.0), s(10.0),
            2.0, s(5.0), s(8.0), s(13.0),
            3.0, s(10.0), s(13.0), s(18.0),
        ];
        assert_eq!(got, want, "{name} 2-D");
        let got = run(&p, &mask_image(&[1; 8], (2, 2, 2)), "distance").to_f32_vec();
        let want = [1.0, s(2.0), s(2.0), s(3.0), 2.0, s(5.0), s(5.0), s(6.0)];
        assert_eq!(got, want, "{name} 3-D");
        // sampling=(2, 0.5) on np.ones((3, 2)): [[2, 2.0616], [4, 4.0311], [6, 6.0208]].
        let got = run(
            &p,
            &mask_image(&[1; 6], (2, 3, 1)),
            "distance:sampling_y=2,sampling_x=0.5",
        )
        .to_f32_vec();
        let want = [
            2.0,
            4.25f64.sqrt(),
            4.0,
            16.25f64.sqrt(),
            6.0,
            36.25f64.sqrt(),
        ];
        assert_close(&got, &want, 1e-6, &format!("{name} anisotropic"));
    }
}

fn shapes() -> Vec<(u32, u32, u32)> {
    vec![
        (1, 1, 1),
        (37, 1, 1),
        (1, 29, 1),
        (40, 33, 1),
        (13, 11, 6),
        (1, 1, 7),
        (5, 1, 4),
    ]
}

const DENSITIES: [f64; 5] = [0.05, 0.3, 0.6, 0.95, 1.0];

#[test]
fn the_twin_equals_the_definition() {
    let cpu = Processor::cpu();
    for (k, dims) in shapes().into_iter().enumerate() {
        for (j, density) in DENSITIES.into_iter().enumerate() {
            let v = random_mask(dims, density, (k * 10 + j) as u64);
            let image = mask_image(&v, dims);
            let du = (dims.0 as usize, dims.1 as usize, dims.2 as usize);
            let what = format!("{dims:?} density {density}");
            let got = run(&cpu, &image, "distance").to_f32_vec();
            let want: Vec<f32> = brute_edt(&v, du, [1.0; 3])
                .iter()
                .map(|&v| v as f32)
                .collect();
            assert_eq!(got, want, "{what}");
            let got = run(
                &cpu,
                &image,
                "distance:sampling_z=1.5,sampling_y=0.7,sampling_x=1.3",
            )
            .to_f32_vec();
            let sampling = [1.5, 0.7, 1.3];
            let want = brute_edt(&v, du, sampling);
            assert_close(&got, &want, 1e-6, &format!("{what} anisotropic"));
        }
    }
}

#[test]
fn gpu_equals_the_cpu_twin() {
    let Some(ctx) = gpu("gpu_equals_the_cpu_twin") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    let mut all = shapes();
    all.extend([(131, 97, 1), (70, 40, 9)]);
    for (k, dims) in all.into_iter().enumerate() {
        for (j, density) in DENSITIES.into_iter().enumerate() {
            let v = random_mask(dims, density, (k * 10 + j + 500) as u64);
            let image = mask_image(&v, dims);
            let what = format!("{dims:?} density {density}");
            for spec in [
                "distance",
                "distance:sampling=0.3",
                "fill_holes",
                "clear_border",
            ] {
                let g = run(&gpu, &image, spec);
                let c = run(&cpu, &image, spec);
                assert_eq!(g, c, "{what} {spec}");
            }
            // Per-axis sampling runs on f32 squared distances, whose rounding the GPU
            // may contract differently (fused multiply-adds, its own sqrt): within 1e-6.
            let spec = "distance:sampling_z=2,sampling_y=0.5,sampling_x=1.25";
            let g = run(&gpu, &image, spec).to_f32_vec();
            let c: Vec<f64> = (run(&cpu, &image, spec).to_f32_vec().iter())
                .map(|&v| f64::from(v))
                .collect();
            assert_close(&g, &c, 1e-6, &format!("{what} {spec}"));
            // Labels: clear_border on u16 values of a few levels.
            let labels: Vec<u16> = v
                .iter()
                .enumerate()
                .map(|(i, &m)| u16::from(m) * (1 + (i as u16 / 7) % 3))
                .collect();
            let shape = Shape::volume(dims.0, dims.1, dims.2, 1).unwrap();
            let image = Image::with_shape(shape, Samples::U16(labels)).unwrap();
            let g = run(&gpu, &image, "clear_border");
            let c = run(&cpu, &image, "clear_border");
            assert_eq!(g, c, "{what} clear_border on labels");
        }
    }
}

/// `binary_fill_holes` by its definition: background reached from outside the image
/// through face neighbours stays; the rest is filled.
fn brute_fill(v: &[u8], (w, h, d): (usize, usize, usize)) -> Vec<u8> {
    let mut reached = vec![false; v.len()];
    let mut stack = Vec::new();
    for i in 0..v.len() {
        let (z, y, x) = (i / (w * h), (i / w) % h, i % w);
        let edge =
            x == 0 || y == 0 || x + 1 == w || y + 1 == h || (d > 1 && (z == 0 || z + 1 == d));
        if edge && v[i] == 0 {
            reached[i] = true;
            stack.push(i);
        }
    }
    while let Some(i) = stack.pop() {
        let (z, y, x) = ((i / (w * h)) as i64, ((i / w) % h) as i64, (i % w) as i64);
        for (dz, dy, dx) in [
            (0, 0, 1),
            (0, 0, -1),
            (0, 1, 0),
            (0, -1, 0),
            (1, 0, 0),
            (-1, 0, 0),
        ] {
            let (zz, yy, xx) = (z + dz, y + dy, x + dx);
            if zz < 0 || yy < 0 || xx < 0 || zz >= d as i64 || yy >= h as i64 || xx >= w as i64 {
                continue;
            }
            let j = ((zz as usize * h) + yy as usize) * w + xx as usize;
            if v[j] == 0 && !reached[j] {
                reached[j] = true;
                stack.push(j);
            }
        }
    }
    (0..v.len())
        .map(|i| if v[i] != 0 || !reached[i] { 255 } else { 0 })
        .collect()
}

#[test]
fn fill_holes_equals_the_definition() {
    let cpu = Processor::cpu();
    for (k, dims) in shapes().into_iter().enumerate() {
        for (j, density) in DENSITIES.into_iter().enumerate() {
            let v = random_mask(dims, density, (k * 10 + j + 900) as u64);
            let du = (dims.0 as usize, dims.1 as usize, dims.2 as usize);
            let got = run(&cpu, &mask_image(&v, dims), "fill_holes");
            assert_eq!(got.sample_type(), SampleType::U8);
            assert_eq!(
                got.to_f32_vec(),
                brute_fill(&v, du)
                    .iter()
                    .map(|&b| f32::from(b))
                    .collect::<Vec<_>>(),
                "{dims:?} {density}"
            );
        }
    }
}

fn u8s(image: &Image) -> Vec<u8> {
    image.to_f32_vec().iter().map(|&v| v as u8).collect()
}

#[test]
fn scipy_fill_holes_cases() {
    // test_binary_fill_holes01 .. 03 (7 rows of 8), as 0/1 masks; results 0/255.
    #[rustfmt::skip]
    let cases: [([u8; 56], [u8; 56]); 3] = [
        (
            [0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 1, 0, 0, 1, 0, 0,
             0, 0, 1, 0, 0, 1, 0, 0,
             0, 0, 1, 0, 0, 1, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            [0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 0, 1, 1, 0, 0, 0,
             0, 0, 1, 0, 0, 1, 0, 0,
             0, 0, 1, 0, 0, 1, 0, 0,
             0, 0, 1, 0, 0, 1, 0, 0,
             0, 0, 0, 1, 1, 0, 0, 0,
             0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 0, 1, 1, 0, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 1, 1, 1, 1, 0, 0,
             0, 0, 0, 1, 1, 0, 0, 0,
             0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            [0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 1, 0, 0, 0, 0, 0,
             0, 1, 0, 1, 0, 1, 1, 1,
             0, 1, 0, 1, 0, 1, 0, 1,
             0, 1, 0, 1, 0, 1, 0, 1,
             0, 0, 1, 0, 0, 1, 1, 1,
             0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 1, 0, 0, 0, 0, 0,
             0, 1, 1, 1, 0, 1, 1, 1,
             0, 1, 1, 1, 0, 1, 1, 1,
             0, 1, 1, 1, 0, 1, 1, 1,
             0, 0, 1, 0, 0, 1, 1, 1,
             0, 0, 0, 0, 0, 0, 0, 0],
        ),
    ];
    for (name, p) in processors("scipy_fill_holes_cases") {
        for (k, (data, expected)) in cases.iter().enumerate() {
            let got = run(&p, &mask_image(data, (8, 7, 1)), "fill_holes");
            let want: Vec<u8> = expected.iter().map(|&b| b * 255).collect();
            assert_eq!(u8s(&got), want, "{name} test_binary_fill_holes0{}", k + 1);
        }
    }
}

#[test]
fn skimage_clear_border_cases() {
    #[rustfmt::skip]
    let image: [u8; 54] = [
        0, 0, 0, 0, 0, 0, 0, 1, 0,
        1, 1, 0, 0, 1, 0, 0, 1, 0,
        1, 1, 0, 1, 0, 1, 0, 0, 0,
        0, 0, 0, 1, 1, 1, 1, 0, 0,
        0, 1, 1, 1, 1, 1, 1, 1, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    // test_clear_border: ref[1:3, 0:2] = 0; ref[0:2, -2] = 0.
    let mut want = image;
    for (y, x) in [(1, 0), (1, 1), (2, 0), (2, 1), (0, 7), (1, 7)] {
        want[y * 9 + x] = 0;
    }
    // test_clear_border_3d: ref[0, 3, 0] = 0.
    #[rustfmt::skip]
    let image3d: [u8; 48] = [
        0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,  1, 0, 0, 0,
        0, 0, 0, 0,  0, 1, 1, 0,  0, 0, 1, 0,  0, 0, 0, 0,
        0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
    ];
    let mut want3d = image3d;
    want3d[3 * 4] = 0;
    // test_clear_border_non_binary and its 3-D twin.
    #[rustfmt::skip]
    let labels: [u16; 20] = [1, 2, 3, 1, 2, 3, 3, 5, 4, 2, 3, 4, 5, 4, 2, 3, 3, 2, 1, 2];
    #[rustfmt::skip]
    let labels_want: [u16; 20] = [0, 0, 0, 0, 0, 0, 0, 5, 4, 0, 0, 4, 5, 4, 0, 0, 0, 0, 0, 0];
    #[rustfmt::skip]
    let labels3d: [u16; 60] = [
        1, 2, 3, 1, 2,  3, 3, 3, 4, 2,  3, 4, 3, 4, 2,  3, 3, 2, 1, 2,
        1, 2, 3, 1, 2,  3, 3, 5, 4, 2,  3, 4, 5, 4, 2,  3, 3, 2, 1, 2,
        1, 2, 3, 1, 2,  3, 3, 3, 4, 2,  3, 4, 3, 4, 2,  3, 3, 2, 1, 2,
    ];
    let mut labels3d_want = [0u16; 60];
    labels3d_want[20 + 5 + 2] = 5;
    labels3d_want[20 + 10 + 2] = 5;
    let labels_image = |v: &[u16], (w, h, d): (u32, u32, u32)| {
        let shape = Shape::volume(w, h, d, 1).unwrap();
        Image::with_shape(shape, Samples::U16(v.to_vec())).unwrap()
    };
    for (name, p) in processors("skimage_clear_border_cases") {
        let got = run(&p, &mask_image(&image, (9, 6, 1)), "clear_border");
        assert_eq!(got.sample_type(), SampleType::U8);
        assert_eq!(u8s(&got), want, "{name} test_clear_border");
        let got = run(&p, &mask_image(&image3d, (4, 4, 3)), "clear_border");
        assert_eq!(u8s(&got), want3d, "{name} test_clear_border_3d");
        let got = run(&p, &labels_image(&labels, (5, 4, 1)), "clear_border");
        assert_eq!(
            got.samples(),
            &Samples::U16(labels_want.to_vec()),
            "{name} non_binary"
        );
        let got = run(&p, &labels_image(&labels3d, (5, 4, 3)), "clear_border");
        assert_eq!(
            got.samples(),
            &Samples::U16(labels3d_want.to_vec()),
            "{name} non_binary_3d"
        );
    }
}

#[test]
fn tiled_frames_are_refused_with_a_typed_error() {
    let v = random_mask((61, 47, 1), 0.5, 3);
    let image = mask_image(&v, (61, 47, 1));
    for (name, p) in processors("tiled_frames_are_refused_with_a_typed_error") {
        let p = p.with_budget(Budget {
            max_tile: Some(16),
            ..Budget::default()
        });
        for spec in ["distance", "fill_holes", "clear_border"] {
            let ops = [
                Op::parse("gaussian:sigma=1").unwrap(),
                Op::parse(spec).unwrap(),
            ];
            let err = p.run(&image, &ops, OutputType::Same).expect_err(spec);
            assert!(
                matches!(&err, Error::WholeFrameOnly { op, .. } if op == spec),
                "{name} {spec}: {err}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("memory budget") && msg.contains("61x47x1"),
                "{msg}"
            );
        }
    }
}

#[test]
fn large_squared_distances_round_as_scipy() {
    // One background sample in a corner: every squared distance y^2 + x^2, up to past
    // 2^24 (where f32 no longer holds every integer and WGSL's sqrt needs its checks),
    // each rounded as np.float32(np.sqrt(float64)).
    let (w, h) = (4500u32, 9u32);
    let mut v = vec![1u8; (w * h) as usize];
    v[0] = 0;
    let image = mask_image(&v, (w, h, 1));
    let want: Vec<f32> = (0..w * h)
        .map(|i| {
            let (y, x) = (u64::from(i / w), u64::from(i % w));
            ((y * y + x * x) as f64).sqrt() as f32
        })
        .collect();
    for (name, p) in processors("large_squared_distances_round_as_scipy") {
        assert_eq!(run(&p, &image, "distance").to_f32_vec(), want, "{name}");
    }
}
