//! CPU twins of the WGSL kernels: one file per shader, same name, same semantics.
//!
//! They are the oracle for GPU tests, the baseline in benches, and [`crate::Backend::Cpu`].
//! Data is f32 planes (one per channel), the same layout the GPU kernels use, so each twin
//! reads like its kernel.

pub mod auto_threshold;
pub mod box_blur;
pub mod convert;
pub mod derivative;
pub mod direct;
pub mod distance;
pub mod expand;
pub mod gaussian;
pub mod label;
pub(crate) mod layout;
pub mod network;
pub mod pad;
pub mod pool;
pub mod rank;
pub mod scipy_int;
pub mod segment;
pub mod threshold;

use crate::image::{SampleType, Shape, Window};
use crate::ops::{Combine, Op};
use crate::Result;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Applies one op; for a threshold op also returns the threshold it used. The op's
/// parameters are checked first (a struct literal skips the parser's checks).
pub fn apply(planes: &Planes, op: &Op) -> Result<(Planes, Option<f64>)> {
    apply_ref(planes.view(), op)
}

/// [`apply`] on borrowed planes (a one-channel f32 image where it lies).
pub fn apply_ref(planes: PlanesRef<'_>, op: &Op) -> Result<(Planes, Option<f64>)> {
    op.validate()?;
    op.check_input(planes.value_type)?;
    op.check_shape(planes.shape)?;
    // scipy's extension pass by pass (see `Op::by_passes`): the terms' chains of
    // one-axis filters, combined.
    if let Some((combine, terms)) = op.by_passes(planes.window.full_depth > 1) {
        return Ok((by_passes(planes, combine, &terms)?, None));
    }
    // A mode other than reflect: the reflect filter of the planes padded by the mode.
    if let Some((boundary, inner, by)) = op.padded(planes.window.full_depth > 1, planes.value_type)
    {
        let padded = pad::pad(planes, by, boundary);
        let (out, t) = apply_ref(padded.view(), &inner)?;
        let mut out = out.view().crop(pad::inner(out.shape, by));
        out.window = planes.window;
        return Ok((out, t));
    }
    Ok(match op {
        Op::Gaussian(g) if g.int.applies_to(planes.value_type) => {
            (scipy_int::gaussian(planes, g), None)
        }
        Op::Box(b) if b.int.applies_to(planes.value_type) => (scipy_int::box_blur(planes, b), None),
        Op::Gaussian(g) => (derivative::gaussian(planes, g), None),
        Op::Box(b) => (box_blur::box_blur(planes, b), None),
        Op::Threshold(t) => {
            let (mask, value) = auto_threshold::threshold(planes, t)?;
            (
                mask,
                (!matches!(t, crate::ops::Threshold::Local { .. })).then_some(value),
            )
        }
        Op::Label(l) => (label::label(planes, l)?, None),
        Op::RemoveSmall(r) => (label::remove_small(planes, r)?, None),
        Op::RemoveHoles(r) => (label::remove_holes(planes, r)?, None),
        Op::ExpandLabels(e) => (expand::expand_labels(planes, e), None),
        Op::Median(m) => {
            m.check_volume(planes.window.full_depth > 1)?;
            (rank::median(planes, m), None)
        }
        Op::Dog(d) => (gaussian::dog(planes, d)?, None),
        Op::Log(l) => (gaussian::log(planes, l)?, None),
        Op::Gradient(g) => (derivative::gradient(planes, g)?, None),
        Op::Distance(d) => (distance::distance(planes, d), None),
        Op::FillHoles => (segment::fill_holes(planes), None),
        Op::ClearBorder => (segment::clear_border(planes), None),
        Op::Erode(_)
        | Op::Dilate(_)
        | Op::Open(_)
        | Op::Close(_)
        | Op::Tophat(_)
        | Op::Blackhat(_) => (
            rank::morph(planes, &op.morph().expect("a morphology op")),
            None,
        ),
    })
}

