//! Parameters that skip the parser (struct literals, deserialised flows) are checked
//! again where they run: typed errors on both backends, never a panic.

mod common;
use common::*;
use imflow::{BoxBlur, Error, Gaussian, IntMode, Op, OutputType, Processor, SampleType, Threshold};

fn bad_ops() -> Vec<Op> {
    vec![
        Op::Gaussian(Gaussian {
            sigma_z: 0.0,
            sigma_x: f64::NAN,
            sigma_y: 1.0,
            truncate: 4.0,
            int: IntMode::Round,
            order: [0; 3],
            boundary: Default::default(),
        }),
        Op::Gaussian(Gaussian {
            sigma_z: 0.0,
            sigma_x: 0.0,
            sigma_y: 0.0,
            truncate: 4.0,
            int: IntMode::Round,
            order: [0; 3],
            boundary: Default::default(),
        }),
        Op::Gaussian(Gaussian {
            sigma_z: 0.0,
            sigma_x: 1.0,
            sigma_y: -1.0,
            truncate: 4.0,
            int: IntMode::Round,
            order: [0; 3],
            boundary: Default::default(),
        }),
        Op::Gaussian(Gaussian {
            sigma_z: 0.0,
            sigma_x: 1.0,
            sigma_y: 1.0,
            truncate: f64::INFINITY,
            int: IntMode::Round,
            order: [0; 3],
            boundary: Default::default(),
        }),
        Op::Gaussian(Gaussian {
            sigma_z: -2.0,
            sigma_x: 1.0,
            sigma_y: 1.0,
            truncate: 4.0,
            int: IntMode::Round,
            order: [0; 3],
            boundary: Default::default(),
        }),
        Op::Box(BoxBlur {
            size: [0; 3],
            int: IntMode::Round,
            boundary: Default::default(),
        }),
        Op::Box(BoxBlur {
            size: [3, 0, 3],
            int: IntMode::Round,
            boundary: Default::default(),
        }),
        Op::Threshold(Threshold::Value { value: f64::NAN }),
        // A boundary's value must be finite, and only constant takes one.
        Op::Box(BoxBlur {
            size: [1, 3, 3],
            int: IntMode::Round,
            boundary: imflow::ops::Boundary::constant(f64::NAN),
        }),
        Op::Box(BoxBlur {
            size: [1, 3, 3],
            int: IntMode::Round,
            boundary: imflow::ops::Boundary {
                mode: imflow::ops::Modes([imflow::ops::Mode::Wrap; 3]),
                cval: 2.0,
            },
        }),
    ]
}

fn check(p: &Processor) {
    let image = random_image(8, 8, 1, SampleType::U16, 1);
    for op in bad_ops() {
        let err = p
            .run(&image, std::slice::from_ref(&op), OutputType::Same)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidParam { .. }), "{op:?}: {err}");
    }
}

#[test]
fn cpu_rejects_bad_params() {
    check(&Processor::cpu());
}

#[test]
fn gpu_rejects_bad_params() {
    let Some(ctx) = gpu("gpu_rejects_bad_params") else {
        return;
    };
    check(&Processor::gpu(ctx.clone()));
    let image = ctx
        .upload(&random_image(8, 8, 1, SampleType::U8, 1))
        .unwrap();
    assert!(ctx
        .gaussian(
            &image,
            &Gaussian {
                sigma_z: 0.0,
                sigma_x: -1.0,
                sigma_y: 1.0,
                truncate: 4.0,
                int: IntMode::Round,
                order: [0; 3],
                boundary: Default::default(),
            }
        )
        .is_err());
    assert!(ctx
        .box_blur(
            &image,
            &BoxBlur {
                size: [0; 3],
                int: IntMode::Round,
                boundary: Default::default(),
            }
        )
        .is_err());
}

#[test]
fn constant_and_tiny_images_are_fine() {
    let gpu_p = gpu("constant_and_tiny_images_are_fine").map(Processor::gpu);
    let cpu_p = Processor::cpu();
    for p in std::iter::once(&cpu_p).chain(gpu_p.as_ref()) {
        for (w, h) in [(1, 1), (2, 1), (1, 2)] {
            let flat = imflow::Image::gray(w, h, imflow::Samples::U16(vec![700; (w * h) as usize]))
                .unwrap();
            let out = p
                .run(
                    &flat,
                    &[Op::parse("threshold:method=otsu").unwrap()],
                    OutputType::Same,
                )
                .unwrap();
            // skimage returns the single value; nothing is strictly above it.
            assert_eq!(out.thresholds, vec![700.0]);
            assert!(out.image.to_f32_vec().iter().all(|&v| v == 0.0));
            let out = p
                .run(
                    &flat,
                    &[
                        Op::parse("gaussian:sigma=3").unwrap(),
                        Op::parse("box:size=7").unwrap(),
                    ],
                    OutputType::Same,
                )
                .unwrap();
            assert!(out.image.to_f32_vec().iter().all(|&v| v == 700.0));
        }
    }
}
