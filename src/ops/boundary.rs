//! Boundary modes: how the local filters (gaussian, box, median, dog, log, gradient)
//! extend an image past its edges, as `scipy.ndimage`'s `mode` and `cval` define it.
//!
//! Every kernel reflects at the whole image's edge (scipy's default `reflect`, in the
//! shared prelude). Another mode is made from that one: the frame is padded past its
//! edges by the filter's reach with samples of the mode ([`crate::cpu::pad`], and
//! `shaders/pad.wgsl` on the GPU), the filter runs on the padded frame, whose taps then
//! never pass its edge, and the padded part is cropped away. So the kernels and their
//! cache keys stay as they are, and a mode is one extra pass of a copy.
//!
//! For the median (one n-dimensional window) this is scipy's extension exactly. The
//! separable filters extend each 1-D pass's input in scipy; padding once and filtering
//! the padded frame gives the same bits for `nearest`, `mirror` and `wrap` (each pads
//! by a map of the indices along each axis, so the padded part of a pass's output is
//! that pass's output at the mapped indices). For `constant` the padded part of a pass's
//! output is `cval` filtered, `cval * sum(weights)`, where scipy pads with `cval` again:
//! equal up to the rounding of the weights' sum (exact for `cval=0`).
//!
//! Where padding once is not scipy's extension, the filter runs as scipy runs it, pass
//! by pass ([`Op::by_passes`]): each 1-D pass a one-axis gaussian or box padded by its
//! own mode, the terms of a LoG, gradient or DoG combined after. That is `constant`
//! exactly (scipy pads each pass's output with `cval` again, which a derivative's output
//! does not keep), and the per-axis mode lists of `log` and `gradient`, which scipy
//! applies to the whole term differentiating along an axis. The median takes one mode,
//! as scipy's does. `wrap` reads the frame's far side, which a tile does not hold: tiled
//! frames refuse it.

use super::{Axis, BoxBlur, Gaussian, Op, Reach};
use crate::image::SampleType;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// scipy.ndimage's boundary modes of the filters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `d c b a | a b c d | d c b a` (the default).
    #[default]
    Reflect,
    /// `a a a a | a b c d | d d d d`.
    Nearest,
    /// `d c b | a b c d | c b a`.
    Mirror,
    /// `a b c d | a b c d | a b c d`.
    Wrap,
    /// `k k k k | a b c d | k k k k`, `k = cval`.
    Constant,
}

impl Mode {
    /// Every mode with its name.
    pub const ALL: [(Mode, &'static str); 5] = [
        (Mode::Reflect, "reflect"),
        (Mode::Nearest, "nearest"),
        (Mode::Mirror, "mirror"),
        (Mode::Wrap, "wrap"),
        (Mode::Constant, "constant"),
    ];

    /// The mode's name as specs and scipy write it.
    pub fn name(self) -> &'static str {
        Mode::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("reflect", |(_, n)| n)
    }

    /// The mode of a name (scipy's aliases too: `grid-mirror` is reflect,
    /// `grid-constant` is constant, `grid-wrap` is wrap).
    pub fn from_name(name: &str) -> Option<Mode> {
        match name {
            "grid-mirror" => Some(Mode::Reflect),
            "grid-constant" => Some(Mode::Constant),
            "grid-wrap" => Some(Mode::Wrap),
            _ => Mode::ALL.iter().find(|(_, n)| *n == name).map(|(m, _)| *m),
        }
    }

    /// The shader's number for the mode (`shaders/pad.wgsl`).
    pub fn code(self) -> u32 {
        match self {
            Mode::Reflect => 0,
            Mode::Nearest => 1,
            Mode::Mirror => 2,
            Mode::Wrap => 3,
            Mode::Constant => 4,
        }
    }
}

/// The mode along each axis in numpy's order `(z, y, x)`: one mode for every axis
/// (written `mode=M`, serialised as its name), or one per axis as scipy's `mode=[...]`
/// (written `mode_y=..,mode_x=..[,mode_z=..]`, serialised as a list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Modes(pub [Mode; 3]);

impl Modes {
    /// The mode along `axis`.
    pub fn along(self, axis: Axis) -> Mode {
        self.0[super::axis_index(axis)]
    }

