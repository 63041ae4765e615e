//! Blur every frame of an animated GIF, keeping frame order, delays and loop count: the
//! image-service use case.
//!
//!     cargo run --release --example gif_blur [-- IN.gif [SIGMA]]
//!
//! With no GIF given it writes a small animation (a bouncing disc) to blur.

use imflow::io::{self, Animation, Format, Stack};
use imflow::{Backend, Executor, Flow, Image, Op, RunOptions, Samples, Store};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/gif_example");
    std::fs::create_dir_all(&root)?;
    let input = match args.first() {
        Some(p) => PathBuf::from(p),
        None => {
            let p = root.join("bounce.gif");
            let stack = bouncing_disc(160, 120, 24);
            io::save_stack(&stack, Format::Gif, &p)?;
            p
        }
    };
    let sigma: f64 = args.get(1).map_or(Ok(2.5), |s| s.parse())?;

    let mut flow = Flow::new();
    let src = flow.file(&input);
    let blurred = flow.op(src, Op::parse(&format!("gaussian:sigma={sigma}"))?)?;
    flow.materialize(blurred, "blurred")?; // a GIF stays a GIF
    let store = Store::open(root.join("out"), None)?;
    let exec = Executor::new(Backend::Auto);
    let report = exec.run(&flow, &store, &RunOptions::default())?;
    let out = &report.outputs[0];
    if let Some(e) = &out.error {
        return Err(e.clone().into());
    }
    let path = out.path.clone().expect("written");
    let before = io::load_stack(&input)?;
    let after = io::load_stack(&path)?;
    println!(
        "{} -> {} ({:?}, on {})",
        input.display(),
        path.display(),
        out.status,
        report.device.as_deref().unwrap_or("no device (cached)")
    );
    println!(
        "frames {} -> {}, delays kept: {}, loop count kept: {}",
        before.frames.len(),
        after.frames.len(),
        before.animation.as_ref().map(|a| &a.delays) == after.animation.as_ref().map(|a| &a.delays),
        before.animation.as_ref().map(|a| a.repeat) == after.animation.as_ref().map(|a| a.repeat),
    );
    Ok(())
}

/// A disc bouncing across a gradient, `n` frames of 60 ms, looping forever.
fn bouncing_disc(w: u32, h: u32, n: usize) -> Stack {
    let frames = (0..n)
        .map(|k| {
            let t = k as f32 / n as f32;
            let (cx, cy) = (
                w as f32 * (0.2 + 0.6 * t),
                h as f32 * (0.5 + 0.35 * (t * std::f32::consts::TAU).sin()),
            );
            let mut px = Vec::with_capacity((w * h * 4) as usize);
            for y in 0..h {
                for x in 0..w {
                    let inside = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < 300.0;
                    let g = (255 * x / w) as u8;
                    px.extend_from_slice(&if inside {
                        [230, 40, 40, 255]
                    } else {
                        [g, g / 2, 255 - g, 255]
                    });
                }
            }
            Image::new(w, h, 4, Samples::U8(px)).expect("sized")
        })
        .collect();
    Stack {
        frames,
        animation: Some(Animation {
            delays: vec![(60, 1); n],
            repeat: None,
        }),
        format: Some(Format::Gif),
        voxel: None,
    }
}
