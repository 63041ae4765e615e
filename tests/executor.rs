//! The caching executor and its store: what runs, what crosses the bus, what is reused,
//! and that the store survives corruption, crashes and concurrent writers.

mod common;
use common::*;
use imflow::executor::{OutputReport, Status};
use imflow::store::GcPolicy;
use imflow::{io, Backend, Executor, Flow, Op, RunOptions, RunReport, SampleType, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn op(s: &str) -> Op {
    Op::parse(s).unwrap()
}

fn write_inputs(dir: &Path, n: usize, side: u32) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|k| {
            let p = dir.join(format!("img{k:02}.tif"));
            io::save(
                &random_image(side, side, 1, SampleType::U16, k as u64 + 1),
                &p,
            )
            .unwrap();
            p
        })
        .collect()
}

/// gaussian -> otsu mask for every file: the microscopy flow.
fn segmentation_flow(files: &[PathBuf], sigma: f64) -> Flow {
    let mut flow = Flow::new();
    for f in files {
        let src = flow.file(f);
        let g = flow
            .op(src, op(&format!("gaussian:sigma={sigma}")))
            .unwrap();
        let m = flow.op(g, op("threshold:method=otsu")).unwrap();
        let stem = f.file_stem().unwrap().to_str().unwrap();
        flow.materialize(m, format!("{stem}_mask")).unwrap();
    }
    flow
}

/// A temp folder with `n` u16 inputs of `side` squared, a store in it, and the
/// segmentation flow over the inputs.
fn fixture(n: usize, side: u32, sigma: f64) -> (tempfile::TempDir, Vec<PathBuf>, Store, Flow) {
    let dir = tempfile::tempdir().unwrap();
    let files = write_inputs(&dir.path().join("in"), n, side);
    let store = Store::open(dir.path().join("out"), None).unwrap();
    let flow = segmentation_flow(&files, sigma);
    (dir, files, store, flow)
}

fn statuses(r: &RunReport) -> Vec<Status> {
    r.outputs.iter().map(|o| o.status).collect()
}

fn gpu_executor(test: &str) -> Option<(Executor, imflow::GpuContext)> {
    let ctx = gpu(test)?;
    Some((Executor::with_gpu(ctx.clone()), ctx))
}

#[test]
fn a_three_op_chain_uploads_once_and_downloads_only_the_mask() {
    let Some((exec, ctx)) =
        gpu_executor("a_three_op_chain_uploads_once_and_downloads_only_the_mask")
    else {
        return;
    };
    let exec = exec.with_resident_budget(0);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let (w, h) = (2048u32, 2048u32);
    let mut flow = Flow::new();
    let src = flow.image("big", random_image(w, h, 1, SampleType::U16, 7));
    let g = flow.op(src, op("gaussian:sigma=2")).unwrap();
    let b = flow.op(g, op("box:size=5")).unwrap();
    let t = flow.op(b, op("threshold:value=30000")).unwrap();
    flow.materialize(t, "mask").unwrap();
    let before = ctx.stats();
    let r = exec.run(&flow, &store, &RunOptions::default()).unwrap();
    let after = ctx.stats();
    let px = u64::from(w * h);
    assert_eq!(statuses(&r), [Status::Computed]);
    assert_eq!(
        (r.bytes_uploaded, r.bytes_downloaded),
        (px * 2, px),
        "u16 up once, u8 mask down once"
    );
    assert_eq!(
        (
            after.uploads - before.uploads,
            after.downloads - before.downloads
        ),
        (1, 1)
    );
    assert_eq!(
        (r.node(src).bytes_uploaded, r.node(t).bytes_downloaded),
        (px * 2, px)
    );
    for n in [g, b] {
        assert_eq!(
            (r.node(n).bytes_uploaded, r.node(n).bytes_downloaded),
            (0, 0),
            "intermediates stay on the GPU"
        );
    }
    // Peak: the frame is one recording, so its upload buffer (u16) and read-back
    // staging (u8) live as long as it; besides them at most input + output + one
    // scratch plane set, and the recording's small data (params, weights).
    let planes = px * 4;
    assert!(
        after.peak_bytes_in_use <= 3 * planes + px * 2 + px + (1 << 20),
        "peak {}",
        after.peak_bytes_in_use
    );
    let mask = io::load(r.output("mask").unwrap().path.as_ref().unwrap()).unwrap();
    assert_eq!(mask.sample_type(), SampleType::U8);
}

