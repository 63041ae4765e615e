//! The microscopy flow: denoise 16-bit images with a gaussian (sigma 2), segment them
//! into u8 masks with Otsu's threshold (or a fixed one), label the nuclei and measure
//! each one on the raw image (one CSV per image: area, centroid, bbox, intensities),
//! cached and verified.
//!
//!     cargo run --release --example nuclei_segmentation [-- [--fixed T] [INPUT_DIR [OUT_DIR]]]
//!
//! With no input folder it first writes a deterministic synthetic set: 16 images of
//! 1024x1024 u16, bright nuclei-like blobs on a dim background with Poisson-like noise,
//! into target/nuclei_example/input. The flow then runs twice; the second run finds
//! every mask and table in the store and computes nothing (it does not even open the
//! GPU), and still reports how many nuclei each image holds.

use imflow::executor::Status;
use imflow::io;
use imflow::{Backend, Executor, Flow, Image, Op, RunOptions, RunReport, Samples, Store};
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let threshold = match args.iter().position(|a| a == "--fixed") {
        Some(i) if i + 1 < args.len() => {
            let t = args.remove(i + 1);
            args.remove(i);
            format!("threshold:value={t}")
        }
        _ => "threshold:method=otsu".to_string(),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/nuclei_example");
    let input = match args.first() {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = root.join("input");
            synthesize(&dir, 16, 1024)?;
            dir
        }
    };
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("masks"));

    let mut files: Vec<PathBuf> = std::fs::read_dir(&input)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tif" || e == "tiff"))
        .collect();
    files.sort();
    let ops = [Op::parse("gaussian:sigma=2")?, Op::parse(&threshold)?];
    let mut flow = Flow::new();
    for f in &files {
        let src = flow.file(f);
        let mask = flow.chain(src, &ops)?;
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        flow.materialize(mask, format!("{stem}_mask"))?;
        let labels = flow.op(mask, Op::parse("label:connectivity=1")?)?;
        let objects = flow.measure(labels, src)?;
        flow.materialize(objects, format!("{stem}_objects"))?;
    }
    let store = Store::open(&out, None)?;
    println!(
        "{} images from {}, masks to {}",
        files.len(),
        input.display(),
        out.display()
    );
    println!(
        "flow per image: {} -> mask; mask -> label -> measure(labels, image) -> CSV",
        ops.iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(" -> ")
    );

    for (label, exec) in [
        ("first run", Executor::new(Backend::Auto)),
        ("second run", Executor::new(Backend::Auto)),
    ] {
        let report = exec.run(&flow, &store, &RunOptions::default())?;
        if let Some(n) = exec.notice() {
            println!("  (backend: CPU; {n})");
        }
        summarize(label, &report);
        if !report.ok() {
            return Err(format!("{} files failed", report.failures.len()).into());
        }
    }
    let verified = store.verify()?;
    println!(
        "store: {} records, {} verified, {} problems",
        verified.records,
        verified.ok,
        verified.problems.len()
    );
    Ok(())
}

fn summarize(label: &str, r: &RunReport) {
    let count = |s: Status| r.outputs.iter().filter(|o| o.status == s).count();
    println!(
        "{label}: {} computed, {} cached, {} failed in {:.2} s on {}; {:.1} MB up, {:.1} MB down",
        count(Status::Computed),
        count(Status::StoreHit),
        count(Status::Failed),
        r.wall_ms / 1e3,
        r.device
            .as_deref()
            .unwrap_or("no device (everything cached)"),
        r.bytes_uploaded as f64 / 1e6,
        r.bytes_downloaded as f64 / 1e6,
    );
    for o in r.outputs.iter().take(2) {
        println!(
            "  e.g. {} -> {}",
            o.source.as_deref().unwrap_or(Path::new("?")).display(),
            o.path.as_deref().unwrap_or(Path::new("?")).display()
        );
    }
    let counts: Vec<String> = (r.outputs.iter())
        .filter_map(|o| {
            Some(format!(
                "{} {}",
                o.name.trim_end_matches("_objects"),
                o.objects?
            ))
        })
        .collect();
    println!("  nuclei per image: {}", counts.join(", "));
}

/// Writes `n` synthetic nuclei images unless they are already there (same seed, same
/// bytes, so a re-run finds identical inputs and reuses every mask).
fn synthesize(dir: &Path, n: usize, side: u32) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    for k in 0..n {
        let path = dir.join(format!("nuclei_{k:02}.tif"));
        if path.exists() {
            continue;
        }
        let mut rng = XorShift(0x5EED_0000 + k as u64);
        let s = side as usize;
        let mut img = vec![800.0f32; s * s];
        for _ in 0..60 {
            let (cy, cx, r) = (
                rng.unit() * side as f32,
                rng.unit() * side as f32,
                6.0 + 10.0 * rng.unit(),
            );
            let reach = (3.0 * r) as i64;
            for y in (cy as i64 - reach).max(0)..(cy as i64 + reach).min(s as i64) {
                for x in (cx as i64 - reach).max(0)..(cx as i64 + reach).min(s as i64) {
                    let d2 = (y as f32 - cy).powi(2) + (x as f32 - cx).powi(2);
                    img[y as usize * s + x as usize] += 9000.0 * (-d2 / (2.0 * r * r)).exp();
                }
            }
        }
        // Poisson-like shot noise: normal with variance equal to the mean.
        let pixels = img
            .iter()
            .map(|&m| (m + m.sqrt() * rng.normal()).clamp(0.0, 65535.0) as u16)
            .collect();
        io::save(&Image::gray(side, side, Samples::U16(pixels))?, &path)?;
    }
    Ok(())
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn normal(&mut self) -> f32 {
        // Box-Muller.
        let (u, v) = (self.unit().max(1e-7), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}
