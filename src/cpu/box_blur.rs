//! Twin of `shaders/box_blur.wgsl`: scipy `uniform_filter` (reflect), separable, axis 0
//! then axis 1. Running sums make the cost independent of the window size; the CPU keeps
//! them in f64, as scipy does, so no drift builds up along long lines.
//!
//! The passes are fused per band of rows, as in the gaussian: each vertical result row
//! goes to a reflect-padded line and is filtered horizontally at once, so the
//! intermediate plane never goes to memory.
//!
//! A running sum's rounding depends on where it starts, so every sum starts at a fixed
//! place in the whole image, wherever a tile begins: bands of rows start at multiples of
//! the band height, and each line is cut into segments of [`SEGMENT`] columns starting
//! at multiples of it. A tile's outputs then equal the untiled ones bit for bit (the
//! tile's halo covers the distance back to a segment start). Four segments' sums run
//! interleaved so their dependent additions overlap; where the CPU has AVX2, four rows
//! run at once as well, one per lane ([`avx2`]), which keeps those places and the order
//! of every addition.
//!
//! The source is a plane or an image's interleaved samples (the direct path of a
//! one-image call, `super::direct`, through `super::layout`): each band writes its output rows once, every
//! channel of a row before the next.

use super::layout::{interleave, store, Narrow, Plane, Source};
use super::{window_index, window_pad, Planes, PlanesRef};
use crate::image::{SampleType, Window};
use crate::ops::{Axis, BoxBlur};
use rayon::prelude::*;

/// Columns per running sum along a line.
pub const SEGMENT: usize = 256;
/// Running sums interleaved.
const LANES: usize = 4;

mod avx2;

/// Rows per band for a box of `size`: each band starts its vertical sums afresh, at
/// least `size` rows of cost, so bands are at least that tall.
pub fn band_rows(size: u32) -> usize {
    (size as usize).max(64)
}

/// Box filter of every plane: along z first where the whole image is a volume (into a
/// scratch plane), then each slice along y and x.
pub fn box_blur(src: PlanesRef<'_>, b: &BoxBlur) -> Planes {
    let (w, h) = (src.shape.width as usize, src.shape.height as usize);
    let win = src.window;
    let (lz, hz) = b.window(Axis::Z);
    let across_z = win.full_depth > 1 && lz + hz > 0;
    let slice = src.shape.slice_len().max(1);
    src.map_planes(SampleType::F32, |s, d| {
        let scratch = across_z.then(|| {
            let mut t = super::zeroed(s.len());
            depth_pass(s, &mut t, (slice, win), (lz as usize, hz as usize));
            t
        });
        let from = scratch.as_deref().unwrap_or(s);
        d.par_chunks_mut(slice)
            .zip(from.par_chunks(slice))
            .for_each(|(d, s)| slice_of(&Plane { data: s, w }, d, (w, h, 1, win), b));
        if let Some(t) = scratch {
            super::pool::give(t);
        }
    })
}

/// Along y and x, one slice of `c` channels read from `src` (a plane, or an image's
/// interleaved samples) into `dst`, interleaved the same way.
pub(crate) fn slice_of<S: Source, T: Narrow>(
    src: &S,
    dst: &mut [T],
    (w, h, c, win): (usize, usize, usize, Window),
    b: &BoxBlur,
) {
    let window = |a| {
        let (lo, hi) = b.window(a);
        (lo as usize, hi as usize)
    };
    let (y, x) = (window(Axis::Y), window(Axis::X));
    if y == (0, 0) && x == (0, 0) {
        // Not filtered at all: each row as it is.
        dst.par_chunks_mut((w * c).max(1))
            .enumerate()
            .for_each_init(
                || vec![0.0f32; w],
                |buf, (r, out)| {
                    for ch in 0..c {
                        store(src.row(ch, r, buf), out, ch, c);
                    }
                },
            );
    } else {
        let band = band_rows(b.size(Axis::Y));
        plane(src, dst, (w, h, c, win), y, x, band, avx2::available());
    }
}

