//! Volumes (z-stacks, (Z, Y, X[, C])) on both backends: the GPU equals the CPU twin on
//! every 3-D op (filters within 1e-5 of the range, masks and labels exactly), and bricks
//! forced by a small tile give what the whole volume gives, bit for bit, including
//! halos larger than a brick and volumes one slice deep or one voxel wide. Parity with
//! scipy and scikit-image on the 3-D arrays is in python/tests/test_volumes.py.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::{Image, Op, OutputType, Processor, SampleType};

fn ops(specs: &[&str]) -> Vec<Op> {
    specs.iter().map(|s| Op::parse(s).unwrap()).collect()
}

/// Every 3-D op and the microscopy chain, with masks of several densities.
fn chains() -> Vec<Vec<Op>> {
    [
        &["gaussian:sigma=1.5"][..],
        &["gaussian:sigma_z=2,sigma_y=1,sigma_x=0.5"],
        &["gaussian:sigma_z=0,sigma_y=1,sigma_x=1"],
        &["gaussian:sigma_z=3,sigma_y=0,sigma_x=0"],
        &["gaussian:sigma=6"],
        &["box:size=3"],
        &["box:size_z=5,size_y=1,size_x=3"],
        &["box:size=4"],
        &["threshold:method=otsu"],
        &["threshold:value=40", "label:connectivity=1"],
        &["threshold:value=128", "label:connectivity=2"],
        &["threshold:value=200", "label:connectivity=3"],
        &["threshold:value=128", "label:connectivity=3"],
        &[
            "threshold:value=128",
            "remove_small_objects:min_size=5,connectivity=3",
        ],
        &[
            "gaussian:sigma_z=1,sigma_y=2,sigma_x=2",
            "threshold:method=otsu",
            "label:connectivity=1",
        ],
        &[
            "gaussian:sigma=1",
            "threshold:method=otsu",
            "remove_small_objects:min_size=10",
            "label:connectivity=3",
        ],
    ]
    .iter()
    .map(|s| ops(s))
    .collect()
}

/// Shapes (w, h, d): one voxel, one slice, one column, odd sizes.
const SHAPES: [(u32, u32, u32); 5] = [(1, 1, 1), (17, 13, 1), (1, 1, 9), (3, 1, 11), (23, 19, 7)];

fn spec(chain: &[Op]) -> Vec<String> {
    chain.iter().map(|o| o.to_string()).collect()
}

#[test]
fn gpu_equals_the_cpu_twin_on_volumes() {
    let Some(ctx) = gpu("gpu_equals_the_cpu_twin_on_volumes") else {
        return;
    };
    let (gpu, cpu) = (Processor::gpu(ctx), Processor::cpu());
    for (k, &(w, h, d)) in SHAPES.iter().enumerate() {
        for (c, t) in [
            (1, SampleType::U8),
            (1, SampleType::U16),
            (3, SampleType::F32),
        ] {
            let image = random_volume(w, h, d, c, t, 40 + k as u64);
            let basis = range(&image.to_f32_vec()).max(1.0);
            for chain in chains() {
                let what = format!("{w}x{h}x{d}x{c} {t} {:?}", spec(&chain));
                let out = OutputType::Exactly(SampleType::F32);
                let g = gpu.run(&image, &chain, out).unwrap();
                let p = cpu.run(&image, &chain, out).unwrap();
                assert_eq!(g.image.shape(), image.shape(), "{what}");
                let filter = matches!(chain.last(), Some(Op::Gaussian(_) | Op::Box(_)));
                if filter {
                    let err = max_abs_diff(&g.image.to_f32_vec(), &p.image.to_f32_vec());
                    assert!(err <= 1e-5 * basis, "{what}: {err} of {basis}");
                } else {
                    // A threshold after a filter is taken from values the backends
                    // round alike only within an ulp or so (lavapipe's fma).
                    let close = (g.thresholds.iter().zip(&p.thresholds))
                        .all(|(a, b)| (a - b).abs() <= 1e-5 * f64::from(basis));
                    assert!(close, "{what}: {:?} vs {:?}", g.thresholds, p.thresholds);
                    assert_eq!(g.image, p.image, "{what}");
                }
            }
        }
    }
}

/// The filters act along z as they do along y: a volume transposed so that z becomes y
/// gives the same values (on the CPU, whose passes along y and z share their loops).
#[test]
fn z_is_filtered_as_y_is() {
    let (w, h, d) = (5u32, 1u32, 31u32);
    let v = random_volume(w, h, d, 1, SampleType::F32, 5);
    // The same samples as a 2-D image of d rows: row z of it is slice z of the volume.
    let flat = Image::gray(w, d, v.samples().clone()).unwrap();
    let p = Processor::cpu();
    for (on_volume, on_image) in [
        (
            "gaussian:sigma_z=2.5,sigma_y=0,sigma_x=0",
            "gaussian:sigma_y=2.5,sigma_x=0",
        ),
        ("box:size_z=7,size_y=1,size_x=1", "box:size_y=7,size_x=1"),
    ] {
        let a = p.run(&v, &ops(&[on_volume]), OutputType::Same).unwrap();
        let b = p.run(&flat, &ops(&[on_image]), OutputType::Same).unwrap();
        let err = max_abs_diff(&a.image.to_f32_vec(), &b.image.to_f32_vec());
        assert!(err <= 1e-5 * range(&v.to_f32_vec()), "{on_volume}: {err}");
    }
}