/// [`crate::ops::Op::by_passes`]'s terms, each chain run op by op, combined in order in
/// f32 as the GPU combines them.
fn by_passes(planes: PlanesRef<'_>, combine: Combine, terms: &[Vec<Op>]) -> Result<Planes> {
    let mut acc: Option<Planes> = None;
    for chain in terms {
        let mut term: Option<Planes> = None;
        for op in chain {
            let input = term.as_ref().map_or(planes, Planes::view);
            term = Some(apply_ref(input, op)?.0);
        }
        // `by_passes` gives no empty chain; one would be a bug, not bad input.
        let mut term = term.ok_or_else(|| crate::Error::usage("a filter term with no pass"))?;
        if combine == Combine::RootSumSquares {
            term.data.par_iter_mut().for_each(|x| *x *= *x);
        }
        acc = Some(match acc {
            None => term,
            Some(mut a) => {
                let zipped = a.data.par_iter_mut().zip(term.data.par_iter());
                match combine {
                    Combine::Difference => zipped.for_each(|(x, &t)| *x -= t),
                    Combine::Sum | Combine::RootSumSquares => zipped.for_each(|(x, &t)| *x += t),
                }
                a
            }
        });
    }
    let mut out = acc.ok_or_else(|| crate::Error::usage("a filter with no term"))?;
    if combine == Combine::RootSumSquares {
        out.data.par_iter_mut().for_each(|x| *x = x.sqrt());
    }
    out.window = planes.window;
    Ok(out)
}

/// An image as f32 planes, channel-major (`plane c` is `data[c*w*h..(c+1)*w*h]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Planes {
    /// Width, height, channels.
    pub shape: Shape,
    /// The planar samples.
    pub data: Vec<f32>,
    /// What the values are: `U8`/`U16` while they are still integer levels of that type
    /// (an untouched source, or a 0/255 mask), `F32` once a filter has made them real
    /// numbers. Otsu bins by this.
    pub value_type: SampleType,
    /// Where these planes sit in the whole image (a tile and its halo), or all of it.
    pub window: Window,
}

/// Planes borrowed: an owned [`Planes`]'s, or the samples of a one-channel f32 image
/// where they lie (a numpy array's buffer), which the kernels read without a copy.
#[derive(Clone, Copy, Debug)]
pub struct PlanesRef<'a> {
    /// Width, height, channels.
    pub shape: Shape,
    /// The planar samples.
    pub data: &'a [f32],
    /// What the values are (see [`Planes::value_type`]).
    pub value_type: SampleType,
    /// Where these planes sit in the whole image.
    pub window: Window,
}

impl Planes {
    /// The planes, borrowed.
    pub fn view(&self) -> PlanesRef<'_> {
        PlanesRef {
            shape: self.shape,
            data: &self.data,
            value_type: self.value_type,
            window: self.window,
        }
    }

    /// Iterates over the planes.
    pub fn planes(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.shape.plane_len())
    }

    /// The part `rect` of every plane, as compact planes at that place of the whole
    /// image (a tile's inner part). Twin of `crop` in shaders/window.wgsl.
    pub fn crop(&self, rect: crate::image::Rect) -> Planes {
        if rect == crate::image::Rect::of(self.shape) {
            return self.clone();
        }
        self.view().crop(rect)
    }
}

impl<'a> From<&'a Planes> for PlanesRef<'a> {
    fn from(p: &'a Planes) -> Self {
        p.view()
    }
}

impl<'a> PlanesRef<'a> {
    /// The planes as owned ones (a copy).
    pub fn to_planes(self) -> Planes {
        Planes {
            shape: self.shape,
            data: par_map(self.data, |x| x),
            value_type: self.value_type,
            window: self.window,
        }
    }

