//! Putting images together: tiles into bands and frames, in one copy.

use super::{Image, SampleType, Samples, Shape};
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
        let mut out = Image::blank(Shape::new(width, height, c)?, t);
        let line = width as usize * c as usize;
        with_samples!(&mut out.samples, o => put_together(o, &rows, line, c as usize))?;
        Ok(out)
    }

    /// A frame of zeros for parts to be put into. A large one asks for huge pages
    /// before its first touch (see [`crate::cpu::advise_huge_pages`]): the copy into
    /// fresh memory is mostly page faults otherwise.
    pub fn blank(shape: Shape, t: SampleType) -> Image {
        let mut samples = Samples::zeros(t, shape.samples());
        with_samples!(&mut samples, v => crate::cpu::advise_huge_pages(
            v.as_mut_ptr().cast(),
            std::mem::size_of_val(v.as_slice())
        ));
        Image { shape, samples }
    }

    /// Puts a row of images side by side (equal heights, together as wide as this
    /// image, of its channel count and sample type) into this image's rows from `y`, in
    /// one parallel copy: how a tiled frame's output takes each row of tiles as it
    /// comes.
    pub fn put_row(&mut self, y: u32, parts: &[Image]) -> Result<()> {
        let (c, t) = (self.channels(), self.sample_type());
        let Some(first) = parts.first() else {
            return Err(Error::usage("no images to put into a row"));
        };
        let h = first.height();
        let w: u32 = parts.iter().map(Image::width).sum();
        let fits = y.checked_add(h).is_some_and(|end| end <= self.height());
        if let Some(p) = (parts.iter())
            .find(|p| (p.height(), p.channels(), p.sample_type()) != (h, c, t))
            .or((w != self.width() || !fits).then_some(first))
        {
            return Err(Error::usage(format!(
                "cannot put a {} {} image into rows {y}.. of a {} {t} one",
                p.shape(),
                p.sample_type(),
                self.shape(),
            )));
        }
        let line = self.width() as usize * c as usize;
        let (start, end) = (y as usize * line, (y + h) as usize * line);
        with_samples!(&mut self.samples, o => put_together(&mut o[start..end], &[parts], line, c as usize))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(w: u32, h: u32, from: u16) -> Image {
        let v = (0..w * h).map(|i| from + i as u16).collect();
        Image::gray(w, h, Samples::U16(v)).unwrap()
    }

    /// Rows of tiles put into a blank frame as they come give the mosaic of them; a row
    /// that does not fit is refused, naming both shapes.
    #[test]
    fn rows_put_into_a_blank_frame_give_the_mosaic() {
        let rows = [
            vec![gray(3, 2, 0), gray(2, 2, 100)],
            vec![gray(3, 1, 200), gray(2, 1, 300)],
        ];
        let mut frame = Image::blank(Shape::new(5, 3, 1).unwrap(), SampleType::U16);
        frame.put_row(0, &rows[0]).unwrap();
        frame.put_row(2, &rows[1]).unwrap();
        assert_eq!(frame, Image::mosaic(&rows).unwrap());
        for bad in [
            frame.put_row(2, &rows[0]),      // past the last row
            frame.put_row(0, &rows[0][..1]), // too narrow
            frame.put_row(0, &[gray(5, 1, 0).into_opaque(), gray(1, 1, 0)]), // too wide
            frame.put_row(0, &[]),
        ] {
            let e = bad.unwrap_err().to_string();
            assert!(e.contains("put") || e.contains("no images"), "{e}");
        }
    }
}
