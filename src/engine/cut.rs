//! How a frame is cut: tiles of a 2-D frame, bricks of a volume, each with its halo,
//! within a memory budget. Geometry only: what each tile produces and reads.

use super::Engine;
use crate::image::{Rect, Shape, Window};
use crate::ops::Reach;
use crate::{Error, Result};

/// One tile (a brick of a volume): the part of the frame it produces, and the part it
/// reads (that plus its halo, clipped to the frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// What the tile produces, in frame coordinates.
    pub inner: Rect,
    /// What it reads, in frame coordinates.
    pub outer: Rect,
}

impl Tile {
    /// The inner part, in the coordinates of the tile's window.
    pub fn inner_in_window(&self) -> Rect {
        Rect {
            x: self.inner.x - self.outer.x,
            y: self.inner.y - self.outer.y,
            z: self.inner.z - self.outer.z,
            ..self.inner
        }
    }

    /// The tile's window onto a frame of `frame`.
    pub fn window(&self, frame: Shape) -> Window {
        Window {
            x: self.outer.x,
            y: self.outer.y,
            z: self.outer.z,
            full_width: frame.width,
            full_height: frame.height,
            full_depth: frame.depth,
        }
    }
}

/// How a frame is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    /// The frame.
    pub frame: Shape,
    /// A tile's inner size: columns, rows, slices (the last in each row, column and
    /// layer may be smaller).
    pub tile: (u32, u32, u32),
    /// The halo around each tile.
    pub halo: Reach,
    /// Bytes of values that may stay resident over the whole frame between the passes
    /// of its whole-frame ops (every tile's window of a node's values; see
    /// [`super::whole_frame`]). 0: every pass recomputes them.
    pub keep: u64,
    /// The part of the frame to produce, `None` for all of it: tiles cover only this
    /// box (their halos still reach into the rest of the frame, and kernels still
    /// reflect at the frame's edges), so one process computes its rows of a frame
    /// bit for bit as a whole run would. Whole-frame ops need `None`.
    pub part: Option<Rect>,
}

impl Tiling {
    /// Tiles for a frame whose programs need `halo`, each tile's f32 planes (inner plus
    /// halo, plus `pad` on each side where a filter with a boundary mode pads them)
    /// within `plane_limit` bytes, no side over `max_tile`.
    ///
    /// A 2-D frame is cut into full-width bands when a useful number of rows fits (no
    /// horizontal halo then, and bands are what TIFF strips are), squares otherwise. A
    /// volume is cut into slabs of whole slices where enough fit, else into bricks: of
    /// the depths tried, the one whose bricks waste least on their halo wins, of those
    /// whose slab of whole slices (what a volume's sinks gather before writing pages)
    /// takes no more than four planes.
    pub fn new(
        frame: Shape,
        halo: Reach,
        pad: Reach,
        plane_limit: u64,
        max_tile: Option<u32>,
    ) -> Result<Tiling> {
        let (w, h, d) = (frame.width, frame.height, frame.depth);
        let cap = max_tile.unwrap_or(u32::MAX).max(1);
        let px = u64::from(frame.channels) * 4;
        let outer = |inner: u32, halo: u32, whole: u32| u64::from((inner + 2 * halo).min(whole));
        // The window padded past the frame's edges (by `pad` where that is > 0).
        let padded = |inner: u32, halo: u32, whole: u32, pad: u32| {
            outer(inner, halo, whole) + 2 * u64::from(pad)
        };
        let tiling = |tile| Tiling {
            frame,
            tile,
            halo,
            keep: 0,
            part: None,
        };
        // Slices of a volume's bricks to try: all of them (or the cap), then halving,
        // and the most slices of whole slices that fit with their halo.
        let mut depths = vec![d.min(cap)];
        while let Some(&last) = depths.last().filter(|&&v| v > 1) {
            depths.push(last / 2);
        }
        if w <= cap && h <= cap {
            let slice =
                (u64::from(w) + 2 * u64::from(pad.x)) * (u64::from(h) + 2 * u64::from(pad.y));
            let slab = (plane_limit / (slice * px).max(1))
                .saturating_sub(2 * u64::from(halo.z + pad.z))
                .min(u64::from(d.min(cap))) as u32;
            if slab > 0 && !depths.contains(&slab) {
                depths.push(slab);
            }
        }
        // A volume's sinks gather a slab of whole slices (a TIFF is written page by
        // page): a slab of f32 output takes at most as much as four planes.
        let slab_limit = plane_limit.saturating_mul(4);
        let slab = |td: u32| u64::from(td) * u64::from(w) * u64::from(h) * px;
        let mut best: Option<((u32, u32, u32), f64)> = None;
        for td in depths {
            if td > 1 && slab(td) > slab_limit {
                continue;
            }
            let layers = padded(td, halo.z, d, pad.z);
            // What a slice of the brick may take.
            let limit = plane_limit / layers;
            let Some((tw, th)) = plane_tile((w, h), (halo.x, halo.y), pad, limit / px.max(1), cap)
            else {
                continue;
            };
            let inner = f64::from(tw) * f64::from(th) * f64::from(td);
            let read = (outer(tw, halo.x, w) * outer(th, halo.y, h) * layers) as f64;
            let score = inner / read;
            // Whole slices a slab holds: prefer them when enough fit (no y or x halo).
            if best.is_none_or(|(_, s)| score > s * 1.000_001) {
                best = Some(((tw, th, td), score));
            }
        }
        match best {
            Some((tile, _)) => Ok(tiling(tile)),
            None => Err(Error::usage(format!(
                "a {frame} frame with a halo of {}x{}x{} cannot be tiled within {plane_limit} bytes per plane: \
                 the halo alone is too large (reduce sigma or the box size, or raise the memory budget)",
                halo.x, halo.y, halo.z
            ))),
        }
    }