/// Along z, every slice of a volume's plane: each output the mean of its window of
/// `lo + 1 + hi` slices (reflected at the whole image's first and last slice), summed
/// directly in f64 from the first slice of the window to the last. A direct sum (not a
/// running one) needs no fixed starting places, so a brick's halo along z is just the
/// window; the windows of volumes are short. Blocks of columns run in parallel, each
/// down through every slice (see [`super::column_blocks`]).
fn depth_pass(
    src: &[f32],
    dst: &mut [f32],
    (slice, win): (usize, Window),
    (lo, hi): (usize, usize),
) {
    let d = src.len() / slice;
    let inv = 1.0 / (lo + hi + 1) as f64;
    super::column_blocks(dst, slice)
        .into_par_iter()
        .for_each_init(
            || vec![0.0f64; super::COLUMN_BLOCK],
            |acc, (at, pieces)| {
                for (z, out) in pieces.into_iter().enumerate() {
                    let acc = &mut acc[..out.len()];
                    acc.fill(0.0);
                    for i in z as i64 - lo as i64..=z as i64 + hi as i64 {
                        let zi = window_index(i, win.z, win.full_depth, d);
                        for (a, &v) in acc.iter_mut().zip(&src[zi * slice + at..][..out.len()]) {
                            *a += f64::from(v);
                        }
                    }
                    for (o, &a) in out.iter_mut().zip(acc.iter()) {
                        *o = (a * inv) as f32;
                    }
                }
            },
        );
}

/// Splits `dst` into bands of `band` rows that start at multiples of `band` in the
/// whole image (the first may be shorter): (first row, rows).
fn bands<T>(dst: &mut [T], w: usize, origin: u32, band: usize) -> Vec<(usize, &mut [T])> {
    let mut out = Vec::new();
    let mut rest = dst;
    let mut y = 0;
    let mut rows = band - origin as usize % band;
    while !rest.is_empty() {
        let take = (rows * w).min(rest.len());
        let (head, tail) = rest.split_at_mut(take);
        out.push((y, head));
        y += take / w;
        rest = tail;
        rows = band;
    }
    out
}

/// Per-task buffers of [`plane`].
struct Scratch {
    /// Each channel's running sums down its columns.
    acc: Vec<f64>,
    /// Source rows widened (eight: the rows four outputs add and subtract).
    rows: Vec<f32>,
    /// One padded line of vertical results.
    line: Vec<f32>,
    /// Four padded lines, transposed (`line4[4x + r]`: line r's sample x).
    line4: Vec<f32>,
    /// Four rows of results of every channel (channel by channel) before they are
    /// narrowed and interleaved into the output rows.
    res: Vec<f32>,
}