#[test]
fn peak_gpu_memory_does_not_grow_with_chain_length() {
    let Some((exec, ctx)) = gpu_executor("peak_gpu_memory_does_not_grow_with_chain_length") else {
        return;
    };
    let exec = exec.with_resident_budget(0);
    let mut peaks = Vec::new();
    for k in [2usize, 12] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        let mut flow = Flow::new();
        let mut node = flow.image("x", random_image(512, 512, 1, SampleType::F32, 3));
        for i in 0..k {
            node = flow
                .op(
                    node,
                    op(if i % 2 == 0 {
                        "gaussian:sigma=1"
                    } else {
                        "box:size=3"
                    }),
                )
                .unwrap();
        }
        flow.materialize(node, "out").unwrap();
        ctx.reset_peak();
        exec.run(&flow, &store, &RunOptions::default()).unwrap();
        peaks.push(ctx.stats().peak_bytes_in_use);
    }
    let planes = 512 * 512 * 4;
    assert!(peaks[1] <= peaks[0], "{peaks:?}: a longer chain held more");
    // Input, output and scratch planes, the f32 download's staging, and the
    // recording's arenas of params and weights.
    assert!(peaks[1] <= 4 * planes + (64 << 10), "{peaks:?}");
}

#[test]
fn an_unchanged_rerun_is_all_store_hits_and_creates_no_device() {
    let (_dir, _, store, flow) = fixture(3, 64, 2.0);
    // Computed on the CPU twins; the GPU executor then finds every output stored:
    // both backends produce the same keys.
    let first = Executor::new(Backend::Cpu)
        .run(&flow, &store, &RunOptions::default())
        .unwrap();
    assert_eq!(statuses(&first), [Status::Computed; 3]);
    let exec = Executor::new(Backend::Gpu);
    let again = exec.run(&flow, &store, &RunOptions::default()).unwrap();
    assert_eq!(statuses(&again), [Status::StoreHit; 3]);
    assert!(
        exec.gpu_context().is_none(),
        "a fully cached run created a GPU device"
    );
    assert_eq!(again.device, None);
    assert!(again
        .nodes
        .iter()
        .all(|n| matches!(n.status, Status::StoreHit | Status::Skipped)));
    for (a, b) in first.outputs.iter().zip(&again.outputs) {
        assert_eq!((&a.path, a.file_blake3), (&b.path, b.file_blake3));
    }
}

#[test]
fn changing_sigma_recomputes_downstream_and_reuses_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_inputs(&dir.path().join("in"), 1, 96);
    let store = Store::open(dir.path().join("out"), None).unwrap();
    let build = |sigma: f64| {
        let mut flow = Flow::new();
        let src = flow.file(&files[0]);
        let b = flow.op(src, op("box:size=3")).unwrap();
        // f32 holds the box output exactly, so it can stand in for recomputing it.
        flow.materialize(b, "boxed").unwrap().dtype = imflow::OutputType::Exactly(SampleType::F32);
        let g = flow.op(b, op(&format!("gaussian:sigma={sigma}"))).unwrap();
        flow.materialize(g, "smooth").unwrap().dtype = imflow::OutputType::Exactly(SampleType::F32);
        let t = flow.op(g, op("threshold:method=otsu")).unwrap();
        flow.materialize(t, "mask").unwrap();
        (flow, src, b, g, t)
    };
    // The GPU where there is one (stored outputs uploaded to it), asked for by name:
    // `auto` passes a software adapter over.
    let backend = match gpu("changing_sigma_recomputes_downstream_and_reuses_upstream") {
        Some(_) => Backend::Gpu,
        None => Backend::Cpu,
    };
    let exec = Executor::new(backend);
    let (flow, ..) = build(1.0);
    let r1 = exec.run(&flow, &store, &RunOptions::default()).unwrap();
    assert_eq!(statuses(&r1), [Status::Computed; 3]);
    // A fresh executor: no resident results, only the store.
    let (flow, src, b, g, t) = build(2.5);
    let r2 = Executor::new(backend)
        .run(&flow, &store, &RunOptions::default())
        .unwrap();
    assert_eq!(
        statuses(&r2),
        [Status::StoreHit, Status::Computed, Status::Computed]
    );
    assert_eq!(
        r2.node(src).status,
        Status::Skipped,
        "the source was not even decoded"
    );
    assert_eq!(
        r2.node(b).status,
        Status::StoreHit,
        "box loaded from its exact stored output"
    );
    assert_eq!(
        (r2.node(g).status, r2.node(t).status),
        (Status::Computed, Status::Computed)
    );
    // And the result equals a from-scratch computation.
    let direct = imflow::Processor::cpu()
        .run(
            &io::load(&files[0]).unwrap(),
            &[
                op("box:size=3"),
                op("gaussian:sigma=2.5"),
                op("threshold:method=otsu"),
            ],
            imflow::OutputType::Same,
        )
        .unwrap();
    let mask = io::load(r2.output("mask").unwrap().path.as_ref().unwrap()).unwrap();
    let differ = mask
        .to_f32_vec()
        .iter()
        .zip(direct.image.to_f32_vec())
        .filter(|(a, b)| *a != b)
        .count();
    assert!(
        differ <= 2,
        "{differ} pixels differ from a direct computation"
    );
}

