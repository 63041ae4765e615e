//! The filters' parameters and the numerics both backends share: gaussian weights (f32
//! for the default path, f64 as scipy computes them for `int=scipy`), box windows, and
//! the integer mode.

use super::{Boundary, MAX_RADIUS};
use crate::image::SampleType;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Largest box with `int=scipy`: its window sums of 16-bit levels are exact in i32.
pub const MAX_INT_BOX: u32 = 32767;

/// Gaussian filter parameters, per axis in numpy's order: a volume's axis 0 (slices)
/// uses `sigma_z`, rows (vertical) `sigma_y`, columns `sigma_x`; a zero sigma leaves that
/// axis unfiltered, as in scipy. A 2-D image has no z axis: `sigma_z` does not apply.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gaussian {
    /// Standard deviation along z (slices of a volume), in voxels; 0 filters each slice
    /// on its own.
    #[serde(default)]
    pub sigma_z: f64,
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
    /// The derivative's order along z, y and x, as scipy's `order` (0: the gaussian
    /// itself; serialised only when some axis has one, so older keys are unchanged).
    #[serde(default, skip_serializing_if = "is_zero_order")]
    pub order: [u32; 3],
    /// Past the image's edges (scipy's `mode`, `cval`).
    #[serde(flatten)]
    pub boundary: Boundary,
}

fn is_zero_order(o: &[u32; 3]) -> bool {
    *o == [0; 3]
}

/// Highest derivative order a gaussian takes.
pub const MAX_ORDER: u32 = 8;

/// Box (uniform) filter parameters: the window is `size` pixels along each axis,
/// `size/2` before the centre and `(size-1)/2` after it, as scipy places it. Sizes are
/// per axis in numpy's order `(z, y, x)`; a 2-D image has no z axis.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoxBlur {
    /// Window side along z, y and x, each at least 1 (1: that axis is not filtered).
    pub size: [u32; 3],
    /// How integer input is treated (see [`IntMode`]).
    #[serde(default, skip_serializing_if = "IntMode::is_round")]
    pub int: IntMode,
    /// Past the image's edges (scipy's `mode`, `cval`).
    #[serde(flatten)]
    pub boundary: Boundary,
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

    pub(super) fn parse(op: &'static str, v: Option<&str>) -> Result<Self> {
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

    pub(super) fn check(self, op: &'static str, input: SampleType) -> Result<()> {
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

    pub(super) fn spec_suffix(self) -> &'static str {
        match self {
            IntMode::Round => "",
            IntMode::Scipy => ",int=scipy",
        }
    }
}

impl Gaussian {
    /// Isotropic gaussian (every axis, z too) with scipy's default `truncate = 4`.
    pub fn new(sigma: f64) -> Result<Self> {
        let g = Gaussian {
            sigma_z: sigma,
            sigma_y: sigma,
            sigma_x: sigma,
            truncate: 4.0,
            int: IntMode::Round,
            order: [0; 3],
            boundary: Boundary::REFLECT,
        };
        g.validate().map_err(|e| match e {
            Error::InvalidParam { op, reason, .. } => Error::InvalidParam {
                op,
                param: "sigma".into(),
                reason,
            },
            e => e,
        })?;
        Ok(g)
    }

    /// Per-axis sigmas in the plane (x, y; no filtering along z) and an explicit
    /// `truncate`.
    pub fn anisotropic(sigma_x: f64, sigma_y: f64, truncate: f64) -> Result<Self> {
        Self::per_axis([0.0, sigma_y, sigma_x], truncate)
    }

    /// Per-axis sigmas in numpy's order `(z, y, x)`, as scipy takes them for a 3-D array,
    /// and an explicit `truncate`.
    pub fn per_axis([sigma_z, sigma_y, sigma_x]: [f64; 3], truncate: f64) -> Result<Self> {
        let g = Gaussian {
            sigma_z,
            sigma_x,
            sigma_y,
            truncate,
            int: IntMode::Round,
            order: [0; 3],
            boundary: Boundary::REFLECT,
        };
        g.validate()?;
        Ok(g)
    }