    /// The rows of the part `rect` of every plane (every slice of it), where they lie,
    /// in parallel (a few rows to a task): what a reduction over a tile's inner part
    /// reads.
    pub(crate) fn par_rows(
        self,
        rect: crate::image::Rect,
    ) -> impl IndexedParallelIterator<Item = &'a [f32]> {
        let s = self.shape;
        let (w, n, slice) = (s.width as usize, s.plane_len(), s.slice_len());
        let (h, d) = (rect.height as usize, rect.depth as usize);
        let (x, y, z, rw) = (
            rect.x as usize,
            rect.y as usize,
            rect.z as usize,
            rect.width as usize,
        );
        let data = self.data;
        (0..h * d * s.channels as usize)
            .into_par_iter()
            .with_min_len((1 << 14) / rw.max(1) + 1)
            .map(move |k| {
                let (c, k) = (k / (h * d), k % (h * d));
                let (dz, dy) = (k / h, k % h);
                &data[c * n + (z + dz) * slice + (y + dy) * w + x..][..rw]
            })
    }

    /// The part `rect` of every plane, as compact planes (see [`Planes::crop`]).
    pub fn crop(self, rect: crate::image::Rect) -> Planes {
        let mut data = Vec::with_capacity(rect.len() * self.shape.channels as usize);
        data.par_extend(self.par_rows(rect).flat_map_iter(|row| row.iter().copied()));
        Planes {
            shape: rect.shape(self.shape.channels),
            data,
            value_type: self.value_type,
            window: self.window.crop(rect),
        }
    }

    /// Builds new planes of the same shape by mapping each plane.
    pub(crate) fn map_planes(
        self,
        value_type: SampleType,
        f: impl Fn(&[f32], &mut [f32]) + Sync,
    ) -> Planes {
        let n = self.shape.plane_len();
        let mut data = zeroed(self.data.len());
        for (src, dst) in self.data.chunks_exact(n).zip(data.chunks_exact_mut(n)) {
            f(src, dst);
        }
        Planes {
            shape: self.shape,
            data,
            value_type,
            window: self.window,
        }
    }
}

/// Samples per parallel task of the helpers below: 256 KiB of f32, a few tasks per core
/// on a megapixel plane.
const CHUNK: usize = 1 << 16;

/// A zeroed plane buffer, zeroed by all cores: a recycled one from the [`pool`] (which
/// keeps freed planes, so a tile or frame after the first finds its memory already
/// touched), else fresh memory with huge pages asked for, as numpy does: a fresh 64 MiB
/// plane otherwise costs 16k page faults, which on a VM took longer than the gaussian
/// itself.
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    let mut v = pool::take(len);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(CHUNK)
        .for_each(|c| c.fill(MaybeUninit::new(0.0)));
    // SAFETY: the first `len` elements were written above (`take` gives an empty
    // buffer with room for them).
    unsafe { v.set_len(len) };
    v
}

/// `f` of every sample, into a new buffer, in parallel, with no zeroing pass first:
/// each output is written exactly once.
pub(crate) fn par_map<S, D>(src: &[S], f: impl Fn(S) -> D + Sync) -> Vec<D>
where
    S: Copy + Sync,
    D: Copy + Send,
{
    let mut v: Vec<D> = Vec::with_capacity(src.len());
    advise_huge_pages(v.as_mut_ptr().cast(), src.len() * std::mem::size_of::<D>());
    par_map_into(v, src, f)
}

/// [`par_map`] into a plane buffer from the [`pool`].
pub(crate) fn par_map_plane<S: Copy + Sync>(src: &[S], f: impl Fn(S) -> f32 + Sync) -> Vec<f32> {
    par_map_into(pool::take(src.len()), src, f)
}

/// `f` of every sample into `v`'s spare room (`v` is emptied first).
fn par_map_into<S, D>(mut v: Vec<D>, src: &[S], f: impl Fn(S) -> D + Sync) -> Vec<D>
where
    S: Copy + Sync,
    D: Copy + Send,
{
    let len = src.len();
    v.clear();
    v.reserve(len);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| map_into(d, s, &f));
    // SAFETY: the chunks of `d` and `s` pair up one to one with equal lengths, so every
    // one of the first `len` elements was written.
    unsafe { v.set_len(len) };
    v
}

/// The loop of [`par_map`], a function of its own so that its slices are known not to
/// alias: the closure's captures are then loaded once and the loop vectorises.
#[inline(never)]
fn map_into<S: Copy, D>(dst: &mut [MaybeUninit<D>], src: &[S], f: &impl Fn(S) -> D) {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(f(s));
    }
}