    /// How `engine` cuts a frame of `frame` whose graph reaches `halo` under `budget`:
    /// tiles within its plane limit and the tile cap, keeping what its keep limit allows.
    pub fn for_engine<E: Engine>(
        engine: &E,
        frame: Shape,
        (halo, pad): (Reach, Reach),
        budget: &crate::budget::Budget,
    ) -> Result<Tiling> {
        Ok(Tiling {
            keep: engine.keep_limit(budget),
            ..Tiling::new(
                frame,
                halo,
                pad,
                engine.plane_limit(budget),
                budget.max_tile,
            )?
        })
    }

    /// Whether the frame is one tile (no tiling needed).
    pub fn is_whole(&self) -> bool {
        self.tile == (self.frame.width, self.frame.height, self.frame.depth)
    }

    /// Rows of tiles (tiles of the same rows and slices), each left to right; the rows
    /// top to bottom, slice by slice.
    pub fn rows(&self) -> Vec<Vec<Tile>> {
        let (w, h, d) = (self.frame.width, self.frame.height, self.frame.depth);
        let (tw, th, td) = self.tile;
        let part = self.part();
        let span = |start: u32, len: u32, halo: u32, whole: u32| {
            let a = start.saturating_sub(halo);
            let b = (start + len + halo).min(whole);
            (a, b - a)
        };
        let (z_end, y_end, x_end) = (
            part.z + part.depth,
            part.y + part.height,
            part.x + part.width,
        );
        let mut rows = Vec::new();
        for z in (part.z..z_end).step_by(td as usize) {
            let id = td.min(z_end - z);
            let (oz, od) = span(z, id, self.halo.z, d);
            for y in (part.y..y_end).step_by(th as usize) {
                let ih = th.min(y_end - y);
                let (oy, oh) = span(y, ih, self.halo.y, h);
                rows.push(
                    (part.x..x_end)
                        .step_by(tw as usize)
                        .map(|x| {
                            let iw = tw.min(x_end - x);
                            let (ox, ow) = span(x, iw, self.halo.x, w);
                            Tile {
                                inner: Rect {
                                    x,
                                    y,
                                    z,
                                    width: iw,
                                    height: ih,
                                    depth: id,
                                },
                                outer: Rect {
                                    x: ox,
                                    y: oy,
                                    z: oz,
                                    width: ow,
                                    height: oh,
                                    depth: od,
                                },
                            }
                        })
                        .collect(),
                );
            }
        }
        rows
    }

