//! Putting images together: tiles into bands and frames, in one copy.

use super::{Image, Samples};
use crate::{Error, Result};

impl Image {
    /// Images of equal height and type side by side, left to right.
    pub fn beside(parts: &[Image]) -> Result<Image> {
        match parts {
            [one] => Ok(one.clone()),
            _ => Image::mosaic(&[parts]),
        }
    }

    /// Images of one width, channel count and sample type, one above the other.
    pub fn stacked(parts: &[Image]) -> Result<Image> {
        let rows: Vec<&[Image]> = parts.iter().map(std::slice::from_ref).collect();
        Image::mosaic(&rows)
    }

    /// Rows of images put together in one copy: the images of a row side by side (equal
    /// heights), the rows one above the other (equal widths); one channel count and
    /// sample type throughout. How tiles become a frame.
    pub fn mosaic<R: AsRef<[Image]>>(rows: &[R]) -> Result<Image> {
        let rows: Vec<&[Image]> = rows.iter().map(AsRef::as_ref).collect();
        let first = (rows.first().and_then(|r| r.first()))
            .ok_or_else(|| Error::usage("no images to put together"))?;
        let (c, t) = (first.channels(), first.sample_type());
        let width: u32 = rows[0].iter().map(Image::width).sum();
        let mut height = 0u32;
        for row in &rows {
            let r0 = row
                .first()
                .ok_or_else(|| Error::usage("an empty row of images to put together"))?;
            let h = r0.height();
            let w: u32 = row.iter().map(Image::width).sum();
            if let Some(p) = row
                .iter()
                .find(|p| (p.height(), p.channels(), p.sample_type()) != (h, c, t))
                .or((w != width).then_some(r0))
            {
                return Err(Error::usage(format!(
                    "cannot put a {} {} image together with a {} {} one (rows of {width} columns)",
                    p.shape(),
                    p.sample_type(),
                    first.shape(),
                    t
                )));
            }
            height += h;
        }
        let line = width as usize * c as usize;
        let mut out = Samples::zeros(t, line * height as usize);
        with_samples!(&mut out, o => put_together(o, &rows, line, c as usize))?;
        Image::new(width, height, c, out)
    }
}

/// The samples of `s` as `T`s, if that is their type.
fn typed<T: 'static>(s: &Samples) -> Option<&[T]> {
    with_samples!(s, v => (v as &dyn std::any::Any).downcast_ref::<Vec<T>>().map(Vec::as_slice))
}

/// Copies rows of images into `out` (lines of `line` samples), in parallel by line: the
/// output is fresh memory, and its first touch (page faults) is most of the cost.
fn put_together<T: Copy + Send + Sync + 'static>(
    out: &mut [T],
    rows: &[&[Image]],
    line: usize,
    c: usize,
) -> Result<()> {
    use rayon::prelude::*;
    // Each row's first output line and its images' samples with their line lengths.
    let mut bands = Vec::with_capacity(rows.len());
    let mut y0 = 0;
    for row in rows {
        let parts = (row.iter())
            .map(|p| typed::<T>(&p.samples).map(|s| (s, p.width() as usize * c)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::usage("cannot put images of different sample types together"))?;
        bands.push((y0, parts));
        y0 += row.first().map_or(0, |p| p.height() as usize);
    }
    if line == 0 {
        return Ok(());
    }
    out.par_chunks_mut(line)
        .with_min_len(64)
        .enumerate()
        .for_each(|(y, dst)| {
            let (start, parts) = &bands[bands.partition_point(|(s, _)| *s <= y) - 1];
            let mut x = 0;
            for &(s, n) in parts {
                dst[x..x + n].copy_from_slice(&s[(y - start) * n..][..n]);
                x += n;
            }
        });
    Ok(())
}
