//! Rank filters' parameters: the median, and grey morphology with footprints, with
//! scipy's and scikit-image's semantics.
//!
//! - [`Median`] = `scipy.ndimage.median_filter(x, size, mode='reflect')`: the window is
//!   placed as scipy places it (`size/2` before the centre, `(size-1)/2` after) and the
//!   result is the element at sorted index `n//2` of its `n` samples (the upper median
//!   for even windows).
//! - [`Morph`] = `skimage.morphology.erosion/dilation/opening/closing/white_tophat/
//!   black_tophat(x, footprint)` with scikit-image 0.26's defaults (`mode='reflect'`,
//!   the footprint not mirrored in `dilation`, even sides padded at their start).
//!
//! A footprint is kept as the chords its rows make along x: a chord `[x-lo, x+hi]` of
//! the row `dz, dy` away. Both backends take the min (max) of every chord, growing one
//! running extreme per row through the footprint's distinct chords, so a disk of radius
//! r costs O(r) per pixel, not r². Min and max are exact, so any order gives the same
//! bits on either backend, tiled or not.

use super::{Boundary, Reach, MAX_RADIUS};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Most samples a median window may hold: the GPU kernel selects from a per-thread copy
/// of the window, and this bounds it (27×27 in 2-D, 9×9×9 in a volume).
pub const MAX_MEDIAN_WINDOW: u32 = 729;

/// Largest footprint radius (disk, ball, cross) or side (square, cube) accepted.
pub const MAX_FOOTPRINT: u32 = 1024;

/// Median filter parameters: per-axis window sides in numpy's order `(z, y, x)`; a
/// 2-D image has no z axis.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Median {
    /// Window side along z, y and x, each at least 1.
    pub size: [u32; 3],
    /// Past the image's edges (scipy's `mode`, `cval`).
    #[serde(flatten)]
    pub boundary: Boundary,
}

