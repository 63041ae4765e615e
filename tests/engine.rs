//! The engine: a frame's whole chain is one submit and one map, frames are pipelined, and
//! one executor shared by many threads gives each run its own figures. Proven by the
//! GPU's counters, not by timing.

mod common;
use common::*;
use imflow::io::{self, Animation, Format, Stack};
use imflow::{Backend, Executor, Flow, Op, OutputType, Processor, RunOptions, SampleType, Store};

fn op(s: &str) -> Op {
    Op::parse(s).unwrap()
}

/// gaussian -> box -> Otsu on a 2048x2048 u16 frame: one submit, one map (the mask and
/// Otsu's value come back together), nothing else crosses the bus.
#[test]
fn a_chain_with_otsu_is_one_submit_and_one_map() {
    let Some(ctx) = gpu("a_chain_with_otsu_is_one_submit_and_one_map") else {
        return;
    };
    let image = random_image(2048, 2048, 1, SampleType::U16, 5);
    let ops = [
        op("gaussian:sigma=2"),
        op("box:size=5"),
        op("threshold:method=otsu"),
    ];
    let p = Processor::gpu(ctx.clone());
    p.run(&image, &ops, OutputType::Same).unwrap(); // pipelines built: not counted below
    let before = ctx.stats();
    let out = p.run(&image, &ops, OutputType::Same).unwrap();
    let after = ctx.stats();
    assert_eq!(after.submits - before.submits, 1, "submits");
    assert_eq!(after.maps - before.maps, 1, "maps");
    assert_eq!(after.uploads - before.uploads, 1);
    assert_eq!(
        after.downloads - before.downloads,
        2,
        "the mask and the Otsu value"
    );
    let px = 2048 * 2048;
    assert_eq!(after.bytes_uploaded - before.bytes_uploaded, px * 2);
    assert_eq!(after.bytes_downloaded - before.bytes_downloaded, px + 4);
    // The value read back beside the mask is the one the CPU twin computes (on f32 data
    // the two may differ by the last bits of the filter; within one bin is the contract,
    // and the masks are then compared where that cannot matter).
    let cpu = Processor::cpu()
        .run(&image, &ops, OutputType::Same)
        .unwrap();
    assert_eq!(out.thresholds.len(), 1);
    let bin = 65535.0 / 256.0;
    assert!((out.thresholds[0] - cpu.thresholds[0]).abs() <= bin);
    assert_eq!(out.image.sample_type(), SampleType::U8);
}

/// A 24-frame GIF through the executor: 24 submits, one map each (no per-op waits),
/// frame k+1 submitted while frame k runs, never more than two at once.
#[test]
fn gif_frames_are_pipelined_two_at_a_time() {
    let Some(ctx) = gpu("gif_frames_are_pipelined_two_at_a_time") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("anim.gif");
    let frames: Vec<_> = (0..24)
        .map(|k| random_image(64, 48, 3, SampleType::U8, 100 + k).into_opaque())
        .collect();
    let stack = Stack {
        frames,
        animation: Some(Animation {
            delays: vec![(40, 1); 24],
            repeat: None,
        }),
        format: Some(Format::Gif),
        voxel: None,
    };
    io::save_stack(&stack, Format::Gif, &gif).unwrap();
    let mut flow = Flow::new();
    let src = flow.file(&gif);
    let g = flow.op(src, op("gaussian:sigma=1.5")).unwrap();
    let t = flow.op(g, op("threshold:method=otsu")).unwrap();
    flow.materialize(t, "mask").unwrap();
    let exec = Executor::with_gpu(ctx.clone()).with_resident_budget(0);
    // Warm the pipelines on a one-frame image so the counts below are the GIF's alone.
    Processor::gpu(ctx.clone())
        .run(
            &stack.frames[0],
            &[op("gaussian:sigma=1.5"), op("threshold:method=otsu")],
            OutputType::Same,
        )
        .unwrap();
    ctx.reset_peak();
    let before = ctx.stats();
    let r = exec
        .run(
            &flow,
            &Store::open(dir.path().join("out"), None).unwrap(),
            &RunOptions::default(),
        )
        .unwrap();
    let after = ctx.stats();
    assert!(r.ok(), "{:?}", r.failures);
    assert_eq!(after.submits - before.submits, 24);
    assert_eq!(
        after.maps - before.maps,
        24,
        "one wait per frame, none per op"
    );
    assert_eq!(after.max_frames_in_flight, 2, "pipelined, two at a time");
    assert_eq!(r.node(t).thresholds.len(), 24, "an Otsu value per frame");
    let written = io::load_stack(r.output("mask").unwrap().path.as_ref().unwrap()).unwrap();
    assert_eq!(written.frames.len(), 24);
    assert_eq!(written.animation.unwrap().delays, vec![(40, 1); 24]);
}

/// The flows 8 threads run at once on one shared executor.
fn thread_flow(dir: &std::path::Path, k: usize) -> Flow {
    let src = dir.join(format!("in{k}.tif"));
    if !src.exists() {
        io::save(&random_image(256, 192, 1, SampleType::U16, k as u64), &src).unwrap();
    }
    let mut flow = Flow::new();
    let s = flow.file(&src);
    let g = flow.op(s, op("gaussian:sigma=2")).unwrap();
    let m = flow.op(g, op("threshold:method=otsu")).unwrap();
    flow.materialize(m, format!("mask{k}")).unwrap();
    let b = flow.op(g, op("box:size=3")).unwrap();
    flow.materialize(b, format!("smooth{k}")).unwrap();
    flow
}

/// A run's byte figures (total and per node) and its outputs' hashes.
type Figures = (u64, u64, Vec<(u64, u64)>, Vec<Option<imflow::key::Key>>);

fn figures(r: &imflow::RunReport) -> Figures {
    (
        r.bytes_uploaded,
        r.bytes_downloaded,
        r.nodes
            .iter()
            .map(|n| (n.bytes_uploaded, n.bytes_downloaded))
            .collect(),
        r.outputs.iter().map(|o| o.file_blake3).collect(),
    )
}

fn concurrent_runs_match_lone_runs(backend: Backend, exec: Executor) {
    let dir = tempfile::tempdir().unwrap();
    let flows: Vec<Flow> = (0..8).map(|k| thread_flow(dir.path(), k)).collect();
    // Alone, one after another, each on a fresh store.
    let alone: Vec<_> = flows
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let store = Store::open(dir.path().join(format!("alone{k}")), None).unwrap();
            figures(
                &Executor::new(backend)
                    .run(f, &store, &RunOptions::default())
                    .unwrap(),
            )
        })
        .collect();
    // At once, on one executor (its resident cache off, so every run computes).
    let exec = exec.with_resident_budget(0);
    let together: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = flows
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let (exec, dir) = (&exec, dir.path());
                s.spawn(move || {
                    let store = Store::open(dir.join(format!("together{k}")), None).unwrap();
                    figures(&exec.run(f, &store, &RunOptions::default()).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(together, alone);
    if backend == Backend::Gpu {
        let (up, down, ..) = &alone[0];
        assert_eq!((*up, *down), (256 * 192 * 2, 256 * 192 + 4 + 256 * 192 * 2));
    }
}

#[test]
fn eight_threads_share_one_gpu_executor() {
    let Some(ctx) = gpu("eight_threads_share_one_gpu_executor") else {
        return;
    };
    concurrent_runs_match_lone_runs(Backend::Gpu, Executor::with_gpu(ctx));
}

#[test]
fn eight_threads_share_one_cpu_executor() {
    concurrent_runs_match_lone_runs(Backend::Cpu, Executor::new(Backend::Cpu));
}
