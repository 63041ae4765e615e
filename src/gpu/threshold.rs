//! Host side of `shaders/threshold.wgsl`. Twin: `src/cpu/threshold.rs`.

use super::batch::{Batch, ReadSlot};
use super::pipelines::Kernel;
use super::pool::PooledBuffer;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::{f32_at_or_below, Threshold};
use crate::ops::{from_key, key};
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
    ///
    /// The caller checks the op's parameters: a value a method found may be infinite
    /// (`x > inf` is an empty mask, as on the CPU), which a fixed threshold may not be.
    pub(crate) fn threshold(
        &mut self,
        src: &GpuImage,
        op: &Threshold,
    ) -> Result<(GpuImage, PendingThreshold)> {
        let s = src.shape();
        let n = s.samples_u64();
        let out = self.planes_like("threshold", src, SampleType::U8)?;
        let (grid, row_pitch) = self.ctx.grid_1d("threshold", n, WORKGROUP)?;
        let integer = crate::cpu::threshold::integer_levels(src.value_type());
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
                    SampleType::U16 | SampleType::I16 => 65536,
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
            ref other => {
                return Err(crate::Error::usage(format!(
                    "threshold:method={} is resolved to a fixed value before the GPU masks",
                    other.method()
                )))
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

/// The `stats` words a histogram or scan reads: [0] = !key(min), [1] = key(max).
fn stats_words(lo: f32, hi: f32) -> [u32; STATS_WORDS as usize] {
    [!key(lo), key(hi), 0, 0]
}

/// A reduction's read-back: where its bytes land, and how to read them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PendingReduction {
    /// Min and max: two keyed words.
    MinMax(ReadSlot),
    /// Histogram counts, one u32 per bin.
    Histogram(ReadSlot),
    /// The values themselves (as f32), sorted and counted on the host when read: the
    /// distinct values Li needs on float data.
    Values(super::convert::PackedImage),
    /// The values themselves (as f32), summed exactly on the host when read: the
    /// mean's sum on float data.
    Sum(super::convert::PackedImage),
}

impl PendingReduction {
    /// Bytes it reads back.
    pub fn bytes(&self) -> u64 {
        match self {
            PendingReduction::MinMax(s) | PendingReduction::Histogram(s) => s.len,
            PendingReduction::Values(p) | PendingReduction::Sum(p) => p.slot.len,
        }
    }

    /// The min and max (`None` when every sample was NaN), or the counts.
    pub fn read(&self, mapped: &[u8]) -> Result<crate::engine::Reduced> {
        Ok(match *self {
            PendingReduction::MinMax(slot) => {
                let w: Vec<u32> = bytemuck::pod_collect_to_vec(slot.of(mapped));
                let (lo, hi) = (from_key(!w[0]), from_key(w[1]));
                crate::engine::Reduced::Range((lo <= hi).then_some((lo, hi)))
            }
            PendingReduction::Histogram(slot) => {
                let c: Vec<u32> = bytemuck::pod_collect_to_vec(slot.of(mapped));
                crate::engine::Reduced::Counts(c.into_iter().map(u64::from).collect())
            }
            PendingReduction::Values(p) | PendingReduction::Sum(p) => {
                use crate::engine::{ExactSum, ValueCounts};
                use rayon::prelude::ParallelSlice;
                let image = p.read(mapped)?;
                let crate::image::Samples::F32(v) = image.samples() else {
                    return Err(crate::Error::usage("values came back as another type"));
                };
                let parts = v.par_chunks(1 << 16);
                match self {
                    PendingReduction::Sum(_) => {
                        crate::engine::Reduced::Sum(ExactSum::of_parts(parts))
                    }
                    _ => crate::engine::Reduced::Values(ValueCounts::of_parts(parts)),
                }
            }
        })
    }
}

impl Batch<'_> {
    /// Records `reduction` of `src`: on the GPU (min and max, a histogram), or as a
    /// download the host sorts and counts (the distinct values).
    pub fn reduce(
        &mut self,
        src: &GpuImage,
        reduction: crate::engine::Reduction,
    ) -> Result<PendingReduction> {
        use crate::engine::Reduction;
        match reduction {
            Reduction::MinMax => self.min_max(src),
            Reduction::Histogram { lo, hi, integer } => self.histogram(src, lo, hi, integer),
            Reduction::Values => Ok(PendingReduction::Values(
                self.download(src, SampleType::F32)?,
            )),
            Reduction::Sum => Ok(PendingReduction::Sum(self.download(src, SampleType::F32)?)),
        }
    }

    fn reduction_params(&self, src: &GpuImage, integer: bool) -> Result<(Params, [u32; 3])> {
        let n = src.shape().samples_u64();
        let (grid, row_pitch) = self.ctx.grid_1d("reduce", n, WORKGROUP)?;
        Ok((
            Params {
                samples: n as u32,
                row_pitch,
                integer: integer as u32,
                use_stats: 0,
                value: 0.0,
                _pad: [0; 3],
            },
            grid,
        ))
    }

    /// A fresh buffer holding `words`, written ahead of the submit's commands.
    fn words(&mut self, what: &str, words: &[u32]) -> Result<PooledBuffer> {
        let buffer = self.fresh(what, (words.len() as u64 * 4).max(16), STATS)?;
        self.ctx
            .inner
            .queue
            .write_buffer(&buffer, 0, bytemuck::cast_slice(words));
        Ok(buffer)
    }

    /// The min and max of every sample of `src` (NaNs ignored), read back with the frame.
    pub fn min_max(&mut self, src: &GpuImage) -> Result<PendingReduction> {
        let (params, grid) = self.reduction_params(src, false)?;
        let stats = self.buffer("threshold.stats", STATS_WORDS * 4, STATS)?;
        self.encoder.clear_buffer(&stats, 0, None);
        self.dispatch(
            Kernel::MinMax,
            &params,
            &[(1, src.buffer()), (3, &stats)],
            grid,
        )?;
        Ok(PendingReduction::MinMax(self.read_back(stats, 0, 8)))
    }

    /// Otsu's histogram of `src` over [lo, hi] (the whole frame's min and max), read
    /// back with the frame.
    pub fn histogram(
        &mut self,
        src: &GpuImage,
        lo: f32,
        hi: f32,
        integer: bool,
    ) -> Result<PendingReduction> {
        let (params, _) = self.reduction_params(src, integer)?;
        let bins = crate::cpu::threshold::bin_count(lo, hi, integer) as u64;
        let stats = self.words("threshold.stats", &stats_words(lo, hi))?;
        let hist = self.buffer("threshold.histogram", bins * 4, STATS)?;
        self.encoder.clear_buffer(&hist, 0, None);
        let n = src.shape().samples_u64();
        let groups = n
            .div_ceil(u64::from(WORKGROUP) * SAMPLES_PER_THREAD)
            .clamp(1, HISTOGRAM_GROUPS);
        let groups = self.ctx.check_groups("histogram", [groups, 1, 1])?;
        for k in [Kernel::HistogramShared, Kernel::HistogramGlobal] {
            self.dispatch(
                k,
                &params,
                &[(1, src.buffer()), (3, &stats), (4, &hist)],
                groups,
            )?;
        }
        self.free(stats);
        Ok(PendingReduction::Histogram(self.read_back(
            hist,
            0,
            bins * 4,
        )))
    }

    /// Otsu's scan of a whole frame's histogram over [lo, hi], on the GPU like an
    /// untiled frame's (so the threshold is the same on adapters without f64, whose
    /// scan rounds differently from the CPU twin's); its value is read back.
    pub fn otsu_scan(
        &mut self,
        counts: &[u64],
        lo: f32,
        hi: f32,
        integer: bool,
    ) -> Result<PendingThreshold> {
        let words: Vec<u32> = counts
            .iter()
            .map(|&c| {
                u32::try_from(c)
                    .map_err(|_| crate::Error::usage("a histogram bin over 2^32 samples"))
            })
            .collect::<Result<_>>()?;
        let stats = self.words("threshold.stats", &stats_words(lo, hi))?;
        let hist = self.words("threshold.histogram", &words)?;
        let params = Params {
            samples: 0,
            row_pitch: 0,
            integer: integer as u32,
            use_stats: 0,
            value: 0.0,
            _pad: [0; 3],
        };
        let scan = if integer {
            Kernel::OtsuScanInteger
        } else {
            Kernel::OtsuScanFloat
        };
        self.dispatch(scan, &params, &[(3, &stats), (4, &hist)], [1, 1, 1])?;
        self.free(hist);
        Ok(PendingThreshold::Otsu(self.read_back(stats, 8, 4)))
    }
}
