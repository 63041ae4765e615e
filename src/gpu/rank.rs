//! Host side of `shaders/rank.wgsl`: the median and grey morphology by chords.
//! Twin: `src/cpu/rank.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::ops::{mirror, Chord, Median, Morph, MorphKind};
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 64;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

const FLAG_MAX: u32 = 1;
const FLAG_FRESH: u32 = 2;
const FLAG_INIT: u32 = 4;
const FLAG_REVERSE: u32 = 8;
const FLAG_ADD: u32 = 16;

const SCRATCH: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE;

/// Keep in sync with `Params` in shaders/rank.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    depth: u32,
    samples: u32,
    row_pitch: u32,
    origin_x: u32,
    origin_y: u32,
    origin_z: u32,
    full_w: u32,
    full_h: u32,
    full_d: u32,
    flags: u32,
    lo_x: u32,
    hi_x: u32,
    lo_y: u32,
    hi_y: u32,
    lo_z: u32,
    hi_z: u32,
    prev_lo: u32,
    prev_hi: u32,
    first: u32,
    count: u32,
    _pad: [u32; 2],
}

impl Batch<'_> {
    /// The grid and the parameters every rank kernel shares for `src`.
    fn rank_params(&self, src: &GpuImage) -> Result<([u32; 3], Params)> {
        let s = src.shape();
        let w = src.window();
        let n = s.samples_u64();
        let (grid, row_pitch) = self.ctx.grid_1d("rank", n, WORKGROUP)?;
        Ok((
            grid,
            Params {
                width: s.width,
                height: s.height,
                depth: s.depth,
                samples: n as u32,
                row_pitch,
                origin_x: w.x,
                origin_y: w.y,
                origin_z: w.z,
                full_w: w.full_width,
                full_h: w.full_height,
                full_d: w.full_depth,
                ..Params::default()
            },
        ))
    }

    /// Median filter (`scipy.ndimage.median_filter`); values keep their type.
    pub fn median(&mut self, src: &GpuImage, m: &Median) -> Result<GpuImage> {
        let volume = src.window().full_depth > 1;
        // The kernel's per-thread window holds MAX_MEDIAN_WINDOW samples: never more.
        m.check_volume(volume)?;
        let (grid, base) = self.rank_params(src)?;
        let (lo_z, hi_z) = m.window(0, volume);
        let (lo_y, hi_y) = m.window(1, volume);
        let (lo_x, hi_x) = m.window(2, volume);
        let params = Params {
            lo_x,
            hi_x,
            lo_y,
            hi_y,
            lo_z,
            hi_z,
            ..base
        };
        let out = self.planes_like("median", src, src.value_type())?;
        self.dispatch(
            Kernel::Median,
            &params,
            &[(1, src.buffer()), (2, out.buffer())],
            grid,
        )?;
        Ok(out)
    }

    /// Grey morphology (scikit-image's erosion … black_tophat); values keep their type.
    pub fn morph(&mut self, src: &GpuImage, m: &Morph) -> Result<GpuImage> {
        m.validate()?;
        let volume = src.window().full_depth > 1;
        let chords = m.footprint.chords(volume);
        let passes = m.kind.passes();
        let (grid, base) = self.rank_params(src)?;
        let run = self.buffer("morph.run", src.shape().samples_u64() * 4, SCRATCH)?;
        let out = self.planes_like("morph", src, src.value_type())?;
        let tmp = match passes.len() {
            1 => None,
            _ => Some(self.planes_like("morph.tmp", src, src.value_type())?),
        };
        for (k, &(max, mirrored)) in passes.iter().enumerate() {
            let (input, output) = match (&tmp, k) {
                (Some(t), 0) => (src.buffer(), t.buffer()),
                (Some(t), _) => (t.buffer(), out.buffer()),
                (None, _) => (src.buffer(), out.buffer()),
            };
            let chords = if mirrored {
                mirror(&chords)
            } else {
                chords.clone()
            };
            let flags = if max { FLAG_MAX } else { 0 };
            self.chord_pass(&chords, base, flags, grid, input, output, &run)?;
        }
        if matches!(m.kind, MorphKind::Tophat | MorphKind::Blackhat) {
            let flags = if m.kind == MorphKind::Blackhat {
                FLAG_REVERSE
            } else {
                0
            };
            self.dispatch(
                Kernel::MorphDifference,
                &Params { flags, ..base },
                &[(1, src.buffer()), (2, out.buffer())],
                grid,
            )?;
        }
        if let Some(t) = tmp {
            self.free(t.into_buffer());
        }
        self.free(run);
        Ok(out)
    }

    /// `b = a - b` in f32, sample by sample (`a` and `b` alike in shape and window).
    pub(super) fn subtract_from(&mut self, a: &GpuImage, b: &GpuImage) -> Result<()> {
        let (grid, base) = self.rank_params(a)?;
        self.dispatch(
            Kernel::MorphDifference,
            &Params { flags: 0, ..base },
            &[(1, a.buffer()), (2, b.buffer())],
            grid,
        )
    }

    /// `b = b + a` in f32, sample by sample (as [`Self::subtract_from`]).
    pub(super) fn add_to(&mut self, a: &GpuImage, b: &GpuImage) -> Result<()> {
        let (grid, base) = self.rank_params(a)?;
        self.dispatch(
            Kernel::MorphDifference,
            &Params {
                flags: FLAG_ADD,
                ..base
            },
            &[(1, a.buffer()), (2, b.buffer())],
            grid,
        )
    }

    /// One erosion (or dilation, `FLAG_MAX`) of `input` into `output` by `chords`
    /// (grouped by extent, growing): per extent, `grow` then `fold`.
    #[allow(clippy::too_many_arguments)]
    fn chord_pass(
        &mut self,
        chords: &[Chord],
        base: Params,
        flags: u32,
        grid: [u32; 3],
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        run: &wgpu::Buffer,
    ) -> Result<()> {
        let groups = extents(chords);
        let offsets: Vec<[i32; 2]> = chords.iter().map(|c| [c.dz, c.dy]).collect();
        let slot = self.constants(bytemuck::cast_slice(&offsets))?;
        let mut prev: Option<(u32, u32)> = None;
        for (g, &(first, count)) in groups.iter().enumerate() {
            let c = chords[first];
            let (prev_lo, prev_hi) = prev.unwrap_or((0, 0));
            let grow = Params {
                flags: flags | if prev.is_none() { FLAG_FRESH } else { 0 },
                lo_x: c.lo,
                hi_x: c.hi,
                prev_lo,
                prev_hi,
                ..base
            };
            self.dispatch(Kernel::MorphGrow, &grow, &[(1, input), (4, run)], grid)?;
            let fold = Params {
                flags: flags | if g == 0 { FLAG_INIT } else { 0 },
                first: first as u32,
                count: count as u32,
                ..base
            };
            self.dispatch_with(
                Kernel::MorphFold,
                &fold,
                &[(2, output), (4, run)],
                &[(3, slot)],
                grid,
            )?;
            prev = Some((c.lo, c.hi));
        }
        Ok(())
    }
}

/// The chords' runs of equal extent: (first index, count) of each, in order. Chords
/// come sorted by extent, each extent holding the previous one (see
/// [`crate::ops::Footprint::chords`]).
pub(crate) fn extents(chords: &[Chord]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, c) in chords.iter().enumerate() {
        match out.last_mut() {
            Some((first, count)) if (chords[*first].lo, chords[*first].hi) == (c.lo, c.hi) => {
                *count += 1
            }
            _ => out.push((i, 1)),
        }
    }
    out
}
