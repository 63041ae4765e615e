//! Op definitions shared by both backends: parameters, their validation and parsing, and
//! the numerics both backends must agree on (gaussian weights, box windows, the rules
//! for what sample type an op's output holds).
//!
//! The semantics contract (see DESIGN.md) is scipy's / scikit-image's:
//! - [`Gaussian`] = `scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate)`
//! - [`BoxBlur`] = `scipy.ndimage.uniform_filter(x, size, mode='reflect')`
//! - [`Threshold::Value`] = `x > t`, [`Threshold::Otsu`] = `x > skimage.filters.threshold_otsu(x)`

use crate::image::SampleType;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Largest kernel radius accepted. Larger radii only add cost: reflection makes every
/// extra tap revisit samples already in the window.
pub const MAX_RADIUS: u32 = 1 << 16;

/// Largest box with `int=scipy`: its window sums of 16-bit levels are exact in i32.
pub const MAX_INT_BOX: u32 = 32767;

/// One image transform with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    /// Gaussian blur / denoise.
    Gaussian(Gaussian),
    /// Box blur (mean filter).
    #[serde(rename = "box")]
    Box(BoxBlur),
    /// Threshold into a 0/255 u8 mask.
    Threshold(Threshold),
}

/// Gaussian filter parameters. Axis 0 (rows, vertical) uses `sigma_y`, axis 1 uses
/// `sigma_x`; a zero sigma leaves that axis unfiltered, as in scipy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gaussian {
    /// Standard deviation along x (columns), in pixels.
    pub sigma_x: f64,
    /// Standard deviation along y (rows), in pixels.
    pub sigma_y: f64,
    /// Kernel half-width in standard deviations (scipy's `truncate`, default 4).
    pub truncate: f64,
    /// How integer input is treated (`int=scipy` to truncate after each axis as scipy
    /// does on integer arrays).
    #[serde(default, skip_serializing_if = "IntMode::is_round")]
    pub int: IntMode,
}

/// Box (uniform) filter parameters: the window is `size` pixels along each axis,
/// `size/2` before the centre and `(size-1)/2` after it, as scipy places it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BoxBlur {
    /// Window side in pixels, at least 1.
    pub size: u32,
    /// How integer input is treated (see [`IntMode`]).
    #[serde(default, skip_serializing_if = "IntMode::is_round")]
    pub int: IntMode,
}

/// What a filter does with integer input.
///
/// scipy.ndimage filters an integer array in f64 one axis at a time and casts each pass
/// back to the array's type, truncating toward zero; imflow by default computes in f32
/// and rounds once, at the end (and only if the output is written as integers), which is
/// closer to the true filter. `Scipy` reproduces scipy bit for bit, for users migrating
/// a `gaussian_filter(raw_u16, 2)` pipeline. It applies to 8- and 16-bit integer values;
/// on float values (a filter's output) both modes are the same, as scipy's float path is
/// not what this option is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntMode {
    /// Compute in f32, round once (the default; serialised by omission, so keys of
    /// ops written before this option existed are unchanged).
    #[default]
    Round,
    /// scipy.ndimage's integer path: f64 per axis, truncated to the integer type after
    /// each axis.
    Scipy,
}

impl IntMode {
    fn is_round(&self) -> bool {
        *self == IntMode::Round
    }

    /// Whether this mode changes the computation for values of type `t`.
    pub fn applies_to(self, t: SampleType) -> bool {
        self == IntMode::Scipy && t.is_small_integer()
    }

    fn parse(op: &'static str, v: Option<&str>) -> Result<Self> {
        match v {
            None | Some("round") => Ok(IntMode::Round),
            Some("scipy") => Ok(IntMode::Scipy),
            Some(other) => Err(Error::param(
                op,
                "int",
                format!("unknown mode `{other}` (expected scipy or round)"),
            )),
        }
    }