    /// The sigmas in numpy's order `(z, y, x)`, with their parameter names.
    pub fn sigmas(&self) -> [(&'static str, f64); 3] {
        [
            ("sigma_z", self.sigma_z),
            ("sigma_y", self.sigma_y),
            ("sigma_x", self.sigma_x),
        ]
    }

    /// Checks the parameters (also for values built directly or deserialised).
    pub fn validate(&self) -> Result<()> {
        for (name, s) in self.sigmas() {
            if !s.is_finite() || s < 0.0 {
                return Err(Error::param(
                    "gaussian",
                    name,
                    format!("must be a finite number >= 0, got {s}"),
                ));
            }
        }
        if self.sigma_x == 0.0 && self.sigma_y == 0.0 && self.sigma_z == 0.0 {
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
        if let Some(&o) = self.order.iter().find(|&&o| o > MAX_ORDER) {
            return Err(Error::param(
                "gaussian",
                "order",
                format!("must be at most {MAX_ORDER}, got {o}"),
            ));
        }
        if self.int == IntMode::Scipy && self.order != [0; 3] {
            return Err(Error::param(
                "gaussian",
                "order",
                "a derivative is signed: it has no integer path (leave int=scipy out)",
            ));
        }
        for (name, s) in self.sigmas() {
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

    /// The sigma along `axis`.
    pub fn sigma(&self, axis: Axis) -> f64 {
        match axis {
            Axis::Z => self.sigma_z,
            Axis::Y => self.sigma_y,
            Axis::X => self.sigma_x,
        }
    }

    /// The kernel radius along `axis` (0 where the axis is not filtered).
    pub fn radius(&self, axis: Axis) -> u32 {
        let s = self.sigma(axis);
        if s > 1e-15 {
            (self.truncate * s + 0.5).floor() as u32
        } else {
            0
        }
    }

    /// The 1-D kernel for one axis, or `None` when that axis is not filtered by the
    /// symmetric kernels: its sigma is 0, or its derivative's order is odd (an
    /// antisymmetric kernel, see [`Gaussian::antisym`]).
    pub fn kernel(&self, axis: Axis) -> Option<Vec<f32>> {
        let sigma = self.sigma(axis);
        let order = self.order_along(axis);
        // scipy skips axes whose sigma is (numerically) zero.
        (sigma > 1e-15 && order.is_multiple_of(2))
            .then(|| gaussian_order_weights(sigma, self.truncate, order))
    }

    /// The derivative's order along `axis`.
    pub fn order_along(&self, axis: Axis) -> u32 {
        self.order[axis_index(axis)]
    }

    /// The axes whose derivative has an odd order, with their antisymmetric weights
    /// (run by `shaders/derivative.wgsl` after the symmetric passes), z only in a
    /// `volume`, in axis order.
    pub fn antisym(&self, volume: bool) -> Vec<(Axis, Vec<f32>)> {
        [Axis::Z, Axis::Y, Axis::X]
            .into_iter()
            .filter(|&a| a != Axis::Z || volume)
            .filter(|&a| self.sigma(a) > 1e-15 && self.order_along(a) % 2 == 1)
            .map(|a| {
                let w = gaussian_order_weights(self.sigma(a), self.truncate, self.order_along(a));
                (a, w)
            })
            .collect()
    }

    /// The 1-D kernel for one axis in f64, as scipy computes it (for `int=scipy`).
    pub fn kernel64(&self, axis: Axis) -> Option<Vec<f64>> {
        let sigma = self.sigma(axis);
        (sigma > 1e-15).then(|| gaussian_weights64(sigma, self.truncate))
    }
}

/// An image axis. Filters run along `Z` (axis 0 of a volume) first, then `Y`, then `X`,
/// as scipy does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Along slices (a volume's axis 0).
    Z,
    /// Along columns (rows vary).
    Y,
    /// Along rows (columns vary).
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

/// scipy's `_gaussian_kernel1d(sigma, 1, r)` reversed, as `gaussian_filter1d`
/// correlates with it: the tap `j` from the centre is `j/σ² · phi(j)` (`phi` normalised
/// to sum 1), in f64, then f32. Antisymmetric, with a centre tap of 0.
pub fn gaussian_d1_weights(sigma: f64, truncate: f64) -> Vec<f32> {
    let s2 = sigma * sigma;
    derivative_taps(sigma, truncate, |x, p| x / s2 * p)
}

/// scipy's `_gaussian_kernel1d(sigma, 2, r)`, the second derivative of the gaussian
/// (what `gaussian_laplace` filters each axis with): `(x²/σ⁴ - 1/σ²) · phi(x)` with
/// `phi` normalised to sum 1, in f64, then f32. Symmetric, like the order-0 weights,
/// so the gaussian kernels run it as they are.
pub fn gaussian_d2_weights(sigma: f64, truncate: f64) -> Vec<f32> {
    let s2 = sigma * sigma;
    derivative_taps(sigma, truncate, |x, p| (x * x / (s2 * s2) - 1.0 / s2) * p)
}

/// scipy's `_gaussian_kernel1d(sigma, order, r)` reversed, as `gaussian_filter1d`
/// correlates with it: `q(-x) · phi(x)`, `q` the polynomial of the `order`-th
/// derivative (`q₀ = 1`, `qₖ₊₁ = qₖ' - x/σ² · qₖ`, as scipy builds it), in f64, then f32.
/// Symmetric for even orders, antisymmetric for odd ones; order 0, 1 and 2 are
/// [`gaussian_weights`], [`gaussian_d1_weights`] and [`gaussian_d2_weights`].
pub fn gaussian_order_weights(sigma: f64, truncate: f64, order: u32) -> Vec<f32> {
    match order {
        0 => gaussian_weights(sigma, truncate),
        1 => gaussian_d1_weights(sigma, truncate),
        2 => gaussian_d2_weights(sigma, truncate),
        n => {
            let (n, s2) = (n as usize, sigma * sigma);
            let mut q = vec![0.0f64; n + 1];
            q[0] = 1.0;
            for _ in 0..n {
                let mut next = vec![0.0f64; n + 1];
                for e in 1..=n {
                    next[e - 1] += e as f64 * q[e];
                }
                for e in 0..n {
                    next[e + 1] -= q[e] / s2;
                }
                q = next;
            }
            derivative_taps(sigma, truncate, |x, p| {
                let poly = q.iter().rev().fold(0.0, |acc, &c| acc * -x + c);
                poly * p
            })
        }
    }
}

/// The taps `-r..=r` of a derivative kernel: `tap(x, phi(x))` in f64, then f32, with
/// `phi` the gaussian normalised to sum 1 (summed as [`gaussian_weights`] sums it).
fn derivative_taps(sigma: f64, truncate: f64, tap: impl Fn(f64, f64) -> f64) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5).floor() as i64;
    let s2 = sigma * sigma;
    let phi: Vec<f64> = (-radius..=radius)
        .map(|i| (-0.5 / s2 * (i * i) as f64).exp())
        .collect();
    let sum: f64 = phi.iter().sum();
    (-radius..=radius)
        .zip(&phi)
        .map(|(i, &p)| tap(i as f64, p / sum) as f32)
        .collect()
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
    /// A box filter of side `size` along every axis (z too).
    pub fn new(size: u32) -> Result<Self> {
        Self::per_axis([size; 3])
    }

    /// A box filter of per-axis sides in numpy's order `(z, y, x)`.
    pub fn per_axis(size: [u32; 3]) -> Result<Self> {
        let b = BoxBlur {
            size,
            int: IntMode::Round,
            boundary: Boundary::REFLECT,
        };
        b.validate()?;
        Ok(b)
    }

    /// The side along `axis`.
    pub fn size(&self, axis: Axis) -> u32 {
        self.size[axis_index(axis)]
    }

    /// The sides with their parameter names, in numpy's order.
    fn sizes(&self) -> [(&'static str, u32); 3] {
        [
            ("size_z", self.size[0]),
            ("size_y", self.size[1]),
            ("size_x", self.size[2]),
        ]
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let uniform = self.size[0] == self.size[1] && self.size[1] == self.size[2];
        for (name, size) in self.sizes() {
            let name = if uniform { "size" } else { name };
            if size == 0 {
                return Err(Error::param("box", name, "must be >= 1, got 0"));
            }
            if size > 2 * MAX_RADIUS + 1 {
                return Err(Error::param(
                    "box",
                    name,
                    format!("{size} exceeds the limit of {}", 2 * MAX_RADIUS + 1),
                ));
            }
            if self.int == IntMode::Scipy && size > MAX_INT_BOX {
                // Exact window sums of 16-bit levels must fit the GPU's i32.
                return Err(Error::param(
                    "box",
                    name,
                    format!("{size} exceeds the limit of {MAX_INT_BOX} with int=scipy"),
                ));
            }
        }
        Ok(())
    }

    /// Samples before and after the centre along `axis`: `(size/2, (size-1)/2)`,
    /// scipy's placement for `origin = 0`.
    pub fn window(&self, axis: Axis) -> (u32, u32) {
        let size = self.size(axis);
        (size / 2, (size - 1) / 2)
    }
}

/// An axis's place in numpy's order `(z, y, x)`.
pub fn axis_index(axis: Axis) -> usize {
    match axis {
        Axis::Z => 0,
        Axis::Y => 1,
        Axis::X => 2,
    }
}
