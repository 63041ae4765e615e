//! Twin of `shaders/convert.wgsl`: interleaved source samples to f32 planes (widening), and
//! f32 planes back to interleaved samples of a chosen type (narrowing).

use super::{Planes, PlanesRef};
use crate::image::{Image, ImageView, Rect, SampleType, Samples, SamplesRef};
use rayon::prelude::*;

/// Widens and de-interleaves an image into f32 planes.
pub fn to_planes(image: &Image) -> Planes {
    to_planes_view(image.view())
}

/// [`to_planes`] of borrowed samples.
pub fn to_planes_view(image: ImageView<'_>) -> Planes {
    to_planes_part(image, Rect::of(image.shape()))
}

/// [`to_planes`] of the part `rect` of borrowed samples (a tile's window of a frame in
/// memory), read in place: no copy of the part first. `rect` must lie within the image.
pub fn to_planes_part(image: ImageView<'_>, rect: Rect) -> Planes {
    let full = image.shape();
    let shape = rect.shape(full.channels);
    // Each output row is one run of the source's line: widened (and de-interleaved,
    // plane by plane) by rows in parallel, straight into a pooled buffer.
    let line = full.width as usize * full.channels as usize;
    let part = Part {
        line,
        slice: line * full.height as usize,
        x0: rect.x as usize,
        y0: rect.y as usize,
        z0: rect.z as usize,
        width: rect.width as usize,
        height: rect.height as usize,
        depth: rect.depth as usize,
        channels: full.channels as usize,
    };
    // 8- and 16-bit integers are exact in f32; 32-bit ones and f64 round to nearest.
    let data = match image.samples() {
        SamplesRef::U8(v) => part.widen(v, f32::from),
        SamplesRef::U16(v) => part.widen(v, f32::from),
        SamplesRef::F32(v) => part.widen(v, |x| x),
        SamplesRef::I8(v) => part.widen(v, f32::from),
        SamplesRef::I16(v) => part.widen(v, f32::from),
        SamplesRef::I32(v) => part.widen(v, |x| x as f32),
        SamplesRef::U32(v) => part.widen(v, |x| x as f32),
        SamplesRef::F64(v) => part.widen(v, |x| x as f32),
    };
    Planes {
        shape,
        data,
        value_type: image.sample_type(),
        window: crate::image::Window::whole(shape),
    }
}

/// Where a part of an interleaved image lies: its source lines' length (in samples),
/// its first column and row, its size.
struct Part {
    line: usize,
    /// Samples per slice of the source.
    slice: usize,
    x0: usize,
    y0: usize,
    z0: usize,
    width: usize,
    height: usize,
    depth: usize,
    channels: usize,
}

impl Part {
    /// `f` of every sample of the part, as planes.
    fn widen<T: Copy + Sync>(&self, src: &[T], f: impl Fn(T) -> f32 + Sync) -> Vec<f32> {
        let (w, c) = (self.width, self.channels);
        let n = w * self.height * self.depth;
        let rows = self.height * self.depth;
        let mut v = super::pool::take(n * c);
        if n > 0 {
            // Rows of every plane: plane `ch`'s row `r` is output chunk `ch * height + r`.
            v.spare_capacity_mut()[..n * c]
                .par_chunks_mut(w)
                .with_min_len((1 << 14) / w + 1)
                .enumerate()
                .for_each(|(k, out)| {
                    let (ch, k) = (k / rows, k % rows);
                    let (z, r) = (k / self.height, k % self.height);
                    let start =
                        (self.z0 + z) * self.slice + (self.y0 + r) * self.line + self.x0 * c;
                    let row = &src[start..start + w * c];
                    prefetch(src, start + PREFETCH_ROWS * self.line, w * c);
                    if c == 1 {
                        for (d, &x) in out.iter_mut().zip(row) {
                            d.write(f(x));
                        }
                    } else {
                        for (d, &x) in out.iter_mut().zip(row.iter().skip(ch).step_by(c)) {
                            d.write(f(x));
                        }
                    }
                });
        }
        // SAFETY: the chunks are the `c * height` rows of `w` samples each that make up
        // the first `n * c` elements, and each was written in full above.
        unsafe { v.set_len(n * c) };
        v
    }
}

/// Rows ahead whose samples a part's widening asks the cache for.
const PREFETCH_ROWS: usize = 4;