    fn check(self, op: &'static str, input: SampleType) -> Result<()> {
        match input {
            SampleType::I32 | SampleType::U32 if self == IntMode::Scipy => Err(Error::param(
                op,
                "int",
                format!(
                    "int=scipy needs 8- or 16-bit integer input; {input} samples are carried as \
                     f32, which cannot hold every level exactly"
                ),
            )),
            _ => Ok(()),
        }
    }

    fn spec_suffix(self) -> &'static str {
        match self {
            IntMode::Round => "",
            IntMode::Scipy => ",int=scipy",
        }
    }
}

/// How the threshold is chosen. The output is `x > t` as 0/255 u8.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Threshold {
    /// A fixed threshold.
    Value {
        /// The threshold `t`; pixels strictly above it are foreground.
        value: f64,
    },
    /// Otsu's threshold, computed from the image's own histogram.
    Otsu,
}

impl Gaussian {
    /// Isotropic gaussian with scipy's default `truncate = 4`.
    pub fn new(sigma: f64) -> Result<Self> {
        Self::anisotropic(sigma, sigma, 4.0).map_err(|e| match e {
            Error::InvalidParam { op, reason, .. } => Error::InvalidParam {
                op,
                param: "sigma".into(),
                reason,
            },
            e => e,
        })
    }