    /// Whether every axis has this mode.
    pub fn all(self, m: Mode) -> bool {
        self.0.iter().all(|&a| a == m)
    }

    /// Whether some axis has this mode.
    pub fn any(self, m: Mode) -> bool {
        self.0.contains(&m)
    }

    fn is_reflect(&self) -> bool {
        self.all(Mode::Reflect)
    }

    /// The one mode of every axis, if they share one.
    pub fn uniform(self) -> Option<Mode> {
        self.all(self.0[0]).then_some(self.0[0])
    }
}

impl Serialize for Modes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.uniform() {
            Some(m) => m.serialize(s),
            None => self.0.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Modes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(Mode),
            PerAxis([Mode; 3]),
        }
        Ok(match Form::deserialize(d)? {
            Form::One(m) => Modes([m; 3]),
            Form::PerAxis(m) => Modes(m),
        })
    }
}

/// A filter's boundary: the mode (per axis) and, for `constant`, the value outside the
/// image. Serialised as `mode` and `cval` beside the filter's parameters, each left out
/// at its default, so the keys of filters written before modes existed are unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Boundary {
    /// The mode along each axis.
    #[serde(default, skip_serializing_if = "Modes::is_reflect")]
    pub mode: Modes,
    /// The value outside the image with `mode=constant` (scipy's `cval`, default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cval: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0 && v.is_sign_positive()
}

const MODE_NAMES: &str = "reflect, nearest, mirror, wrap or constant";

impl Boundary {
    /// scipy's default, `mode='reflect'`.
    pub const REFLECT: Boundary = Boundary {
        mode: Modes([Mode::Reflect; 3]),
        cval: 0.0,
    };

    /// One mode along every axis, without a value (`constant` with `cval = 0`).
    pub fn new(mode: Mode) -> Boundary {
        Boundary {
            mode: Modes([mode; 3]),
            cval: 0.0,
        }
    }

    /// `mode=constant` with `cval`.
    pub fn constant(cval: f64) -> Boundary {
        Boundary {
            cval,
            ..Boundary::new(Mode::Constant)
        }
    }

    /// Whether this is the kernels' own mode on every axis (no padding pass).
    pub fn is_reflect(&self) -> bool {
        self.mode.is_reflect()
    }

    /// Checks the value: finite, and given with `constant` only.
    pub fn validate(&self, op: &'static str) -> Result<()> {
        if !self.cval.is_finite() {
            return Err(Error::param(
                op,
                "cval",
                format!("must be a finite number, got {}", self.cval),
            ));
        }
        if !self.mode.any(Mode::Constant) && !is_zero(&self.cval) {
            return Err(Error::param(
                op,
                "cval",
                format!(
                    "only mode=constant takes it (this is {})",
                    self.spec_modes()
                ),
            ));
        }
        Ok(())
    }

    /// Reads `mode=M`, or `mode_y`, `mode_x` (and `mode_z`, reflect if absent), and
    /// `cval` (all optional) from a spec's values, taken by `take`.
    pub(super) fn parse(
        op: &'static str,
        mut take: impl FnMut(&str) -> Option<String>,
        cval: Option<f64>,
    ) -> Result<Self> {
        let mut named = |key: &str| -> Result<Option<Mode>> {
            take(key)
                .map(|name| {
                    Mode::from_name(&name).ok_or_else(|| {
                        Error::param(
                            op,
                            key,
                            format!("unknown mode `{name}` (expected {MODE_NAMES})"),
                        )
                    })
                })
                .transpose()
        };
        let one = named("mode")?;
        let (z, y, x) = (named("mode_z")?, named("mode_y")?, named("mode_x")?);
        let modes =
            match (one, z, y, x) {
                (None, None, None, None) => [Mode::Reflect; 3],
                (Some(m), None, None, None) => [m; 3],
                (None, z, Some(y), Some(x)) => [z.unwrap_or(Mode::Reflect), y, x],
                (Some(_), ..) => {
                    return Err(Error::param(
                        op,
                        "mode",
                        "give either mode, or mode_y and mode_x (and mode_z for volumes)",
                    ))
                }
                _ => return Err(Error::param(
                    op,
                    "mode",
                    "per-axis modes need both mode_y and mode_x (e.g. mode_y=reflect,mode_x=wrap)",
                )),
            };
        let b = Boundary {
            mode: Modes(modes),
            cval: cval.unwrap_or(0.0),
        };
        b.validate(op)?;
        Ok(b)
    }