/// Asks for `src[start..start + len]` in the cache ahead of its use. A part's rows are
/// short runs a line apart, and the hardware's stream prefetchers restart at each one.
#[inline]
fn prefetch<T>(src: &[T], start: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let end = (start + len).min(src.len());
        let size = std::mem::size_of::<T>();
        let mut i = start;
        while i < end {
            // SAFETY: a prefetch of an address inside `src`: a hint, never a fault.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(src.as_ptr().add(i).cast()) };
            i += 64 / size.max(1);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (src, start, len);
}

/// Narrows one value to an integer type like the GPU pack kernel: NaN to 0, clamp to
/// the type's range, round half to even. (In f64, so 32-bit ranges clamp exactly.)
#[inline]
pub fn narrow_int(v: f32, (min, max): (f64, f64)) -> f64 {
    if v.is_nan() {
        return 0.0;
    }
    f64::from(v).clamp(min, max).round_ties_even()
}

/// Clamps to `[0, max]` (NaN to 0), then rounds half to even, as an integer. `max` is
/// an integer below 2^23, so clamping first changes nothing, and adding 2^23 to a
/// value in [0, 2^23) rounds it half to even (the default rounding mode) into the low
/// mantissa bits. The same as `round_ties_even`, without the libm call that becomes
/// on baseline x86-64 nor a saturating float-to-int cast: this form vectorises.
#[inline(always)]
pub(crate) fn round_clamped(v: f32, max: f32) -> u32 {
    const TWO_23: f32 = 8_388_608.0;
    // f32::max returns the other operand for a NaN: NaN becomes 0.
    (v.max(0.0).min(max) + TWO_23).to_bits() - TWO_23.to_bits()
}

/// `v` rounded half to even, for any f32: below 2^23 by the add-and-subtract trick
/// (exact under the default rounding mode), above it `v` is already whole. Branch-free
/// enough to vectorise, unlike `round_ties_even` on baseline x86-64 (a libm call).
#[inline(always)]
fn round_even(v: f32) -> f32 {
    const TWO_23: f32 = 8_388_608.0;
    let t = TWO_23.copysign(v);
    if v.abs() < TWO_23 {
        (v + t) - t
    } else {
        v
    }
}

/// Narrows a single-channel plane (no interleaving needed).
fn narrow_plane<T: Copy + Send>(src: &[f32], max: f32, cast: impl Fn(u32) -> T + Sync) -> Vec<T> {
    super::par_map(src, |v| cast(round_clamped(v, max)))
}

/// Interleaves planes into an image of sample type `to`: integers rounded half to even
/// and clamped to the type's range (NaN to 0), f64 widened exactly.
pub fn to_image<'a>(planes: impl Into<PlanesRef<'a>>, to: SampleType) -> Image {
    let planes = planes.into();
    let shape = planes.shape;
    let c = shape.channels as usize;
    let n = shape.plane_len();
    let data = planes.data;
    let samples = if c == 1 {
        // One plane is already interleaved: a straight, vectorisable map.
        match to {
            // round_clamped keeps the values in range: the casts are exact.
            SampleType::U8 => Samples::U8(narrow_plane(data, 255.0, |v| v as u8)),
            SampleType::U16 => Samples::U16(narrow_plane(data, 65535.0, |v| v as u16)),
            // Copied by every core, into memory they touch first.
            SampleType::F32 => Samples::F32(super::par_map(data, |v| v)),
            // Saturating casts clamp to the type (NaN to 0), as `narrow_int` does.
            SampleType::U32 => Samples::U32(super::par_map(data, |v| round_even(v) as u32)),
            SampleType::I32 => Samples::I32(super::par_map(data, |v| round_even(v) as i32)),
            other => narrow_map(data, other, |i| data[i]),
        }
    } else {
        interleave(data, to, c, n, shape.width as usize)
    };
    Image::with_shape(shape, samples).expect("shape already valid")
}