    /// Per-axis sigmas and an explicit `truncate`.
    pub fn anisotropic(sigma_x: f64, sigma_y: f64, truncate: f64) -> Result<Self> {
        let g = Gaussian {
            sigma_x,
            sigma_y,
            truncate,
            int: IntMode::Round,
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks the parameters (also for values built directly or deserialised).
    pub fn validate(&self) -> Result<()> {
        for (name, s) in [("sigma_x", self.sigma_x), ("sigma_y", self.sigma_y)] {
            if !s.is_finite() || s < 0.0 {
                return Err(Error::param(
                    "gaussian",
                    name,
                    format!("must be a finite number >= 0, got {s}"),
                ));
            }
        }
        if self.sigma_x == 0.0 && self.sigma_y == 0.0 {
            return Err(Error::param(
                "gaussian",
                "sigma",
                "must be > 0 (on at least one axis), got 0",
            ));
        }
        if !self.truncate.is_finite() || self.truncate <= 0.0 {
            return Err(Error::param(
                "gaussian",
                "truncate",
                format!("must be a finite number > 0, got {}", self.truncate),
            ));
        }
        for (name, s) in [("sigma_x", self.sigma_x), ("sigma_y", self.sigma_y)] {
            let r = (self.truncate * s + 0.5).floor();
            if r > f64::from(MAX_RADIUS) {
                return Err(Error::param(
                    "gaussian",
                    name,
                    format!(
                        "kernel radius truncate*sigma = {r} exceeds the limit of {MAX_RADIUS} pixels"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The 1-D kernel for one axis, or `None` when that axis is not filtered.
    pub fn kernel(&self, axis: Axis) -> Option<Vec<f32>> {
        let sigma = match axis {
            Axis::Y => self.sigma_y,
            Axis::X => self.sigma_x,
        };
        // scipy skips axes whose sigma is (numerically) zero.
        (sigma > 1e-15).then(|| gaussian_weights(sigma, self.truncate))
    }

    /// The 1-D kernel for one axis in f64, as scipy computes it (for `int=scipy`).
    pub fn kernel64(&self, axis: Axis) -> Option<Vec<f64>> {
        let sigma = match axis {
            Axis::Y => self.sigma_y,
            Axis::X => self.sigma_x,
        };
        (sigma > 1e-15).then(|| gaussian_weights64(sigma, self.truncate))
    }
}

/// An image axis. Filters run along `Y` (axis 0) first, then `X`, as scipy does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Along columns (axis 0, rows vary).
    Y,
    /// Along rows (axis 1, columns vary).
    X,
}

/// scipy's `_gaussian_kernel1d(sigma, order=0, radius)`: `exp(-0.5 i^2 / sigma^2)` for
/// `i` in `-r..=r`, `r = int(truncate * sigma + 0.5)`, normalised to sum 1. Computed in
/// f64 like scipy, then rounded once to f32 for the kernels.
pub fn gaussian_weights(sigma: f64, truncate: f64) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5).floor() as i64;
    let s2 = sigma * sigma;
    let phi: Vec<f64> = (-radius..=radius)
        .map(|i| (-0.5 / s2 * (i * i) as f64).exp())
        .collect();
    let sum: f64 = phi.iter().sum();
    phi.iter().map(|&p| (p / sum) as f32).collect()
}

/// scipy's `_gaussian_kernel1d(sigma, 0, r)` in f64, bit for bit where numpy's `exp` is
/// the C library's: `phi = exp(-0.5 / sigma^2 * i^2)`, divided by `phi.sum()` as numpy
/// sums (pairwise, see [`numpy_sum`]).
///
/// numpy's own AVX-512 build of `exp` (Intel SVML, used on CPUs with AVX-512) differs
/// from the C library's in the last bit for about 5% of these arguments, so scipy's
/// weights there differ by an ulp in some taps. Only a weighted sum that lands within an
/// ulp of an integer can truncate differently: in practice flat plateaus, for some
/// sigma and level pairs. `NPY_DISABLE_CPU_FEATURES=X86_V4` makes numpy use the C
/// library's `exp` (tests/goldens/generate.py does, so goldens are reproducible).
pub fn gaussian_weights64(sigma: f64, truncate: f64) -> Vec<f64> {
    let radius = (truncate * sigma + 0.5).floor() as i64;
    let s2 = sigma * sigma;
    let phi: Vec<f64> = (-radius..=radius)
        .map(|i| (-0.5 / s2 * (i * i) as f64).exp())
        .collect();
    let sum = numpy_sum(&phi);
    phi.iter().map(|&p| p / sum).collect()
}

/// `numpy.sum` of a contiguous f64 array: pairwise summation, 8 accumulators in blocks
/// of up to 128, halves split at multiples of 8 beyond that (numpy's `pairwise_sum`).
pub fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(-0.0, |s, &v| s + v)
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for block in a[8..whole].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(block) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        numpy_sum(&a[..half]) + numpy_sum(&a[half..])
    }
}

impl BoxBlur {
    /// A box filter of side `size`.
    pub fn new(size: u32) -> Result<Self> {
        let b = BoxBlur {
            size,
            int: IntMode::Round,
        };
        b.validate()?;
        Ok(b)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if self.size == 0 {
            return Err(Error::param("box", "size", "must be >= 1, got 0"));
        }
        if self.size > 2 * MAX_RADIUS + 1 {
            return Err(Error::param(
                "box",
                "size",
                format!("{} exceeds the limit of {}", self.size, 2 * MAX_RADIUS + 1),
            ));
        }
        if self.int == IntMode::Scipy && self.size > MAX_INT_BOX {
            // Exact window sums of 16-bit levels must fit the GPU's i32.
            return Err(Error::param(
                "box",
                "size",
                format!(
                    "{} exceeds the limit of {MAX_INT_BOX} with int=scipy",
                    self.size
                ),
            ));
        }
        Ok(())
    }

    /// Samples before and after the centre: `(size/2, (size-1)/2)`, scipy's placement
    /// for `origin = 0`.
    pub fn window(&self) -> (u32, u32) {
        (self.size / 2, (self.size - 1) / 2)
    }
}

impl Threshold {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Threshold::Value { value } if !value.is_finite() => Err(Error::param(
                "threshold",
                "value",
                format!("must be a finite number, got {value}"),
            )),
            _ => Ok(()),
        }
    }
}

/// The largest f32 not above `t`. For every f32 `x`, `x > t` (compared exactly) equals
/// `x > f32_at_or_below(t)`, which lets kernels compare in f32 with no rounding error.
pub fn f32_at_or_below(t: f64) -> f32 {
    let f = t as f32; // round to nearest
    if f64::from(f) > t {
        f.next_down()
    } else {
        f
    }
}

const KNOWN_OPS: &str = "gaussian, box, threshold";

impl Op {
    /// Checks the op's parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            Op::Gaussian(g) => g.validate(),
            Op::Box(b) => b.validate(),
            Op::Threshold(t) => t.validate(),
        }
    }

    /// Checks that the op can take values of type `input`: Otsu on untouched 32-bit
    /// integer levels is refused, since skimage counts one bin per level there (up to
    /// 2^32 of them).
    pub fn check_input(&self, input: SampleType) -> Result<()> {
        match self {
            Op::Gaussian(g) => g.int.check("gaussian", input)?,
            Op::Box(b) => b.int.check("box", input)?,
            Op::Threshold(_) => {}
        }
        match (self, input) {
            (Op::Threshold(Threshold::Otsu), SampleType::I32 | SampleType::U32) => Err(Error::param(
                "threshold",
                "method",
                format!(
                    "otsu on untouched {input} data would need a bin per level, as skimage counts them \
                     (up to 2^32); filter first (a filter's float output gets 256 bins) or use 16-bit data"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// How far the op reaches: an output sample depends on input samples up to this many
    /// columns and rows away (x, y). A tile's halo is the sum along a chain. A box's
    /// running sums also start at fixed places in the whole image (up to
    /// `max(size, 256)` samples back, see `cpu::box_blur`), and that is part of its reach
    /// (also with `int=scipy`, whose exact sums need no more than the window, but which
    /// runs the running sums on float input).
    pub fn reach(&self) -> (u32, u32) {
        match self {
            Op::Gaussian(g) => {
                let r = |s: f64| {
                    if s > 1e-15 {
                        (g.truncate * s + 0.5).floor() as u32
                    } else {
                        0
                    }
                };
                (r(g.sigma_x), r(g.sigma_y))
            }
            Op::Box(b) if b.size <= 1 => (0, 0),
            Op::Box(b) => {
                let (lo, hi) = b.window();
                let r = lo.max(hi) + b.size.max(crate::cpu::box_blur::SEGMENT as u32);
                (r, r)
            }
            Op::Threshold(_) => (0, 0),
        }
    }

    /// Whether the op needs the whole frame's values before it can produce any (Otsu's
    /// threshold comes from the whole frame's histogram): tiled frames resolve it first.
    pub fn is_whole_frame(&self) -> bool {
        matches!(self, Op::Threshold(Threshold::Otsu))
    }

    /// The op's name as used in specs and records.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Gaussian(_) => "gaussian",
            Op::Box(_) => "box",
            Op::Threshold(_) => "threshold",
        }
    }

    /// What the output's values are, given the input's: filters produce arbitrary floats
    /// (or, with `int=scipy` on 8- and 16-bit integers, levels of the input's type); a
    /// threshold produces a u8 mask. Otsu uses this to pick integer or float binning.
    pub fn output_type(&self, input: SampleType) -> SampleType {
        match self {
            Op::Gaussian(Gaussian { int, .. }) | Op::Box(BoxBlur { int, .. })
                if int.applies_to(input) =>
            {
                input
            }
            Op::Gaussian(_) | Op::Box(_) => SampleType::F32,
            Op::Threshold(_) => SampleType::U8,
        }
    }

    /// Parses `name[:key=value,...]`, e.g. `gaussian:sigma=2`, `box:size=5`,
    /// `threshold:value=400`, `threshold:method=otsu`.
    pub fn parse(spec: &str) -> Result<Op> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut params: Vec<(&str, &str)> = Vec::new();
        let op_name: &'static str = match name.trim() {
            "gaussian" => "gaussian",
            "box" => "box",
            "threshold" => "threshold",
            other => {
                return Err(Error::UnknownOp {
                    name: other.to_string(),
                    known: KNOWN_OPS,
                })
            }
        };
        for kv in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| Error::param(op_name, kv, "expected key=value"))?;
            let k = k.trim();
            if params.iter().any(|(seen, _)| *seen == k) {
                return Err(Error::param(op_name, k, "given twice"));
            }
            params.push((k, v.trim()));
        }
        let mut p = Params {
            op: op_name,
            params,
        };
        let op = match op_name {
            "gaussian" => {
                let sigma = p.number("sigma")?;
                let sx = p.number("sigma_x")?;
                let sy = p.number("sigma_y")?;
                let truncate = p.number("truncate")?.unwrap_or(4.0);
                let int = IntMode::parse("gaussian", p.take("int"))?;
                let (sigma_x, sigma_y) = match (sigma, sx, sy) {
                    (Some(s), None, None) => (s, s),
                    (None, Some(x), Some(y)) => (x, y),
                    (Some(_), _, _) => {
                        return Err(Error::param(
                            "gaussian",
                            "sigma",
                            "give either sigma, or both sigma_x and sigma_y",
                        ))
                    }
                    _ => {
                        return Err(Error::param(
                            "gaussian",
                            "sigma",
                            "missing (e.g. gaussian:sigma=2, or sigma_x=2,sigma_y=1)",
                        ))
                    }
                };
                Op::Gaussian(Gaussian {
                    sigma_x,
                    sigma_y,
                    truncate,
                    int,
                })
            }
            "box" => {
                let size = p
                    .number("size")?
                    .ok_or_else(|| Error::param("box", "size", "missing (e.g. box:size=5)"))?;
                if size.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&size) {
                    return Err(Error::param(
                        "box",
                        "size",
                        format!("must be a whole number >= 1, got {size}"),
                    ));
                }
                let int = IntMode::parse("box", p.take("int"))?;
                Op::Box(BoxBlur {
                    size: size as u32,
                    int,
                })
            }
            _ => {
                let method = p.take("method");
                let value = p.number("value")?;
                match (method, value) {
                    (Some("otsu"), None) => Op::Threshold(Threshold::Otsu),
                    (None | Some("value"), Some(value)) => {
                        Op::Threshold(Threshold::Value { value })
                    }
                    (Some(m), _) if m != "otsu" && m != "value" => {
                        return Err(Error::param(
                            "threshold",
                            "method",
                            format!("unknown method `{m}` (expected otsu or value)"),
                        ))
                    }
                    (Some("otsu"), Some(_)) => {
                        return Err(Error::param(
                            "threshold",
                            "value",
                            "not allowed with method=otsu",
                        ))
                    }
                    _ => {
                        return Err(Error::param(
                            "threshold",
                            "value",
                            "missing (e.g. threshold:value=400 or threshold:method=otsu)",
                        ))
                    }
                }
            }
        };
        p.finish()?;
        op.validate()?;
        Ok(op)
    }
}