    /// The part of the frame produced: [`Tiling::part`], or all of it.
    pub fn part(&self) -> Rect {
        self.part.unwrap_or(Rect::of(self.frame))
    }

    /// Whether a row of tiles that ends at `tile` completes a band of the frame: the
    /// rows a 2-D frame's sinks take one at a time, or the slab of whole slices a
    /// volume's sinks take (a TIFF is written page by page).
    pub fn ends_band(&self, tile: &Tile) -> bool {
        let i = tile.inner;
        if self.frame.is_volume() {
            let part = self.part();
            i.y + i.height == part.y + part.height
        } else {
            true
        }
    }

    /// Number of tiles.
    pub fn count(&self) -> usize {
        let part = self.part();
        let (w, h, d) = (part.width, part.height, part.depth);
        (w.div_ceil(self.tile.0) * h.div_ceil(self.tile.1) * d.div_ceil(self.tile.2)) as usize
    }
}

/// The inner size of tiles of one slice of `(w, h)` with a halo `(hx, hy)`, each tile
/// within `limit` samples with its halo (and `pad` on each side) and no side over `cap`:
/// the whole slice, full width bands of at least 16 rows (or all of them), else
/// squares. `None` when even a one-sample tile's halo does not fit.
fn plane_tile(
    (w, h): (u32, u32),
    (hx, hy): (u32, u32),
    pad: Reach,
    limit: u64,
    cap: u32,
) -> Option<(u32, u32)> {
    let outer = |inner: u32, halo: u32, whole: u32, pad: u32| {
        u64::from((inner + 2 * halo).min(whole)) + 2 * u64::from(pad)
    };
    let fits = |tw: u32, th: u32| outer(tw, hx, w, pad.x) * outer(th, hy, h, pad.y) <= limit;
    if w <= cap && h <= cap && fits(w, h) {
        return Some((w, h));
    }
    if w <= cap {
        // Rows of a full-width band: the most that fit, at most `cap`.
        let rows = (limit / (u64::from(w) + 2 * u64::from(pad.x)))
            .saturating_sub(2 * u64::from(hy + pad.y));
        let rows = rows.min(u64::from(cap)).min(u64::from(h)) as u32;
        if rows >= 16.min(h) && rows > 0 && fits(w, rows) {
            return Some((w, rows));
        }
    }
    // Squares: the largest side whose tile and halo fit.
    let mut side = cap.min(w.max(h));
    while side > 1 && !fits(side.min(w), side.min(h)) {
        side = side * 3 / 4;
    }
    fits(side.min(w), side.min(h)).then(|| (side.min(w), side.min(h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(w: u32, h: u32) -> Shape {
        Shape::new(w, h, 1).unwrap()
    }

    fn halo(x: u32, y: u32, z: u32) -> Reach {
        Reach { x, y, z }
    }

    #[test]
    fn tiles_cover_the_frame_once_with_clipped_halos() {
        let t = Tiling::new(
            shape(10, 7),
            halo(2, 1, 0),
            Reach::default(),
            u64::MAX,
            Some(4),
        )
        .unwrap();
        assert_eq!(t.tile, (4, 4, 1));
        let rows = t.rows();
        assert_eq!((rows.len(), rows[0].len(), t.count()), (2, 3, 6));
        let mut covered = vec![0; 70];
        for tile in rows.iter().flatten() {
            for y in tile.inner.y..tile.inner.y + tile.inner.height {
                for x in tile.inner.x..tile.inner.x + tile.inner.width {
                    covered[(y * 10 + x) as usize] += 1;
                }
            }
        }
        assert!(covered.iter().all(|&c| c == 1));
        assert_eq!(rows[0][1].outer, Rect::area(2, 0, 8, 5));
        assert_eq!(rows[1][2].inner, Rect::area(8, 4, 2, 3));
        assert_eq!(rows[1][2].inner_in_window(), Rect::area(2, 1, 2, 3));
    }

    #[test]
    fn full_width_bands_when_rows_fit_squares_otherwise() {
        // 1000 columns of 4 bytes: 100 rows fit 400 kB, less the halo's 2 * 5.
        let t = Tiling::new(
            shape(1000, 800),
            halo(3, 5, 0),
            Reach::default(),
            400_000,
            None,
        )
        .unwrap();
        assert_eq!(t.tile, (1000, 90, 1));
        // Too wide for 16 rows: squares.
        let t = Tiling::new(
            shape(100_000, 50),
            halo(3, 3, 0),
            Reach::default(),
            400_000,
            None,
        )
        .unwrap();
        assert!(t.tile.0 < 100_000 && t.tile.1 <= 50, "{t:?}");
        // The whole frame fits: one tile.
        assert!(Tiling::new(
            shape(10, 10),
            halo(99, 99, 0),
            Reach::default(),
            u64::MAX,
            None
        )
        .unwrap()
        .is_whole());
        // A halo that cannot fit is an error that says so.
        let e = Tiling::new(
            shape(1000, 1000),
            halo(400, 400, 0),
            Reach::default(),
            10_000,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("halo"), "{e}");
    }

    /// A part of the frame: tiles cover exactly it, their halos reach past it into the
    /// frame (clipped at the frame's edges).
    #[test]
    fn a_part_is_covered_once_with_halos_reaching_past_it() {
        let t = Tiling {
            part: Some(Rect::area(0, 20, 10, 15)),
            ..Tiling::new(
                shape(10, 60),
                halo(2, 3, 0),
                Reach::default(),
                u64::MAX,
                Some(4),
            )
            .unwrap()
        };
        let tiles: Vec<Tile> = t.rows().into_iter().flatten().collect();
        assert_eq!(tiles.len(), t.count());
        let rows: u32 = t.rows().iter().map(|r| r[0].inner.height).sum();
        assert_eq!(rows, 15);
        assert_eq!(tiles[0].inner, Rect::area(0, 20, 4, 4));
        assert_eq!(tiles[0].outer, Rect::area(0, 17, 6, 10));
        let last = tiles.last().unwrap();
        assert_eq!(last.inner, Rect::area(8, 32, 2, 3));
        assert_eq!(last.outer, Rect::area(6, 29, 4, 9));
    }

    /// A volume is cut into slabs of whole slices when enough fit, else into bricks;
    /// either way every voxel is some tile's inner part exactly once, and halos are
    /// clipped to the volume.
    #[test]
    fn volumes_cut_into_slabs_or_bricks_that_cover_them_once() {
        let v = Shape::volume(64, 48, 40, 1).unwrap();
        let slice = 64 * 48 * 4;
        // Room for 12 slices: slabs of 8 with a halo of 2 slices each side.
        let t = Tiling::new(v, halo(3, 3, 2), Reach::default(), 12 * slice, None).unwrap();
        assert_eq!(t.tile, (64, 48, 8), "{t:?}");
        // Room for 3 slices with a halo of 4: no slab fits, bricks do.
        let t = Tiling::new(v, halo(1, 1, 4), Reach::default(), 3 * slice, None).unwrap();
        assert!(t.tile.0 * t.tile.1 < 64 * 48, "{t:?}");
        for t in [
            t,
            Tiling::new(v, halo(2, 1, 3), Reach::default(), u64::MAX, Some(17)).unwrap(),
        ] {
            let mut covered = vec![0u8; 64 * 48 * 40];
            for tile in t.rows().iter().flatten() {
                let (i, o) = (tile.inner, tile.outer);
                assert!(o.fits(v) && i.fits(v));
                assert!(o.z <= i.z && o.z + o.depth >= i.z + i.depth);
                assert_eq!(o.z, i.z.saturating_sub(t.halo.z));
                for z in i.z..i.z + i.depth {
                    for y in i.y..i.y + i.height {
                        for x in i.x..i.x + i.width {
                            covered[((z * 48 + y) * 64 + x) as usize] += 1;
                        }
                    }
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "{t:?}");
            assert_eq!(t.count(), t.rows().iter().flatten().count());
        }
    }
}
