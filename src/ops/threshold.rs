//! Threshold parameters, and the exact strict comparison kernels make in f32.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

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
