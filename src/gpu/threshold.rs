//! Host side of `shaders/threshold.wgsl`. Twin: `src/cpu/threshold.rs`.

use super::pipelines::Kernel;
use super::pool::PooledBuffer;
use super::{GpuContext, GpuImage};
use crate::image::SampleType;
use crate::ops::{f32_at_or_below, Threshold};
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Keep in sync with `Params` in shaders/threshold.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Params {
    samples: u32,
    row_pitch: u32,
    integer: u32,
    use_stats: u32,
    value: f32,
    _pad: [u32; 3],
}

/// Words of the `stats` buffer (see shaders/threshold.wgsl).
const STATS_WORDS: u64 = 4;
/// Histogram workgroups: enough to fill a large GPU, few enough that each one's
/// flush of its shared bins is amortised over many samples.
const HISTOGRAM_GROUPS: u64 = 1024;
/// Samples per histogram thread at the least.
const SAMPLES_PER_THREAD: u64 = 16;

const STATS: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// The threshold a GPU threshold op used. For Otsu it stays on the GPU until asked for.
#[derive(Debug)]
pub struct GpuThreshold {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Fixed(f64),
    Otsu {
        stats: PooledBuffer,
        ctx: GpuContext,
    },
}

impl GpuThreshold {
    /// The threshold `t` of the mask `x > t` (reads 4 bytes back for Otsu).
    pub fn value(&self) -> Result<f64> {
        match &self.kind {
            Kind::Fixed(t) => Ok(*t),
            Kind::Otsu { stats, ctx } => {
                // stats[2] holds the threshold's f32 bits.
                let raw = ctx.read_back("imflow.threshold.value", stats, 8, 4)?;
                Ok(f64::from(f32::from_le_bytes([
                    raw[0], raw[1], raw[2], raw[3],
                ])))
            }
        }
    }
}

impl GpuContext {
    /// `x > t` as a 0/255 mask over every channel; Otsu's `t` is computed on the GPU
    /// (min/max, histogram, scan) and read by the mask pass without a host round trip.
    pub fn threshold(&self, src: &GpuImage, op: &Threshold) -> Result<(GpuImage, GpuThreshold)> {
        op.validate()?;
        let s = src.shape();
        let n = s.samples_u64();
        let out = self.new_planes("threshold", s, SampleType::U8)?;
        let (grid, row_pitch) = self.grid_1d("threshold", n)?;
        let integer = src.value_type() != SampleType::F32;
        let mut params = Params {
            samples: n as u32,
            row_pitch,
            integer: integer as u32,
            use_stats: 0,
            value: 0.0,
            _pad: [0; 3],
        };
        let stats = self.storage_buffer("threshold.stats", STATS_WORDS * 4, STATS)?;
        let mut batch = self.batch("imflow.threshold");
        let fixed = match *op {
            Threshold::Value { value } => {
                params.value = f32_at_or_below(value);
                Some(value)
            }
            Threshold::Otsu => {
                let bins: u64 = match src.value_type() {
                    SampleType::U16 => 65536,
                    _ => 256,
                };
                let hist = self.storage_buffer("threshold.histogram", bins * 4, STATS)?;
                batch.encoder.clear_buffer(&stats, 0, None);
                batch.encoder.clear_buffer(&hist, 0, None);
                batch.dispatch(
                    Kernel::MinMax,
                    &params,
                    &[(1, src.buffer()), (3, &stats)],
                    grid,
                )?;
                let groups = n
                    .div_ceil(256 * SAMPLES_PER_THREAD)
                    .clamp(1, HISTOGRAM_GROUPS);
                let hist_groups = self.check_groups("histogram", [groups, 1, 1])?;
                for k in [Kernel::HistogramShared, Kernel::HistogramGlobal] {
                    batch.dispatch(
                        k,
                        &params,
                        &[(1, src.buffer()), (3, &stats), (4, &hist)],
                        hist_groups,
                    )?;
                }
                let scan = if integer {
                    Kernel::OtsuScanInteger
                } else {
                    Kernel::OtsuScanFloat
                };
                batch.dispatch(scan, &params, &[(3, &stats), (4, &hist)], [1, 1, 1])?;
                batch.retire(hist);
                params.use_stats = 1;
                None
            }
        };
        // A fixed threshold binds `stats` too (the layout is shared) but never reads it.
        batch.dispatch(
            Kernel::ThresholdApply,
            &params,
            &[(1, src.buffer()), (2, out.buffer()), (3, &stats)],
            grid,
        )?;
        let kind = match fixed {
            Some(value) => {
                batch.retire(stats);
                Kind::Fixed(value)
            }
            None => Kind::Otsu {
                stats,
                ctx: self.clone(),
            },
        };
        batch.submit()?;
        Ok((out, GpuThreshold { kind }))
    }
}
