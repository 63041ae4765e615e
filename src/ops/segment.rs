//! Segmentation helpers that split and clean objects, with scipy's and scikit-image's
//! semantics:
//! - [`Distance`] = `scipy.ndimage.distance_transform_edt(x != 0, sampling)`: the
//!   Euclidean distance of every foreground (nonzero) sample to the nearest background
//!   one, as f32 values. With one sampling for every axis the result is
//!   `np.float32(scipy's f64 result)` bit for bit (see `cpu::distance`).
//! - [`Op::FillHoles`](super::Op::FillHoles) = `scipy.ndimage.binary_fill_holes(x)`,
//!   as a 0/255 mask.
//! - [`Op::ClearBorder`](super::Op::ClearBorder) =
//!   `skimage.segmentation.clear_border(x)`: objects touching the image's border set to
//!   0, the rest kept as they are.
//! - [`ExpandLabels`] = `skimage.segmentation.expand_labels(x, distance)`: every zero
//!   sample within `distance` of a label takes the label nearest to it (ties as scipy's
//!   feature transform breaks them, see `cpu::expand`).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Sampling accepted: from [`MIN_SAMPLING`] to this. Per-axis sampling weighs f32
/// squared distances by `sampling^2`; within these bounds neither that weight nor a
/// squared distance over a frame overflows f32 or falls to its subnormals (which a GPU
/// may flush to zero).
pub const MAX_SAMPLING: f64 = 1e12;
/// The smallest sampling accepted (see [`MAX_SAMPLING`]).
pub const MIN_SAMPLING: f64 = 1e-12;

/// Growing labels into the background by up to a distance, without overlap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpandLabels {
    /// Zero samples at most this far (Euclidean, in units of the spacing) from a label
    /// take it; skimage's default is 1.
    pub distance: f64,
    /// Spacing between slices (skimage's `spacing`, scipy's `sampling`; ignored on a
    /// 2-D image).
    pub spacing_z: f64,
    /// Spacing between rows.
    pub spacing_y: f64,
    /// Spacing between columns.
    pub spacing_x: f64,
}

impl Default for ExpandLabels {
    fn default() -> Self {
        ExpandLabels::new(1.0)
    }
}

impl ExpandLabels {
    /// Expanding by `distance` with skimage's default spacing (1).
    pub fn new(distance: f64) -> Self {
        ExpandLabels {
            distance,
            spacing_z: 1.0,
            spacing_y: 1.0,
            spacing_x: 1.0,
        }
    }

    /// The spacing along (z, y, x).
    pub fn spacing(&self) -> [f64; 3] {
        [self.spacing_z, self.spacing_y, self.spacing_x]
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.distance.is_finite() && self.distance >= 0.0) {
            return Err(Error::param(
                "expand_labels",
                "distance",
                format!("must be a finite number >= 0, got {}", self.distance),
            ));
        }
        for (name, s) in [
            ("spacing_z", self.spacing_z),
            ("spacing_y", self.spacing_y),
            ("spacing_x", self.spacing_x),
        ] {
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::param(
                    "expand_labels",
                    name,
                    format!("must be a finite number > 0, got {s}"),
                ));
            }
        }
        Ok(())
    }
}

/// The Euclidean distance transform of a mask.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distance {
    /// Spacing between slices (ignored on a 2-D image).
    pub sampling_z: f64,
    /// Spacing between rows.
    pub sampling_y: f64,
    /// Spacing between columns.
    pub sampling_x: f64,
}

impl Default for Distance {
    fn default() -> Self {
        Distance::new(1.0)
    }
}

impl Distance {
    /// The same sampling along every axis.
    pub fn new(sampling: f64) -> Self {
        Distance {
            sampling_z: sampling,
            sampling_y: sampling,
            sampling_x: sampling,
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        for (name, s) in [
            ("sampling_z", self.sampling_z),
            ("sampling_y", self.sampling_y),
            ("sampling_x", self.sampling_x),
        ] {
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::param(
                    "distance",
                    name,
                    format!("must be a finite number > 0, got {s}"),
                ));
            }
            if !(MIN_SAMPLING..=MAX_SAMPLING).contains(&s) {
                return Err(Error::param(
                    "distance",
                    name,
                    format!("{s} is outside the limits {MIN_SAMPLING:e} to {MAX_SAMPLING:e}"),
                ));
            }
        }
        Ok(())
    }

    /// The sampling of each axis an image of `depth` slices has, in numpy's order
    /// (z, y, x): a 2-D image's `sampling_z` plays no part.
    pub fn axes(&self, depth: u32) -> Vec<f64> {
        if depth > 1 {
            vec![self.sampling_z, self.sampling_y, self.sampling_x]
        } else {
            vec![self.sampling_y, self.sampling_x]
        }
    }

    /// The one sampling of every axis of an image of `depth` slices, if they are all
    /// the same: then the transform runs on exact integer squared distances, scaled once
    /// at the end.
    pub fn isotropic(&self, depth: u32) -> Option<f64> {
        let axes = self.axes(depth);
        axes.iter().all(|&s| s == axes[0]).then_some(axes[0])
    }
}
