//! Criterion benches: imflow's GPU kernels (whatever adapter is present; its name is
//! printed first) against their CPU twins, and the executor's chains and caching.
//! Ids read `area/op/params/WxH/type/backend`, so results sort and compare.
//!
//!     cargo bench                           # 512, 2048 and 4096 squared
//!     IMFLOW_BENCH_QUICK=1 cargo bench      # 256 and 512: minutes on lavapipe
//!
//! Backends: `cpu` is the CPU twin on planes in memory; `gpu` the kernel alone on a
//! resident image, timed by GPU timestamp queries where the adapter has them (else wall
//! time of submit + wait); `gpu-e2e` adds the upload of the source's own samples and the
//! download of the result. Throughput is in bytes (each pass reading and writing the
//! plane once), so criterion's GiB/s is the achieved bandwidth.

mod chains;
mod kernels;
mod objects;
mod tiling;

use criterion::{criterion_group, criterion_main, Criterion};
use imflow::{GpuContext, Image, SampleType, Samples};
use std::sync::OnceLock;
use std::time::Duration;

pub fn quick() -> bool {
    std::env::var("IMFLOW_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// The GPU, created once for all benches (device creation is not what is measured).
pub fn gpu() -> Option<&'static GpuContext> {
    static GPU: OnceLock<Option<GpuContext>> = OnceLock::new();
    GPU.get_or_init(|| match GpuContext::new() {
        Ok(ctx) => {
            let a = ctx.adapter();
            eprintln!(
                "GPU adapter: {} ({}, {}); timestamp queries: {}",
                a.name, a.device_type, a.backend, a.timestamp_query
            );
            Some(ctx)
        }
        Err(e) => {
            eprintln!("no GPU, CPU twins only: {e}");
            None
        }
    })
    .as_ref()
}

/// A deterministic square test image.
pub fn image(side: u32, t: SampleType, seed: u64) -> Image {
    let n = (side * side) as usize;
    let mut s = 0x2545_F491_4F6C_DD1Du64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let samples = match t {
        SampleType::U8 => Samples::U8((0..n).map(|_| next() as u8).collect()),
        SampleType::U16 => Samples::U16((0..n).map(|_| (next() >> 52) as u16 + 500).collect()),
        SampleType::F32 => Samples::F32(
            (0..n)
                .map(|_| (next() >> 40) as f32 / 16_777_216.0)
                .collect(),
        ),
        // The benches use the three types above; the others convert from f32.
        other => {
            let f = Samples::F32((0..n).map(|_| (next() >> 52) as f32).collect());
            let img = Image::gray(side, side, f).expect("valid");
            return imflow::cpu::convert::retype(&img, other);
        }
    };
    Image::gray(side, side, samples).expect("valid")
}

fn config() -> Criterion {
    let c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300));
    if quick() {
        c.measurement_time(Duration::from_secs(1))
    } else {
        c.measurement_time(Duration::from_secs(3))
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = kernels::bench, chains::bench, tiling::bench, objects::bench
}
criterion_main!(benches);