/// Asks for transparent huge pages over the whole 2 MiB pages inside `[ptr, ptr+bytes)`
/// of a fresh allocation (before it is touched). Advice only: harmless where THP is off.
pub(crate) fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        if bytes >= 2 * HUGE {
            let p = ptr as usize;
            let (start, end) = (p.next_multiple_of(HUGE), (p + bytes) & !(HUGE - 1));
            if end > start {
                // SAFETY: advice about memory the caller owns; nothing is read or written.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
                }
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

/// Samples per column block of the z passes: a block of the 2r+1 slices a pass reads at
/// once stays in L2.
pub(crate) const COLUMN_BLOCK: usize = 512;

/// A volume's plane (`slice` samples per slice) cut into blocks of columns: for each
/// block, its offset within a slice and its piece of every slice, in slice order. The
/// z passes walk a block down through the slices, so each source sample comes from
/// memory once, not once per tap (slices are far apart: taps along z share no cache
/// line).
pub(crate) fn column_blocks(dst: &mut [f32], slice: usize) -> Vec<(usize, Vec<&mut [f32]>)> {
    let slice = slice.max(1);
    let blocks = slice.div_ceil(COLUMN_BLOCK);
    let mut out: Vec<(usize, Vec<&mut [f32]>)> = (0..blocks)
        .map(|b| (b * COLUMN_BLOCK, Vec::with_capacity(dst.len() / slice)))
        .collect();
    for s in dst.chunks_mut(slice) {
        for (b, piece) in s.chunks_mut(COLUMN_BLOCK).enumerate() {
            out[b].1.push(piece);
        }
    }
    out
}

/// scipy's `mode='reflect'` (`d c b a | a b c d | d c b a`), repeated for any distance
/// from the image, so kernels longer than the image are well defined.
#[inline]
pub(crate) fn reflect(i: i64, n: i64) -> usize {
    let period = 2 * n;
    let mut m = i.rem_euclid(period);
    if m >= n {
        m = period - 1 - m;
    }
    m as usize
}

/// The window sample a tap at window position `i` reads (see `window_index` in
/// shaders/prelude.wgsl): reflected at the whole image's edge, clamped to the window
/// inside it (only halo outputs, which no result uses, read there).
#[inline]
pub(crate) fn window_index(i: i64, origin: u32, full: u32, n: usize) -> usize {
    let origin = i64::from(origin);
    let g = reflect(i + origin, i64::from(full)) as i64 - origin;
    g.clamp(0, n as i64 - 1) as usize
}

/// Fills the padding of a line whose samples are `line[before..before + w]`: the
/// `before` slots ahead of them and all slots after, as [`window_index`] reads them for
/// a line that starts at `origin` of `full` samples.
#[inline]
pub(crate) fn window_pad(line: &mut [f32], before: usize, w: usize, origin: u32, full: u32) {
    for i in (0..before).chain(before + w..line.len()) {
        line[i] = line[before + window_index(i as i64 - before as i64, origin, full, w)];
    }
}

#[cfg(test)]
mod tests {
    /// `apply` is public: parameters built without the parser are checked there too
    /// (a box of size 0 once underflowed its window arithmetic).
    #[test]
    fn apply_checks_params() {
        use crate::image::{Image, Samples};
        use crate::ops::{BoxBlur, Op};
        let planes =
            super::convert::to_planes(&Image::gray(3, 3, Samples::U8(vec![7; 9])).unwrap());
        let e = super::apply(
            &planes,
            &Op::Box(BoxBlur {
                size: [0; 3],
                int: Default::default(),
                boundary: Default::default(),
            }),
        )
        .unwrap_err();
        assert!(matches!(e, crate::Error::InvalidParam { .. }), "{e}");
    }

    #[test]
    fn reflect_repeats_like_scipy() {
        let n = 3;
        let got: Vec<usize> = (-7..10).map(|i| super::reflect(i, n)).collect();
        // scipy reflect of [a b c] extended: ... c b a | a b c | c b a | a b c ...
        assert_eq!(got, [0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2]);
        assert!((-5..5).all(|i| super::reflect(i, 1) == 0));
    }

    #[test]
    fn windows_reflect_at_the_whole_image_edge() {
        use super::window_index;
        // The whole image: plain reflect.
        for i in -7..10 {
            assert_eq!(window_index(i, 0, 3, 3), super::reflect(i, 3));
        }
        // A window of 4 at column 10 of a 20-wide image: no edge near, so taps beyond
        // the window clamp (halo only); a window at the right edge reflects there.
        assert_eq!(window_index(-1, 10, 20, 4), 0);
        assert_eq!(window_index(5, 10, 20, 4), 3);
        assert_eq!(window_index(4, 16, 20, 4), 3, "20 reflects to 19, window 3");
        assert_eq!(window_index(5, 16, 20, 4), 2, "21 reflects to 18");
    }
}
