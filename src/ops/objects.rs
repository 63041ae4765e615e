//! Object ops: connected-component labelling and removing small objects, with
//! scipy's and scikit-image's semantics.
//!
//! - [`Label`] = `scipy.ndimage.label(x != 0)[0]` for `connectivity=1` (4-neighbour),
//!   `skimage.measure.label(x != 0, connectivity=2)` for 8-neighbour: labels 1..N in the
//!   raster order of each component's first pixel, background 0. Values are u32 levels
//!   (written as u16 when they fit).
//! - [`RemoveSmall`] = `skimage.morphology.remove_small_objects`: on a mask (8-bit
//!   values: a 0/255 mask, a 0/1 one) objects are its connected components and the
//!   result is a 0/255 mask; on labels (wider integers, `label`'s output) objects are the
//!   labels, and those kept keep their values.
//! - [`RemoveHoles`] = `skimage.morphology.remove_small_holes(x != 0, max_size=N,
//!   connectivity=c)`: the mask's inverse loses its small objects (components of the
//!   background of at most `max_size` pixels, border-touching or not), and is inverted
//!   back, a 0/255 mask.

use crate::image::SampleType;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Connected-component labelling of a mask; nonzero is foreground.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    /// Which neighbours touch, as `scipy.ndimage.generate_binary_structure(ndim, c)`:
    /// 1: sharing a face (an edge in 2-D; scipy's default), 2: also an edge (a corner
    /// in 2-D; skimage's default in 2-D), 3: also a corner (volumes; in a 2-D image the
    /// same as 2, as scipy labels a (1, H, W) array).
    pub connectivity: u8,
}

/// Removes objects by area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoveSmall {
    /// Objects of fewer pixels are removed (skimage's `min_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<u64>,
    /// Objects of this many pixels or fewer are removed (skimage 0.26's `max_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// How mask pixels connect into objects (as [`Label`]); skimage's default is 1.
    pub connectivity: u8,
}

/// Fills holes by area: `skimage.morphology.remove_small_holes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoveHoles {
    /// Holes (components of the background, whether they touch the border or not) of
    /// this many pixels or fewer are filled (skimage 0.26's `max_size`; its default is
    /// 64).
    pub max_size: u64,
    /// How background pixels connect into holes (as [`Label`]); skimage's default is 1.
    pub connectivity: u8,
}

fn check_connectivity(op: &'static str, c: u8) -> Result<()> {
    if (1..=3).contains(&c) {
        Ok(())
    } else {
        Err(Error::param(
            op,
            "connectivity",
            format!("must be 1 (faces), 2 (and edges) or 3 (and corners, in a volume), got {c}"),
        ))
    }
}

impl Label {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        check_connectivity("label", self.connectivity)
    }
}

impl RemoveHoles {
    /// skimage's default `max_size`.
    pub const DEFAULT_MAX_SIZE: u64 = 64;

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        check_connectivity("remove_small_holes", self.connectivity)
    }

    /// Whether a hole (a component of the background) of `area` pixels is filled: what
    /// removing small objects ([`RemoveHoles::on_inverse`]) removes from the inverse.
    pub fn fills(&self, area: u64) -> bool {
        self.on_inverse().removes(area)
    }

    /// What skimage runs on the mask's inverse: `remove_small_objects(~mask,
    /// max_size=max_size, connectivity=connectivity)`.
    pub fn on_inverse(&self) -> RemoveSmall {
        RemoveSmall {
            min_size: None,
            max_size: Some(self.max_size),
            connectivity: self.connectivity,
        }
    }

    /// Refuses float values, as skimage does; integers of any width are a mask
    /// (nonzero is foreground), as skimage's `np.logical_not` reads them.
    pub fn check_input(input: SampleType) -> Result<()> {
        match input {
            SampleType::F32 | SampleType::F64 => Err(Error::param(
                "remove_small_holes",
                "input",
                format!("takes a mask, not {input} values; threshold first"),
            )),
            _ => Ok(()),
        }
    }
}

impl RemoveSmall {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        check_connectivity("remove_small_objects", self.connectivity)?;
        match (self.min_size, self.max_size) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(Error::param(
                "remove_small_objects",
                "min_size",
                "give exactly one of min_size (remove objects smaller than it) and \
                 max_size (remove objects of at most that many pixels)",
            )),
        }
    }

    /// Whether an object of `area` pixels is removed.
    pub fn removes(&self, area: u64) -> bool {
        match (self.min_size, self.max_size) {
            (Some(min), _) => area < min,
            (None, Some(max)) => area <= max,
            (None, None) => false,
        }
    }

    /// Whether values of type `t` are labels (objects are the values) rather than a mask
    /// (objects are connected components): wider than 8 bits.
    pub fn labels_mode(t: SampleType) -> bool {
        !matches!(t, SampleType::U8 | SampleType::I8)
    }

    /// Refuses float values, as skimage does: objects need a mask or labels.
    pub fn check_input(input: SampleType) -> Result<()> {
        match input {
            SampleType::F32 | SampleType::F64 => Err(Error::param(
                "remove_small_objects",
                "input",
                format!("takes a mask or labels, not {input} values; threshold first (or label)"),
            )),
            _ => Ok(()),
        }
    }
}