/// [`to_image`] of the part `rect` of `planes` (a tile's inner part), read in place
/// rather than cropped first: for one plane written as u8, u16 or f32, the tiled path's
/// common case; others crop, then convert.
pub fn to_image_rect<'a>(
    planes: impl Into<PlanesRef<'a>>,
    rect: crate::image::Rect,
    to: SampleType,
) -> Image {
    let planes = planes.into();
    if rect == crate::image::Rect::of(planes.shape) {
        return to_image(planes, to);
    }
    if planes.shape.channels != 1 || !rect.fits(planes.shape) {
        return to_image(&planes.crop(rect), to);
    }
    let s = planes.shape;
    let (w, h) = (s.width as usize, s.height as usize);
    let (x0, y0, z0) = (rect.x as usize, rect.y as usize, rect.z as usize);
    let (rw, rh) = (rect.width as usize, rect.height as usize);
    let n = rect.len();
    /// Where the part's rows start in the plane: row r of the part is row `r % rh` of
    /// its slice `r / rh`.
    #[derive(Clone, Copy)]
    struct At {
        w: usize,
        h: usize,
        x0: usize,
        y0: usize,
        z0: usize,
        rw: usize,
        rh: usize,
        n: usize,
    }
    fn rows<T: Copy + Send>(data: &[f32], at: At, f: impl Fn(f32) -> T + Sync) -> Vec<T> {
        let mut v = Vec::with_capacity(at.n);
        v.spare_capacity_mut()[..at.n]
            .par_chunks_mut(at.rw.max(1))
            .enumerate()
            .for_each(|(r, o)| {
                let (z, y) = (at.z0 + r / at.rh, at.y0 + r % at.rh);
                let start = (z * at.h + y) * at.w + at.x0;
                for (d, &x) in o.iter_mut().zip(&data[start..][..at.rw]) {
                    d.write(f(x));
                }
            });
        // SAFETY: the `n / rw` chunks of `rw` samples are the part's rows, each written
        // in full from its row of `data` above (`n` is `rw` times the part's rows).
        unsafe { v.set_len(at.n) };
        v
    }
    let at = At {
        w,
        h,
        x0,
        y0,
        z0,
        rw,
        rh,
        n,
    };
    let data = planes.data;
    let samples = match to {
        SampleType::U8 => Samples::U8(rows(data, at, |x| round_clamped(x, 255.0) as u8)),
        SampleType::U16 => Samples::U16(rows(data, at, |x| round_clamped(x, 65535.0) as u16)),
        SampleType::F32 => Samples::F32(rows(data, at, |x| x)),
        _ => return to_image(&planes.crop(rect), to),
    };
    Image::with_shape(rect.shape(1), samples).expect("shape already valid")
}

/// The image's samples as type `to`, through f32 as every backend computes (integers
/// rounded half to even and clamped).
pub fn retype(image: &Image, to: SampleType) -> Image {
    to_image(&to_planes(image), to)
}

/// Planes (`c` of `n` samples, rows `w` long) interleaved into samples of type `to`,
/// rows in parallel: each output row reads the same row of every plane, so the reads
/// stream and no sample's index is divided out.
fn interleave(data: &[f32], to: SampleType, c: usize, n: usize, w: usize) -> Samples {
    fn rows<T: Send>(
        data: &[f32],
        c: usize,
        n: usize,
        w: usize,
        f: impl Fn(f32) -> T + Sync,
    ) -> Vec<T> {
        let mut v = Vec::with_capacity(data.len());
        let line = (w * c).max(1);
        v.spare_capacity_mut()[..data.len()]
            .par_chunks_mut(line)
            .with_min_len((1 << 14) / line + 1)
            .enumerate()
            .for_each(|(r, out)| {
                for (ch, plane) in data.chunks_exact(n.max(1)).enumerate() {
                    let row = &plane[r * w..(r + 1) * w];
                    for (x, &value) in row.iter().enumerate() {
                        out[x * c + ch].write(f(value));
                    }
                }
            });
        // SAFETY: each row of `w * c` samples was written in full, every channel of
        // every column, and the rows make up all `data.len()` samples.
        unsafe { v.set_len(data.len()) };
        v
    }
    let range = to.range().unwrap_or((0.0, 0.0));
    let int = |x: f32| narrow_int(x, range);
    match to {
        SampleType::U8 => Samples::U8(rows(data, c, n, w, |x| round_clamped(x, 255.0) as u8)),
        SampleType::U16 => Samples::U16(rows(data, c, n, w, |x| round_clamped(x, 65535.0) as u16)),
        SampleType::F32 => Samples::F32(rows(data, c, n, w, |x| x)),
        SampleType::I8 => Samples::I8(rows(data, c, n, w, |x| int(x) as i8)),
        SampleType::I16 => Samples::I16(rows(data, c, n, w, |x| int(x) as i16)),
        SampleType::I32 => Samples::I32(rows(data, c, n, w, |x| int(x) as i32)),
        SampleType::U32 => Samples::U32(rows(data, c, n, w, |x| int(x) as u32)),
        SampleType::F64 => Samples::F64(rows(data, c, n, w, f64::from)),
    }
}

