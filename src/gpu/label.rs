//! Host side of `shaders/label.wgsl`: connected components and removing small objects.
//! Twin: `src/cpu/label.rs`.

use super::batch::Batch;
use super::pipelines::Kernel;
use super::GpuImage;
use crate::image::SampleType;
use crate::ops::{Label, RemoveSmall};
use crate::Result;
use bytemuck::{Pod, Zeroable};

/// Threads per workgroup (the shader's `WORKGROUP` override), and the prefix sum's block.
const WORKGROUP: u32 = 256;
/// The shader's override constants.
pub(super) const CONSTANTS: &[(&str, f64)] = &[("WORKGROUP", WORKGROUP as f64)];

const SCRATCH: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Keep in sync with `Params` in shaders/label.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(super) struct Params {
    width: u32,
    height: u32,
    samples: u32,
    row_pitch: u32,
    connectivity: u32,
    level: u32,
    level_len: u32,
    next: u32,
    labels_mode: u32,
    remove_below: u32,
    depth: u32,
    _pad: u32,
}

/// The prefix sum's levels: (offset, length) of each in the scan buffer, the samples
/// first, then each level's block totals, until one block holds a level.
fn levels(n: u64) -> Vec<(u64, u64)> {
    let mut out = vec![(0, n)];
    let (mut offset, mut len) = (n, n);
    while len > u64::from(WORKGROUP) {
        len = len.div_ceil(u64::from(WORKGROUP));
        out.push((offset, len));
        offset += len;
    }
    out
}

impl Batch<'_> {
    /// Labels of a mask's planes: 1..N in raster order of first pixels, per plane.
    pub fn label(&mut self, src: &GpuImage, l: &Label) -> Result<GpuImage> {
        l.validate()?;
        let (parent, params, grid) = self.components(src, l.connectivity)?;
        let n = src.shape().samples_u64();
        // The scan buffer: every level, and one more slot for the top block's total.
        let lv = levels(n);
        let words = lv.last().map_or(n, |&(o, len)| o + len) + 1;
        let scan = self.buffer("label.scan", words * 4, SCRATCH)?;
        self.dispatch(
            Kernel::LabelFlag,
            &params,
            &[(3, &parent), (4, &scan)],
            grid,
        )?;
        for (k, &(offset, len)) in lv.iter().enumerate() {
            let next = lv.get(k + 1).map_or(offset + len, |l| l.0);
            let (g, pitch) = self.ctx.grid_1d("label", len, WORKGROUP)?;
            let p = Params {
                level: offset as u32,
                level_len: len as u32,
                next: next as u32,
                row_pitch: pitch,
                ..params
            };
            self.dispatch(Kernel::ScanBlocks, &p, &[(4, &scan)], g)?;
        }
        for k in (0..lv.len().saturating_sub(1)).rev() {
            let (offset, len) = lv[k];
            let (g, pitch) = self.ctx.grid_1d("label", len, WORKGROUP)?;
            let p = Params {
                level: offset as u32,
                level_len: len as u32,
                next: lv[k + 1].0 as u32,
                row_pitch: pitch,
                ..params
            };
            self.dispatch(Kernel::ScanAdd, &p, &[(4, &scan)], g)?;
        }
        let out = self.planes_like("label", src, SampleType::U32)?;
        self.dispatch(
            Kernel::LabelWrite,
            &params,
            &[(2, out.buffer()), (3, &parent), (4, &scan)],
            grid,
        )?;
        self.free(scan);
        self.free(parent);
        Ok(out)
    }

    /// Removes small objects: components of a mask (the result a 0/255 mask), or the
    /// labels of a label image (kept labels keep their values).
    pub fn remove_small(&mut self, src: &GpuImage, r: &RemoveSmall) -> Result<GpuImage> {
        r.validate()?;
        let labels_mode = RemoveSmall::labels_mode(src.value_type());
        let (parent, mut params, grid) = self.components(src, r.connectivity)?;
        let n = src.shape().samples_u64();
        let remove_below = match (r.min_size, r.max_size) {
            (Some(min), _) => min,
            (None, max) => max.unwrap_or(0).saturating_add(1),
        };
        params.labels_mode = u32::from(labels_mode);
        params.remove_below = remove_below.min(u64::from(u32::MAX)) as u32;
        let sizes = self.buffer("remove_small.sizes", (n + 1) * 4, SCRATCH)?;
        self.encoder.clear_buffer(&sizes, 0, None);
        self.dispatch(
            Kernel::ObjectsCount,
            &params,
            &[(1, src.buffer()), (3, &parent), (5, &sizes)],
            grid,
        )?;
        let value_type = if labels_mode {
            src.value_type()
        } else {
            SampleType::U8
        };
        let out = self.planes_like("remove_small", src, value_type)?;
        self.dispatch(
            Kernel::ObjectsKeep,
            &params,
            &[
                (1, src.buffer()),
                (2, out.buffer()),
                (3, &parent),
                (5, &sizes),
            ],
            grid,
        )?;
        self.free(sizes);
        self.free(parent);
        Ok(out)
    }

    /// The union-find forest of `src`'s foreground, compressed: each pixel's parent is
    /// its component's root (its smallest index), NONE for background.
    fn components(
        &mut self,
        src: &GpuImage,
        connectivity: u8,
    ) -> Result<(super::pool::PooledBuffer, Params, [u32; 3])> {
        let s = src.shape();
        let n = s.samples_u64();
        let (grid, row_pitch) = self.ctx.grid_1d("label", n, WORKGROUP)?;
        let params = Params {
            width: s.width,
            height: s.height,
            depth: s.depth,
            samples: n as u32,
            row_pitch,
            connectivity: u32::from(connectivity),
            ..Params::default()
        };
        let parent = self.buffer("label.parent", n * 4, SCRATCH)?;
        for k in [Kernel::LabelInit, Kernel::LabelUnite] {
            self.dispatch(k, &params, &[(1, src.buffer()), (3, &parent)], grid)?;
        }
        self.dispatch(Kernel::LabelCompress, &params, &[(3, &parent)], grid)?;
        Ok((parent, params, grid))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scan_levels_shrink_to_one_block() {
        assert_eq!(super::levels(100), [(0, 100)]);
        assert_eq!(super::levels(256), [(0, 256)]);
        assert_eq!(super::levels(257), [(0, 257), (257, 2)]);
        let l = super::levels(1 << 24);
        assert_eq!(
            l,
            [(0, 1 << 24), (1 << 24, 65536), ((1 << 24) + 65536, 256)]
        );
    }
}
