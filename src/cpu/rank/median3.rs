//! The 3×3 median of 8- and 16-bit samples where they lie, for the one-image direct
//! path ([`crate::cpu::direct`]): no f32 planes, no keys, no network blocks. Each
//! column of three rows is sorted once and shared by the three outputs that read it;
//! an output is then the median of the largest of its three column minima, the median
//! of its three column medians and the smallest of its three column maxima (Paeth's
//! median of nine, 19 comparators, exact: the sample at sorted index 4, as scipy's and
//! the planar twin's). Every step is a min or max over whole rows, which the compiler
//! vectorises (32 u8 or 16 u16 lanes with AVX2).

use crate::cpu::reflect;
use rayon::prelude::*;

#[inline(always)]
fn med3<T: Ord + Copy>(a: T, b: T, c: T) -> T {
    a.min(b).max(a.max(b).min(c))
}

/// `scipy.ndimage.median_filter(x, 3)` (reflect) of a `w`×`h` image of `c` interleaved
/// channels, each channel on its own.
pub(crate) fn median3<T: Ord + Copy + Default + Send + Sync>(
    src: &[T],
    w: usize,
    h: usize,
    c: usize,
) -> Vec<T> {
    let row = w * c;
    let mut out = vec![T::default(); row * h];
    // Fresh pages, first touched by the threads that fill them.
    crate::cpu::advise_huge_pages(out.as_mut_ptr().cast(), std::mem::size_of_val(&out[..]));
    if row == 0 {
        return out;
    }
    out.par_chunks_mut(row).enumerate().for_each_init(
        || {
            [
                vec![T::default(); row + 2 * c],
                vec![T::default(); row + 2 * c],
                vec![T::default(); row + 2 * c],
            ]
        },
        |[lo, mid, hi], (y, o)| {
            let line = |dy: i64| &src[reflect(y as i64 + dy, h as i64) * row..][..row];
            let (a, b, d) = (line(-1), line(0), line(1));
            // Each column's three samples sorted, at offset c: one pixel of room on
            // each side for the reflected neighbour.
            let (l, m, u) = (
                &mut lo[c..][..row],
                &mut mid[c..][..row],
                &mut hi[c..][..row],
            );
            for i in 0..row {
                let (s1, s2) = (a[i].min(b[i]), a[i].max(b[i]));
                let (s2, s3) = (s2.min(d[i]), s2.max(d[i]));
                l[i] = s1.min(s2);
                m[i] = s1.max(s2);
                u[i] = s3;
            }
            for v in [&mut *lo, &mut *mid, &mut *hi] {
                // Pixel -1 reflects to pixel 0, pixel w to pixel w - 1.
                v.copy_within(c..2 * c, 0);
                v.copy_within(row..row + c, row + c);
            }
            let (l0, l1, l2) = (&lo[..row], &lo[c..][..row], &lo[2 * c..][..row]);
            let (m0, m1, m2) = (&mid[..row], &mid[c..][..row], &mid[2 * c..][..row]);
            let (u0, u1, u2) = (&hi[..row], &hi[c..][..row], &hi[2 * c..][..row]);
            for i in 0..row {
                let most_of_mins = l0[i].max(l1[i]).max(l2[i]);
                let least_of_maxes = u0[i].min(u1[i]).min(u2[i]);
                let mid_of_mids = med3(m0[i], m1[i], m2[i]);
                o[i] = med3(most_of_mins, mid_of_mids, least_of_maxes);
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against sorting each 3×3 window (reflected at the edges), for one to four
    /// channels, including images one pixel wide or high.
    #[test]
    fn equals_sorting_each_window() {
        for (w, h, c) in [(1, 1, 1), (1, 5, 1), (6, 1, 3), (17, 9, 1), (13, 11, 4)] {
            let src: Vec<u16> = (0..w * h * c)
                .map(|i| ((i * 7919 + 13) % 97) as u16)
                .collect();
            let got = median3(&src, w, h, c);
            for y in 0..h {
                for x in 0..w {
                    for ch in 0..c {
                        let mut win = Vec::new();
                        for dy in -1..=1i64 {
                            for dx in -1..=1i64 {
                                let (yy, xx) = (
                                    reflect(y as i64 + dy, h as i64),
                                    reflect(x as i64 + dx, w as i64),
                                );
                                win.push(src[(yy * w + xx) * c + ch]);
                            }
                        }
                        win.sort();
                        assert_eq!(
                            got[(y * w + x) * c + ch],
                            win[4],
                            "{w}x{h}x{c} ({x},{y},{ch})"
                        );
                    }
                }
            }
        }
    }
}
