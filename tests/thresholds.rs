//! The automatic thresholds (Li, triangle, Yen, isodata, mean, minimum) and the local
//! threshold on both backends: the GPU picks the same value and mask as the CPU twin,
//! tiles and bricks the same as the whole frame (the value reduced over every tile),
//! and scikit-image's own small cases give skimage's values. Parity with skimage on
//! real images is in python/tests/test_thresholds.py.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::ops::Threshold;
use imflow::{Image, Op, OutputType, Processor, SampleType, Samples};

const METHODS: [&str; 6] = ["li", "triangle", "yen", "isodata", "mean", "minimum"];

fn op(spec: &str) -> Op {
    Op::parse(spec).unwrap()
}

/// Two classes with noise (skimage's methods are meant for such images; `minimum` needs
/// two peaks in the histogram).
fn bimodal(w: u32, h: u32, d: u32, c: u32, t: SampleType, seed: u64) -> Image {
    let noise = if d == 1 {
        random_image(w, h, c, SampleType::F32, seed)
    } else {
        random_volume(w, h, d, c, SampleType::F32, seed)
    };
    let n = noise.to_f32_vec();
    let v: Vec<f32> = (0..n.len())
        .map(|i| {
            let p = i / c as usize;
            let (x, y) = (
                (p % w as usize) as f32,
                ((p / w as usize) % h as usize) as f32,
            );
            let fg = ((x / 7.0).sin() * (y / 5.0).cos()) > 0.2;
            let base = if fg { 0.7 } else { 0.25 };
            // noise is in [-100, 900): map to ±0.1
            (base + (n[i] - 400.0) / 5000.0).clamp(0.0, 1.0)
        })
        .collect();
    let samples = match t {
        SampleType::U8 => Samples::U8(v.iter().map(|&x| (x * 200.0) as u8).collect()),
        SampleType::U16 => Samples::U16(v.iter().map(|&x| (x * 50000.0) as u16).collect()),
        _ => Samples::F32(v.iter().map(|&x| x * 900.0 - 50.0).collect()),
    };
    let shape = imflow::Shape::volume(w, h, d, c).unwrap();
    Image::with_shape(shape, samples).unwrap()
}

fn images() -> Vec<(String, Image)> {
    let mut out = Vec::new();
    for &(w, h, d, c) in &[(40u32, 33u32, 1u32, 1u32), (61, 47, 1, 3), (23, 17, 9, 1)] {
        for t in [SampleType::U8, SampleType::U16, SampleType::F32] {
            out.push((
                format!("{w}x{h}x{d}x{c} {t}"),
                bimodal(w, h, d, c, t, u64::from(w + d)),
            ));
        }
    }
    out
}

fn chains() -> Vec<Vec<Op>> {
    let mut out: Vec<Vec<Op>> = METHODS
        .iter()
        .map(|m| vec![op(&format!("threshold:method={m}"))])
        .collect();
    // On a filter's float output; and the local threshold.
    out.push(vec![op("gaussian:sigma=1"), op("threshold:method=li")]);
    out.push(vec![op("box:size=3"), op("threshold:method=mean")]);
    out.push(vec![op("threshold:method=local,block=7,offset=3")]);
    out.push(vec![op("threshold:method=local,block=31")]);
    out
}

/// The local threshold compares each sample with a gaussian, which the GPU computes
/// within rounding of the twin (not bit for bit in 3-D): the masks may differ only where
/// a sample lies within that rounding of its threshold.
fn local_near_ties_only(
    cpu: &Processor,
    image: &Image,
    block: u32,
    offset: f64,
    a: &Image,
    b: &Image,
) {
    let g = Op::Gaussian(Threshold::local_gaussian(block, image.shape().depth));
    let blur = cpu
        .run(image, &[g], OutputType::Exactly(SampleType::F32))
        .unwrap()
        .image
        .to_f32_vec();
    let x = image.to_f32_vec();
    let tol = 1e-5 * range(&x);
    let (a, b) = (a.to_f32_vec(), b.to_f32_vec());
    let mut differ = 0;
    for i in 0..x.len() {
        if a[i] != b[i] {
            differ += 1;
            let margin = (x[i] - (blur[i] - offset as f32)).abs();
            assert!(
                margin <= tol,
                "sample {i}: masks differ {margin} from the threshold"
            );
        }
    }
    assert!(
        differ * 1000 <= x.len(),
        "{differ} of {} samples differ",
        x.len()
    );
}

