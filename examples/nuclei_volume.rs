//! The microscopy flow in 3-D: a z-stack of nuclei (an ImageJ hyperstack with its voxel
//! size) denoised with an anisotropic 3-D gaussian, segmented with Otsu's threshold over
//! the whole volume, labelled in 3-D (a nucleus spanning many slices is one object) and
//! measured: a label volume that Fiji and napari open as a volume with the right aspect,
//! and a CSV with each nucleus's volume in voxels and in cubic micrometres.
//!
//!     cargo run --release --example nuclei_volume [-- [INPUT.tif [OUT_DIR]]]
//!
//! With no input it first writes a deterministic synthetic z-stack: 48 slices of 256x256
//! u16, 40 ellipsoidal nuclei on a dim background with shot noise, voxels of
//! 1.0 x 0.25 x 0.25 um, to target/nuclei_volume_example/nuclei.tif. The flow runs
//! twice; the second run finds the labels and the table in the store and computes
//! nothing.

use imflow::executor::Status;
use imflow::io;
use imflow::{Backend, Executor, Flow, Image, Op, RunOptions, Samples, Shape, Store, VoxelSize};
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/nuclei_volume_example");
    let input = match args.first() {
        Some(f) => PathBuf::from(f),
        None => synthesize(&root.join("nuclei.tif"))?,
    };
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("out"));

    // Sigma in voxels along (z, y, x): the slices are 4x as far apart as the pixels,
    // so z gets a quarter of the in-plane sigma (about 0.5 um along every axis).
    let ops = [
        Op::parse("gaussian:sigma_z=0.5,sigma_y=2,sigma_x=2")?,
        Op::parse("threshold:method=otsu")?,
        Op::parse("label:connectivity=1")?,
    ];
    let mut flow = Flow::new();
    let src = flow.file(&input); // an ImageJ hyperstack says it is a volume itself
    let labels = flow.chain(src, &ops)?;
    flow.materialize(labels, "nuclei_labels")?;
    let objects = flow.measure(labels, src)?;
    flow.materialize(objects, "nuclei_objects")?;
    let store = Store::open(&out, None)?;
    println!("{} -> {}", input.display(), out.display());
    println!(
        "flow: {} -> labels; measure(labels, volume) -> CSV",
        ops.iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    for label in ["first run", "second run"] {
        let exec = Executor::new(Backend::Auto);
        let r = exec.run(&flow, &store, &RunOptions::default())?;
        if !r.ok() {
            return Err(format!("{:?}", r.failures).into());
        }
        let count = |s: Status| r.outputs.iter().filter(|o| o.status == s).count();
        println!(
            "{label}: {} computed, {} cached in {:.2} s on {}",
            count(Status::Computed),
            count(Status::StoreHit),
            r.wall_ms / 1e3,
            r.device
                .as_deref()
                .unwrap_or("no device (everything cached)"),
        );
        for o in &r.outputs {
            let objects = o
                .objects
                .map(|n| format!(" ({n} nuclei)"))
                .unwrap_or_default();
            println!(
                "  {} -> {}{objects}",
                o.name,
                o.path.as_deref().unwrap_or(Path::new("?")).display()
            );
        }
    }
    // A glance at the table: each nucleus's volume in voxels and in cubic micrometres.
    let csv = std::fs::read_dir(&out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .ok_or("no table written")?;
    let text = std::fs::read_to_string(&csv)?;
    let header: Vec<&str> = text.lines().next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    if let (Some(area), Some(um3)) = (col("area"), col("area_physical")) {
        for line in text.lines().skip(1).take(3) {
            let f: Vec<&str> = line.split(',').collect();
            println!("  nucleus {}: {} voxels, {} um^3", f[0], f[area], f[um3]);
        }
    }
    Ok(())
}

/// Writes the synthetic z-stack unless it is there (same seed, same bytes).
fn synthesize(path: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    std::fs::create_dir_all(path.parent().ok_or("no folder")?)?;
    let (w, h, d) = (256usize, 256usize, 48usize);
    let voxel = VoxelSize {
        z: 1.0,
        y: 0.25,
        x: 0.25,
        unit: "\u{b5}m".into(),
    };
    let mut rng = XorShift(0x5EED_0003);
    let mut v = vec![600.0f32; w * h * d];
    for _ in 0..40 {
        // A nucleus about 3-5 um across: 12-20 pixels in the plane, 3-5 slices deep.
        let (cz, cy, cx) = (
            4.0 + rng.unit() * (d as f32 - 8.0),
            rng.unit() * h as f32,
            rng.unit() * w as f32,
        );
        let r = 1.5 + rng.unit(); // um
        let (rz, rxy) = (r / voxel.z as f32, r / voxel.x as f32);
        let reach = |c: f32, r: f32, n: usize| {
            (
                (c - 2.0 * r).max(0.0) as usize,
                ((c + 2.0 * r) as usize + 1).min(n),
            )
        };
        let ((z0, z1), (y0, y1), (x0, x1)) =
            (reach(cz, rz, d), reach(cy, rxy, h), reach(cx, rxy, w));
        for z in z0..z1 {
            for y in y0..y1 {
                for x in x0..x1 {
                    let q = ((z as f32 - cz) / rz).powi(2)
                        + ((y as f32 - cy) / rxy).powi(2)
                        + ((x as f32 - cx) / rxy).powi(2);
                    v[(z * h + y) * w + x] += 5000.0 / (1.0 + (6.0 * (q - 1.0)).exp());
                }
            }
        }
    }
    let voxels = v
        .iter()
        .map(|&m| (m + m.sqrt() * rng.normal()).clamp(0.0, 65535.0) as u16)
        .collect();
    let shape = Shape::volume(w as u32, h as u32, d as u32, 1)?;
    let stack = io::Stack {
        voxel: Some(voxel),
        ..io::Stack::single(Image::with_shape(shape, Samples::U16(voxels))?)
    };
    io::save_stack(&stack, io::Format::Tiff, path)?;
    Ok(path.to_path_buf())
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
        let (u, v) = (self.unit().max(1e-7), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}