    fn spec_modes(&self) -> String {
        match self.mode.uniform() {
            Some(m) => format!("mode={}", m.name()),
            None => {
                let [z, y, x] = self.mode.0.map(Mode::name);
                format!("mode_z={z},mode_y={y},mode_x={x}")
            }
        }
    }

    /// The spec's suffix: empty for reflect, `,mode=..[,cval=..]` otherwise.
    pub fn spec_suffix(&self) -> String {
        if self.is_reflect() {
            return String::new();
        }
        let mut s = format!(",{}", self.spec_modes());
        if self.mode.any(Mode::Constant) {
            s += &format!(",cval={}", self.cval);
        }
        s
    }
}

/// How the terms of [`Op::by_passes`] make the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Their sum, in order (one term: itself).
    Sum,
    /// The first minus the second (a difference of gaussians).
    Difference,
    /// The square root of the sum of their squares, in order (a gradient's magnitude).
    RootSumSquares,
}

/// Where sample `i` (a whole-image index along an axis of `n` samples, any distance
/// past the edges) comes from under `mode`: an index in `0..n`, or `None` for
/// `constant` outside the image (the value is `cval`). Repeated for any distance, as
/// scipy extends. The WGSL twin is `source_index` in `shaders/pad.wgsl`.
pub fn extend(mode: Mode, i: i64, n: i64) -> Option<i64> {
    if (0..n).contains(&i) {
        return Some(i);
    }
    Some(match mode {
        Mode::Constant => return None,
        Mode::Nearest => i.clamp(0, n - 1),
        Mode::Wrap => i.rem_euclid(n),
        Mode::Reflect => {
            let m = i.rem_euclid(2 * n);
            if m >= n {
                2 * n - 1 - m
            } else {
                m
            }
        }
        Mode::Mirror if n == 1 => 0,
        Mode::Mirror => {
            let period = 2 * n - 2;
            let m = i.rem_euclid(period);
            if m >= n {
                period - m
            } else {
                m
            }
        }
    })
}

impl Op {
    /// The filter's boundary: `Some` for the ops that take a mode (gaussian, box, median,
    /// dog, log, gradient).
    pub fn boundary(&self) -> Option<Boundary> {
        match self {
            Op::Gaussian(g) => Some(g.boundary),
            Op::Box(b) => Some(b.boundary),
            Op::Median(m) => Some(m.boundary),
            Op::Dog(d) => Some(d.boundary),
            Op::Log(l) => Some(l.boundary),
            Op::Gradient(g) => Some(g.boundary),
            _ => None,
        }
    }

    pub(super) fn boundary_mut(&mut self) -> Option<&mut Boundary> {
        match self {
            Op::Gaussian(g) => Some(&mut g.boundary),
            Op::Box(b) => Some(&mut b.boundary),
            Op::Median(m) => Some(&mut m.boundary),
            Op::Dog(d) => Some(&mut d.boundary),
            Op::Log(l) => Some(&mut l.boundary),
            Op::Gradient(g) => Some(&mut g.boundary),
            _ => None,
        }
    }

    /// How a filter with a mode other than reflect runs (see this module's notes): the
    /// mode, the same filter with the kernels' reflect, and how far to pad along each
    /// axis (the filter's window, the larger side; along z only for a `volume`).
    /// `None` for reflect and for ops without a mode.
    ///
    /// The median of integer `values` ranks levels of their type, as scipy's does: its
    /// `cval` is first cast to that type as scipy casts it (truncated toward zero, and
    /// out of range wrapped around as C's conversion of the truncated integer does:
    /// 300.7 is 44 in u8, -4 is 252).
    pub fn padded(&self, volume: bool, values: SampleType) -> Option<(Boundary, Op, Reach)> {
        let mut boundary = self.boundary().filter(|b| !b.is_reflect())?;
        if let (Op::Median(_), Some((lo, hi))) = (self, values.range()) {
            let span = hi - lo + 1.0;
            boundary.cval = (boundary.cval.trunc() - lo).rem_euclid(span) + lo;
        }
        let mut inner = self.clone();
        *inner.boundary_mut()? = Boundary::REFLECT;
        let mut pad = match self {
            // A box's reach also covers its running sums' restarts, which the padded
            // frame holds whole: only the window need be padded.
            Op::Box(b) => {
                let side = |a| {
                    let (lo, hi) = b.window(a);
                    lo.max(hi)
                };
                Reach {
                    x: side(Axis::X),
                    y: side(Axis::Y),
                    z: side(Axis::Z),
                }
            }
            op => op.reach(),
        };
        if !volume {
            pad.z = 0;
        }
        // An axis that reflects needs no padding: the kernels reflect at its edge.
        for (axis, by) in [
            (Axis::X, &mut pad.x),
            (Axis::Y, &mut pad.y),
            (Axis::Z, &mut pad.z),
        ] {
            if boundary.mode.along(axis) == Mode::Reflect {
                *by = 0;
            }
        }
        Some((boundary, inner, pad))
    }