#[test]
fn gpu_equals_the_cpu_twin() {
    let Some(ctx) = gpu("gpu_equals_the_cpu_twin") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    for (what, image) in images() {
        for mut chain in chains() {
            // A filter before the threshold runs on the CPU for both: the GPU's gaussian
            // is within rounding of the twin's, not bit for bit, and the threshold is
            // what is compared here (on float data, as in a pipeline).
            let image = match chain.len() {
                2 => {
                    let f = cpu.run(&image, &chain[..1], OutputType::Exactly(SampleType::F32));
                    chain.remove(0);
                    f.unwrap().image
                }
                _ => image.clone(),
            };
            let p = cpu.run(&image, &chain, OutputType::Same);
            let g = gpu.run(&image, &chain, OutputType::Same);
            match (p, g) {
                (Ok(p), Ok(g)) => {
                    assert_eq!(p.thresholds, g.thresholds, "{what} {chain:?}");
                    if let Op::Threshold(Threshold::Local { block, offset }) = chain[0] {
                        local_near_ties_only(&cpu, &image, block, offset, &p.image, &g.image);
                    } else {
                        assert!(p.image == g.image, "{what} {chain:?}: masks differ");
                    }
                }
                (Err(p), Err(g)) => assert_eq!(p.to_string(), g.to_string(), "{what}"),
                (p, g) => panic!("{what} {chain:?}: cpu {:?}, gpu {:?}", p.err(), g.err()),
            }
        }
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
    for (what, image) in images() {
        for (tile, resident) in [(16, None), (5, Some(0))] {
            let p = make(tile, resident);
            for chain in chains() {
                let what = format!("{what} tile {tile} {chain:?}");
                assert!(
                    p.tiling(image.shape(), &chain)
                        .map_or(true, |t| !t.is_whole()),
                    "{what}: not tiled"
                );
                let a = whole.run(&image, &chain, OutputType::Same);
                let b = p.run(&image, &chain, OutputType::Same);
                match (a, b) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.thresholds, b.thresholds, "{what}");
                        assert!(a.image == b.image, "{what}: tiled differs");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
                    (a, b) => panic!("{what}: whole {:?}, tiled {:?}", a.err(), b.err()),
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

/// scikit-image's `TestSimpleImage` (filters/tests/test_thresholding.py), with its
/// expected values, on both backends (int16 for skimage's int64).
#[test]
fn skimage_simple_image_cases() {
    let simple: Vec<i16> = vec![
        0, 0, 1, 3, 5, 0, 1, 4, 3, 4, 1, 2, 5, 4, 1, 2, 4, 5, 2, 1, 4, 5, 1, 0, 0,
    ];
    let image = |v: &[i16]| Image::gray(5, 5, Samples::I16(v.to_vec())).unwrap();
    let minus2: Vec<i16> = simple.iter().map(|x| x - 2).collect();
    let float = Image::gray(
        5,
        5,
        Samples::F32(simple.iter().map(|&x| f32::from(x)).collect()),
    )
    .unwrap();
    let mut backends = vec![Processor::cpu()];
    if let Some(ctx) = gpu("skimage_simple_image_cases") {
        backends.push(Processor::gpu(ctx));
    }
    for p in &backends {
        let t = |image: &Image, m: &str| {
            p.run(
                image,
                &[op(&format!("threshold:method={m}"))],
                OutputType::Same,
            )
            .map(|r| r.thresholds[0])
        };
        let err = t(&image(&simple), "minimum").unwrap_err().to_string();
        assert!(err.contains("two peaks"), "{err}");
        let li = t(&image(&simple), "li").unwrap();
        assert!(2.0 < li && li < 3.0, "{li}");
        let li = t(&image(&minus2), "li").unwrap();
        assert!(0.0 < li && li < 1.0, "{li}");
        let li = t(&float, "li").unwrap();
        assert!(2.0 < li && li < 3.0, "{li}");
        assert_eq!(t(&image(&simple), "yen").unwrap(), 2.0);
        assert_eq!(t(&image(&minus2), "yen").unwrap(), 0.0);
        let yen = t(&float, "yen").unwrap();
        assert!((2.0..3.0).contains(&yen), "{yen}");
        assert_eq!(t(&image(&simple), "isodata").unwrap(), 2.0);
        let arange = Image::gray(16, 16, Samples::U16((0..256).collect())).unwrap();
        assert_eq!(t(&arange, "yen").unwrap(), 127.0);
        let zeros = Image::gray(5, 5, Samples::U8(vec![0; 25])).unwrap();
        assert_eq!(t(&zeros, "yen").unwrap(), 0.0);
        assert_eq!(t(&zeros, "isodata").unwrap(), 0.0);
        let full = Image::gray(5, 5, Samples::U8(vec![255; 25])).unwrap();
        assert_eq!(t(&full, "yen").unwrap(), 255.0);
        let mut mean = vec![0f32; 12];
        for r in 0..2 {
            mean[r * 6 + 2..r * 6 + 4].fill(1.0);
            mean[r * 6 + 4..r * 6 + 6].fill(2.0);
        }
        let mean = Image::gray(6, 2, Samples::F32(mean)).unwrap();
        assert_eq!(t(&mean, "mean").unwrap(), 1.0);
        // test_threshold_minimum_synthetic
        let mut synth: Vec<u8> = (0..625u32).map(|i| i as u8).collect();
        synth[..9 * 25].fill(50);
        synth[14 * 25..].fill(250);
        let synth = Image::gray(25, 25, Samples::U8(synth)).unwrap();
        assert_eq!(t(&synth, "minimum").unwrap(), 95.0);
        for v in [0u8, 1, 2] {
            let u = Image::gray(10, 10, Samples::U8(vec![v; 100])).unwrap();
            assert_eq!(t(&u, "triangle").unwrap(), f64::from(v));
        }
    }
}

/// skimage's `test_threshold_local_gaussian`: block 3 on the simple image.
#[test]
fn skimage_local_gaussian_case() {
    let simple: Vec<u8> = vec![
        0, 0, 1, 3, 5, 0, 1, 4, 3, 4, 1, 2, 5, 4, 1, 2, 4, 5, 2, 1, 4, 5, 1, 0, 0,
    ];
    let want: Vec<u8> = [
        0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0,
    ]
    .iter()
    .map(|&b| b * 255)
    .collect();
    let image = Image::gray(5, 5, Samples::U8(simple)).unwrap();
    let mut backends = vec![Processor::cpu()];
    if let Some(ctx) = gpu("skimage_local_gaussian_case") {
        backends.push(Processor::gpu(ctx));
    }
    for p in &backends {
        let r = p
            .run(
                &image,
                &[op("threshold:method=local,block=3")],
                OutputType::Same,
            )
            .unwrap();
        assert_eq!(r.image.samples(), &Samples::U8(want.clone()));
        assert!(
            r.thresholds.is_empty(),
            "a local threshold has no one value"
        );
    }
}

#[test]
fn bad_methods_and_blocks_are_refused_by_name() {
    for (spec, needle) in [
        ("threshold:method=bogus", "unknown method `bogus`"),
        ("threshold:method=local", "block"),
        ("threshold:method=local,block=4", "odd"),
        ("threshold:method=local,block=1", "odd"),
        ("threshold:method=li,block=3", "only method=local"),
        ("threshold:method=li,value=3", "not allowed with method=li"),
        ("threshold:method=local,block=5,offset=nan", "offset"),
    ] {
        let e = Op::parse(spec).and_then(|o| o.validate().map(|_| o));
        let msg = e.expect_err(spec).to_string();
        assert!(msg.contains(needle), "{spec}: {msg}");
    }
    let labels = Image::gray(4, 4, Samples::U32(vec![1; 16])).unwrap();
    let e = Processor::cpu()
        .run(&labels, &[op("threshold:method=li")], OutputType::Same)
        .unwrap_err()
        .to_string();
    assert!(e.contains("li on untouched u32"), "{e}");
}
