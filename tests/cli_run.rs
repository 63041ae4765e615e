//! `imflow run` and `imflow cache`, driven through the real binary as an orchestrator
//! would: folders of mixed files, `--json`, exit codes, GIFs and multi-page TIFFs.

mod common;
use common::*;
use imflow::io::{self, Animation, Format, Stack};
use imflow::key::Key;
use imflow::{Image, Op, OutputType, Processor, SampleType};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 47 good files of every kind imflow reads, and 3 bad ones.
fn mixed_folder(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut good = Vec::new();
    for k in 0..47u64 {
        let (name, stack) = match k % 6 {
            0 => (
                format!("g{k:02}.tif"),
                Stack::single(random_image(40, 30, 1, SampleType::U16, k)),
            ),
            1 => (
                format!("c{k:02}.png"),
                Stack::single(random_image(33, 21, 3, SampleType::U8, k)),
            ),
            2 => (
                format!("a{k:02}.png"),
                Stack::single(random_image(20, 20, 4, SampleType::U16, k)),
            ),
            3 => (
                format!("j{k:02}.jpg"),
                Stack::single(random_image(24, 16, 3, SampleType::U8, k)),
            ),
            4 => (
                format!("f{k:02}.tif"),
                Stack::single(random_image(17, 9, 1, SampleType::F32, k)),
            ),
            _ => (
                format!("p{k:02}.tif"),
                Stack {
                    frames: (0..3)
                        .map(|p| random_image(16, 12, 1, SampleType::U16, k * 10 + p))
                        .collect(),
                    animation: None,
                    format: None,
                    voxel: None,
                },
            ),
        };
        let path = dir.join(&name);
        let format = Format::from_path(&path).unwrap();
        std::fs::write(&path, io::encode_stack(&stack, format).unwrap()).unwrap();
        good.push(path);
    }
    let tif = std::fs::read(&good[0]).unwrap();
    std::fs::write(dir.join("zz_truncated.tif"), &tif[..tif.len() / 2]).unwrap();
    std::fs::write(dir.join("zz_notes.tif"), "not an image\n").unwrap();
    std::fs::write(dir.join("zz_empty.png"), b"").unwrap();
    good
}

fn output_files(out: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), e.metadata().unwrap().modified().unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_mixed_folder_with_bad_files_is_partial_then_all_hits() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let good = mixed_folder(&input);
    let out = dir.path().join("out");
    let args = [
        "run",
        "-i",
        s(&input),
        "--op",
        "gaussian:sigma=1.5",
        "--out",
        s(&out),
        "--json",
    ];
    let first = imflow(&args);
    assert_eq!(first.status.code(), Some(3), "partial: {}", stderr(&first));
    let r = json(&first);
    // `--json` is the library's RunReport, serialised: the documented schema.
    assert_eq!(r["schema"], imflow::executor::REPORT_SCHEMA);
    assert_eq!(r["imflow_version"], env!("CARGO_PKG_VERSION"));
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&r),
        [
            "bytes_downloaded",
            "bytes_uploaded",
            "device",
            "failures",
            "imflow_version",
            "nodes",
            "outputs",
            "peak_rss_bytes",
            "run_id",
            "schema",
            "summary",
            "wall_ms",
            "warnings"
        ]
    );
    let computed = r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["status"] == "computed")
        .unwrap();
    assert_eq!(
        keys(computed),
        [
            "file_blake3",
            "file_bytes",
            "name",
            "node",
            "output_key",
            "path",
            "source",
            "source_blake3",
            "status",
            "task_key"
        ]
    );
    let failed = r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["status"] == "failed")
        .unwrap();
    assert!(failed["error"].as_str().is_some(), "{failed}");
    assert_eq!(r["summary"]["outputs"], 50);
    assert_eq!(r["summary"]["computed"], 47);
    assert_eq!(r["summary"]["failed"], 3);
    let failures = r["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 3);
    for (f, (name, why)) in failures.iter().zip([
        ("zz_empty.png", "empty file"),
        ("zz_notes.tif", "not a recognised image format"),
        ("zz_truncated.tif", "zz_truncated.tif"),
    ]) {
        assert!(f["path"].as_str().unwrap().ends_with(name), "{f}");
        assert!(f["reason"].as_str().unwrap().contains(why), "{f}");
    }
    assert_eq!(output_files(&out).len(), 47);
    // Every reported hash is the blake3 of the bytes it names.
    for o in r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "computed")
    {
        let path = Path::new(o["path"].as_str().unwrap());
        assert_eq!(
            Key::of_bytes(&std::fs::read(path).unwrap()).hex(),
            o["file_blake3"].as_str().unwrap()
        );
        let src = Path::new(o["source"].as_str().unwrap());
        assert_eq!(
            Key::of_bytes(&std::fs::read(src).unwrap()).hex(),
            o["source_blake3"].as_str().unwrap()
        );
        assert!(good.iter().any(|g| g == src));
    }
    // The summary line is there for people.
    assert!(
        stderr(&first).contains("47 computed, 0 cached, 3 failed"),
        "{}",
        stderr(&first)
    );

    let before = output_files(&out);
    let second = imflow(&args);
    assert_eq!(second.status.code(), Some(3));
    let r = json(&second);
    assert_eq!(
        (
            r["summary"]["hits"].as_u64(),
            r["summary"]["computed"].as_u64()
        ),
        (Some(47), Some(0))
    );
    assert_eq!(r["summary"]["bytes_written"], 0);
    assert!(
        r["device"].is_null(),
        "an all-cached run created a device: {}",
        r["device"]
    );
    assert_eq!(output_files(&out), before, "the second run wrote nothing");
}