#[test]
fn editing_a_source_recomputes_only_its_chain() {
    let (_dir, files, store, flow) = fixture(3, 48, 1.5);
    let exec = Executor::new(Backend::Auto);
    exec.run(&flow, &store, &RunOptions::default()).unwrap();
    // Same path, new bytes.
    io::save(&random_image(48, 48, 1, SampleType::U16, 999), &files[1]).unwrap();
    let r = Executor::new(Backend::Auto)
        .run(&flow, &store, &RunOptions::default())
        .unwrap();
    assert_eq!(
        statuses(&r),
        [Status::StoreHit, Status::Computed, Status::StoreHit]
    );
}

#[test]
fn a_corrupt_or_deleted_output_is_recomputed_with_a_warning() {
    let (_dir, _, store, flow) = fixture(3, 40, 2.0);
    let r1 = Executor::new(Backend::Auto)
        .run(&flow, &store, &RunOptions::default())
        .unwrap();
    let path = |o: &OutputReport| o.path.clone().unwrap();
    let mut bytes = std::fs::read(path(&r1.outputs[0])).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40; // flip one bit
    std::fs::write(path(&r1.outputs[0]), bytes).unwrap();
    std::fs::remove_file(path(&r1.outputs[2])).unwrap();
    let r2 = Executor::new(Backend::Auto)
        .run(&flow, &store, &RunOptions::default())
        .unwrap();
    assert_eq!(
        statuses(&r2),
        [Status::Computed, Status::StoreHit, Status::Computed]
    );
    assert_eq!(r2.warnings.len(), 2, "{:?}", r2.warnings);
    assert!(
        r2.warnings[0]
            .to_string()
            .contains("do not match the recorded hash")
            && matches!(*r2.warnings[0].error, imflow::Error::Corrupt { .. }),
        "{:?}",
        r2.warnings
    );
    let v = store.verify().unwrap();
    assert!(v.problems.is_empty() && v.ok == 3, "{v:?}");
    // An unreadable record is a miss too, never a crash.
    let rec = std::fs::read_dir(store.dir().join("records"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&rec, "{ not json").unwrap();
    let r3 = Executor::new(Backend::Auto)
        .run(&flow, &store, &RunOptions::default())
        .unwrap();
    assert_eq!(
        r3.outputs
            .iter()
            .filter(|o| o.status == Status::Computed)
            .count(),
        1
    );
    assert!(
        r3.warnings[0].to_string().contains("unreadable record")
            && matches!(*r3.warnings[0].error, imflow::Error::Record { .. }),
        "{:?}",
        r3.warnings
    );
}

#[test]
fn an_intermediate_shared_by_two_flows_is_computed_once() {
    let gpu_ctx = gpu("an_intermediate_shared_by_two_flows_is_computed_once");
    let exec = match &gpu_ctx {
        Some(ctx) => Executor::with_gpu(ctx.clone()),
        None => Executor::new(Backend::Cpu),
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let image = random_image(300, 200, 1, SampleType::U16, 11);
    let flow_with = |threshold: &str, name: &str| {
        let mut flow = Flow::new();
        let src = flow.image("cells", image.clone());
        let g = flow.op(src, op("gaussian:sigma=2")).unwrap();
        let t = flow.op(g, op(threshold)).unwrap();
        flow.materialize(t, name).unwrap();
        (flow, src, g, t)
    };
    let (f1, ..) = flow_with("threshold:value=30000", "fixed");
    let r1 = exec.run(&f1, &store, &RunOptions::default()).unwrap();
    assert_eq!(statuses(&r1), [Status::Computed]);
    let (f2, src, g, t) = flow_with("threshold:method=otsu", "otsu");
    let r2 = exec.run(&f2, &store, &RunOptions::default()).unwrap();
    assert_eq!(
        r2.node(g).status,
        Status::ResidentHit,
        "the denoised image was reused"
    );
    assert_eq!(
        r2.node(src).status,
        Status::Skipped,
        "and the source not uploaded again"
    );
    assert_eq!(r2.node(t).status, Status::Computed);
    if gpu_ctx.is_some() {
        assert_eq!(r2.bytes_uploaded, 0);
        assert_eq!(
            r2.bytes_downloaded,
            300 * 200 + 4,
            "the mask and the Otsu value"
        );
    }
    assert!(exec.resident_bytes() > 0);
}

#[test]
fn bad_sources_fail_alone_and_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write_inputs(&dir.path().join("in"), 2, 32);
    let bad = |name: &str, bytes: &[u8]| {
        let p = dir.path().join("in").join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let good = std::fs::read(&files[0]).unwrap();
    files.push(bad("truncated.tif", &good[..good.len() / 2]));
    files.push(bad("notes.tif", b"plain text, not pixels\n"));
    files.push(bad("empty.tif", b""));
    files.push(dir.path().join("in/missing.tif"));
    let store = Store::open(dir.path().join("out"), None).unwrap();
    let r = Executor::new(Backend::Auto)
        .run(
            &segmentation_flow(&files, 1.0),
            &store,
            &RunOptions::default(),
        )
        .unwrap();
    assert!(!r.ok());
    assert_eq!(statuses(&r)[..2], [Status::Computed, Status::Computed]);
    assert_eq!(statuses(&r)[2..], [Status::Failed; 4]);
    assert_eq!(r.failures.len(), 4, "{:?}", r.failures);
    for (f, name) in
        r.failures
            .iter()
            .zip(["truncated.tif", "notes.tif", "empty.tif", "missing.tif"])
    {
        assert!(f.path.as_ref().unwrap().ends_with(name), "{f:?}");
        assert!(f.error.to_string().contains(name), "{f:?}");
    }
    // Typed to the end: a caller can match on why each failed.
    let root = |k: usize| r.failures[k].error.clone();
    assert!(
        matches!(*root(0), imflow::Error::Decode { .. }),
        "{:?}",
        root(0)
    );
    assert!(
        matches!(*root(1), imflow::Error::Decode { .. }),
        "{:?}",
        root(1)
    );
    assert!(
        matches!(*root(3), imflow::Error::Io { .. }),
        "{:?}",
        root(3)
    );
    let why = |k: usize| r.outputs[k].error.as_ref().unwrap().to_string();
    assert!(
        why(3).contains("not a recognised image format"),
        "{}",
        why(3)
    );
    assert!(why(4).contains("empty file"), "{}", why(4));
    assert!(
        matches!(r.outputs[5].error.as_deref(), Some(imflow::Error::Input(cause)) if matches!(**cause, imflow::Error::Io { .. })),
        "{:?}",
        r.outputs[5].error
    );
}

/// Sources whose stamps vouch for them (last changed over 3 s before the run) are
/// decoded straight from the file, the rest from bytes read whole and hashed again:
/// the same results either way, good files and bad.
#[test]
fn settled_sources_give_the_results_fresh_ones_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write_inputs(&dir.path().join("in"), 2, 40);
    let good = std::fs::read(&files[0]).unwrap();
    for (name, bytes) in [
        ("truncated.tif", &good[..good.len() / 2]),
        ("notes.tif", &b"plain text"[..]),
    ] {
        let p = dir.path().join("in").join(name);
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    }
    let flow = segmentation_flow(&files, 1.5);
    let run = |out: &str| {
        let store = Store::open(dir.path().join(out), None).unwrap();
        Executor::new(Backend::Cpu)
            .run(&flow, &store, &RunOptions::default())
            .unwrap()
    };
    let summary = |r: &RunReport| -> Vec<(Status, Option<imflow::key::Key>, Option<String>)> {
        r.outputs
            .iter()
            .map(|o| {
                (
                    o.status,
                    o.file_blake3,
                    o.error.as_ref().map(|e| e.to_string()),
                )
            })
            .collect()
    };
    // Just written: no stamp counts yet.
    let fresh = run("fresh");
    // Past git's racily-clean window (ctime cannot be set back, so wait it out).
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let settled = run("settled");
    assert_eq!(summary(&fresh), summary(&settled));
    assert_eq!(
        statuses(&settled),
        [
            Status::Computed,
            Status::Computed,
            Status::Failed,
            Status::Failed
        ]
    );
    assert!(settled.outputs[2]
        .error
        .as_ref()
        .unwrap()
        .to_string()
        .contains("truncated.tif"));
}

#[test]
fn gc_keeps_what_recent_runs_use_and_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_inputs(&dir.path().join("in"), 2, 32);
    let store = Store::open(dir.path().join("out"), None).unwrap();
    let exec = Executor::new(Backend::Cpu);
    let old = exec
        .run(
            &segmentation_flow(&files, 1.0),
            &store,
            &RunOptions::default(),
        )
        .unwrap();
    let new = exec
        .run(
            &segmentation_flow(&files, 3.0),
            &store,
            &RunOptions::default(),
        )
        .unwrap();
    assert_eq!(store.stats().unwrap().records, 4);
    let g = store
        .gc(GcPolicy {
            keep_runs: Some(1),
            max_age: None,
        })
        .unwrap();
    assert_eq!((g.records_removed, g.files_removed), (2, 2), "{g:?}");
    for o in &old.outputs {
        assert!(!o.path.as_ref().unwrap().exists());
    }
    for o in &new.outputs {
        assert!(o.path.as_ref().unwrap().exists());
    }
    let v = store.verify().unwrap();
    assert_eq!((v.ok, v.problems.len()), (2, 0));
    // Without a policy nothing is removed.
    assert_eq!(store.gc(GcPolicy::default()).unwrap().records_removed, 0);
}

