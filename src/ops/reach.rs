//! What tiling needs to know of an op: how far it reaches (a tile's halo is the sum
//! along a chain), and whether it needs the whole frame first (resolved over every tile
//! before the tiles that read it) or at once (refused in a tiled frame).

use super::{Axis, Op, Threshold};

/// How far an op (or a chain) reaches along each axis, in samples: a tile's halo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reach {
    /// Columns.
    pub x: u32,
    /// Rows.
    pub y: u32,
    /// Slices.
    pub z: u32,
}

impl Reach {
    /// The same reach along every axis.
    pub fn all(r: u32) -> Self {
        Reach { x: r, y: r, z: r }
    }

    /// Both reaches, one after the other.
    pub fn plus(self, o: Reach) -> Reach {
        Reach {
            x: self.x + o.x,
            y: self.y + o.y,
            z: self.z + o.z,
        }
    }

    /// The larger of the two on each axis.
    pub fn max(self, o: Reach) -> Reach {
        Reach {
            x: self.x.max(o.x),
            y: self.y.max(o.y),
            z: self.z.max(o.z),
        }
    }
}

impl Op {
    /// How far the op reaches: an output sample depends on input samples up to this many
    /// columns, rows and slices away. A tile's (or brick's) halo is the sum along a
    /// chain. A box's running sums along rows and columns also start at fixed places in
    /// the whole image (up to `max(size, 256)` samples back, see `cpu::box_blur`), and
    /// that is part of its reach (also with `int=scipy`, whose exact sums need no more
    /// than the window, but which runs the running sums on float input); along z it sums
    /// each window directly, so it reaches no further than the window.
    pub fn reach(&self) -> Reach {
        match self {
            Op::Gaussian(g) => Reach {
                x: g.radius(Axis::X),
                y: g.radius(Axis::Y),
                z: g.radius(Axis::Z),
            },
            Op::Box(b) => {
                let plane = |axis| {
                    let (lo, hi) = b.window(axis);
                    if lo + hi == 0 {
                        0
                    } else {
                        lo.max(hi) + b.size(axis).max(crate::cpu::box_blur::SEGMENT as u32)
                    }
                };
                let (lo, hi) = b.window(Axis::Z);
                // The running sums of rows and columns restart at the same places for
                // both axes; their reach is the larger one's.
                let r = plane(Axis::X).max(plane(Axis::Y));
                Reach {
                    x: r,
                    y: r,
                    z: lo.max(hi),
                }
            }
            Op::Median(m) => m.reach(),
            Op::Dog(d) => d.reach(),
            Op::Log(l) => l.reach(),
            Op::Gradient(g) => g.reach(),
            Op::Threshold(Threshold::Local { block, .. }) => {
                // The volume's sigma: a 2-D image's z reach is not used.
                let g = Threshold::local_gaussian(*block, 2);
                Reach {
                    x: g.radius(Axis::X),
                    y: g.radius(Axis::Y),
                    z: g.radius(Axis::Z),
                }
            }
            // Whole-frame ops: tiled frames resolve them before the tiles that read them.
            Op::Threshold(_)
            | Op::Label(_)
            | Op::RemoveSmall(_)
            | Op::RemoveHoles(_)
            | Op::Distance(_)
            | Op::FillHoles
            | Op::ClearBorder
            | Op::ExpandLabels(_) => Reach::default(),
            _ => self.morph().map_or(Reach::default(), |m| m.reach()),
        }
    }

    /// Whether the op needs the whole frame's values before it can produce any (Otsu's
    /// threshold comes from the whole frame's histogram; an object may span the frame):
    /// tiled frames resolve it first. The distance transform, filling holes and
    /// clearing the border also need the whole frame, and tiled frames refuse them (see
    /// [`Op::tiles`]).
    pub fn is_whole_frame(&self) -> bool {
        matches!(
            self,
            Op::Threshold(t) if t.is_whole_frame())
            || matches!(
                self,
                Op::Label(_)
                    | Op::RemoveSmall(_)
                    | Op::RemoveHoles(_)
                    | Op::Distance(_)
                    | Op::FillHoles
                    | Op::ClearBorder
                    | Op::ExpandLabels(_)
            )
    }

    /// Whether a frame cut into tiles can run the op: the distance transform, filling
    /// holes, clearing the border and expanding labels are computed on whole frames
    /// only (for now), and a frame the memory budget cuts into tiles refuses them rather
    /// than silently exceeding the budget.
    pub fn tiles(&self) -> bool {
        !matches!(
            self,
            Op::Distance(_) | Op::FillHoles | Op::ClearBorder | Op::ExpandLabels(_)
        )
    }
}
