//! Putting images together: tiles (or bricks) into bands and frames, each sample copied
//! once.

use super::{Image, SampleType, Samples, Shape};
use crate::{Error, Result};
use rayon::prelude::*;

impl Image {
    /// Images of equal height, depth and type side by side, left to right.
    pub fn beside(parts: &[Image]) -> Result<Image> {
        match parts {
            [one] => Ok(one.clone()),
            _ => Image::mosaic(&[parts]),
        }
    }

    /// Images of one width, depth, channel count and sample type, one above the other.
    pub fn stacked(parts: &[Image]) -> Result<Image> {
        let rows: Vec<&[Image]> = parts.iter().map(std::slice::from_ref).collect();
        Image::mosaic(&rows)
    }

    /// Rows of images put together: the images of a row side by side (equal heights),
    /// the rows one above the other (equal widths); one depth, channel count and sample
    /// type throughout. How tiles become a frame (bricks: a slab of the volume).
    pub fn mosaic<R: AsRef<[Image]>>(rows: &[R]) -> Result<Image> {
        let rows: Vec<&[Image]> = rows.iter().map(AsRef::as_ref).collect();
        let first = (rows.first().and_then(|r| r.first()))
            .ok_or_else(|| Error::usage("no images to put together"))?;
        let (c, d, t) = (first.channels(), first.depth(), first.sample_type());
        let width: u32 = rows[0].iter().map(Image::width).sum();
        let mut height = 0u32;
        for row in &rows {
            let r0 = row
                .first()
                .ok_or_else(|| Error::usage("an empty row of images to put together"))?;
            let h = r0.height();
            let w: u32 = row.iter().map(Image::width).sum();
            if let Some(p) = (row.iter())
                .find(|p| (p.height(), p.depth(), p.channels(), p.sample_type()) != (h, d, c, t))
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
        if rows.len() == 1 && rows[0].len() == 1 {
            return Ok(first.clone());
        }
        let mut out = Image::blank(Shape::volume(width, height, d, c)?, t);
        let mut y = 0;
        for row in &rows {
            let mut x = 0;
            for p in row.iter() {
                out.put_at((x, y, 0), p)?;
                x += p.width();
            }
            y += row[0].height();
        }
        Ok(out)
    }

    /// An image of `shape` whose samples are all zero, in fresh pages the kernel zeroes
    /// (nothing is written until the image is filled), with huge pages asked for.
    pub fn blank(shape: Shape, t: SampleType) -> Image {
        let mut samples = Samples::zeros(t, shape.samples());
        with_samples!(&mut samples, v => crate::cpu::advise_huge_pages(
            v.as_mut_ptr().cast(),
            std::mem::size_of_val(v.as_slice())
        ));
        Image { shape, samples }
    }

    /// Copies `part` into this image with its first sample at column, row and slice
    /// `at`; rows are copied in parallel. Both must have one channel count and type.
    pub fn put_at(&mut self, (x, y, z): (u32, u32, u32), part: &Image) -> Result<()> {
        let (c, t) = (self.channels(), self.sample_type());
        let ps = part.shape();
        let fits =
            |at: u32, len: u32, whole: u32| u64::from(at) + u64::from(len) <= u64::from(whole);
        if (ps.channels, part.sample_type()) != (c, t)
            || !fits(x, ps.width, self.width())
            || !fits(y, ps.height, self.height())
            || !fits(z, ps.depth, self.depth())
        {
            return Err(Error::usage(format!(
                "cannot put a {} {} image at ({x}, {y}, {z}) of a {} {t} one",
                ps,
                part.sample_type(),
                self.shape(),
            )));
        }
        let shape = self.shape;
        with_samples!(&mut self.samples, o => {
            let src = typed(&part.samples).ok_or_else(|| {
                Error::usage("cannot put images of different sample types together")
            })?;
            copy_box(o, shape, (x, y, z), src, ps);
            Ok(())
        })
    }
}

fn typed<T: 'static>(s: &Samples) -> Option<&[T]> {
    with_samples!(s, v => (v as &dyn std::any::Any).downcast_ref::<Vec<T>>().map(Vec::as_slice))
}

/// Copies every row of `src` (of shape `part`) into `dst` (of shape `whole`) at `at`.
fn copy_box<T: Copy + Send + Sync>(
    dst: &mut [T],
    whole: Shape,
    (x, y, z): (u32, u32, u32),
    src: &[T],
    part: Shape,
) {
    let c = whole.channels as usize;
    let (line, n) = (whole.width as usize * c, part.width as usize * c);
    if n == 0 {
        return;
    }
    let rows_per_slice = part.height as usize;
    // Destination rows: the rows of the whole image the part's rows land on, each
    // borrowed once; then copied in parallel.
    let start = |r: usize| {
        let (pz, py) = (r / rows_per_slice, r % rows_per_slice);
        ((z as usize + pz) * whole.height as usize + y as usize + py) * line + x as usize * c
    };
    let rows = part.height as usize * part.depth as usize;
    if n == line && rows > 0 {
        // Whole rows: slice by slice, each a contiguous run of rows.
        let slice = rows_per_slice * line;
        for (pz, s) in src.chunks(slice).enumerate() {
            let at = start(pz * rows_per_slice);
            dst[at..at + s.len()]
                .par_chunks_mut(line * 64)
                .zip(s.par_chunks(line * 64))
                .for_each(|(d, s)| d.copy_from_slice(s));
        }
        return;
    }
    let mut targets: Vec<&mut [T]> = Vec::with_capacity(rows);
    let mut rest = dst;
    let mut consumed = 0;
    for r in 0..rows {
        let at = start(r);
        let tail = std::mem::take(&mut rest);
        let (_, tail) = tail.split_at_mut(at - consumed);
        let (row, tail) = tail.split_at_mut(n);
        targets.push(row);
        rest = tail;
        consumed = at + n;
    }
    targets
        .into_par_iter()
        .zip(src.par_chunks(n))
        .with_min_len(64)
        .for_each(|(d, s)| d.copy_from_slice(s));
}