impl std::fmt::Display for Op {
    /// The canonical spec, which [`Op::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Gaussian(g) if g.sigma_x == g.sigma_y => write!(
                f,
                "gaussian:sigma={},truncate={}{}",
                g.sigma_x,
                g.truncate,
                g.int.spec_suffix()
            ),
            Op::Gaussian(g) => write!(
                f,
                "gaussian:sigma_x={},sigma_y={},truncate={}{}",
                g.sigma_x,
                g.sigma_y,
                g.truncate,
                g.int.spec_suffix()
            ),
            Op::Box(b) => write!(f, "box:size={}{}", b.size, b.int.spec_suffix()),
            Op::Threshold(Threshold::Value { value }) => write!(f, "threshold:value={value}"),
            Op::Threshold(Threshold::Otsu) => write!(f, "threshold:method=otsu"),
        }
    }
}

/// The `key=value` pairs of one spec, consumed as they are read so leftovers can be named.
struct Params<'a> {
    op: &'static str,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    fn take(&mut self, key: &str) -> Option<&'a str> {
        let i = self.params.iter().position(|(k, _)| *k == key)?;
        Some(self.params.remove(i).1)
    }

    fn number(&mut self, key: &str) -> Result<Option<f64>> {
        self.take(key)
            .map(|v| {
                v.parse::<f64>().map_err(|_| {
                    Error::param(self.op, key, format!("expected a number, got `{v}`"))
                })
            })
            .transpose()
    }

    fn finish(self) -> Result<()> {
        match self.params.first() {
            None => Ok(()),
            Some((k, _)) => Err(Error::param(self.op, *k, "unknown parameter")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_through_display() {
        for spec in [
            "gaussian:sigma=2,truncate=4",
            "gaussian:sigma_x=2,sigma_y=0.5,truncate=3",
            "box:size=5",
            "gaussian:sigma=2,truncate=4,int=scipy",
            "box:size=3,int=scipy",
            "threshold:value=400",
            "threshold:method=otsu",
        ] {
            let op = Op::parse(spec).unwrap();
            assert_eq!(op.to_string(), spec);
            assert_eq!(Op::parse(&op.to_string()).unwrap(), op);
        }
        assert_eq!(
            Op::parse("gaussian:sigma=2").unwrap(),
            Op::Gaussian(Gaussian::new(2.0).unwrap())
        );
    }

    #[test]
    fn bad_specs_name_the_problem() {
        let cases = [
            ("gaussian:sigma=0", "sigma"),
            ("gaussian:sigma=-1", "sigma"),
            ("gaussian:sigma=NaN", "sigma"),
            ("gaussian:sigma=inf", "sigma"),
            ("gaussian:sigma=abc", "expected a number"),
            ("gaussian", "missing"),
            ("gaussian:sigma=1,truncate=0", "truncate"),
            ("gaussian:sigma=1e9", "exceeds the limit"),
            ("gaussian:sigma=1,foo=2", "unknown parameter"),
            ("box:size=0", "size"),
            ("box:size=2.5", "whole number"),
            ("box", "missing"),
            ("threshold", "missing"),
            ("threshold:value=nan", "finite"),
            ("threshold:method=huang", "unknown method"),
            ("median:size=3", "unknown op `median`"),
            ("box:size", "key=value"),
            ("gaussian:sigma=1,int=floor", "unknown mode `floor`"),
            ("box:size=40000,int=scipy", "with int=scipy"),
        ];
        for (spec, needle) in cases {
            let err = Op::parse(spec).expect_err(spec).to_string();
            assert!(err.contains(needle), "{spec}: `{err}` lacks `{needle}`");
        }
    }

    #[test]
    fn weights_match_scipy_definition() {
        let w = gaussian_weights(1.0, 4.0);
        assert_eq!(w.len(), 9);
        let s: f32 = w.iter().sum();
        assert!((s - 1.0).abs() < 1e-6);
        // scipy: _gaussian_kernel1d(1, 0, 4)[4] = 0.3989422804014327 / sum ≈ 0.39894346
        assert!((w[4] - 0.398_943_46).abs() < 1e-7, "{}", w[4]);
        assert_eq!(gaussian_weights(0.1, 4.0), vec![1.0]);
        assert_eq!(gaussian_weights(30.0, 4.0).len(), 241);
    }

    #[test]
    fn strict_threshold_bound_is_exact() {
        for t in [0.1f64, 400.0, 400.5, -3.3, 1e-30, 65535.7] {
            let b = f32_at_or_below(t);
            assert!(f64::from(b) <= t);
            assert!(f64::from(b.next_up()) > t);
        }
    }

    #[test]
    fn box_window_matches_scipy_origin() {
        assert_eq!(BoxBlur::new(1).unwrap().window(), (0, 0));
        assert_eq!(BoxBlur::new(4).unwrap().window(), (2, 1));
        assert_eq!(BoxBlur::new(5).unwrap().window(), (2, 2));
    }
}