impl Median {
    /// A window of side `size` along every axis (z too).
    pub fn new(size: u32) -> Result<Self> {
        let m = Median {
            size: [size; 3],
            boundary: Boundary::REFLECT,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks the parameters.
    /// A window is only as large as the image has axes, so a 2-D image's limit is
    /// checked here (`median:size=27` is 27x27 on an image) and a volume's, whose z
    /// counts too, by [`Median::check_volume`] once the image is known.
    pub fn validate(&self) -> Result<()> {
        let names = ["size_z", "size_y", "size_x"];
        let uniform = self.size[0] == self.size[1] && self.size[1] == self.size[2];
        for (name, &s) in names.iter().zip(&self.size) {
            let name = if uniform { "size" } else { name };
            if s == 0 {
                return Err(Error::param("median", name, "must be >= 1, got 0"));
            }
        }
        self.check_volume(false)
    }

    /// Checks the window's size on an image with (`volume`) or without a z axis.
    pub fn check_volume(&self, volume: bool) -> Result<()> {
        let [z, y, x] = [0, 1, 2].map(|a| {
            let (lo, hi) = self.window(a, volume);
            u64::from(lo + hi + 1)
        });
        if z * y * x > u64::from(MAX_MEDIAN_WINDOW) {
            let shape = if volume {
                format!("{z}x{y}x{x}")
            } else {
                format!("{y}x{x}")
            };
            return Err(Error::param(
                "median",
                "size",
                format!(
                    "a window of {shape} samples exceeds the limit of {MAX_MEDIAN_WINDOW} \
                     samples (27x27 in 2-D, 9x9x9 in a volume)"
                ),
            ));
        }
        Ok(())
    }

    /// Samples before and after the centre along axis `a` (0 = z, 1 = y, 2 = x) of an
    /// image with (`volume`) or without a z axis: `(size/2, (size-1)/2)`, scipy's
    /// placement for `origin = 0`.
    pub fn window(&self, a: usize, volume: bool) -> (u32, u32) {
        let s = if a == 0 && !volume { 1 } else { self.size[a] };
        (s / 2, (s - 1) / 2)
    }

    /// How far the window reaches along each axis.
    pub fn reach(&self) -> Reach {
        let r = |a: usize| self.size[a] / 2;
        Reach {
            x: r(2),
            y: r(1),
            z: r(0),
        }
    }
}

/// The shape of a footprint. 2-D shapes (disk, square) on a volume act on each slice;
/// 3-D shapes (ball, cube) on a 2-D image are their middle slice (a disk, a square);
/// a cross has arms along every axis the image has (`generate_binary_structure(ndim,
/// 1)` for radius 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "footprint", rename_all = "lowercase")]
pub enum Footprint {
    /// `skimage.morphology.disk(radius)`: `dx² + dy² <= r²`.
    Disk {
        /// Radius in pixels (0: the centre alone).
        radius: u32,
    },
    /// `skimage.morphology.ball(radius)`: `dx² + dy² + dz² <= r²`.
    Ball {
        /// Radius in voxels.
        radius: u32,
    },
    /// Arms of `radius` along each axis through the centre.
    Cross {
        /// Arm length.
        radius: u32,
    },
    /// `skimage.morphology.footprint_rectangle((size, size))`.
    Square {
        /// Side in pixels; an even side reaches one further after the centre than
        /// before it, as scikit-image pads it.
        size: u32,
    },
    /// `skimage.morphology.footprint_rectangle((size, size, size))`.
    Cube {
        /// Side in voxels.
        size: u32,
    },
}

/// One row of a footprint: the samples `x-lo ..= x+hi` of the row `dz` slices and `dy`
/// rows away from the centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chord {
    /// Slice offset.
    pub dz: i32,
    /// Row offset.
    pub dy: i32,
    /// Samples before the centre column.
    pub lo: u32,
    /// Samples after it.
    pub hi: u32,
}

/// `floor(sqrt(n))` exactly.
fn isqrt(n: u64) -> u64 {
    let mut r = (n as f64).sqrt() as u64;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

impl Footprint {
    /// Its canonical spec parameters (`footprint=disk,radius=5`).
    pub fn spec(&self) -> String {
        match *self {
            Footprint::Disk { radius } => format!("footprint=disk,radius={radius}"),
            Footprint::Ball { radius } => format!("footprint=ball,radius={radius}"),
            Footprint::Cross { radius } => format!("footprint=cross,radius={radius}"),
            Footprint::Square { size } => format!("footprint=square,size={size}"),
            Footprint::Cube { size } => format!("footprint=cube,size={size}"),
        }
    }

    /// Checks the parameters.
    pub fn validate(&self, op: &'static str) -> Result<()> {
        let (name, v, min) = match *self {
            Footprint::Disk { radius }
            | Footprint::Ball { radius }
            | Footprint::Cross { radius } => ("radius", radius, 0),
            Footprint::Square { size } | Footprint::Cube { size } => ("size", size, 1),
        };
        if v < min {
            return Err(Error::param(op, name, format!("must be >= {min}, got {v}")));
        }
        if v > MAX_FOOTPRINT {
            return Err(Error::param(
                op,
                name,
                format!("{v} exceeds the limit of {MAX_FOOTPRINT}"),
            ));
        }
        Ok(())
    }

    /// The footprint's chords on an image with (`volume`) or without a z axis, in the
    /// order both backends visit them: by chord, growing (each chord's samples hold the
    /// previous one's within a row of equal lengths).
    pub fn chords(&self, volume: bool) -> Vec<Chord> {
        let mut out = Vec::new();
        let span = |size: u32| ((size - 1) / 2, size / 2);
        match *self {
            Footprint::Disk { radius } | Footprint::Ball { radius } => {
                let r = i64::from(radius);
                let rz = if volume && matches!(self, Footprint::Ball { .. }) {
                    r
                } else {
                    0
                };
                for dz in -rz..=rz {
                    for dy in -r..=r {
                        let left = r * r - dz * dz - dy * dy;
                        if left >= 0 {
                            let w = isqrt(left as u64) as u32;
                            out.push(Chord {
                                dz: dz as i32,
                                dy: dy as i32,
                                lo: w,
                                hi: w,
                            });
                        }
                    }
                }
            }
            Footprint::Cross { radius } => {
                let r = radius as i32;
                out.push(Chord {
                    dz: 0,
                    dy: 0,
                    lo: radius,
                    hi: radius,
                });
                for d in (-r..=r).filter(|&d| d != 0) {
                    out.push(Chord {
                        dz: 0,
                        dy: d,
                        lo: 0,
                        hi: 0,
                    });
                    if volume {
                        out.push(Chord {
                            dz: d,
                            dy: 0,
                            lo: 0,
                            hi: 0,
                        });
                    }
                }
            }
            Footprint::Square { size } | Footprint::Cube { size } => {
                let (lo, hi) = span(size);
                let (zlo, zhi) = if volume && matches!(self, Footprint::Cube { .. }) {
                    span(size)
                } else {
                    (0, 0)
                };
                for dz in -(zlo as i32)..=zhi as i32 {
                    for dy in -(lo as i32)..=hi as i32 {
                        out.push(Chord { dz, dy, lo, hi });
                    }
                }
            }
        }
        out.sort_by_key(|c| (c.lo + c.hi, c.lo, c.dz, c.dy));
        out
    }

    /// How far the footprint reaches along each axis (the same mirrored).
    pub fn reach(&self) -> Reach {
        let mut r = Reach::default();
        for c in self.chords(true) {
            r = r.max(Reach {
                x: c.lo.max(c.hi),
                y: c.dy.unsigned_abs(),
                z: c.dz.unsigned_abs(),
            });
        }
        r
    }
}

/// Mirrors chords through the centre (what opening's dilation and closing's erosion
/// use, as scikit-image does).
pub fn mirror(chords: &[Chord]) -> Vec<Chord> {
    chords
        .iter()
        .map(|c| Chord {
            dz: -c.dz,
            dy: -c.dy,
            lo: c.hi,
            hi: c.lo,
        })
        .collect()
}

/// Which grey morphology operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MorphKind {
    /// `erosion`: the minimum over the footprint.
    Erode,
    /// `dilation`: the maximum over the footprint (not mirrored, as scikit-image).
    Dilate,
    /// `opening`: erosion, then dilation by the mirrored footprint.
    Open,
    /// `closing`: dilation, then erosion by the mirrored footprint.
    Close,
    /// `white_tophat`: the image minus its opening.
    Tophat,
    /// `black_tophat`: the closing minus the image.
    Blackhat,
}

impl MorphKind {
    /// Every kind, with its spec name.
    pub const ALL: [(MorphKind, &'static str); 6] = [
        (MorphKind::Erode, "erode"),
        (MorphKind::Dilate, "dilate"),
        (MorphKind::Open, "open"),
        (MorphKind::Close, "close"),
        (MorphKind::Tophat, "tophat"),
        (MorphKind::Blackhat, "blackhat"),
    ];

    /// The spec name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |p| p.1)
    }