#[test]
fn refresh_recomputes_and_in_memory_outputs_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_inputs(&dir.path().join("in"), 1, 32);
    let store = Store::open(dir.path().join("out"), None).unwrap();
    let mut flow = segmentation_flow(&files, 1.0);
    let exec = Executor::new(Backend::Cpu);
    exec.run(&flow, &store, &RunOptions::default()).unwrap();
    let r = exec
        .run(
            &flow,
            &store,
            &RunOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(statuses(&r), [Status::Computed]);
    let src = imflow::NodeId::from(0);
    let g = flow.op(src, op("box:size=3")).unwrap();
    flow.materialize(g, "boxed").unwrap().persist = false;
    let r = exec.run(&flow, &store, &RunOptions::default()).unwrap();
    let boxed = r.output("boxed").unwrap();
    assert!(boxed.path.is_none());
    assert_eq!(boxed.image.as_ref().unwrap().frames[0].width(), 32);
}

// ---- crash and concurrency: child processes -----------------------------------------

const CHILD_ENV: &str = "IMFLOW_TEST_CHILD_DIR";

/// Not a test on its own: the writer process the two tests below start (this same test
/// binary, run with `--ignored` and told where to work by an environment variable).
#[test]
#[ignore = "helper process of the crash and concurrency tests"]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("in"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let store = Store::open(dir.join("out"), None).unwrap();
    let r = Executor::new(Backend::Cpu)
        .run(
            &segmentation_flow(&files, 2.0),
            &store,
            &RunOptions::default(),
        )
        .unwrap();
    assert!(r.ok(), "{:?}", r.failures);
}

