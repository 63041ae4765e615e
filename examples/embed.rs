//! imflow from Rust code: a flow built in code on an in-memory image, branching (one
//! denoised image feeding two masks), with results read back both from the store and
//! straight from memory.
//!
//!     cargo run --release --example embed

use imflow::{
    Backend, Executor, Flow, Image, Op, OutputType, RunOptions, SampleType, Samples, Store,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An image from anywhere: a camera, a request body, another library.
    let (w, h) = (256u32, 192u32);
    let pixels: Vec<u16> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let blob = (-((x - 90.0).powi(2) + (y - 80.0).powi(2)) / 800.0).exp();
            (600.0 + 8000.0 * blob + 50.0 * (i.wrapping_mul(2654435761) % 7) as f32) as u16
        })
        .collect();
    let image = Image::gray(w, h, Samples::U16(pixels))?;

    let mut flow = Flow::new();
    let src = flow.image("camera-frame-0001", image);
    let denoised = flow.op(src, Op::parse("gaussian:sigma=2")?)?;
    let fixed = flow.op(denoised, Op::parse("threshold:value=2000")?)?;
    let otsu = flow.op(denoised, Op::parse("threshold:method=otsu")?)?;
    flow.materialize(fixed, "fixed")?;
    flow.materialize(otsu, "otsu")?;
    // Kept in memory: no file, no record; the image comes back in the report.
    let smooth = flow.materialize(denoised, "denoised")?;
    smooth.persist = false;
    smooth.dtype = OutputType::Exactly(SampleType::F32);

    let dir = std::env::temp_dir().join("imflow-embed-example");
    let store = Store::open(&dir, None)?;
    // One executor per process: it owns the GPU device and keeps recent results resident.
    let exec = Executor::new(Backend::Auto);
    let report = exec.run(&flow, &store, &RunOptions::default())?;

    for o in &report.outputs {
        match (&o.path, &o.image) {
            (Some(path), _) => {
                let mask = imflow::io::load(path)?;
                let fg = mask.to_f32_vec().iter().filter(|&&v| v > 0.0).count();
                println!(
                    "{:>8}: {:?}, {} foreground pixels, {}",
                    o.name,
                    o.status,
                    fg,
                    path.display()
                );
            }
            (None, Some(stack)) => {
                let f = &stack.frames[0];
                println!(
                    "{:>8}: {:?}, in memory, {} {}",
                    o.name,
                    o.status,
                    f.shape(),
                    f.sample_type()
                );
            }
            _ => println!("{:>8}: failed: {:?}", o.name, o.error),
        }
    }
    let otsu_report = report.node(otsu);
    println!(
        "Otsu threshold: {:?}; the gaussian ran once for both masks: {:?}",
        otsu_report.thresholds,
        report.node(denoised).status
    );
    println!(
        "run report as JSON, for another orchestrator:\n{}",
        serde_json::to_string_pretty(&report.output("otsu"))?
    );
    Ok(())
}
