//! The microscopy flow: denoise 16-bit images with a gaussian (sigma 2), then segment them
//! with Otsu's threshold into u8 masks.
//!
//!     cargo run --release --example nuclei_segmentation [INPUT_DIR] [OUTPUT_DIR]
//!
//! With no input folder it first writes a deterministic synthetic set: 16 images of
//! 1024x1024 u16, bright nuclei-like blobs on a dim background with Poisson-like noise.

use imflow::{io, Backend, Op, OutputType, Processor, Samples};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/nuclei_example");
    let input = match args.first() {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = root.join("input");
            synthesize(&dir, 16, 1024)?;
            dir
        }
    };
    let output = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("masks"));
    std::fs::create_dir_all(&output)?;

    let processor = Processor::new(Backend::Auto)?;
    match processor.notice() {
        Some(n) => println!("backend: CPU ({n})"),
        None => println!("backend: GPU, {}", processor.device_name()),
    }
    let ops = [
        Op::parse("gaussian:sigma=2")?,
        Op::parse("threshold:method=otsu")?,
    ];
    let mut files: Vec<PathBuf> = std::fs::read_dir(&input)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tif" || e == "tiff"))
        .collect();
    files.sort();
    let (mut done, mut failed) = (0, Vec::new());
    let start = Instant::now();
    for path in &files {
        let result = io::load(path).and_then(|image| {
            let out = processor.run(&image, &ops, OutputType::Same)?;
            let mask = output.join(path.file_name().expect("a file"));
            io::save(&out.image, &mask)?;
            Ok((out, mask))
        });
        match result {
            Ok((out, mask)) => {
                let Samples::U8(m) = out.image.samples() else {
                    unreachable!("masks are u8")
                };
                let fg = m.iter().filter(|&&v| v == 255).count() as f64 / m.len() as f64;
                println!(
                    "{} -> {}  otsu={:.1}  foreground={:.1}%",
                    path.display(),
                    mask.display(),
                    out.thresholds[0],
                    100.0 * fg
                );
                done += 1;
            }
            Err(e) => failed.push(e.to_string()),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{done} masks in {secs:.2} s ({:.1} images/s), {} failed",
        done as f64 / secs.max(1e-9),
        failed.len()
    );
    for f in &failed {
        println!("  failed: {f}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} of {} files failed", failed.len(), files.len()).into())
    }
}

/// Writes `n` synthetic nuclei images unless they are already there (same seed, same
/// bytes, so a re-run finds identical inputs).
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
        io::save(
            &imflow::Image::gray(side, side, Samples::U16(pixels))?,
            &path,
        )?;
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
