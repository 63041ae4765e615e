//! The `imflow` binary, driven as a user would.

mod common;
use common::*;
use imflow::{io, SampleType, Samples};
use std::path::Path;

/// Acceptance: gaussian(sigma=2) then Otsu on a u16 TIFF writes the mask scipy's
/// gaussian_filter + skimage's threshold_otsu give (tests/goldens/generate.py).
fn apply_matches_scipy_skimage(backend: &str, ext: &str) {
    let m = manifest();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("mask.{ext}"));
    let input = goldens_dir().join(&m.apply.file);
    let mut args = vec![
        "apply",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--backend",
        backend,
    ];
    for op in &m.apply.ops {
        args.extend(["--op", op]);
    }
    let o = imflow(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let mask = io::load(&out).unwrap();
    assert_eq!(
        (mask.width(), mask.height(), mask.sample_type()),
        (m.apply.width, m.apply.height, SampleType::U8)
    );
    let Samples::U8(got) = mask.samples() else {
        unreachable!()
    };
    let gold = read_bin(&m.apply.mask);
    let differ = got.iter().zip(&gold).filter(|(a, b)| a != b).count();
    assert_eq!(
        differ, 0,
        "{backend} {ext}: {differ} pixels differ from scipy+skimage"
    );
    assert!(
        stderr(&o).contains(&format!("threshold {}", m.apply.threshold)),
        "{}",
        stderr(&o)
    );
}

#[test]
fn apply_gaussian_otsu_matches_scipy_skimage_on_cpu() {
    apply_matches_scipy_skimage("cpu", "tif");
    apply_matches_scipy_skimage("cpu", "png");
}

#[test]
fn apply_gaussian_otsu_matches_scipy_skimage_on_gpu() {
    if gpu("apply_gaussian_otsu_matches_scipy_skimage_on_gpu").is_none() {
        return;
    }
    apply_matches_scipy_skimage("gpu", "tif");
    apply_matches_scipy_skimage("gpu", "png");
}

