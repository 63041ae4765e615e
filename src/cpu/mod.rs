//! CPU twins of the WGSL kernels: one file per shader, same name, same semantics.
//!
//! They are the oracle for GPU tests, the baseline in benches, and [`crate::Backend::Cpu`].
//! Data is f32 planes (one per channel), the same layout the GPU kernels use, so each twin
//! reads like its kernel.

pub mod box_blur;
pub mod convert;
pub mod gaussian;
pub mod threshold;

use crate::image::{SampleType, Shape};
use crate::ops::Op;

/// Applies one op; for a threshold op also returns the threshold it used.
pub fn apply(planes: &Planes, op: &Op) -> (Planes, Option<f64>) {
    match op {
        Op::Gaussian(g) => (gaussian::gaussian(planes, g), None),
        Op::Box(b) => (box_blur::box_blur(planes, b), None),
        Op::Threshold(t) => {
            let (mask, value) = threshold::threshold(planes, t);
            (mask, Some(value))
        }
    }
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
}

impl Planes {
    /// Iterates over the planes.
    pub fn planes(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.shape.plane_len())
    }

    /// Builds new planes of the same shape by mapping each plane.
    pub(crate) fn map_planes(
        &self,
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
        }
    }
}

/// A zeroed plane buffer. Large ones ask Linux for transparent huge pages before first
/// touch, as numpy does: a fresh 64 MiB plane otherwise costs 16k page faults, which on
/// a VM took longer than the gaussian itself.
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    // A large zeroed Vec comes from calloc, i.e. fresh zero pages nobody has touched
    // yet: no memset pass, and the advice below still lands before the first touch.
    let mut v = vec![0.0f32; len];
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = len * std::mem::size_of::<f32>();
        if bytes >= 2 * HUGE {
            let p = v.as_mut_ptr() as usize;
            let (start, end) = (p.next_multiple_of(HUGE), (p + bytes) & !(HUGE - 1));
            if end > start {
                // SAFETY: only advice about memory this Vec owns; nothing is read or
                // written, and the call fails harmlessly where THP is off.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
                }
            }
        }
    }
    v
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

/// Fills the padding of a line whose samples are `line[before..before + w]`: the
/// `before` slots ahead of them and all slots after, reflected as [`reflect`] does.
#[inline]
pub(crate) fn reflect_pad(line: &mut [f32], before: usize, w: usize) {
    for i in (0..before).chain(before + w..line.len()) {
        line[i] = line[before + reflect(i as i64 - before as i64, w as i64)];
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reflect_repeats_like_scipy() {
        let n = 3;
        let got: Vec<usize> = (-7..10).map(|i| super::reflect(i, n)).collect();
        // scipy reflect of [a b c] extended: ... c b a | a b c | c b a | a b c ...
        assert_eq!(got, [0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2]);
        assert!((-5..5).all(|i| super::reflect(i, 1) == 0));
    }
}
