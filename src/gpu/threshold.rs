//! Host side of `shaders/threshold.wgsl`. Twin: `src/cpu/threshold.rs`.

use super::batch::{Batch, ReadSlot};
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::{f32_at_or_below, Threshold};
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override), but the float scan's one.
const WORKGROUP: u32 = 256;
/// Bins the shared-memory histogram gathers per workgroup (the `SHARED_BINS` override):
/// 16 KiB of workgroup memory, the minimum every adapter has.
const SHARED_BINS: u32 = 4096;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[
    ("WORKGROUP", WORKGROUP as f64),
    ("SHARED_BINS", SHARED_BINS as f64),
];

/// Keep in sync with `Params` in shaders/threshold.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Params {
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

/// The threshold a recorded threshold op uses: known on the host for a fixed one; for
/// Otsu, computed on the GPU and read back with the frame's other results.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PendingThreshold {
    /// A fixed threshold.
    Fixed(f64),
    /// Otsu's value, as f32 bits at this slot of the frame's read-back.
    Otsu(ReadSlot),
}

impl PendingThreshold {
    /// The threshold `t` of the mask `x > t`, from the mapped staging bytes.
    pub fn read(&self, mapped: &[u8]) -> f64 {
        match *self {
            PendingThreshold::Fixed(t) => t,
            PendingThreshold::Otsu(slot) => {
                let b = slot.of(mapped);
                f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
        }
    }
}

impl Batch<'_> {
    /// `x > t` as a 0/255 mask over every channel; Otsu's `t` is computed on the GPU
    /// (min/max, histogram, scan) and read by the mask pass without a host round trip,
    /// and its value is read back with the frame's results.
    pub fn threshold(
        &mut self,
        src: &GpuImage,
        op: &Threshold,
    ) -> Result<(GpuImage, PendingThreshold)> {
        op.validate()?;
        let s = src.shape();
        let n = s.samples_u64();
        let out = self.planes("threshold", s, SampleType::U8)?;
        let (grid, row_pitch) = self.ctx.grid_1d("threshold", n, WORKGROUP)?;
        let integer = src.value_type() != SampleType::F32;
        let mut params = Params {
            samples: n as u32,
            row_pitch,
            integer: integer as u32,
            use_stats: 0,
            value: 0.0,
            _pad: [0; 3],
        };
        let stats = self.buffer("threshold.stats", STATS_WORDS * 4, STATS)?;
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
                let hist = self.buffer("threshold.histogram", bins * 4, STATS)?;
                self.encoder.clear_buffer(&stats, 0, None);
                self.encoder.clear_buffer(&hist, 0, None);
                self.dispatch(
                    Kernel::MinMax,
                    &params,
                    &[(1, src.buffer()), (3, &stats)],
                    grid,
                )?;
                let groups = n
                    .div_ceil(u64::from(WORKGROUP) * SAMPLES_PER_THREAD)
                    .clamp(1, HISTOGRAM_GROUPS);
                let hist_groups = self.ctx.check_groups("histogram", [groups, 1, 1])?;
                for k in [Kernel::HistogramShared, Kernel::HistogramGlobal] {
                    self.dispatch(
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
                self.dispatch(scan, &params, &[(3, &stats), (4, &hist)], [1, 1, 1])?;
                self.free(hist);
                params.use_stats = 1;
                None
            }
        };
        // A fixed threshold binds `stats` too (the layout is shared) but never reads it.
        self.dispatch(
            Kernel::ThresholdApply,
            &params,
            &[(1, src.buffer()), (2, out.buffer()), (3, &stats)],
            grid,
        )?;
        let t = match fixed {
            Some(value) => {
                self.free(stats);
                PendingThreshold::Fixed(value)
            }
            None => {
                // stats[2] holds the threshold's f32 bits.
                let c = &self.ctx.inner.counters;
                c.bytes_downloaded
                    .fetch_add(4, std::sync::atomic::Ordering::Relaxed);
                c.downloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                PendingThreshold::Otsu(self.read_back(stats, 8, 4))
            }
        };
        Ok((out, t))
    }
}
