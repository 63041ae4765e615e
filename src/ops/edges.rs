//! Filters built from gaussians: the difference of gaussians, scikit-image's
//! `difference_of_gaussians` (a band-pass that finds blobs of a size between the two
//! sigmas), the Laplacian of a gaussian, scipy's `gaussian_laplace` (blobs and edges
//! by its zero crossings), and scipy's `gaussian_gradient_magnitude` (edges).

use super::{gaussian_d1_weights, gaussian_d2_weights, Axis, Boundary, Gaussian, Reach};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// `gaussian_filter(x, low) - gaussian_filter(x, high)` on the float values, per
/// channel, isotropic (a volume in 3-D): `skimage.filters.difference_of_gaussians(x,
/// low, high, mode='reflect', truncate)` on float input. scikit-image first scales
/// integer input to [0, 1] (`img_as_float`); this keeps the data's own units, so on
/// integer data its result is scikit-image's times the type's maximum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dog {
    /// The smaller sigma.
    pub low: f64,
    /// The larger sigma (scikit-image's default: 1.6 × low).
    pub high: f64,
    /// Kernel half-width in sigmas, for both gaussians.
    pub truncate: f64,
    /// Past the image's edges (scipy's `mode`, `cval`), for both gaussians.
    #[serde(flatten)]
    pub boundary: Boundary,
}

impl Dog {
    /// The two gaussians, checked: `(low, high)`.
    pub fn gaussians(&self) -> Result<(Gaussian, Gaussian)> {
        if self.high < self.low {
            return Err(Error::param(
                "dog",
                "high",
                format!(
                    "must be at least low (got low={}, high={}), as scikit-image requires",
                    self.low, self.high
                ),
            ));
        }
        let g = |sigma: f64, name: &'static str| {
            let g = Gaussian {
                sigma_z: sigma,
                sigma_y: sigma,
                sigma_x: sigma,
                truncate: self.truncate,
                int: Default::default(),
                order: [0; 3],
                boundary: self.boundary,
            };
            g.validate().map_err(|e| match e {
                Error::InvalidParam { reason, .. } => Error::param("dog", name, reason),
                e => e,
            })?;
            Ok(g)
        };
        Ok((g(self.low, "low")?, g(self.high, "high")?))
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        self.gaussians().map(|_| ())
    }

    /// The larger gaussian's reach.
    pub fn reach(&self) -> Reach {
        match self.gaussians() {
            Ok((_, g)) => Reach {
                x: g.radius(Axis::X),
                y: g.radius(Axis::Y),
                z: g.radius(Axis::Z),
            },
            Err(_) => Reach::default(),
        }
    }
}

/// `scipy.ndimage.gaussian_laplace(x, sigma, mode='reflect', truncate)` per channel,
/// isotropic (a volume in 3-D): per axis, the gaussian with that axis's second
/// derivative, summed in axis order (z, y, x) as scipy sums them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// The gaussian's sigma, every axis.
    pub sigma: f64,
    /// Kernel half-width in sigmas.
    pub truncate: f64,
    /// Past the image's edges (scipy's `mode`, `cval`).
    #[serde(flatten)]
    pub boundary: Boundary,
}

impl Log {
    fn gaussian(&self) -> Result<Gaussian> {
        let g = Gaussian {
            sigma_z: self.sigma,
            sigma_y: self.sigma,
            sigma_x: self.sigma,
            truncate: self.truncate,
            int: Default::default(),
            order: [0; 3],
            boundary: self.boundary,
        };
        g.validate().map_err(|e| match e {
            Error::InvalidParam { param, reason, .. } => Error::param("log", param, reason),
            e => e,
        })?;
        Ok(g)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        self.gaussian().map(|_| ())
    }

    /// The terms of the sum: for each axis of an image with (`volume`) or without a z
    /// axis, in scipy's order, the kernels along (z, y, x), that axis's the second
    /// derivative (`None`: the axis is not filtered, a 2-D image's z).
    pub fn terms(&self, volume: bool) -> Result<Vec<[Option<Vec<f32>>; 3]>> {
        let g = self.gaussian()?;
        let axes: &[Axis] = if volume {
            &[Axis::Z, Axis::Y, Axis::X]
        } else {
            &[Axis::Y, Axis::X]
        };
        let d2 = gaussian_d2_weights(self.sigma, self.truncate);
        Ok(axes
            .iter()
            .map(|&along| {
                [Axis::Z, Axis::Y, Axis::X].map(|a| match a {
                    Axis::Z if !volume => None,
                    a if a == along => Some(d2.clone()),
                    a => g.kernel(a),
                })
            })
            .collect())
    }

    /// The gaussian's reach.
    pub fn reach(&self) -> Reach {
        match self.gaussian() {
            Ok(g) => Reach {
                x: g.radius(Axis::X),
                y: g.radius(Axis::Y),
                z: g.radius(Axis::Z),
            },
            Err(_) => Reach::default(),
        }
    }
}

/// `scipy.ndimage.gaussian_gradient_magnitude(x, sigma, mode='reflect', truncate)` per
/// channel, isotropic (a volume in 3-D): per axis, the gaussian with that axis's first
/// derivative, squared and summed in axis order (z, y, x), then the square root.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gradient {
    /// The gaussian's sigma, every axis.
    pub sigma: f64,
    /// Kernel half-width in sigmas.
    pub truncate: f64,
    /// Past the image's edges (scipy's `mode`, `cval`).
    #[serde(flatten)]
    pub boundary: Boundary,
}

/// One term of a gradient: the axis it differentiates, the gaussian kernels along
/// (z, y, x) with that axis left alone, and the axis's derivative weights.
pub type GradientTerm = (Axis, [Option<Vec<f32>>; 3], Vec<f32>);

impl Gradient {
    fn log(&self) -> Log {
        Log {
            sigma: self.sigma,
            truncate: self.truncate,
            boundary: self.boundary,
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        self.log().gaussian().map(|_| ()).map_err(|e| match e {
            Error::InvalidParam { param, reason, .. } => Error::param("gradient", param, reason),
            e => e,
        })
    }

    /// The terms for an image with (`volume`) or without a z axis, in scipy's order.
    pub fn terms(&self, volume: bool) -> Result<Vec<GradientTerm>> {
        self.validate()?;
        let g = self.log().gaussian()?;
        let axes: &[Axis] = if volume {
            &[Axis::Z, Axis::Y, Axis::X]
        } else {
            &[Axis::Y, Axis::X]
        };
        let d1 = gaussian_d1_weights(self.sigma, self.truncate);
        Ok(axes
            .iter()
            .map(|&along| {
                let kernels = [Axis::Z, Axis::Y, Axis::X].map(|a| match a {
                    Axis::Z if !volume => None,
                    a if a == along => None,
                    a => g.kernel(a),
                });
                (along, kernels, d1.clone())
            })
            .collect())
    }

    /// The gaussian's reach.
    pub fn reach(&self) -> Reach {
        self.log().reach()
    }
}