/// One slice: along y (running sums down each band of rows), then along x; `(lo, hi)`
/// are each axis's samples before and after the centre. Each band's rows are written
/// once, every channel of a row before the next row. With `simd` (the CPU has AVX2),
/// rows go four at a time, one per lane (see [`avx2`]): the same arithmetic per row.
fn plane<S: Source, T: Narrow>(
    src: &S,
    dst: &mut [T],
    (w, h, c, win): (usize, usize, usize, Window),
    (lo, hi): (usize, usize),
    (lx, hx): (usize, usize),
    band: usize,
    simd: bool,
) {
    let inv = 1.0 / (lo + hi + 1) as f64;
    let inv_x = 1.0 / (lx + hx + 1) as f64;
    // The padded line: `lx` samples before, `hx + 1` after (the slide reads one past
    // the window).
    let padded = lx + w + hx + 1;
    let yi = |i: i64| window_index(i, win.y, win.full_height, h);
    let starts = segment_starts(w, win.x);
    let quads = simd && lo + hi > 0 && lx + hx > 0;
    let line = w * c;
    bands(dst, line, win.y, band).into_par_iter().for_each_init(
        || Scratch {
            acc: vec![0.0; c * w],
            rows: vec![0.0; 8 * w],
            line: vec![0.0; padded],
            line4: vec![0.0; if quads { 4 * padded } else { 0 }],
            res: vec![0.0; 4 * c * w],
        },
        |s, (y0, out)| {
            let y0 = y0 as i64;
            for ch in 0..c {
                let acc = &mut s.acc[ch * w..][..w];
                acc.fill(0.0);
                for i in y0 - lo as i64..=y0 + hi as i64 {
                    for (a, &v) in acc.iter_mut().zip(src.row(ch, yi(i), &mut s.rows[..w])) {
                        *a += f64::from(v);
                    }
                }
            }
            let n = out.len() / line;
            let mut dy = 0;
            while dy < n {
                let y = y0 + dy as i64;
                if quads && dy + 4 <= n {
                    let rows = &mut out[dy * line..][..4 * line];
                    for ch in 0..c {
                        let Scratch {
                            acc,
                            rows: bufs,
                            line4,
                            res,
                            ..
                        } = &mut *s;
                        let acc = &mut acc[ch * w..][..w];
                        let mut bufs = bufs.chunks_exact_mut(w);
                        let mut next = |i: i64| src.row(ch, yi(i), bufs.next().expect("eight"));
                        let add: [&[f32]; 4] =
                            std::array::from_fn(|r| next(y + r as i64 + hi as i64 + 1));
                        let sub: [&[f32]; 4] =
                            std::array::from_fn(|r| next(y + r as i64 - lo as i64));
                        avx2::vertical4(acc, &add, &sub, inv, &mut line4[4 * lx..4 * (lx + w)]);
                        pad4(line4, lx, w, win);
                        match T::as_f32(rows).filter(|_| c == 1) {
                            Some(o) => {
                                let mut o = o.chunks_exact_mut(w);
                                let mut outs: [&mut [f32]; 4] =
                                    std::array::from_fn(|_| o.next().expect("four rows"));
                                avx2::horizontal4(line4, &mut outs, lx, hx, inv_x, &starts);
                            }
                            None => {
                                // Channel ch's four rows at res[4 * ch * w..].
                                let mut r = res[4 * ch * w..][..4 * w].chunks_exact_mut(w);
                                let mut outs: [&mut [f32]; 4] =
                                    std::array::from_fn(|_| r.next().expect("four rows"));
                                avx2::horizontal4(line4, &mut outs, lx, hx, inv_x, &starts);
                            }
                        }
                    }
                    if c > 1 || T::as_f32(rows).is_none() {
                        for (r, orow) in rows.chunks_exact_mut(line).enumerate() {
                            interleave(&s.res[r * w..], 4 * w, orow, w);
                        }
                    }
                    dy += 4;
                } else {
                    let orow = &mut out[dy * line..][..line];
                    for ch in 0..c {
                        let Scratch {
                            acc,
                            rows: bufs,
                            line: l,
                            res,
                            ..
                        } = &mut *s;
                        let acc = &mut acc[ch * w..][..w];
                        let (b0, b1) = bufs.split_at_mut(w);
                        if lo + hi == 0 {
                            // Not filtered along y: the row itself.
                            l[lx..lx + w].copy_from_slice(src.row(ch, yi(y), b0));
                        } else {
                            for (l, &a) in l[lx..lx + w].iter_mut().zip(acc.iter()) {
                                *l = (a * inv) as f32;
                            }
                            let add = src.row(ch, yi(y + hi as i64 + 1), b0);
                            let sub = src.row(ch, yi(y - lo as i64), &mut b1[..w]);
                            for ((a, &p), &m) in acc.iter_mut().zip(add).zip(sub) {
                                *a += f64::from(p) - f64::from(m);
                            }
                        }
                        let direct = c == 1 && T::as_f32(orow).is_some();
                        let o = match T::as_f32(orow).filter(|_| c == 1) {
                            Some(o) => o,
                            None => &mut res[..w],
                        };
                        if lx + hx == 0 {
                            o.copy_from_slice(&l[..w]);
                        } else {
                            window_pad(l, lx, w, win.x, win.full_width);
                            horizontal(l, o, lx, hx, inv_x, &starts);
                        }
                        if !direct {
                            store(&res[..w], orow, ch, c);
                        }
                    }
                    dy += 1;
                }
            }
        },
    );
}

/// [`window_pad`] of four transposed lines (`line4[4x + r]`).
fn pad4(line4: &mut [f32], lx: usize, w: usize, win: Window) {
    let padded = line4.len() / 4;
    for i in (0..lx).chain(lx + w..padded) {
        let from = lx + window_index(i as i64 - lx as i64, win.x, win.full_width, w);
        line4.copy_within(4 * from..4 * from + 4, 4 * i);
    }
}

/// Where the running sums along a line of `w` columns start: at multiples of SEGMENT in
/// the whole image (the line's first column is `origin` there), clipped to the line.
fn segment_starts(w: usize, origin: u32) -> Vec<usize> {
    let first = SEGMENT - origin as usize % SEGMENT;
    std::iter::once(0)
        .chain((first..w).step_by(SEGMENT))
        .collect()
}

