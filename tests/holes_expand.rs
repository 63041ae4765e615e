//! Filling small holes (`skimage.morphology.remove_small_holes`) and expanding labels
//! (`skimage.segmentation.expand_labels`) on both backends: scikit-image's own test
//! cases (`morphology/test_misc.py`, `segmentation/test_expand_labels.py`) with their
//! expected values, the CPU twin against definitions written here (flood fills,
//! brute-force nearest labels), the GPU against the twin on random masks and labels in
//! 2-D and 3-D, tiled frames equal to whole ones (holes) or refused (expand_labels).
//! Parity with scikit-image computed in the test is in
//! python/tests/test_holes_expand.py.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::{Error, Image, Op, OutputType, Processor, Samples, Shape};

fn image_u8(v: &[u8], (w, h, d): (u32, u32, u32)) -> Image {
    let shape = Shape::volume(w, h, d, 1).unwrap();
    Image::with_shape(shape, Samples::U8(v.to_vec())).unwrap()
}

fn image_u16(v: &[u16], (w, h, d): (u32, u32, u32)) -> Image {
    let shape = Shape::volume(w, h, d, 1).unwrap();
    Image::with_shape(shape, Samples::U16(v.to_vec())).unwrap()
}

/// Deterministic xorshift numbers in [0, 1).
fn uniform(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn random_mask((w, h, d): (u32, u32, u32), density: f64, seed: u64) -> Vec<u8> {
    (uniform((w * h * d) as usize, seed).into_iter())
        .map(|u| u8::from(u < density))
        .collect()
}

/// Sparse labels 1..=5 (many equally near pairs: ties).
fn random_labels((w, h, d): (u32, u32, u32), density: f64, seed: u64) -> Vec<u16> {
    (uniform((w * h * d) as usize, seed).into_iter())
        .map(|u| {
            if u < density {
                1 + (u / density * 5.0) as u16
            } else {
                0
            }
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

fn run(p: &Processor, image: &Image, spec: &str) -> Image {
    p.run(image, &[Op::parse(spec).unwrap()], OutputType::Same)
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
        .image
}

fn values(image: &Image) -> Vec<u32> {
    image.to_f32_vec().iter().map(|&v| v as u32).collect()
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
        (64, 48, 1),
    ]
}

// ---- remove_small_holes ---------------------------------------------------------------

/// skimage's `test_holes_image` (8 rows of 10).
#[rustfmt::skip]
const HOLES: [u8; 80] = [
    0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 1, 0, 0, 1, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 0, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 1, 0, 1,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
];

/// test_one_connectivity_holes's expected (also the deprecated area_threshold=3 and the
/// labelled inputs' expected).
#[rustfmt::skip]
const HOLES_FILLED_1: [u8; 80] = [
    0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
];

/// test_two_connectivity_holes's expected.
#[rustfmt::skip]
const HOLES_FILLED_2: [u8; 80] = [
    0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 1, 0, 0, 1, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 0, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
];

#[test]
fn skimage_remove_small_holes_cases() {
    let dims = (10, 8, 1);
    let mask = image_u8(&HOLES, dims);
    // test_labeled_image_holes / test_uint_image_holes: the lower object labelled 2.
    let labelled: Vec<u16> = (HOLES.iter().enumerate())
        .map(|(i, &m)| u16::from(m) * if i >= 50 { 2 } else { 1 })
        .collect();
    let labelled8: Vec<u8> = labelled.iter().map(|&v| v as u8).collect();
    let want = |e: &[u8; 80]| -> Vec<u32> { e.iter().map(|&b| u32::from(b) * 255).collect() };
    for (name, p) in processors("skimage_remove_small_holes_cases") {
        let cases = [
            (&mask, "remove_small_holes:max_size=2", &HOLES_FILLED_1),
            (
                &mask,
                "remove_small_holes:max_size=2,connectivity=2",
                &HOLES_FILLED_2,
            ),
            (&mask, "remove_small_holes:max_size=3", &HOLES_FILLED_1),
            (
                &mask,
                "remove_small_holes:area_threshold=3",
                &HOLES_FILLED_1,
            ),
            (
                &image_u16(&labelled, dims),
                "remove_small_holes:max_size=2",
                &HOLES_FILLED_1,
            ),
            (
                &image_u8(&labelled8, dims),
                "remove_small_holes:max_size=2",
                &HOLES_FILLED_1,
            ),
        ];
        for (image, spec, expected) in cases {
            let got = run(&p, image, spec);
            assert_eq!(got.sample_type(), imflow::SampleType::U8, "{name} {spec}");
            assert_eq!(values(&got), want(expected), "{name} {spec}");
        }
        // skimage's docstring: the border-touching column of 4 zeros is a hole too,
        // filled once max_size reaches 4.
        #[rustfmt::skip]
        let a: [u8; 24] = [
            1, 1, 1, 1, 1, 0,
            1, 1, 1, 0, 1, 0,
            1, 0, 0, 1, 1, 0,
            1, 1, 1, 1, 1, 0,
        ];
        let a = image_u8(&a, (6, 4, 1));
        #[rustfmt::skip]
        let b: [u32; 24] = [
            1, 1, 1, 1, 1, 0,
            1, 1, 1, 1, 1, 0,
            1, 0, 0, 1, 1, 0,
            1, 1, 1, 1, 1, 0,
        ];
        let b: Vec<u32> = b.iter().map(|v| v * 255).collect();
        assert_eq!(values(&run(&p, &a, "remove_small_holes:max_size=1")), b);
        let filled = values(&run(&p, &a, "remove_small_holes:max_size=4"));
        assert_eq!(filled, vec![255; 24], "{name}");
        // Float values are refused, as skimage raises TypeError.
        let f =
            Image::with_shape(Shape::new(2, 2, 1).unwrap(), Samples::F32(vec![0.5; 4])).unwrap();
        let err = p
            .run(
                &f,
                &[Op::parse("remove_small_holes").unwrap()],
                OutputType::Same,
            )
            .expect_err("float input");
        assert!(err.to_string().contains("threshold first"), "{err}");
    }
}

/// The definition: background components (flood fills through
/// `generate_binary_structure(3, c)`) of at most `max_size` samples become foreground.
fn brute_holes(v: &[u8], (w, h, d): (usize, usize, usize), max_size: usize, c: u32) -> Vec<u32> {
    let mut out: Vec<u32> = v.iter().map(|&m| if m != 0 { 255 } else { 0 }).collect();
    let mut seen = vec![false; v.len()];
    for start in 0..v.len() {
        if v[start] != 0 || seen[start] {
            continue;
        }
        let mut component = vec![start];
        seen[start] = true;
        let mut k = 0;
        while k < component.len() {
            let i = component[k];
            k += 1;
            let (z, y, x) = ((i / (w * h)) as i64, ((i / w) % h) as i64, (i % w) as i64);
            for dz in -1i64..=1 {
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let steps = (dz != 0) as u32 + (dy != 0) as u32 + (dx != 0) as u32;
                        if steps == 0 || steps > c {
                            continue;
                        }
                        let (nz, ny, nx) = (z + dz, y + dy, x + dx);
                        if nz < 0 || ny < 0 || nx < 0 {
                            continue;
                        }
                        let (nz, ny, nx) = (nz as usize, ny as usize, nx as usize);
                        if nz >= d || ny >= h || nx >= w {
                            continue;
                        }
                        let j = (nz * h + ny) * w + nx;
                        if v[j] == 0 && !seen[j] {
                            seen[j] = true;
                            component.push(j);
                        }
                    }
                }
            }
        }
        if component.len() <= max_size {
            for i in component {
                out[i] = 255;
            }
        }
    }
    out
}

#[test]
fn remove_small_holes_equals_the_definition() {
    let cpu = Processor::cpu();
    for (k, dims) in shapes().into_iter().enumerate() {
        for (j, density) in [0.3, 0.55, 0.7, 0.9, 1.0].into_iter().enumerate() {
            let v = random_mask(dims, density, (k * 10 + j) as u64);
            let image = image_u8(&v, dims);
            let du = (dims.0 as usize, dims.1 as usize, dims.2 as usize);
            for c in [1, 2, 3] {
                for max_size in [0, 1, 3, 10, 64] {
                    let spec = format!("remove_small_holes:max_size={max_size},connectivity={c}");
                    let got = values(&run(&cpu, &image, &spec));
                    let want = brute_holes(&v, du, max_size, c);
                    assert_eq!(got, want, "{dims:?} density {density} {spec}");
                }
            }
        }
    }
}

#[test]
fn remove_small_holes_gpu_equals_the_cpu_twin() {
    let Some(ctx) = gpu("remove_small_holes_gpu_equals_the_cpu_twin") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    let mut all = shapes();
    all.extend([(131, 97, 1), (70, 40, 9)]);
    let mut compared = 0;
    for (k, dims) in all.into_iter().enumerate() {
        for (j, density) in [0.3, 0.6, 0.85, 1.0].into_iter().enumerate() {
            let v = random_mask(dims, density, (k * 10 + j + 500) as u64);
            let labels: Vec<u16> = (v.iter().enumerate())
                .map(|(i, &m)| u16::from(m) * (1 + (i as u16 / 7) % 3))
                .collect();
            for image in [image_u8(&v, dims), image_u16(&labels, dims)] {
                for spec in [
                    "remove_small_holes",
                    "remove_small_holes:max_size=0",
                    "remove_small_holes:max_size=2,connectivity=2",
                    "remove_small_holes:max_size=5,connectivity=3",
                ] {
                    let g = run(&gpu, &image, spec);
                    let c = run(&cpu, &image, spec);
                    assert_eq!(g, c, "{dims:?} density {density} {spec}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 10 * 4 * 2 * 4);
}

#[test]
fn remove_small_holes_tiled_equals_untiled() {
    // A frame cut into tiles resolves the holes over the whole frame (the inverse's
    // runs), so tiles agree with the whole frame bit for bit, in a chain.
    let (w, h) = (97, 83);
    let noise: Vec<u16> = (uniform((w * h) as usize, 7).into_iter())
        .map(|u| (u * 1000.0) as u16)
        .collect();
    let image = image_u16(&noise, (w, h, 1));
    let volume = image_u16(
        &(uniform(23 * 19 * 6, 8).iter())
            .map(|u| (u * 1000.0) as u16)
            .collect::<Vec<_>>(),
        (23, 19, 6),
    );
    let chains: [&[&str]; 3] = [
        &["threshold:value=400", "remove_small_holes:max_size=6"],
        &[
            "gaussian:sigma=1",
            "threshold:method=otsu",
            "remove_small_holes:max_size=20,connectivity=2",
            "label",
        ],
        &[
            "threshold:value=300",
            "remove_small_holes:max_size=3,connectivity=3",
        ],
    ];
    type Make = Box<dyn Fn() -> Processor>;
    let mut makers: Vec<(&str, Make)> = vec![("cpu", Box::new(Processor::cpu))];
    if let Some(ctx) = gpu("remove_small_holes_tiled_equals_untiled") {
        makers.push(("gpu", Box::new(move || Processor::gpu(ctx.clone()))));
    }
    for (name, make) in makers {
        for image in [&image, &volume] {
            for chain in chains {
                let ops: Vec<Op> = chain.iter().map(|s| Op::parse(s).unwrap()).collect();
                let whole = make().run(image, &ops, OutputType::Same).unwrap();
                for tile in [7, 16] {
                    let tiled = make().with_budget(Budget {
                        max_tile: Some(tile),
                        ..Budget::default()
                    });
                    let got = tiled.run(image, &ops, OutputType::Same).unwrap();
                    assert_eq!(got.image, whole.image, "{name} {chain:?} tile {tile}");
                }
                // Not all filled or all empty: the case shows something.
                let v = values(&whole.image);
                assert!(v.contains(&0) && v.iter().any(|&x| x != 0));
            }
        }
    }
}

// ---- expand_labels --------------------------------------------------------------------

/// One expand_labels case of scikit-image's test_expand_labels: input, expected, the
/// distance and spacing, and (w, h, d).
struct Case {
    name: &'static str,
    input: Vec<u16>,
    expected: Vec<u16>,
    spec: &'static str,
    dims: (u32, u32, u32),
}

#[rustfmt::skip]
fn skimage_cases() -> Vec<Case> {
    let sample1d = vec![0, 0, 4, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0];
    let sample1d_3 = vec![4, 4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
    let edge1d = vec![0, 0, 4, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0];
    let edge1d_3 = vec![4, 4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
    let sample2d = vec![
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0,
        0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0,
        0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let sample2d_3 = vec![
        1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 1, 1, 1, 0, 0, 2, 0,
        1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
        1, 1, 1, 1, 1, 1, 0, 2, 2, 2, 2,
        1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2,
        1, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2,
        1, 1, 1, 1, 1, 0, 0, 2, 2, 2, 2,
        0, 0, 1, 0, 0, 0, 0, 2, 2, 2, 2,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0,
    ];
    let sample2d_1_5 = vec![
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2,
        1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2,
        0, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2,
        0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let edge2d = vec![
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0,
        0, 0, 1, 1, 0, 2, 2, 0, 0, 0, 0,
        0, 1, 1, 1, 0, 2, 0, 0, 0, 0, 0,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let edge2d_4 = vec![
        1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0,
        1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2,
        1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2,
        1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0,
        1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0,
    ];
    let sample3d = vec![
        0, 0, 0, 0,  0, 3, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
        0, 0, 0, 0,  0, 3, 3, 0,  0, 0, 0, 0,  0, 0, 0, 0,
        0, 0, 0, 0,  0, 3, 0, 0,  0, 0, 0, 0,  0, 0, 5, 0,
        0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 5, 0,
    ];
    let sample3d_2 = vec![
        3, 3, 3, 3,  3, 3, 3, 3,  3, 3, 3, 3,  0, 3, 5, 0,
        3, 3, 3, 3,  3, 3, 3, 3,  3, 3, 3, 3,  0, 5, 5, 5,
        3, 3, 3, 3,  3, 3, 3, 3,  3, 3, 5, 5,  5, 5, 5, 5,
        3, 3, 3, 0,  3, 3, 3, 0,  3, 3, 5, 5,  5, 5, 5, 5,
    ];
    let sample3d_spacing = vec![
        0, 3, 0, 0,  3, 3, 3, 0,  0, 3, 0, 0,  0, 0, 0, 0,
        0, 3, 3, 0,  3, 3, 3, 3,  0, 3, 3, 0,  0, 0, 0, 0,
        0, 3, 0, 0,  3, 3, 3, 0,  0, 3, 5, 0,  0, 5, 5, 5,
        0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 5, 0,  0, 5, 5, 5,
    ];
    vec![
        Case { name: "SAMPLE1D", input: sample1d, expected: sample1d_3,
               spec: "expand_labels:distance=3", dims: (17, 1, 1) },
        Case { name: "SAMPLE2D 3", input: sample2d.clone(), expected: sample2d_3,
               spec: "expand_labels:distance=3", dims: (11, 10, 1) },
        Case { name: "SAMPLE2D 1.5", input: sample2d, expected: sample2d_1_5,
               spec: "expand_labels:distance=1.5", dims: (11, 10, 1) },
        Case { name: "EDGECASE1D", input: edge1d, expected: edge1d_3,
               spec: "expand_labels:distance=3", dims: (16, 1, 1) },
        Case { name: "EDGECASE2D", input: edge2d, expected: edge2d_4,
               spec: "expand_labels:distance=4", dims: (11, 5, 1) },
        Case { name: "SAMPLE3D", input: sample3d.clone(), expected: sample3d_2,
               spec: "expand_labels:distance=2", dims: (4, 4, 4) },
        Case { name: "SAMPLE3D spacing", input: sample3d, expected: sample3d_spacing,
               spec: "expand_labels:distance=1,spacing_z=2,spacing_y=1,spacing_x=1",
               dims: (4, 4, 4) },
    ]
}

#[test]
fn skimage_expand_labels_cases() {
    for (name, p) in processors("skimage_expand_labels_cases") {
        for case in skimage_cases() {
            let got = run(&p, &image_u16(&case.input, case.dims), case.spec);
            let want: Vec<u32> = case.expected.iter().map(|&v| u32::from(v)).collect();
            assert_eq!(values(&got), want, "{name} {}", case.name);
        }
        // test_edge_case_behaviour: equally near labels go by scipy's scan order, so
        // the transposed image expands otherwise; the values are scipy's.
        let edge = [0u16, 1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0];
        let transposed = [0u16, 2, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0];
        let a = values(&run(&p, &image_u16(&edge, (4, 3, 1)), "expand_labels"));
        let t = values(&run(
            &p,
            &image_u16(&transposed, (3, 4, 1)),
            "expand_labels",
        ));
        assert_eq!(a, [2, 1, 1, 0, 2, 2, 0, 0, 2, 3, 3, 0], "{name}");
        assert_eq!(t, [1, 2, 2, 1, 1, 3, 1, 0, 3, 0, 0, 0], "{name}");
        let t_back: Vec<u32> = (0..12).map(|i| t[(i % 4) * 3 + i / 4]).collect();
        assert_ne!(a, t_back, "{name}");
    }
}

/// The definition up to ties: a sample within `distance` of a label takes one of the
/// nearest labels; the rest are 0. Returns the nearest distance and labels per sample.
fn nearest_labels(v: &[u16], (w, h, _): (usize, usize, usize)) -> Vec<(f64, Vec<u16>)> {
    let at = |i: usize| ((i / (w * h)) as f64, ((i / w) % h) as f64, (i % w) as f64);
    let labelled: Vec<usize> = (0..v.len()).filter(|&i| v[i] != 0).collect();
    (0..v.len())
        .map(|i| {
            let p = at(i);
            let mut best = (f64::INFINITY, Vec::new());
            for &j in &labelled {
                let q = at(j);
                let dist = ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2) + (p.2 - q.2).powi(2)).sqrt();
                if dist < best.0 {
                    best = (dist, vec![v[j]]);
                } else if dist == best.0 {
                    best.1.push(v[j]);
                }
            }
            best
        })
        .collect()
}

#[test]
fn expand_labels_twin_takes_a_nearest_label() {
    let cpu = Processor::cpu();
    let mut ties = 0;
    for (k, dims) in shapes().into_iter().enumerate() {
        for (j, density) in [0.01, 0.05, 0.3, 1.0].into_iter().enumerate() {
            let v = random_labels(dims, density, (k * 10 + j + 50) as u64);
            let du = (dims.0 as usize, dims.1 as usize, dims.2 as usize);
            let near = nearest_labels(&v, du);
            for distance in [0.0, 1.0, 1.5, 4.0, 100.0] {
                let spec = format!("expand_labels:distance={distance}");
                let got = values(&run(&cpu, &image_u16(&v, dims), &spec));
                for (i, (g, (dist, labels))) in got.iter().zip(&near).enumerate() {
                    if *dist <= distance {
                        assert!(
                            labels.contains(&(*g as u16)),
                            "{dims:?} {spec} sample {i}: {g} not among {labels:?}"
                        );
                        ties += usize::from(labels.iter().any(|&l| l != labels[0]));
                    } else {
                        assert_eq!(*g, 0, "{dims:?} {spec} sample {i}");
                    }
                }
            }
        }
    }
    // Ties between different labels occur, so their resolution is exercised (its
    // values against scipy's are in the Python tests).
    assert!(ties > 100, "{ties} ties");
}

#[test]
fn expand_labels_gpu_equals_the_cpu_twin() {
    let Some(ctx) = gpu("expand_labels_gpu_equals_the_cpu_twin") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    let mut all = shapes();
    all.extend([(131, 97, 1), (40, 30, 9)]);
    for (k, dims) in all.into_iter().enumerate() {
        for (j, density) in [0.0, 0.02, 0.2].into_iter().enumerate() {
            let v = random_labels(dims, density, (k * 10 + j + 900) as u64);
            let image = image_u16(&v, dims);
            for spec in [
                "expand_labels",
                "expand_labels:distance=3.5",
                "expand_labels:distance=2,spacing_z=2,spacing_y=0.5,spacing_x=1",
            ] {
                let g = run(&gpu, &image, spec);
                let c = run(&cpu, &image, spec);
                assert_eq!(g, c, "{dims:?} density {density} {spec}");
            }
        }
    }
    // In a chain whose earlier results are downloaded too: the frame's recording is
    // submitted and read back for the twin, then goes on.
    let noise: Vec<u16> = (uniform(90 * 70, 3).into_iter())
        .map(|u| (u * 1000.0) as u16)
        .collect();
    let image = image_u16(&noise, (90, 70, 1));
    let ops: Vec<Op> = [
        "gaussian:sigma=1.5",
        "threshold:method=otsu",
        "label:connectivity=2",
        "expand_labels:distance=2",
        "clear_border",
    ]
    .iter()
    .map(|s| Op::parse(s).unwrap())
    .collect();
    let g = gpu.run(&image, &ops, OutputType::Same).unwrap().image;
    let c = cpu.run(&image, &ops, OutputType::Same).unwrap().image;
    assert_eq!(g, c);
    assert!(values(&c).iter().filter(|&&v| v != 0).count() > 100);
}

#[test]
fn expand_labels_refuses_tiled_frames() {
    let v = random_labels((61, 47, 1), 0.05, 3);
    let image = image_u16(&v, (61, 47, 1));
    for (name, p) in processors("expand_labels_refuses_tiled_frames") {
        let p = p.with_budget(Budget {
            max_tile: Some(16),
            ..Budget::default()
        });
        let err = (p.run(
            &image,
            &[Op::parse("expand_labels").unwrap()],
            OutputType::Same,
        ))
        .expect_err("tiled");
        assert!(
            matches!(&err, Error::WholeFrameOnly { op, .. } if op == "expand_labels"),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("memory budget"), "{err}");
    }
}