fn spawn_writer(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_writer", "--ignored", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Every file under an output name is whole: its bytes hash to the name and decode.
fn assert_no_partial_outputs(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    }; // killed before it existed
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".imflow") || e.path().is_dir() {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        let stem = name.rsplit_once('.').unwrap().0;
        let hash16 = stem.rsplit_once('-').unwrap().1;
        assert_eq!(
            imflow::key::Key::of_bytes(&bytes).short(),
            hash16,
            "{name} is not whole"
        );
        io::decode(&bytes).unwrap();
    }
}

fn output_files(out: &Path) -> usize {
    std::fs::read_dir(out).map_or(0, |d| {
        d.filter_map(|e| e.ok())
            .filter(|e| {
                e.path().is_file() && !e.file_name().to_string_lossy().starts_with(".imflow")
            })
            .count()
    })
}

#[test]
fn killed_writers_never_leave_partial_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let n = 8;
    write_inputs(&dir.path().join("in"), n, 512);
    let files: Vec<PathBuf> = (0..n)
        .map(|k| dir.path().join(format!("in/img{k:02}.tif")))
        .collect();
    let out = dir.path().join("out");
    // How long an uninterrupted run takes here, to spread the kills over it.
    let t0 = Instant::now();
    assert!(spawn_writer(dir.path()).wait().unwrap().success());
    let full = t0.elapsed();
    let mut seed = 0x1234_5678u64;
    let trials = 20;
    let mut finished_per_kill = Vec::new();
    for _ in 0..trials {
        // Every trial writes from scratch.
        std::fs::remove_dir_all(&out).unwrap();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = full.mul_f64(1.1 * (seed >> 33) as f64 / (1u64 << 31) as f64);
        let mut child = spawn_writer(dir.path());
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        finished_per_kill.push(output_files(&out));
        assert_no_partial_outputs(&out);
        let store = Store::open(&out, None).unwrap();
        let v = store.verify().unwrap();
        assert!(
            v.problems.is_empty(),
            "a record points at a missing or partial file: {v:?}"
        );
        // The next run completes everything, reusing what the killed one finished.
        let r = Executor::new(Backend::Cpu)
            .run(
                &segmentation_flow(&files, 2.0),
                &store,
                &RunOptions::default(),
            )
            .unwrap();
        assert!(r.ok(), "{:?}", r.failures);
        assert_eq!(store.verify().unwrap().ok, n);
        assert_no_partial_outputs(&out);
    }
    eprintln!("uninterrupted run {full:?}; outputs finished when killed, per trial: {finished_per_kill:?}");
}