    /// scipy's extension pass by pass, where padding the frame once would not give it:
    /// a mode list or a `constant` on a gaussian, box or DoG that filters more than one
    /// axis, and any mode but reflect on a LoG or gradient whose modes differ or include
    /// `constant`. The terms, each a chain of one-axis gaussians (with their derivative
    /// order) or boxes, each padded by its own mode, and how their results combine, in
    /// scipy's order (axes z, y, x; a LoG's or gradient's terms by the axis they
    /// differentiate). `None` where one padding is exact, or for reflect.
    pub fn by_passes(&self, volume: bool) -> Option<(Combine, Vec<Vec<Op>>)> {
        let b = self.boundary().filter(|b| !b.is_reflect())?;
        let axes: &[Axis] = if volume {
            &[Axis::Z, Axis::Y, Axis::X]
        } else {
            &[Axis::Y, Axis::X]
        };
        // One pass along `axis` padded by `mode` (and its cval under constant).
        let one = |mode: Mode| Boundary {
            mode: Modes([mode; 3]),
            cval: if mode == Mode::Constant { b.cval } else { 0.0 },
        };
        let gaussian_passes = |g: &Gaussian, mode_of: &dyn Fn(Axis) -> Mode| -> Vec<Op> {
            (axes.iter())
                .filter(|&&a| g.sigma(a) > 1e-15)
                .map(|&a| {
                    let mut sigma = [0.0; 3];
                    let mut order = [0; 3];
                    let i = super::axis_index(a);
                    sigma[i] = g.sigma(a);
                    order[i] = g.order_along(a);
                    Op::Gaussian(Gaussian {
                        sigma_z: sigma[0],
                        sigma_y: sigma[1],
                        sigma_x: sigma[2],
                        order,
                        boundary: one(mode_of(a)),
                        ..*g
                    })
                })
                .collect()
        };
        let constant = b.mode.any(Mode::Constant);
        let per_axis = b.mode.uniform().is_none();
        match self {
            Op::Gaussian(g) if constant || per_axis => {
                let chain = gaussian_passes(g, &|a| b.mode.along(a));
                (chain.len() > 1).then(|| (Combine::Sum, vec![chain]))
            }
            Op::Box(bx) if constant || per_axis => {
                let chain: Vec<Op> = (axes.iter())
                    .filter(|&&a| bx.size(a) > 1)
                    .map(|&a| {
                        let mut size = [1; 3];
                        size[super::axis_index(a)] = bx.size(a);
                        Op::Box(BoxBlur {
                            size,
                            boundary: one(b.mode.along(a)),
                            ..*bx
                        })
                    })
                    .collect();
                (chain.len() > 1).then(|| (Combine::Sum, vec![chain]))
            }
            Op::Dog(d) if constant || per_axis => {
                let (low, high) = d.gaussians().ok()?;
                let mode_of = |a: Axis| b.mode.along(a);
                Some((
                    Combine::Difference,
                    vec![
                        gaussian_passes(&low, &mode_of),
                        gaussian_passes(&high, &mode_of),
                    ],
                ))
            }
            Op::Log(_) | Op::Gradient(_) if constant || per_axis => {
                let (sigma, truncate, order, combine) = match self {
                    Op::Log(l) => (l.sigma, l.truncate, 2, Combine::Sum),
                    Op::Gradient(g) => (g.sigma, g.truncate, 1, Combine::RootSumSquares),
                    _ => return None,
                };
                let terms = (axes.iter())
                    .map(|&along| {
                        let mut g = Gaussian::per_axis([sigma; 3], truncate).ok()?;
                        g.order[super::axis_index(along)] = order;
                        // scipy's mode list is per term: the term along `along` runs
                        // every pass with that axis's mode.
                        let mode = b.mode.along(along);
                        Some(gaussian_passes(&g, &|_| mode))
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some((combine, terms))
            }
            _ => None,
        }
    }

    /// Whether the op reads the far side of the frame at an edge (`mode=wrap`), which a
    /// tile or a region of the frame does not hold.
    pub fn wraps(&self) -> bool {
        self.boundary().is_some_and(|b| b.mode.any(Mode::Wrap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_as_scipy_documents() {
        // scipy.ndimage's docs: the input `a b c d` (here 0 1 2 3) extended by 4 on
        // each side.
        let row = |mode| -> Vec<Option<i64>> { (-4..8).map(|i| extend(mode, i, 4)).collect() };
        let s = |v: [i64; 12]| v.map(Some).to_vec();
        assert_eq!(row(Mode::Reflect), s([3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]));
        assert_eq!(row(Mode::Nearest), s([0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3]));
        assert_eq!(row(Mode::Mirror), s([2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]));
        assert_eq!(row(Mode::Wrap), s([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]));
        let c = row(Mode::Constant);
        assert_eq!(c[..4], [None; 4]);
        assert_eq!(c[4..8], [Some(0), Some(1), Some(2), Some(3)]);
        // One sample: every mode repeats it.
        for mode in [Mode::Reflect, Mode::Nearest, Mode::Mirror, Mode::Wrap] {
            assert!((-5..5).all(|i| extend(mode, i, 1) == Some(0)), "{mode:?}");
        }
    }

    #[test]
    fn specs_and_defaults() {
        assert_eq!(Boundary::default(), Boundary::REFLECT);
        assert_eq!(Boundary::REFLECT.spec_suffix(), "");
        assert_eq!(Boundary::new(Mode::Nearest).spec_suffix(), ",mode=nearest");
        assert_eq!(
            Boundary::constant(2.5).spec_suffix(),
            ",mode=constant,cval=2.5"
        );
        let parse = |pairs: &[(&str, &str)], cval| {
            let take = |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            };
            Boundary::parse("gaussian", take, cval)
        };
        let err = parse(&[("mode", "edge")], None).unwrap_err();
        assert!(err.to_string().contains("unknown mode `edge`"), "{err}");
        let err = parse(&[("mode", "nearest")], Some(1.0)).unwrap_err();
        assert!(err.to_string().contains("only mode=constant"), "{err}");
        assert!(parse(&[("mode", "constant")], Some(f64::NAN)).is_err());
        assert_eq!(
            parse(&[("mode", "grid-wrap")], None).unwrap(),
            Boundary::new(Mode::Wrap)
        );
        let per_axis = parse(&[("mode_y", "reflect"), ("mode_x", "constant")], Some(2.0)).unwrap();
        assert_eq!(
            per_axis.mode.0,
            [Mode::Reflect, Mode::Reflect, Mode::Constant]
        );
        assert_eq!(
            per_axis.spec_suffix(),
            ",mode_z=reflect,mode_y=reflect,mode_x=constant,cval=2"
        );
        assert_eq!(
            serde_json::to_string(&per_axis).unwrap(),
            r#"{"mode":["reflect","reflect","constant"],"cval":2.0}"#
        );
        assert_eq!(
            serde_json::to_string(&Boundary::new(Mode::Wrap)).unwrap(),
            r#"{"mode":"wrap"}"#
        );
        for b in [per_axis, Boundary::new(Mode::Wrap), Boundary::REFLECT] {
            let json = serde_json::to_string(&b).unwrap();
            assert_eq!(
                serde_json::from_str::<Boundary>(&json).unwrap(),
                b,
                "{json}"
            );
        }
        assert!(parse(&[("mode", "wrap"), ("mode_x", "wrap")], None).is_err());
        assert!(parse(&[("mode_x", "wrap")], None).is_err());
    }
}
