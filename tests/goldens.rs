//! Both backends against the scipy / scikit-image goldens of tests/goldens/generate.py.
//!
//! Tolerances are DESIGN.md's contract: filters within 1e-4 of the input's range; Otsu
//! identical on integer data, within one bin on float data (here the CPU twin is held to
//! identical there too, since it replays numpy's f32 arithmetic). `int=scipy` outputs
//! are scipy's integer arrays and must be identical, bit for bit.

mod common;
use common::*;
use imflow::{Op, OutputType, Processor, SampleType};

fn check_all(p: &Processor, backend: &str, exact_float_otsu: bool) {
    let m = manifest();
    // What was compared, counted where the comparison happens: a case that compares
    // nothing, or a manifest that lost its cases, fails here.
    let (mut thresholds, mut outputs, mut exact) = (0, 0, 0);
    for case in &m.cases {
        let input = load_input(&m, &case.input);
        let mut ops = vec![Op::parse(&case.op).unwrap()];
        if let Some(then) = &case.then {
            ops.push(Op::parse(then).unwrap());
        }
        let what = format!(
            "[{backend}] {} | {}{}",
            case.input,
            case.op,
            case.then
                .as_deref()
                .map(|t| format!(" | {t}"))
                .unwrap_or_default()
        );
        if let (Some(dtype), Some(file)) = (&case.output_dtype, &case.output) {
            let t: SampleType = dtype.parse().unwrap();
            let out = p
                .run(&input, &ops, OutputType::Exactly(t))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let (got, gold) = (out.image.samples().as_le_bytes(), read_bin(file));
            let differ = (got.chunks(t.size()).zip(gold.chunks(t.size())))
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(got.len(), gold.len(), "{what}: size");
            assert_eq!(differ, 0, "{what}: {differ} samples differ from scipy's");
            if let Some(t_gold) = case.threshold {
                assert_eq!(*out.thresholds.last().unwrap(), t_gold, "{what}: Otsu");
                thresholds += 1;
            }
            exact += 1;
            continue;
        }
        let out = p
            .run(&input, &ops, OutputType::Exactly(SampleType::F32))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = f32_samples(&out.image);
        let is_threshold = matches!(ops.last(), Some(Op::Threshold(_)));
        assert!(
            case.threshold.is_some() || case.output.is_some(),
            "{what}: the case compares nothing"
        );
        if let Some(t_gold) = case.threshold {
            thresholds += 1;
            let t = *out.thresholds.last().unwrap();
            // Exact where Otsu sees numpy's very input (a single op); after a filter our
            // f32 output differs from scipy's in the last bits, which moves the bins.
            let integer = input.sample_type().is_integer();
            let f32_input = input.sample_type() == SampleType::F32;
            if ops.len() == 1 && (integer || (f32_input && exact_float_otsu)) {
                assert_eq!(t, t_gold, "{what}: Otsu threshold");
            } else {
                // Within one of the 256 bins of the thresholded data's range.
                let pre = p
                    .run(
                        &input,
                        &ops[..ops.len() - 1],
                        OutputType::Exactly(SampleType::F32),
                    )
                    .unwrap();
                let bin = range(&f32_samples(&pre.image)) / 256.0;
                assert!(
                    (t - t_gold).abs() <= f64::from(bin),
                    "{what}: Otsu {t} vs {t_gold} (bin {bin})"
                );
            }
        }
        if let Some(file) = &case.output {
            outputs += 1;
            let gold: Vec<f32> = if is_threshold && case.then.is_some() {
                read_bin(file).iter().map(|&b| f32::from(b)).collect()
            } else {
                read_f32(file)
            };
            if is_threshold {
                let differ = got.iter().zip(&gold).filter(|(a, b)| a != b).count();
                eprintln!("{what}: {differ} of {} mask pixels differ", gold.len());
                assert_eq!(differ, 0, "{what}: {differ} mask pixels differ");
            } else {
                let tol = 1e-4 * range(&input.to_f32_vec());
                let err = max_abs_diff(&got, &gold);
                assert!(err <= tol, "{what}: max |err| {err} > {tol}");
            }
        }
    }
    assert!(
        thresholds >= 14 && outputs >= 70 && exact >= 30,
        "{thresholds} thresholds, {outputs} outputs and {exact} exact outputs compared: \
         goldens went missing"
    );
}

#[test]
fn cpu_twins_match_scipy_and_skimage() {
    check_all(&Processor::cpu(), "cpu", true);
}

#[test]
fn gpu_kernels_match_scipy_and_skimage() {
    let Some(ctx) = gpu("gpu_kernels_match_scipy_and_skimage") else {
        return;
    };
    let exact = ctx.adapter().shader_f64;
    check_all(&Processor::gpu(ctx), "gpu", exact);
}
