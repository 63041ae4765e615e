//! Shared test helpers: the GPU (or a loud skip), the golden data, and a local S3
//! server (`s3`).
#![allow(dead_code)] // each test binary uses a different subset

pub mod s3;

use imflow::{GpuContext, Image, SampleType, Samples};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// A fresh GPU context for one test. With no adapter: a test failure when
/// `IMFLOW_REQUIRE_GPU=1` (CI), else `None` and a SKIPPED line written straight to the
/// terminal (past the test harness's output capture, so it shows on passing runs).
pub fn gpu(test: &str) -> Option<GpuContext> {
    match GpuContext::new() {
        Ok(ctx) => Some(ctx),
        Err(e) if std::env::var("IMFLOW_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("IMFLOW_REQUIRE_GPU=1 but no GPU for {test}: {e}")
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n*** SKIPPED GPU test `{test}`: {e}\n*** set IMFLOW_REQUIRE_GPU=1 to make this a failure\n"
            );
            None
        }
    }
}

pub fn goldens_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/goldens")
}

#[derive(Deserialize)]
pub struct Manifest {
    pub inputs: HashMap<String, InputMeta>,
    pub cases: Vec<Case>,
    pub apply: ApplyCase,
}

#[derive(Deserialize)]
pub struct InputMeta {
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub channels: u32,
    pub dtype: String,
}

#[derive(Deserialize, Clone)]
pub struct Case {
    pub input: String,
    pub op: String,
    pub then: Option<String>,
    pub output: Option<String>,
    pub threshold: Option<f64>,
    /// Set for outputs stored in their own integer type (`int=scipy`): compared bit for
    /// bit, as that type.
    pub output_dtype: Option<String>,
}

#[derive(Deserialize)]
pub struct ApplyCase {
    pub file: String,
    pub ops: Vec<String>,
    pub threshold: f64,
    pub mask: String,
    pub width: u32,
    pub height: u32,
}

pub fn manifest() -> Manifest {
    let text = std::fs::read_to_string(goldens_dir().join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest parses")
}

pub fn read_bin(file: &str) -> Vec<u8> {
    std::fs::read(goldens_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

pub fn read_f32(file: &str) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(&read_bin(file))
}

pub fn load_input(m: &Manifest, id: &str) -> Image {
    let meta = &m.inputs[id];
    let raw = read_bin(&meta.file);
    let t: SampleType = meta.dtype.parse().unwrap_or_else(|e| panic!("{e}"));
    let samples = Samples::from_le_bytes(t, &raw);
    Image::new(meta.width, meta.height, meta.channels, samples).unwrap()
}

pub fn f32_samples(image: &Image) -> Vec<f32> {
    match image.samples() {
        Samples::F32(v) => v.clone(),
        _ => image.to_f32_vec(),
    }
}

/// The data's range, max - min: DESIGN.md's tolerances are fractions of it. A constant
/// image (a 1x1 one, say) has none, so its magnitude stands in.
pub fn range(v: &[f32]) -> f32 {
    let (lo, hi) = v
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    if hi > lo {
        hi - lo
    } else {
        hi.abs().max(1.0)
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Deterministic pseudo-random image (xorshift), for parity tests beyond the goldens.
pub fn random_image(width: u32, height: u32, channels: u32, t: SampleType, seed: u64) -> Image {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let n = (width * height * channels) as usize;
    let samples = match t {
        SampleType::U8 => Samples::U8((0..n).map(|_| (next() >> 56) as u8).collect()),
        SampleType::U16 => Samples::U16((0..n).map(|_| (next() >> 48) as u16).collect()),
        SampleType::F32 => Samples::F32(
            (0..n)
                .map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 * 1000.0 - 100.0)
                .collect(),
        ),
        SampleType::I8 => Samples::I8((0..n).map(|_| (next() >> 56) as u8 as i8).collect()),
        SampleType::I16 => Samples::I16((0..n).map(|_| (next() >> 48) as u16 as i16).collect()),
        SampleType::I32 => Samples::I32((0..n).map(|_| (next() >> 32) as u32 as i32).collect()),
        SampleType::U32 => Samples::U32((0..n).map(|_| (next() >> 32) as u32).collect()),
        SampleType::F64 => Samples::F64(
            (0..n)
                .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64 * 1000.0 - 100.0)
                .collect(),
        ),
    };
    Image::new(width, height, channels, samples).unwrap()
}

/// A deterministic pseudo-random volume of `depth` slices (see [`random_image`]).
pub fn random_volume(
    width: u32,
    height: u32,
    depth: u32,
    channels: u32,
    t: SampleType,
    seed: u64,
) -> Image {
    let flat = random_image(width, height * depth, channels, t, seed);
    let shape = imflow::Shape::volume(width, height, depth, channels).unwrap();
    Image::with_shape(shape, flat.into_samples()).unwrap()
}

/// Runs the `imflow` binary (libwayland's headless complaint silenced).
pub fn imflow(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_imflow"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("runs")
}

/// A command's stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
