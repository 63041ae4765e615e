//! Frames of any size through the executor: TIFFs larger than a share of the memory
//! budget are streamed band by band and tiled, and write exactly the files a whole run
//! writes (same names, so same keys; same bytes). Peak memory follows the budget: a
//! child process's peak RSS is measured (memory bounds do not depend on load; timings
//! would, so there are none here).

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::executor::Status;
use imflow::{io, Executor, Flow, Op, OutputType, RunOptions, SampleType, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn op(s: &str) -> Op {
    Op::parse(s).unwrap()
}

/// Multi-page u16, RGB u8, f32 and i16 TIFFs, and a PNG (never streamed: not a TIFF).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let pages = io::Stack {
        frames: (0..2)
            .map(|k| random_image(257, 190, 1, SampleType::U16, 10 + k))
            .collect(),
        animation: None,
        format: None,
        voxel: None,
    };
    let pages_path = dir.join("pages.tif");
    io::save_stack(&pages, io::Format::Tiff, &pages_path).unwrap();
    let mut files = vec![pages_path];
    for (name, img) in [
        ("rgb.tif", random_image(200, 151, 3, SampleType::U8, 2)),
        ("float.tif", random_image(300, 211, 1, SampleType::F32, 3)),
        ("signed.tif", random_image(260, 150, 1, SampleType::I16, 4)),
        ("plain.png", random_image(90, 70, 1, SampleType::U16, 5)),
    ] {
        let p = dir.join(name);
        io::save(&img, &p).unwrap();
        files.push(p);
    }
    files
}

/// Per file: gaussian -> Otsu mask, a gaussian written as f32 from an intermediate
/// also feeding the mask, and scipy's integer-mode gaussian; per gray file, the mask's
/// objects labelled and measured on the source (a CSV; a stack's has a frame column).
/// (The box is left to
/// tests/tiling.rs: its running sums need a halo of 256 + size, so a budget this small
/// cannot tile it.)
fn flow(files: &[PathBuf]) -> Flow {
    let mut flow = Flow::new();
    for f in files {
        let stem = f.file_stem().unwrap().to_str().unwrap();
        let src = flow.file(f);
        let g = flow.op(src, op("gaussian:sigma=1.5")).unwrap();
        let m = flow.op(g, op("threshold:method=otsu")).unwrap();
        flow.materialize(m, format!("{stem}_mask")).unwrap();
        let b = flow.op(g, op("gaussian:sigma=3")).unwrap();
        flow.materialize(b, format!("{stem}_gauss")).unwrap().dtype =
            OutputType::Exactly(SampleType::F32);
        let i = flow.op(src, op("gaussian:sigma=2,int=scipy")).unwrap();
        flow.materialize(i, format!("{stem}_int")).unwrap();
        if stem != "rgb" {
            let labels = flow.op(m, op("label:connectivity=2")).unwrap();
            let t = flow.measure(labels, src).unwrap();
            flow.materialize(t, format!("{stem}_objects")).unwrap();
        }
    }
    flow
}

/// The image files a store holds, by name, with their bytes.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| [".tif", ".png", ".csv"].iter().any(|e| n.ends_with(e)))
        .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
        .collect()
}