#[test]
fn exit_codes_tell_done_usage_and_failure_apart() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    io::save(
        &random_image(8, 8, 1, SampleType::U8, 1),
        input.join("one.tif"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let ok = imflow(&[
        "run",
        "-i",
        s(&input),
        "--op",
        "box:size=3",
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    for (args, needle) in [
        (
            vec!["run", "-i", s(&input), "--out", s(&out)],
            "give ops with --op",
        ),
        (
            vec![
                "run",
                "-i",
                "/no/such/dir/*.tif",
                "--op",
                "box:size=3",
                "--out",
                s(&out),
            ],
            "no input files",
        ),
        (
            vec![
                "run",
                "-i",
                s(&input),
                "--op",
                "box:size=0",
                "--out",
                s(&out),
            ],
            "size",
        ),
        (
            vec!["cache", "verify", "--out", "/no/such/out"],
            "no such output folder",
        ),
    ] {
        let o = imflow(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn animated_gifs_keep_frames_delays_and_loop_count() {
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("spin.gif");
    let frames: Vec<Image> = (0..5)
        .map(|k| random_image(32, 24, 4, SampleType::U8, k).into_opaque())
        .collect();
    let animation = Animation {
        delays: vec![(40, 1), (80, 1), (120, 1), (40, 1), (200, 1)],
        repeat: Some(3),
    };
    let src = Stack {
        frames,
        animation: Some(animation.clone()),
        format: Some(Format::Gif),
        voxel: None,
    };
    std::fs::write(&gif, io::encode_stack(&src, Format::Gif).unwrap()).unwrap();
    let out = dir.path().join("out");
    let o = imflow(&[
        "run",
        "-i",
        s(&gif),
        "--op",
        "gaussian:sigma=1",
        "--out",
        s(&out),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let path = json(&o)["outputs"][0]["path"].as_str().unwrap().to_string();
    assert!(path.ends_with(".gif"), "{path}");
    let result = io::load_stack(&path).unwrap();
    assert_eq!(result.frames.len(), 5);
    assert_eq!(result.animation.as_ref().unwrap(), &animation);
    // Every frame was blurred, not just the first.
    let loaded = io::load_stack(&gif).unwrap();
    for (a, b) in result.frames.iter().zip(&loaded.frames) {
        assert_ne!(a, b);
    }
    // apply keeps them too.
    let applied = dir.path().join("applied.gif");
    let o = imflow(&["apply", s(&gif), s(&applied), "--op", "box:size=3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        io::load_stack(&applied).unwrap().animation.unwrap(),
        animation
    );
}

#[test]
fn multipage_tiffs_keep_their_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.tif");
    let pages: Vec<Image> = (0..4)
        .map(|k| random_image(50, 40, 1, SampleType::U16, 100 + k))
        .collect();
    let stack = Stack {
        frames: pages.clone(),
        animation: None,
        format: None,
        voxel: None,
    };
    std::fs::write(&path, io::encode_stack(&stack, Format::Tiff).unwrap()).unwrap();
    let out = dir.path().join("out");
    let o = imflow(&[
        "run",
        "-i",
        s(&path),
        "--op",
        "gaussian:sigma=2",
        "--op",
        "threshold:method=otsu",
        "--out",
        s(&out),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let result = io::load_stack(json(&o)["outputs"][0]["path"].as_str().unwrap()).unwrap();
    assert_eq!(result.frames.len(), 4);
    let ops = [
        Op::parse("gaussian:sigma=2").unwrap(),
        Op::parse("threshold:method=otsu").unwrap(),
    ];
    for (got, page) in result.frames.iter().zip(&pages) {
        // Each page on its own: its own Otsu threshold.
        let want = Processor::cpu()
            .run(page, &ops, OutputType::Same)
            .unwrap()
            .image;
        assert_eq!(got.sample_type(), SampleType::U8);
        let differ = got
            .to_f32_vec()
            .iter()
            .zip(want.to_f32_vec())
            .filter(|(a, b)| **a != *b)
            .count();
        assert!(differ <= 2, "{differ} pixels differ");
    }
}

#[test]
fn a_flow_file_branches_one_denoised_image_into_two_masks() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for k in 0..3 {
        io::save(
            &random_image(64, 48, 1, SampleType::U16, k),
            input.join(format!("cell{k}.tif")),
        )
        .unwrap();
    }
    let flow = dir.path().join("flow.toml");
    std::fs::write(
        &flow,
        r#"
        [nodes.denoised]
        from = "input"
        op = "gaussian:sigma=2"

        [nodes.fixed]
        from = "denoised"
        op = "threshold:value=30000"
        output = "fixed"

        [nodes.otsu]
        from = "denoised"
        op = "threshold:method=otsu"
        output = "otsu"
        format = "png"
        "#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = imflow(&[
        "run",
        "-i",
        s(&input),
        "--flow",
        s(&flow),
        "--out",
        s(&out),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    let names: Vec<&str> = r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cell0_fixed",
            "cell0_otsu",
            "cell1_fixed",
            "cell1_otsu",
            "cell2_fixed",
            "cell2_otsu"
        ]
    );
    let files: Vec<String> = output_files(&out)
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.iter().filter(|f| f.ends_with(".png")).count(), 3);
    assert_eq!(files.iter().filter(|f| f.ends_with(".tif")).count(), 3);
}

#[test]
fn cache_commands_report_verify_and_collect() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for k in 0..2 {
        io::save(
            &random_image(32, 32, 1, SampleType::U16, k),
            input.join(format!("x{k}.tif")),
        )
        .unwrap();
    }
    let out = dir.path().join("out");
    for sigma in ["1", "2"] {
        let spec = format!("gaussian:sigma={sigma}");
        let o = imflow(&[
            "run",
            "-i",
            s(&input),
            "--op",
            &spec,
            "--out",
            s(&out),
            "--backend",
            "cpu",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let stats = json(&imflow(&["cache", "stats", "--out", s(&out), "--json"]));
    assert_eq!(
        (stats["records"].as_u64(), stats["runs"].as_u64()),
        (Some(4), Some(2))
    );
    let verify = imflow(&["cache", "verify", "--out", s(&out)]);
    assert_eq!(verify.status.code(), Some(0));
    // The same store found from its record folder alone, and from inside the output
    // folder with no arguments at all.
    let store = out.join(".imflow");
    let by_store = imflow(&["cache", "verify", "--store", s(&store), "--json"]);
    assert_eq!(by_store.status.code(), Some(0), "{}", stderr(&by_store));
    assert_eq!(json(&by_store)["ok"], 4);
    let inside = std::process::Command::new(env!("CARGO_BIN_EXE_imflow"))
        .args(["cache", "verify", "--json"])
        .current_dir(&out)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(inside.status.code(), Some(0), "{}", stderr(&inside));
    assert_eq!(json(&inside)["ok"], 4);
    // Elsewhere, with nothing given: a usage error that says what to give.
    let nowhere = std::process::Command::new(env!("CARGO_BIN_EXE_imflow"))
        .args(["cache", "verify"])
        .current_dir(&input)
        .output()
        .unwrap();
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(stderr(&nowhere).contains("--out"), "{}", stderr(&nowhere));
    // Corrupt one file: verify says so and exits 1; the next run repairs it.
    let victim = output_files(&out)[0].0.clone();
    std::fs::write(&victim, b"garbage").unwrap();
    let verify = imflow(&["cache", "verify", "--out", s(&out), "--json"]);
    assert_eq!(verify.status.code(), Some(1));
    assert_eq!(json(&verify)["problems"].as_array().unwrap().len(), 1);
    let gc = json(&imflow(&[
        "cache",
        "gc",
        "--out",
        s(&out),
        "--keep-runs",
        "1",
        "--json",
    ]));
    assert_eq!(gc["records_removed"], 2, "{gc}");
    let o = imflow(&[
        "run",
        "-i",
        s(&input),
        "--op",
        "gaussian:sigma=2",
        "--out",
        s(&out),
        "--backend",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        imflow(&["cache", "verify", "--out", s(&out)]).status.code(),
        Some(0)
    );
    assert_eq!(output_files(&out).len(), 2);
}

#[test]
fn no_gpu_means_cpu_fallback_for_auto_and_a_clear_failure_for_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.tif");
    io::save(&random_image(16, 16, 1, SampleType::U16, 5), &input).unwrap();
    let out = dir.path().join("out");
    // A backend this OS lacks: no adapter at all.
    let run = |backend: &str| {
        Command::new(env!("CARGO_BIN_EXE_imflow"))
            .args([
                "run",
                "-i",
                s(&input),
                "--op",
                "gaussian:sigma=1",
                "--out",
                s(&out),
                "--backend",
                backend,
                "--refresh",
            ])
            .env(
                "WGPU_BACKEND",
                if cfg!(target_os = "macos") {
                    "dx12"
                } else {
                    "metal"
                },
            )
            .output()
            .unwrap()
    };
    let auto = run("auto");
    assert_eq!(auto.status.code(), Some(0), "{}", stderr(&auto));
    let err = stderr(&auto);
    assert_eq!(
        err.matches("running on the CPU").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("mesa-vulkan-drivers"), "{err}");
    let gpu = run("gpu");
    assert_eq!(gpu.status.code(), Some(1), "{}", stderr(&gpu));
    assert!(
        stderr(&gpu).contains("no GPU adapter found"),
        "{}",
        stderr(&gpu)
    );
}

/// A flow file with filling small holes and expanding labels: outputs equal to the
/// library's, and a second run all cache hits.
#[test]
fn a_flow_file_fills_small_holes_and_expands_labels() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let image = random_image(64, 48, 1, SampleType::U16, 5);
    io::save(&image, input.join("cell.tif")).unwrap();
    let flow = dir.path().join("flow.toml");
    std::fs::write(
        &flow,
        r#"
        [nodes.mask]
        from = "input"
        ops = ["threshold:value=30000", "remove_small_holes:max_size=3,connectivity=2"]
        output = "mask"

        [nodes.grown]
        from = "mask"
        ops = ["label", "expand_labels:distance=1.5"]
        output = "grown"
        dtype = "u16"
        "#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        "-i",
        s(&input),
        "--flow",
        s(&flow),
        "--out",
        s(&out),
        "--json",
    ];
    let o = imflow(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    let outputs = r["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    let ops = |specs: &[&str]| -> Vec<Op> { specs.iter().map(|s| Op::parse(s).unwrap()).collect() };
    let mask_ops = ops(&[
        "threshold:value=30000",
        "remove_small_holes:max_size=3,connectivity=2",
    ]);
    let mut grown_ops = mask_ops.clone();
    grown_ops.extend(ops(&["label", "expand_labels:distance=1.5"]));
    let cpu = Processor::cpu();
    for (name, chain) in [("cell_mask", &mask_ops), ("cell_grown", &grown_ops)] {
        let o = outputs.iter().find(|o| o["name"] == name).unwrap();
        let got = io::load(Path::new(o["path"].as_str().unwrap())).unwrap();
        let want = cpu.run(&image, chain, OutputType::Same).unwrap().image;
        assert_eq!(got.to_f32_vec(), want.to_f32_vec(), "{name}");
    }
    let again = json(&imflow(&args));
    assert_eq!(
        (
            again["summary"]["hits"].as_u64(),
            again["summary"]["computed"].as_u64()
        ),
        (Some(2), Some(0))
    );
}