    /// The passes it runs: (max instead of min, mirrored footprint), in order; a top-hat
    /// then takes the difference with its input.
    pub fn passes(self) -> &'static [(bool, bool)] {
        match self {
            MorphKind::Erode => &[(false, false)],
            MorphKind::Dilate => &[(true, false)],
            MorphKind::Open | MorphKind::Tophat => &[(false, false), (true, true)],
            MorphKind::Close | MorphKind::Blackhat => &[(true, false), (false, true)],
        }
    }
}

/// A grey morphology op: its kind and footprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Morph {
    /// The operation.
    pub kind: MorphKind,
    /// The footprint.
    pub footprint: Footprint,
}

impl Morph {
    /// How far the op reaches: a footprint's reach per pass.
    pub fn reach(&self) -> Reach {
        let r = self.footprint.reach();
        self.kind
            .passes()
            .iter()
            .fold(Reach::default(), |acc, _| acc.plus(r))
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        self.footprint.validate(self.kind.name())?;
        const { assert!(MAX_FOOTPRINT < MAX_RADIUS) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(chords: &[Chord], r: i32) -> Vec<Vec<u8>> {
        let n = (2 * r + 1) as usize;
        let mut m = vec![vec![0u8; n]; n];
        for c in chords.iter().filter(|c| c.dz == 0) {
            for dx in -(c.lo as i32)..=c.hi as i32 {
                m[(c.dy + r) as usize][(dx + r) as usize] = 1;
            }
        }
        m
    }

    #[test]
    fn disk_matches_skimage() {
        // skimage.morphology.disk(3)
        let want = [
            [0, 0, 0, 1, 0, 0, 0],
            [0, 1, 1, 1, 1, 1, 0],
            [0, 1, 1, 1, 1, 1, 0],
            [1, 1, 1, 1, 1, 1, 1],
            [0, 1, 1, 1, 1, 1, 0],
            [0, 1, 1, 1, 1, 1, 0],
            [0, 0, 0, 1, 0, 0, 0],
        ];
        let got = mask(&Footprint::Disk { radius: 3 }.chords(false), 3);
        assert_eq!(got, want.map(|r| r.to_vec()).to_vec());
        assert_eq!(Footprint::Disk { radius: 0 }.chords(true).len(), 1);
    }

    #[test]
    fn ball_has_skimage_count() {
        // skimage.morphology.ball(r).sum() for r = 1, 2, 5
        for (r, n) in [(1u32, 7usize), (2, 33), (5, 515)] {
            let c = Footprint::Ball { radius: r }.chords(true);
            let total: usize = c.iter().map(|c| (c.lo + c.hi + 1) as usize).sum();
            assert_eq!(total, n, "ball({r})");
        }
    }

    #[test]
    fn even_square_reaches_further_after() {
        let c = Footprint::Square { size: 4 }.chords(false);
        assert!(c.iter().all(|c| c.lo == 1 && c.hi == 2));
        assert_eq!(c.iter().map(|c| c.dy).min(), Some(-1));
        assert_eq!(c.iter().map(|c| c.dy).max(), Some(2));
        let m = mirror(&c);
        assert!(m.iter().all(|c| c.lo == 2 && c.hi == 1));
    }

    #[test]
    fn chords_grow() {
        let c = Footprint::Disk { radius: 7 }.chords(false);
        assert!(c.windows(2).all(|w| w[0].lo + w[0].hi <= w[1].lo + w[1].hi));
    }
}