/// Running mean along one padded line (`line[lo + x]` is window sample x) into `out`,
/// a sum starting afresh at each of `starts`.
fn horizontal(line: &[f32], out: &mut [f32], lo: usize, hi: usize, inv: f64, starts: &[usize]) {
    let w = out.len();
    let end = |k: usize| starts.get(k + 1).copied().unwrap_or(w);
    // Output x's window is line[x ..= x + lo + hi].
    let window = |x: usize| {
        line[x..=x + lo + hi]
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>()
    };
    let step = |acc: &mut f64, x: usize, out: &mut f32| {
        *out = (*acc * inv) as f32;
        *acc += f64::from(line[x + lo + hi + 1]) - f64::from(line[x]);
    };
    for k0 in (0..starts.len()).step_by(LANES) {
        let group = k0..(k0 + LANES).min(starts.len());
        let mut acc = [0.0f64; LANES];
        for (a, k) in acc.iter_mut().zip(group.clone()) {
            *a = window(starts[k]);
        }
        let common = group.clone().map(|k| end(k) - starts[k]).min().unwrap_or(0);
        for i in 0..common {
            for (a, k) in acc.iter_mut().zip(group.clone()) {
                let x = starts[k] + i;
                step(a, x, &mut out[x]);
            }
        }
        // The segments' tails (the first and last of a line may be shorter).
        for (a, k) in acc.iter_mut().zip(group) {
            let tail = starts[k] + common..end(k);
            for (x, o) in tail.clone().zip(&mut out[tail]) {
                step(a, x, o);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::reflect;

    /// The segmented slide against a direct sum of every window, for widths around the
    /// segment length, windows longer than the line (repeated reflection), and lines
    /// that start part-way into a segment.
    #[test]
    fn segmented_slide_matches_direct_windows() {
        for w in (1..=41usize).chain([255, 256, 257, 700]) {
            let row: Vec<f32> = (0..w).map(|i| ((i * 37 + 11) % 23) as f32 - 7.5).collect();
            for size in [1usize, 2, 3, 5, 8, 25] {
                let (lo, hi) = (size / 2, (size - 1) / 2);
                let line: Vec<f32> = (0..lo + w + hi + 1)
                    .map(|i| row[reflect(i as i64 - lo as i64, w as i64)])
                    .collect();
                for origin in [0u32, 1, 255, 300] {
                    let mut got = vec![0.0f32; w];
                    let starts = segment_starts(w, origin);
                    horizontal(&line, &mut got, lo, hi, 1.0 / size as f64, &starts);
                    for (x, &g) in got.iter().enumerate() {
                        let sum: f64 = (x as i64 - lo as i64..=x as i64 + hi as i64)
                            .map(|i| f64::from(row[reflect(i, w as i64)]))
                            .sum();
                        let want = (sum / size as f64) as f32;
                        assert!(
                            (g - want).abs() <= 1e-5,
                            "w {w} size {size} origin {origin} x {x}: {g} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// The four-row AVX2 loops against the scalar ones, bit for bit: widths around the
    /// segment length and the vector width, bands that leave one to three rows over,
    /// windows longer than the image, windows of one sample along an axis, tiles'
    /// windows that start part-way into a band and a segment, and three channels.
    #[test]
    fn four_rows_match_one_row_at_a_time() {
        if !avx2::available() {
            eprintln!("no AVX2 on this CPU: nothing to compare");
            return;
        }
        let mut seed = 2025u32;
        for (w, h, c, (ly, hy), (lx, hx), origin) in [
            (300, 70, 1, (2, 2), (2, 2), (0, 0)),
            (257, 67, 3, (1, 1), (3, 2), (0, 0)),
            (7, 9, 1, (12, 12), (12, 12), (0, 0)),
            (513, 130, 1, (2, 1), (0, 0), (0, 0)),
            (41, 66, 4, (0, 0), (2, 2), (0, 0)),
            (600, 90, 1, (4, 4), (1, 1), (300, 50)),
        ] {
            let src: Vec<f32> = (0..w * h * c)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) as f32 / 16_777_216.0 * 1000.0 - 300.0
                })
                .collect();
            let shape = crate::image::Shape::new(w as u32, h as u32, c as u32).unwrap();
            let mut win = Window::whole(shape);
            if origin != (0, 0) {
                (win.x, win.y) = origin;
                (win.full_width, win.full_height) =
                    (w as u32 + 2 * origin.0, h as u32 + 2 * origin.1);
            }
            let source = super::super::layout::Interleaved { data: &src, w, c };
            let band = band_rows((ly + hy + 1) as u32);
            let run = |simd| {
                let mut out = vec![0.0f32; w * h * c];
                plane(
                    &source,
                    &mut out,
                    (w, h, c, win),
                    (ly, hy),
                    (lx, hx),
                    band,
                    simd,
                );
                out
            };
            let (want, got) = (run(false), run(true));
            let differ = want
                .iter()
                .zip(&got)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differ, 0,
                "{w}x{h}x{c} y {ly}+{hy} x {lx}+{hx}: {differ} differ"
            );
        }
    }

    #[test]
    fn bands_start_at_whole_image_multiples() {
        let mut d = vec![0.0f32; 10 * 3];
        let got: Vec<(usize, usize)> = bands(&mut d, 3, 6, 4)
            .into_iter()
            .map(|(y, b)| (y, b.len() / 3))
            .collect();
        assert_eq!(got, [(0, 2), (2, 4), (6, 4)], "rows 6..8, 8..12, 12..16");
    }
}
