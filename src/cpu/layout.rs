//! How the separable twins read a source's samples and write a result's, whatever
//! their layout: [`Source`] rows widened to f32 (a plane where it lies, or one channel of
//! interleaved u8/u16/f32 samples), and [`Narrow`] results stored or interleaved into
//! output rows. The filters (`gaussian`, `box_blur`) read and write through these; the
//! one-image call ([`super::direct`]) picks which to use.

/// Samples a kernel reads as f32: rows of one channel.
pub(crate) trait Source: Sync {
    /// Row `y` of channel `ch`: where it lies when it is already a row of f32 (a plane),
    /// else columns `0..buf.len()` widened into `buf`.
    fn row<'a>(&'a self, ch: usize, y: usize, buf: &'a mut [f32]) -> &'a [f32] {
        self.read(ch, y, 0, buf);
        buf
    }

    /// Columns `x0..x0 + out.len()` of row `y` of channel `ch`, widened into `out`.
    fn read(&self, ch: usize, y: usize, x0: usize, out: &mut [f32]);

    /// Row `y` of every channel, widened: channel `ch`'s at `out[ch * stride + at..]`.
    fn read_all(&self, y: usize, out: &mut [f32], at: usize, stride: usize);
}

/// One f32 plane, rows `w` long.
pub(crate) struct Plane<'a> {
    pub data: &'a [f32],
    pub w: usize,
}

impl Source for Plane<'_> {
    fn row<'a>(&'a self, _ch: usize, y: usize, _buf: &'a mut [f32]) -> &'a [f32] {
        &self.data[y * self.w..][..self.w]
    }

    fn read(&self, _ch: usize, y: usize, x0: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.data[y * self.w + x0..][..out.len()]);
    }

    fn read_all(&self, y: usize, out: &mut [f32], at: usize, _stride: usize) {
        self.read(0, y, 0, &mut out[at..][..self.w]);
    }
}

/// A sample type the direct path reads: widened to f32 exactly as `convert::to_planes`
/// does (8- and 16-bit integers are exact).
pub(crate) trait Widen: Copy + Sync {
    fn widen(self) -> f32;

    /// The samples themselves when they are f32.
    fn plane(_data: &[Self]) -> Option<&[f32]> {
        None
    }
}

impl Widen for u8 {
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
}

impl Widen for u16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
}

impl Widen for f32 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }

    fn plane(data: &[Self]) -> Option<&[f32]> {
        Some(data)
    }
}

/// An image's interleaved samples (`c` channels, rows `w` pixels long).
pub(crate) struct Interleaved<'a, T> {
    pub data: &'a [T],
    pub w: usize,
    pub c: usize,
}

impl<T: Widen> Source for Interleaved<'_, T> {
    fn read(&self, ch: usize, y: usize, x0: usize, out: &mut [f32]) {
        let c = self.c;
        let row = &self.data[(y * self.w + x0) * c..][..out.len() * c];
        if c == 1 {
            for (o, &v) in out.iter_mut().zip(row) {
                *o = v.widen();
            }
        } else {
            for (o, px) in out.iter_mut().zip(row.chunks_exact(c)) {
                *o = px[ch].widen();
            }
        }
    }

    fn read_all(&self, y: usize, out: &mut [f32], at: usize, stride: usize) {
        let (w, c) = (self.w, self.c);
        let row = &self.data[y * w * c..][..w * c];
        // The common channel counts with the count known to the compiler: one pass
        // over the row, each sample to its channel's row.
        fn split<T: Widen, const C: usize>(
            row: &[T],
            out: &mut [f32],
            at: usize,
            stride: usize,
            w: usize,
        ) {
            let mut planes = out.chunks_exact_mut(stride);
            let mut rows: [&mut [f32]; C] =
                std::array::from_fn(|_| &mut planes.next().expect("a row per channel")[at..][..w]);
            for (x, px) in row.as_chunks::<C>().0.iter().enumerate() {
                for (r, &v) in rows.iter_mut().zip(px) {
                    r[x] = v.widen();
                }
            }
        }
        match c {
            3 => split::<T, 3>(row, out, at, stride, w),
            4 => split::<T, 4>(row, out, at, stride, w),
            _ => {
                for ch in 0..c {
                    self.read(ch, y, 0, &mut out[ch * stride + at..][..w]);
                }
            }
        }
    }
}

/// A sample type the direct path writes: narrowed from f32 as `convert::to_image` does
/// (integers rounded half to even and clamped, NaN to 0).
pub(crate) trait Narrow: Copy + Send + Sync + Default {
    fn narrow(v: f32) -> Self;

    /// The row itself when it is a row of f32 results already (f32 samples, one
    /// channel), so a kernel writes there and nothing is copied.
    fn as_f32(row: &mut [Self]) -> Option<&mut [f32]>;
}

impl Narrow for u8 {
    #[inline(always)]
    fn narrow(v: f32) -> Self {
        super::convert::round_clamped(v, 255.0) as u8
    }

    fn as_f32(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

impl Narrow for u16 {
    #[inline(always)]
    fn narrow(v: f32) -> Self {
        super::convert::round_clamped(v, 65535.0) as u16
    }

    fn as_f32(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

impl Narrow for f32 {
    #[inline(always)]
    fn narrow(v: f32) -> Self {
        v
    }

    fn as_f32(row: &mut [Self]) -> Option<&mut [f32]> {
        Some(row)
    }
}

/// Writes channel `ch` of an interleaved output row (`c` channels) from f32 results.
#[inline]
pub(crate) fn store<T: Narrow>(row: &[f32], out: &mut [T], ch: usize, c: usize) {
    if c == 1 {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = T::narrow(v);
        }
    } else {
        for (px, &v) in out.chunks_exact_mut(c).zip(row) {
            px[ch] = T::narrow(v);
        }
    }
}

/// Every channel of an interleaved output row from f32 results, channel `ch`'s in
/// `res[ch * stride..][..w]`: one pass over the row, each sample written once.
pub(crate) fn interleave<T: Narrow>(res: &[f32], stride: usize, out: &mut [T], w: usize) {
    fn join<T: Narrow, const C: usize>(res: &[f32], stride: usize, out: &mut [T], w: usize) {
        let rows: [&[f32]; C] = std::array::from_fn(|ch| &res[ch * stride..][..w]);
        for (x, px) in out.as_chunks_mut::<C>().0.iter_mut().enumerate() {
            for (o, r) in px.iter_mut().zip(&rows) {
                *o = T::narrow(r[x]);
            }
        }
    }
    let c = out.len() / w.max(1);
    match c {
        3 => join::<T, 3>(res, stride, out, w),
        4 => join::<T, 4>(res, stride, out, w),
        _ => {
            for ch in 0..c {
                store(&res[ch * stride..][..w], out, ch, c);
            }
        }
    }
}

/// A zeroed output of `n` samples whose pages are first touched by the threads that
/// fill them (a zeroed allocation is fresh mapped memory, faulted in on first write),
/// with huge pages asked for.
pub(crate) fn output<T: Narrow>(n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    super::advise_huge_pages(v.as_mut_ptr().cast(), n * std::mem::size_of::<T>());
    v
}