/// `exec` keeps nothing resident: each run computes everything.
fn check(exec: Executor, backend: &str) {
    let exec = exec.with_resident_budget(0);
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(&dir.path().join("in"));
    let flow = flow(&files);
    let run = |store: &str, budget: Budget| {
        let store = Store::open(dir.path().join(store), None).unwrap();
        let options = RunOptions {
            budget,
            jobs: 1,
            ..Default::default()
        };
        let report = exec.run(&flow, &store, &options).unwrap();
        assert!(report.ok(), "{backend}: {:?}", report.failures);
        assert_eq!(report.summary.computed, 19, "{:?}", report.summary);
        assert!(report.outputs.iter().all(|o| o.status == Status::Computed));
        files_of(store.out_dir())
    };
    let whole = run("whole", Budget::default());
    // Every TIFF over 64 KiB decoded is streamed (memory / 4 / (jobs + 1)), and tiles are
    // at most 24 pixels a side (16 for RGB, whose planes hold three channels in 32 KiB):
    // halos of up to 18 cross several tiles.
    let streamed = run(
        "streamed",
        Budget {
            memory: 512 << 10,
            gpu_memory: None,
            max_tile: Some(24),
            resident: None,
        },
    );
    assert_eq!(whole.len(), 19);
    assert_eq!(
        whole.keys().collect::<Vec<_>>(),
        streamed.keys().collect::<Vec<_>>(),
        "{backend}: the same outputs, by name (the key)"
    );
    for (name, bytes) in &whole {
        assert!(streamed[name] == *bytes, "{backend}: {name} differs");
    }
    // The stack's objects table measured both pages, in the tiled run as in the whole.
    let objects = whole
        .keys()
        .find(|n| n.starts_with("pages_objects"))
        .unwrap();
    let csv = String::from_utf8(streamed[objects].clone()).unwrap();
    assert!(csv.starts_with("frame,label,area,"), "{csv:.80}");
    let frames: std::collections::BTreeSet<&str> = (csv.lines().skip(1))
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(
        csv.lines().count() > 20,
        "objects on random noise: {csv:.200}"
    );
    // The u16 pages came back as two pages, masks as u8.
    let mask = whole.keys().find(|n| n.starts_with("pages_mask")).unwrap();
    let stack = io::decode_stack(&whole[mask]).unwrap();
    assert_eq!(stack.frames.len(), 2);
    assert_eq!(stack.frames[0].sample_type(), SampleType::U8);
}

#[test]
fn streamed_and_tiled_runs_write_the_files_whole_runs_write_on_the_cpu() {
    check(Executor::new(imflow::Backend::Cpu), "cpu");
}

#[test]
fn streamed_and_tiled_runs_write_the_files_whole_runs_write_on_the_gpu() {
    let Some(ctx) = gpu("streamed_and_tiled_runs_write_the_files_whole_runs_write_on_the_gpu")
    else {
        return;
    };
    check(Executor::with_gpu(ctx), "gpu");
}

/// Peak resident memory of an `imflow run` with `args`, in bytes, as its `--json`
/// report gives it (the child's own VmHWM: getrusage would count the test process's
/// memory too, which exec carries over into the child's figure).
fn peak_rss(args: &[&str]) -> u64 {
    let mut all = args.to_vec();
    all.push("--json");
    let o = imflow(&all);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    report["peak_rss_bytes"]
        .as_u64()
        .expect("Linux reports VmHWM")
}

/// A 6000x4000 u16 TIFF (48 MB; 96 MB as f32 planes) through gaussian -> Otsu on the
/// CPU: whole, the run holds the source and two planes (well over 150 MB); with
/// `--memory 32MiB` it is streamed and stays near the budget plus the process's own
/// footprint. The whole run is measured too, so the test shows the difference it claims.
#[cfg(target_os = "linux")]
#[test]
fn a_streamed_run_stays_within_its_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.tif");
    let img = random_image(6000, 4000, 1, SampleType::U16, 9);
    io::save(&img, &input).unwrap();
    drop(img);
    let run = |memory: &str, out: &str| {
        let out = dir.path().join(out);
        peak_rss(&[
            "run",
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--op",
            "gaussian:sigma=2",
            "--op",
            "threshold:method=otsu",
            "--backend",
            "cpu",
            "--memory",
            memory,
        ])
    };
    let whole = run("4GiB", "whole");
    let streamed = run("32MiB", "streamed");
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    eprintln!(
        "peak RSS: whole {:.0} MiB, streamed with --memory 32MiB {:.0} MiB",
        mib(whole),
        mib(streamed)
    );
    assert!(
        whole > 150 << 20,
        "whole run peaked at {:.0} MiB",
        mib(whole)
    );
    assert!(
        streamed < 80 << 20,
        "streamed run peaked at {:.0} MiB",
        mib(streamed)
    );
    let names = |d: &str| {
        let mut v: Vec<_> = files_of(&dir.path().join(d)).into_iter().collect();
        v.sort();
        v
    };
    assert_eq!(names("whole"), names("streamed"), "same file, same bytes");
}