/// `to`'s samples from `at(i)` for every interleaved index i, in parallel.
fn narrow_map(data: &[f32], to: SampleType, at: impl Fn(usize) -> f32 + Sync) -> Samples {
    let len = data.len();
    fn map<T: Send>(len: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
        (0..len).into_par_iter().map(f).collect()
    }
    let range = to.range().unwrap_or((0.0, 0.0));
    let int = |i: usize| narrow_int(at(i), range);
    match to {
        SampleType::U8 => Samples::U8(map(len, |i| round_clamped(at(i), 255.0) as u8)),
        SampleType::U16 => Samples::U16(map(len, |i| round_clamped(at(i), 65535.0) as u16)),
        SampleType::F32 => Samples::F32(map(len, &at)),
        SampleType::I8 => Samples::I8(map(len, |i| int(i) as i8)),
        SampleType::I16 => Samples::I16(map(len, |i| int(i) as i16)),
        SampleType::I32 => Samples::I32(map(len, |i| int(i) as i32)),
        SampleType::U32 => Samples::U32(map(len, |i| int(i) as u32)),
        SampleType::F64 => Samples::F64(map(len, |i| f64::from(at(i)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Interleaving by rows gives sample `i` from plane `i % c` at `i / c`, for every
    /// type, with channel counts 2 to 4 and a volume's rows.
    #[test]
    fn planes_interleave_sample_by_sample() {
        for t in SampleType::ALL {
            for c in [2u32, 3, 4] {
                let shape = crate::image::Shape::volume(5, 3, 2, c).unwrap();
                let n = shape.plane_len();
                let data: Vec<f32> = (0..n * c as usize)
                    .map(|i| (i * 37 % 101) as f32 - 20.5)
                    .collect();
                let planes = Planes {
                    shape,
                    data: data.clone(),
                    value_type: SampleType::F32,
                    window: crate::image::Window::whole(shape),
                };
                let got = to_image(&planes, t);
                let c = c as usize;
                let want = narrow_map(&data, t, |i| data[(i % c) * n + i / c]);
                assert_eq!(got.samples(), &want, "{t:?} c={c}");
            }
        }
    }

    /// A part read in place gives the planes of the part cut out first, for every
    /// sample type and channel count, at the edges and inside.
    #[test]
    fn parts_read_in_place_equal_parts_cut_out() {
        for t in SampleType::ALL {
            for c in [1, 3, 4] {
                let n = 9 * 7 * c as usize;
                let data: Vec<f32> = (0..n).map(|i| (i * 37 % 101) as f32).collect();
                let image = retype(&Image::new(9, 7, c, Samples::F32(data)).unwrap(), t);
                for (x, y, width, height) in
                    [(0, 0, 9, 7), (2, 1, 5, 4), (8, 6, 1, 1), (0, 3, 9, 2)]
                {
                    let rect = Rect::area(x, y, width, height);
                    let cut = to_planes(&image.crop(rect).unwrap());
                    let part = to_planes_part(image.view(), rect);
                    assert_eq!(
                        (part.shape, &part.data),
                        (cut.shape, &cut.data),
                        "{t} x{c} {rect:?}"
                    );
                    assert_eq!(part.value_type, t);
                }
            }
        }
    }

    /// Every type round-trips its own values exactly where f32 holds them, and narrows
    /// by clamping and rounding half to even.
    #[test]
    fn every_type_widens_and_narrows() {
        let cases: Vec<(Samples, Vec<f32>)> = vec![
            (
                Samples::I8(vec![-128, -1, 0, 127]),
                vec![-128.0, -1.0, 0.0, 127.0],
            ),
            (
                Samples::I16(vec![-32768, 7, 32767]),
                vec![-32768.0, 7.0, 32767.0],
            ),
            (Samples::I32(vec![-5, 16_777_217]), vec![-5.0, 16_777_216.0]),
            (
                Samples::U32(vec![4_000_000_000, 3]),
                vec![4_000_000_000.0, 3.0],
            ),
            (Samples::F64(vec![0.1, -2.5]), vec![0.1f64 as f32, -2.5]),
        ];
        for (samples, want) in cases {
            let t = samples.sample_type();
            let img = Image::new(want.len() as u32, 1, 1, samples.clone()).unwrap();
            let planes = to_planes(&img);
            assert_eq!(planes.data, want, "{t}");
            let back = to_image(&planes, t);
            if !matches!(t, SampleType::I32 | SampleType::F64) {
                assert_eq!(back.samples(), &samples, "{t}");
            }
        }
        let planes = to_planes(
            &Image::new(
                6,
                1,
                1,
                Samples::F32(vec![-200.0, 2.5, 3.5, -2.5, f32::NAN, 1e20]),
            )
            .unwrap(),
        );
        assert_eq!(
            to_image(&planes, SampleType::I8).samples(),
            &Samples::I8(vec![-128, 2, 4, -2, 0, 127])
        );
        assert_eq!(
            to_image(&planes, SampleType::U32).samples(),
            &Samples::U32(vec![0, 2, 4, 0, 0, u32::MAX])
        );
        assert_eq!(
            to_image(&planes, SampleType::I32).samples(),
            &Samples::I32(vec![-200, 2, 4, -2, 0, i32::MAX])
        );
        // Colour goes through the interleaving path.
        let rgb = Image::new(2, 1, 3, Samples::I16(vec![1, -2, 3, -4, 5, -6])).unwrap();
        assert_eq!(to_image(&to_planes(&rgb), SampleType::I16), rgb);
    }
}