#[test]
fn f32_results_write_as_f32_tiff() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.tif");
    let input = goldens_dir().join("nuclei_u16.tif");
    let o = imflow(&[
        "apply",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--op",
        "gaussian:sigma=1.5",
        "--dtype",
        "f32",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = io::load(&out).unwrap();
    assert_eq!(img.sample_type(), SampleType::F32);
    // Fractional values survive: this is not a u16 result stored as float.
    assert!(img.to_f32_vec().iter().any(|v| v.fract() != 0.0));
}

fn expect_failure(args: &[&str], code: i32, needles: &[&str]) {
    let o = imflow(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{err}` lacks `{n}`");
    }
}

#[test]
fn apply_help_lists_every_op() {
    let o = imflow(&["apply", "--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for op in [
        "gaussian:",
        "box:",
        "median:",
        "threshold:value",
        "threshold:method=otsu|li|triangle|yen|isodata|mean|minimum",
        "threshold:method=local,block=",
        "label",
        "remove_small_objects:",
        "erode:",
        "dilate:",
        "open:",
        "close:",
        "tophat:",
        "blackhat:",
        "dog:",
        "log:",
        "gradient:",
        "distance",
        "fill_holes",
        "clear_border",
        "remove_small_holes",
        "expand_labels",
    ] {
        assert!(
            help.contains(op),
            "`imflow apply --help` lacks {op}:\n{help}"
        );
    }
}

#[test]
fn bad_parameters_are_usage_errors_naming_the_problem() {
    let input = goldens_dir().join("nuclei_u16.tif");
    let i = input.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("gaussian:sigma=0", &["gaussian", "sigma", "got 0"]),
        ("gaussian:sigma=-2", &["sigma", "-2"]),
        ("gaussian:sigma=nan", &["sigma", "NaN"]),
        ("box:size=0", &["box", "size"]),
        ("sobel:size=3", &["unknown op `sobel`"]),
        ("median:size=0", &["median", "size"]),
        (
            "erode:footprint=hexagon,radius=1",
            &["unknown footprint `hexagon`"],
        ),
        ("threshold:method=magic", &["unknown method `magic`"]),
    ];
    for (spec, needles) in cases {
        expect_failure(
            &["apply", i, "/tmp/never-written.tif", "--op", spec],
            2,
            needles,
        );
    }
    assert!(!Path::new("/tmp/never-written.tif").exists());
    expect_failure(
        &["apply", i, "/tmp/x.xcf", "--op", "box:size=3"],
        2,
        &["unknown output extension `xcf`"],
    );
    expect_failure(
        &[
            "apply",
            i,
            "/tmp/x.tif",
            "--op",
            "box:size=3",
            "--dtype",
            "u64",
        ],
        2,
        &["u64"],
    );
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = std::fs::read(goldens_dir().join("nuclei_u16.tif")).unwrap();
    std::fs::write(d.join("truncated.tif"), &good[..good.len() / 3]).unwrap();
    std::fs::write(d.join("notes.tif"), "this is not an image\n").unwrap();
    std::fs::write(d.join("empty.png"), b"").unwrap();
    let png = io::encode(&random_image(4, 4, 3, SampleType::U8, 1), io::Format::Png).unwrap();
    std::fs::write(d.join("truncated.png"), &png[..png.len() / 2]).unwrap();
    let out = d.join("out.tif");
    let o = out.to_str().unwrap();
    for (name, needle) in [
        ("truncated.tif", "truncated.tif"),
        ("notes.tif", "not a recognised image format"),
        ("empty.png", "empty file (0 bytes)"),
        ("truncated.png", "truncated.png"),
        ("missing.tif", "No such file"),
    ] {
        let p = d.join(name);
        expect_failure(
            &[
                "apply",
                p.to_str().unwrap(),
                o,
                "--op",
                "box:size=3",
                "--backend",
                "cpu",
            ],
            1,
            &[name, needle],
        );
    }
    assert!(!out.exists(), "no output for a failed input");
}

#[test]
fn info_lists_adapters_or_says_how_to_get_one() {
    let o = imflow(&["info", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v.as_array().unwrap();
    if gpu("info_lists_adapters_or_says_how_to_get_one").is_some() {
        assert!(!list.is_empty());
        assert!(list[0]["max_storage_buffer_binding_size"].as_u64().unwrap() > 0);
    }
    let o = imflow(&["info"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("CPU backend"));
    assert!(list.is_empty() == text.contains("mesa-vulkan-drivers"));
}

/// `imflow apply` fills a mask's holes and measures distances, written as f32 with
/// `--dtype f32`, equal to the library's CPU twin; a frame the memory budget would tile
/// is refused with the op and the budget named.
#[test]
fn apply_fill_holes_then_distance() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (300u32, 200u32);
    let mask: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let ring = (x as i32 - 150).pow(2) + (y as i32 - 100).pow(2);
            u8::from((900..2500).contains(&ring) || (x * 7 + y * 3) % 11 == 0) * 255
        })
        .collect();
    let image = imflow::Image::new(w, h, 1, Samples::U8(mask)).unwrap();
    let input = dir.path().join("mask.png");
    io::save(&image, &input).unwrap();
    let out = dir.path().join("dist.tif");
    let args = [
        "apply",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--op",
        "fill_holes",
        "--op",
        "distance",
        "--dtype",
        "f32",
        "--backend",
        "cpu",
    ];
    let o = imflow(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = io::load(&out).unwrap();
    let ops = [
        imflow::Op::FillHoles,
        imflow::Op::parse("distance").unwrap(),
    ];
    let want = imflow::Processor::cpu()
        .run(&image, &ops, imflow::OutputType::Exactly(SampleType::F32))
        .unwrap()
        .image;
    assert_eq!(got.samples(), want.samples());
    let o = imflow(&[
        "apply",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--op",
        "distance",
        "--backend",
        "cpu",
        "--memory",
        "64KiB",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`distance` needs the whole frame"),
        "{}",
        stderr(&o)
    );
}

/// `imflow apply` fills small holes, labels and expands the labels, equal to the
/// library's CPU twin; expand_labels in a frame --memory would tile is refused naming
/// the op.
#[test]
fn apply_remove_small_holes_label_expand_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (120u32, 90u32);
    let mask: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            u8::from((x / 15 + y / 15) % 2 == 0 && (x * 7 + y * 3) % 13 != 0) * 255
        })
        .collect();
    let image = imflow::Image::new(w, h, 1, Samples::U8(mask)).unwrap();
    let input = dir.path().join("mask.png");
    io::save(&image, &input).unwrap();
    let out = dir.path().join("labels.tif");
    let specs = [
        "remove_small_holes:max_size=4",
        "label",
        "expand_labels:distance=3",
    ];
    let mut args = vec!["apply", input.to_str().unwrap(), out.to_str().unwrap()];
    for spec in &specs {
        args.extend(["--op", spec]);
    }
    args.extend(["--backend", "cpu"]);
    let o = imflow(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = io::load(&out).unwrap();
    let ops: Vec<imflow::Op> = specs
        .iter()
        .map(|s| imflow::Op::parse(s).unwrap())
        .collect();
    let want = imflow::Processor::cpu()
        .run(&image, &ops, imflow::OutputType::Same)
        .unwrap()
        .image;
    assert_eq!(got.to_f32_vec(), want.to_f32_vec());
    assert!(want.to_f32_vec().iter().any(|&v| v > 1.0), "several labels");
    let o = imflow(&[
        "apply",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--op",
        "expand_labels",
        "--backend",
        "cpu",
        "--memory",
        "16KiB",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`expand_labels` needs the whole frame"),
        "{}",
        stderr(&o)
    );
}