#[test]
fn two_processes_on_one_store_agree() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(&dir.path().join("in"), 6, 128);
    let (mut a, mut b) = (spawn_writer(dir.path()), spawn_writer(dir.path()));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let out = dir.path().join("out");
    assert_no_partial_outputs(&out);
    let outputs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .collect();
    assert_eq!(
        outputs.len(),
        6,
        "one file per output: both wrote identical bytes"
    );
    let store = Store::open(&out, None).unwrap();
    let v = store.verify().unwrap();
    assert_eq!((v.ok, v.problems.len()), (6, 0), "{v:?}");
    let files: Vec<PathBuf> = (0..6)
        .map(|k| dir.path().join(format!("in/img{k:02}.tif")))
        .collect();
    let r = Executor::new(Backend::Cpu)
        .run(
            &segmentation_flow(&files, 2.0),
            &store,
            &RunOptions::default(),
        )
        .unwrap();
    assert_eq!(statuses(&r), [Status::StoreHit; 6]);
}

/// An executor kept across runs (a service, a notebook) writes an output its resident
/// cache holds into a store that lacks it: taken resident, downloaded, written, the same
/// file. (The planner's resident-output unit has no computed member; it once fell
/// through as "an input was not computed".)
#[test]
fn a_resident_output_is_written_to_a_store_that_lacks_it() {
    let mut executors = vec![("cpu", Executor::new(Backend::Cpu))];
    if let Some((exec, _)) = gpu_executor("a_resident_output_is_written_to_a_store_that_lacks_it") {
        executors.push(("gpu", exec));
    }
    for (backend, exec) in executors {
        let (dir, _files, store, flow) = fixture(2, 40, 1.5);
        let first = exec.run(&flow, &store, &RunOptions::default()).unwrap();
        assert_eq!(statuses(&first), [Status::Computed; 2], "{backend}");
        let other = Store::open(dir.path().join("other"), None).unwrap();
        let second = exec.run(&flow, &other, &RunOptions::default()).unwrap();
        assert!(second.ok(), "{backend}: {:?}", second.failures);
        assert_eq!(statuses(&second), [Status::ResidentHit; 2], "{backend}");
        assert_eq!(second.bytes_uploaded, 0, "{backend}: nothing uploaded");
        for (a, b) in first.outputs.iter().zip(&second.outputs) {
            let (pa, pb) = (a.path.as_ref().unwrap(), b.path.as_ref().unwrap());
            assert_eq!(pa.file_name(), pb.file_name(), "{backend}: same key");
            assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
        }
    }
}
