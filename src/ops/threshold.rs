//! Threshold parameters, and the exact strict comparison kernels make in f32.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the threshold is chosen. The output is `x > t` as 0/255 u8.
///
/// Every method but `Value` and `Local` picks one `t` for the whole frame (all its
/// channels together, as skimage does for an array): tiled frames reduce their tiles
/// first (see `engine::whole_frame`), and both backends compute `t` from the same
/// reductions with the same host code ([`crate::cpu::auto_threshold`]), so they agree.
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
    /// `skimage.filters.threshold_li` (minimum cross-entropy; CellProfiler's default).
    Li,
    /// `skimage.filters.threshold_triangle`.
    Triangle,
    /// `skimage.filters.threshold_yen`.
    Yen,
    /// `skimage.filters.threshold_isodata`.
    Isodata,
    /// `skimage.filters.threshold_mean`.
    Mean,
    /// `skimage.filters.threshold_minimum` (fails where the histogram, smoothed, never
    /// has exactly two peaks).
    Minimum,
    /// `x > skimage.filters.threshold_local(x, block, method='gaussian', offset)`: each
    /// sample against a gaussian of sigma `(block-1)/6` around it, minus `offset`.
    Local {
        /// The odd block size (along every axis of the image).
        block: u32,
        /// Subtracted from the local mean.
        #[serde(default)]
        offset: f64,
    },
}

/// The automatic methods, with their spec names.
pub const METHODS: [(&str, Threshold); 7] = [
    ("otsu", Threshold::Otsu),
    ("li", Threshold::Li),
    ("triangle", Threshold::Triangle),
    ("yen", Threshold::Yen),
    ("isodata", Threshold::Isodata),
    ("mean", Threshold::Mean),
    ("minimum", Threshold::Minimum),
];

/// Largest block of `method=local` (a gaussian of sigma 341, 2729 taps wide).
pub const MAX_BLOCK: u32 = 2047;

impl Threshold {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Threshold::Value { value } if !value.is_finite() => Err(Error::param(
                "threshold",
                "value",
                format!("must be a finite number, got {value}"),
            )),
            Threshold::Local { block, .. }
                if block % 2 == 0 || !(3..=MAX_BLOCK).contains(&block) =>
            {
                Err(Error::param(
                    "threshold",
                    "block",
                    format!("must be odd and within 3..={MAX_BLOCK}, as skimage asks, got {block}"),
                ))
            }
            Threshold::Local { offset, .. } if !offset.is_finite() => Err(Error::param(
                "threshold",
                "offset",
                format!("must be a finite number, got {offset}"),
            )),
            _ => Ok(()),
        }
    }

    /// The spec name of the method (`value` for a fixed threshold).
    pub fn method(&self) -> &'static str {
        match self {
            Threshold::Value { .. } => "value",
            Threshold::Local { .. } => "local",
            t => METHODS
                .iter()
                .find(|(_, m)| m == t)
                .map_or("", |(name, _)| name),
        }
    }

    /// Whether `t` comes from the whole frame's values.
    pub fn is_whole_frame(&self) -> bool {
        !matches!(self, Threshold::Value { .. } | Threshold::Local { .. })
    }

    /// The gaussian `method=local` compares each sample with, for an image of `depth`
    /// slices: skimage's sigma `(block-1)/6` along every axis the image has.
    pub fn local_gaussian(block: u32, depth: u32) -> super::Gaussian {
        let s = f64::from(block - 1) / 6.0;
        super::Gaussian {
            sigma_z: if depth > 1 { s } else { 0.0 },
            sigma_y: s,
            sigma_x: s,
            truncate: 4.0,
            int: super::IntMode::Round,
            order: [0; 3],
            boundary: super::Boundary::REFLECT,
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