fn bricked(p: Processor, tile: u32, resident: Option<u64>) -> Processor {
    p.with_budget(Budget {
        max_tile: Some(tile),
        resident,
        ..Budget::default()
    })
}

fn bricks_agree(whole: &Processor, make: &dyn Fn(u32, Option<u64>) -> Processor, backend: &str) {
    for (k, &(w, h, d)) in SHAPES.iter().enumerate().skip(1) {
        for (c, t) in [(1, SampleType::U16), (3, SampleType::F32)] {
            let image = random_volume(w, h, d, c, t, 70 + k as u64);
            // Bricks of 4 (the halo of sigma 6, 24 voxels, spans several), of 3 with
            // every pass recomputing its input.
            for (tile, resident) in [(4, None), (3, Some(0))] {
                let bricked = make(tile, resident);
                for chain in chains() {
                    let what = format!(
                        "{backend} {w}x{h}x{d}x{c} {t} tile {tile} {:?}",
                        spec(&chain)
                    );
                    let tiling = bricked.tiling(image.shape(), &chain).unwrap();
                    assert!(!tiling.is_whole(), "{what}: not bricked");
                    for out in [OutputType::Exactly(SampleType::F32), OutputType::Same] {
                        let a = whole.run(&image, &chain, out).unwrap();
                        let b = bricked.run(&image, &chain, out).unwrap();
                        assert_eq!(a.thresholds, b.thresholds, "{what}: thresholds");
                        if a.image != b.image {
                            let (x, y) = (a.image.to_f32_vec(), b.image.to_f32_vec());
                            let first = x
                                .iter()
                                .zip(&y)
                                .position(|(p, q)| p.to_bits() != q.to_bits());
                            panic!("{what} {out:?}: bricks differ first at sample {first:?}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn bricks_equal_whole_volumes_on_the_cpu() {
    bricks_agree(
        &Processor::cpu(),
        &|tile, resident| bricked(Processor::cpu(), tile, resident),
        "cpu",
    );
}

#[test]
fn bricks_equal_whole_volumes_on_the_gpu() {
    let Some(ctx) = gpu("bricks_equal_whole_volumes_on_the_gpu") else {
        return;
    };
    let whole = Processor::gpu(ctx.clone());
    bricks_agree(
        &whole,
        &|tile, resident| bricked(Processor::gpu(ctx.clone()), tile, resident),
        "gpu",
    );
}

/// Labels number components in (z, y, x) raster order of their first voxel, and join
/// voxels as `generate_binary_structure(3, c)` does: faces (c = 1), edges (c = 2),
/// corners (c = 3). A column across slices is one object in 3-D but one per slice when
/// the same pages are frames of a stack.
#[test]
fn labels_join_across_slices() {
    let p = Processor::cpu();
    let shape = imflow::Shape::volume(3, 3, 2, 1).unwrap();
    let label = |set: &[usize], c: u8| -> Vec<u32> {
        let mut m = vec![0u8; 18];
        for &i in set {
            m[i] = 255;
        }
        let v = Image::with_shape(shape, imflow::Samples::U8(m)).unwrap();
        let spec = format!("label:connectivity={c}");
        let out = p
            .run(&v, &ops(&[&spec]), OutputType::Exactly(SampleType::U32))
            .unwrap();
        match out.image.into_samples() {
            imflow::Samples::U32(l) => set.iter().map(|&i| l[i]).collect(),
            _ => unreachable!(),
        }
    };
    // (z, y, x) -> index z*9 + y*3 + x.
    let at = |z: usize, y: usize, x: usize| z * 9 + y * 3 + x;
    // A column through both slices: one object for every connectivity.
    for c in 1..=3 {
        assert_eq!(
            label(&[at(0, 1, 1), at(1, 1, 1)], c),
            [1, 1],
            "column c={c}"
        );
    }
    // Across slices along an edge: (0,0,0)-(1,0,1) joins from c = 2 on.
    let edge = [at(0, 0, 0), at(1, 0, 1)];
    assert_eq!(label(&edge, 1), [1, 2]);
    assert_eq!(label(&edge, 2), [1, 1]);
    // Across slices at a corner: (0,0,0)-(1,1,1) joins at c = 3 only.
    let corner = [at(0, 0, 0), at(1, 1, 1)];
    assert_eq!(label(&corner, 2), [1, 2]);
    assert_eq!(label(&corner, 3), [1, 1]);
    // Numbering: first voxel in (z, y, x) order. (1,0,0) comes after (0,2,2).
    assert_eq!(label(&[at(1, 0, 0), at(0, 2, 2)], 1), [2, 1]);
    // As a stack of 2-D frames, a column is one object per frame.
    let mut m = vec![0u8; 18];
    (m[at(0, 1, 1)], m[at(1, 1, 1)]) = (255, 255);
    let v = Image::with_shape(shape, imflow::Samples::U8(m)).unwrap();
    let stack = p
        .run_stack(
            &imflow::io::Stack::of(v.slices()),
            &ops(&["label:connectivity=1"]),
            OutputType::Exactly(SampleType::U32),
        )
        .unwrap()
        .0;
    assert_eq!(stack.frames.len(), 2);
    let one = imflow::Samples::U32(vec![0, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert!(stack.frames.iter().all(|f| f.samples() == &one));
}
