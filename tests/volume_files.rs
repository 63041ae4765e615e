//! Volumes through files and the executor: a plain multi-page TIFF read as a volume
//! (`--volume`, `Reading::Volume`) or as frames; volumes written as ImageJ hyperstacks
//! that read back as the same volumes with their voxel size; runs streamed through
//! bricks (a small memory budget) writing exactly the files whole runs write; and the
//! peak memory of a streamed volume following the budget.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::executor::Status;
use imflow::io::{self, Reading};
use imflow::{Executor, Flow, Op, OutputType, Processor, RunOptions, SampleType, Store, VoxelSize};
use std::collections::BTreeMap;
use std::path::Path;

fn op(s: &str) -> Op {
    Op::parse(s).unwrap()
}

/// The files of a folder, by name, with their bytes.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| [".tif", ".csv"].iter().any(|e| n.ends_with(e)))
        .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
        .collect()
}

/// A plain multi-page TIFF: `depth` pages of `w` x `h` u16.
fn pages(dir: &Path, w: u32, h: u32, depth: u32, seed: u64) -> std::path::PathBuf {
    let v = random_volume(w, h, depth, 1, SampleType::U16, seed);
    let path = dir.join("stack.tif");
    io::save_stack(&io::Stack::of(v.slices()), io::Format::Tiff, &path).unwrap();
    path
}

#[test]
fn hyperstacks_round_trip_with_their_voxel_size() {
    let dir = tempfile::tempdir().unwrap();
    let voxel = VoxelSize {
        z: 0.5,
        y: 0.1625,
        x: 0.1625,
        unit: "\u{b5}m".into(),
    };
    for (c, t) in [
        (1, SampleType::U16),
        (2, SampleType::F32),
        (3, SampleType::U8),
    ] {
        let frames: Vec<_> = (0..3).map(|k| random_volume(11, 7, 5, c, t, k)).collect();
        let stack = io::Stack {
            voxel: Some(voxel.clone()),
            ..io::Stack::of(frames)
        };
        let path = dir.path().join(format!("hyper{c}.tif"));
        io::save_stack(&stack, io::Format::Tiff, &path).unwrap();
        let back = io::load_stack(&path).unwrap();
        assert_eq!(back.frames, stack.frames, "x{c} {t}");
        let v = back.voxel.unwrap();
        assert_eq!((v.z, v.unit.as_str()), (0.5, "\u{b5}m"));
        assert!(
            (v.x - 0.1625).abs() < 1e-6 && (v.y - 0.1625).abs() < 1e-6,
            "{v:?}"
        );
        // As frames, every page is its own 2-D image.
        let pages = io::load_stack_as(&path, Reading::Frames).unwrap();
        let per_frame = if c == 3 { 5 } else { 5 * c as usize };
        assert_eq!(pages.frames.len(), 3 * per_frame);
    }
}

#[test]
fn a_plain_stack_is_frames_unless_read_as_a_volume() {
    let dir = tempfile::tempdir().unwrap();
    let path = pages(dir.path(), 23, 17, 9, 1);
    let frames = io::load_stack(&path).unwrap();
    assert_eq!((frames.frames.len(), frames.frames[0].depth()), (9, 1));
    let volume = io::load_stack_as(&path, Reading::Volume).unwrap();
    assert_eq!((volume.frames.len(), volume.frames[0].depth()), (1, 9));
    assert_eq!(volume.frames[0].slices(), frames.frames);
    // Through the CLI: --volume gives one 3-D result, written as a hyperstack that reads
    // back as a volume; without it, nine 2-D results.
    let p = Processor::cpu();
    let chain = [
        op("gaussian:sigma=1"),
        op("threshold:method=otsu"),
        op("label:connectivity=3"),
    ];
    let want = p
        .run(&volume.frames[0], &chain, OutputType::Same)
        .unwrap()
        .image;
    for (flag, depth, frames) in [(Some("--volume"), 9, 1), (None, 1, 9)] {
        let out = dir
            .path()
            .join(if flag.is_some() { "vol" } else { "frames" });
        let mut args = vec![
            "run",
            "-i",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--op",
            "gaussian:sigma=1",
            "--op",
            "threshold:method=otsu",
            "--op",
            "label:connectivity=3",
            "--backend",
            "cpu",
        ];
        args.extend(flag);
        let o = imflow(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let (name, bytes) = files_of(&out).into_iter().next().unwrap();
        let back = io::decode_stack(&bytes).unwrap();
        assert_eq!(
            (back.frames.len(), back.frames[0].depth()),
            (frames, depth),
            "{name}"
        );
        if depth == 9 {
            assert_eq!(back.frames[0].to_f32_vec(), want.to_f32_vec());
        }
    }
}

/// A volume's flow (gaussian in 3-D, Otsu, label in 3-D, measured) on a volume run whole
/// and streamed through bricks: the same files, byte for byte; the table in 3-D.
fn streams_as_whole(exec: Executor, backend: &str) {
    let exec = exec.with_resident_budget(0);
    let dir = tempfile::tempdir().unwrap();
    let path = pages(dir.path(), 61, 47, 21, 3);
    let mut flow = Flow::new();
    let src = flow.file_as(&path, Reading::Volume);
    let g = flow
        .op(src, op("gaussian:sigma_z=1,sigma_y=2,sigma_x=2"))
        .unwrap();
    let m = flow.op(g, op("threshold:method=otsu")).unwrap();
    flow.materialize(m, "mask").unwrap();
    let l = flow.op(m, op("label:connectivity=1")).unwrap();
    flow.materialize(l, "labels").unwrap();
    let t = flow.measure(l, src).unwrap();
    flow.materialize(t, "objects").unwrap();
    let run = |store: &str, budget: Budget| {
        let store = Store::open(dir.path().join(store), None).unwrap();
        let options = RunOptions {
            budget,
            jobs: 1,
            ..Default::default()
        };
        let report = exec.run(&flow, &store, &options).unwrap();
        assert!(report.ok(), "{backend}: {:?}", report.failures);
        assert!(report.outputs.iter().all(|o| o.status == Status::Computed));
        files_of(store.out_dir())
    };
    let whole = run("whole", Budget::default());
    // 61x47x21 u16 is 120 KB: streamed under 384 KiB (whole files up to 384K / 4 / 2),
    // in bricks of at most 9 voxels a side (the CPU's tiles get 5/8 of the budget: a
    // brick with this halo needs 10.4 KB per plane).
    let streamed = run(
        "streamed",
        Budget {
            memory: 384 << 10,
            gpu_memory: None,
            max_tile: Some(9),
            resident: None,
        },
    );
    assert_eq!(whole.len(), 3);
    assert_eq!(
        whole.keys().collect::<Vec<_>>(),
        streamed.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &whole {
        assert!(streamed[name] == *bytes, "{backend}: {name} differs");
    }
    let csv = whole.iter().find(|(n, _)| n.ends_with(".csv")).unwrap().1;
    let csv = String::from_utf8(csv.clone()).unwrap();
    assert!(
        csv.starts_with("label,area,centroid-0,centroid-1,centroid-2,bbox-0,bbox-1,bbox-2,bbox-3,bbox-4,bbox-5,"),
        "{csv:.120}"
    );
    let labels = whole
        .iter()
        .find(|(n, _)| n.starts_with("labels"))
        .unwrap()
        .1;
    let back = io::decode_stack(labels).unwrap();
    assert_eq!((back.frames.len(), back.frames[0].depth()), (1, 21));
}

#[test]
fn volumes_stream_through_bricks_as_they_run_whole_on_the_cpu() {
    streams_as_whole(Executor::new(imflow::Backend::Cpu), "cpu");
}

#[test]
fn volumes_stream_through_bricks_as_they_run_whole_on_the_gpu() {
    let Some(ctx) = gpu("volumes_stream_through_bricks_as_they_run_whole_on_the_gpu") else {
        return;
    };
    streams_as_whole(Executor::with_gpu(ctx), "gpu");
}

/// A 1000x1000x48 u16 volume (96 MB; 192 MB as f32 planes) through a 3-D gaussian and
/// Otsu on the CPU with `--memory 48MiB`: streamed page by page through bricks, the run
/// peaks near the budget, far below the volume (the whole run is measured too).
#[cfg(target_os = "linux")]
#[test]
fn a_streamed_volume_stays_within_its_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = pages(dir.path(), 1000, 1000, 48, 9);
    let run = |memory: &str, out: &str| {
        let out = dir.path().join(out);
        let o = imflow(&[
            "run",
            "--volume",
            "-i",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--op",
            "gaussian:sigma_z=1,sigma_y=2,sigma_x=2",
            "--op",
            "threshold:method=otsu",
            "--backend",
            "cpu",
            "--memory",
            memory,
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let peak = report["peak_rss_bytes"]
            .as_u64()
            .expect("Linux reports VmHWM");
        (peak, files_of(&out))
    };
    let (whole, a) = run("4GiB", "whole");
    let (streamed, b) = run("48MiB", "streamed");
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    eprintln!(
        "peak RSS: whole {:.0} MiB, streamed with --memory 48MiB {:.0} MiB",
        mib(whole),
        mib(streamed)
    );
    assert!(
        whole > 250 << 20,
        "whole run peaked at {:.0} MiB",
        mib(whole)
    );
    assert!(
        streamed < 80 << 20,
        "streamed run peaked at {:.0} MiB",
        mib(streamed)
    );
    assert_eq!(a, b, "same file, same bytes");
}
