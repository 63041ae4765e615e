//! Op definitions shared by both backends: parameters, their validation and parsing, and
//! the numerics both backends must agree on (gaussian weights, box windows, the rules
//! for what sample type an op's output holds).
//!
//! The semantics contract (see DESIGN.md) is scipy's / scikit-image's:
//! - [`Gaussian`] = `scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate)`
//! - [`BoxBlur`] = `scipy.ndimage.uniform_filter(x, size, mode='reflect')`
//! - [`Threshold::Value`] = `x > t`, [`Threshold::Otsu`] = `x > skimage.filters.threshold_otsu(x)`

mod boundary;
mod edges;
mod filters;
mod help;
mod objects;
mod order;
mod parse;
mod rank;
mod reach;
mod segment;
mod threshold;

pub use boundary::{extend, Boundary, Combine, Mode, Modes};
pub use edges::*;
pub use filters::*;
pub use help::OP_HELP;
pub use objects::*;
pub use order::{from_key, key};
pub use rank::*;
pub use reach::Reach;
pub use segment::*;
pub use threshold::*;

use crate::image::SampleType;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Largest kernel radius accepted. Larger radii only add cost: reflection makes every
/// extra tap revisit samples already in the window.
pub const MAX_RADIUS: u32 = 1 << 16;

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
    /// Connected-component labelling of a mask.
    Label(Label),
    /// Removing objects by area from a mask or labels.
    #[serde(rename = "remove_small_objects")]
    RemoveSmall(RemoveSmall),
    /// Filling the small holes of a mask.
    #[serde(rename = "remove_small_holes")]
    RemoveHoles(RemoveHoles),
    /// Median filter.
    Median(Median),
    /// Grey erosion: the minimum over a footprint.
    Erode(Footprint),
    /// Grey dilation: the maximum over a footprint.
    Dilate(Footprint),
    /// Opening: erosion, then dilation.
    Open(Footprint),
    /// Closing: dilation, then erosion.
    Close(Footprint),
    /// White top-hat: the image minus its opening.
    Tophat(Footprint),
    /// Black top-hat: the closing minus the image.
    Blackhat(Footprint),
    /// Difference of gaussians.
    Dog(Dog),
    /// Laplacian of a gaussian.
    Log(Log),
    /// Gaussian gradient magnitude.
    Gradient(Gradient),
    /// Euclidean distance of each foreground sample to the background.
    Distance(Distance),
    /// Filling the holes of a mask: background the border cannot reach.
    #[serde(rename = "fill_holes")]
    FillHoles,
    /// Removing the objects that touch the image's border.
    #[serde(rename = "clear_border")]
    ClearBorder,
    /// Growing labels into the background by up to a distance.
    #[serde(rename = "expand_labels")]
    ExpandLabels(ExpandLabels),
}

const KNOWN_OPS: &str = "gaussian, box, median, dog, log, gradient, threshold, label, \
                         remove_small_objects, remove_small_holes, erode, dilate, open, close, tophat, blackhat, \
                         distance, fill_holes, clear_border, expand_labels";

impl Op {
    /// Checks the op's parameters.
    pub fn validate(&self) -> Result<()> {
        if let Some(b) = self.boundary() {
            b.validate(self.name())?;
            // scipy's median_filter refuses a sequence of modes; so does this one.
            if matches!(self, Op::Median(_)) && b.mode.uniform().is_none() {
                return Err(Error::param(
                    self.name(),
                    "mode",
                    "median takes one mode for every axis: scipy's median_filter refuses a \
                     sequence of modes too",
                ));
            }
        }
        match self {
            Op::Gaussian(g) => g.validate(),
            Op::Box(b) => b.validate(),
            Op::Threshold(t) => t.validate(),
            Op::Label(l) => l.validate(),
            Op::RemoveSmall(r) => r.validate(),
            Op::RemoveHoles(r) => r.validate(),
            Op::Median(m) => m.validate(),
            Op::Dog(d) => d.validate(),
            Op::Log(l) => l.validate(),
            Op::Gradient(g) => g.validate(),
            Op::Distance(d) => d.validate(),
            Op::ExpandLabels(e) => e.validate(),
            _ => self.morph().map_or(Ok(()), |m| m.validate()),
        }
    }

    /// The morphology op this is, if it is one.
    pub fn morph(&self) -> Option<Morph> {
        let (kind, footprint) = match *self {
            Op::Erode(f) => (MorphKind::Erode, f),
            Op::Dilate(f) => (MorphKind::Dilate, f),
            Op::Open(f) => (MorphKind::Open, f),
            Op::Close(f) => (MorphKind::Close, f),
            Op::Tophat(f) => (MorphKind::Tophat, f),
            Op::Blackhat(f) => (MorphKind::Blackhat, f),
            _ => return None,
        };
        Some(Morph { kind, footprint })
    }

    /// The morphology op of `kind` with `footprint`.
    pub fn from_morph(kind: MorphKind, footprint: Footprint) -> Op {
        match kind {
            MorphKind::Erode => Op::Erode(footprint),
            MorphKind::Dilate => Op::Dilate(footprint),
            MorphKind::Open => Op::Open(footprint),
            MorphKind::Close => Op::Close(footprint),
            MorphKind::Tophat => Op::Tophat(footprint),
            MorphKind::Blackhat => Op::Blackhat(footprint),
        }
    }

    /// Checks that the op can take values of type `input`: Otsu on untouched 32-bit
    /// integer levels is refused, since skimage counts one bin per level there (up to
    /// 2^32 of them).
    pub fn check_input(&self, input: SampleType) -> Result<()> {
        match self {
            Op::Gaussian(g) => g.int.check("gaussian", input)?,
            Op::Box(b) => b.int.check("box", input)?,
            Op::RemoveSmall(_) => RemoveSmall::check_input(input)?,
            Op::RemoveHoles(_) => RemoveHoles::check_input(input)?,
            Op::Threshold(_) | Op::Label(_) => {}
            _ => {}
        }
        match (self, input) {
            (Op::Threshold(t), SampleType::I32 | SampleType::U32) if t.is_whole_frame() => {
                Err(Error::param(
                    "threshold",
                    "method",
                    format!(
                        "{} on untouched {input} data would need a bin per level, as skimage counts \
                         them (up to 2^32); filter first (a filter's float output gets 256 bins) or \
                         use 16-bit data",
                        t.method()
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Checks that the op can run on an image of `shape`: `int=scipy` reproduces scipy's
    /// integer path of 2-D arrays only.
    pub fn check_shape(&self, shape: crate::image::Shape) -> Result<()> {
        let int = match self {
            Op::Gaussian(g) => g.int,
            Op::Box(b) => b.int,
            _ => return Ok(()),
        };
        if int == IntMode::Scipy && shape.is_volume() {
            return Err(Error::param(
                self.name(),
                "int",
                format!(
                    "int=scipy reproduces scipy's integer path on 2-D images; this one is a \
                     volume ({shape}): leave int out (the true filter, rounded once)"
                ),
            ));
        }
        Ok(())
    }

    /// The op's name as used in specs and records.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Gaussian(_) => "gaussian",
            Op::Box(_) => "box",
            Op::Threshold(_) => "threshold",
            Op::Label(_) => "label",
            Op::RemoveSmall(_) => "remove_small_objects",
            Op::RemoveHoles(_) => "remove_small_holes",
            Op::Median(_) => "median",
            Op::Dog(_) => "dog",
            Op::Log(_) => "log",
            Op::Gradient(_) => "gradient",
            Op::Distance(_) => "distance",
            Op::FillHoles => "fill_holes",
            Op::ClearBorder => "clear_border",
            Op::ExpandLabels(_) => "expand_labels",
            _ => self.morph().map_or("", |m| m.kind.name()),
        }
    }

    /// What the output's values are, given the input's: filters produce arbitrary floats
    /// (or, with `int=scipy` on 8- and 16-bit integers, levels of the input's type); a
    /// threshold produces a u8 mask; labels are u32 levels; removing small objects keeps
    /// a mask a mask and labels labels. Otsu uses this to pick integer or float binning.
    pub fn output_type(&self, input: SampleType) -> SampleType {
        match self {
            Op::Gaussian(Gaussian { int, .. }) | Op::Box(BoxBlur { int, .. })
                if int.applies_to(input) =>
            {
                input
            }
            Op::Gaussian(_) | Op::Box(_) => SampleType::F32,
            Op::Threshold(_) => SampleType::U8,
            Op::Label(_) => SampleType::U32,
            Op::RemoveSmall(_) if RemoveSmall::labels_mode(input) => input,
            Op::RemoveSmall(_) => SampleType::U8,
            Op::RemoveHoles(_) => SampleType::U8,
            // A band-pass is signed whatever the input.
            Op::Dog(_) | Op::Log(_) | Op::Gradient(_) => SampleType::F32,
            Op::Distance(_) => SampleType::F32,
            Op::FillHoles => SampleType::U8,
            // Objects kept keep their values: a mask stays a mask, labels labels.
            Op::ClearBorder => input,
            // Labels stay labels.
            Op::ExpandLabels(_) => input,
            // Ranks select samples: values keep their type (a u16 median is u16 levels).
            _ => input,
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
            "gaussian:sigma_z=0,sigma_y=0.5,sigma_x=2,truncate=3",
            "gaussian:sigma_z=1,sigma_y=2,sigma_x=2,truncate=4",
            "box:size_z=1,size_y=5,size_x=3",
            "label:connectivity=3",
            "box:size=5",
            "gaussian:sigma=2,truncate=4,int=scipy",
            "gaussian:sigma=2,truncate=4,order=1",
            "gaussian:sigma_z=0,sigma_y=1,sigma_x=2,truncate=3,order_z=0,order_y=2,order_x=3",
            "gaussian:sigma=1.5,truncate=4,order=1,mode=nearest",
            "box:size=3,int=scipy",
            "threshold:value=400",
            "threshold:method=otsu",
            "label:connectivity=2",
            "remove_small_objects:min_size=30,connectivity=1",
            "remove_small_objects:max_size=64,connectivity=2",
            "remove_small_holes:max_size=64,connectivity=1",
            "remove_small_holes:max_size=0,connectivity=3",
            "median:size=3",
            "median:size_z=1,size_y=3,size_x=5",
            "erode:footprint=disk,radius=5",
            "dilate:footprint=ball,radius=3",
            "open:footprint=cross,radius=1",
            "close:footprint=square,size=4",
            "tophat:footprint=cube,size=3",
            "blackhat:footprint=disk,radius=0",
            "dog:low=1,high=1.6,truncate=4",
            "dog:low=0.5,high=3,truncate=3",
            "log:sigma=2,truncate=4",
            "gradient:sigma=1.5,truncate=3",
            "distance:sampling=1",
            "distance:sampling=0.5",
            "distance:sampling_z=2,sampling_y=1,sampling_x=0.5",
            "fill_holes",
            "clear_border",
            "expand_labels:distance=1",
            "expand_labels:distance=2.5",
            "expand_labels:distance=1,spacing_z=2,spacing_y=1,spacing_x=0.5",
        ] {
            let op = Op::parse(spec).unwrap();
            assert_eq!(op.to_string(), spec);
            assert_eq!(Op::parse(&op.to_string()).unwrap(), op);
        }
        assert_eq!(
            Op::parse("gaussian:sigma=2").unwrap(),
            Op::Gaussian(Gaussian::new(2.0).unwrap())
        );
        // A bare radius is a disk, a bare size a square.
        assert_eq!(
            Op::parse("erode:radius=2").unwrap(),
            Op::Erode(Footprint::Disk { radius: 2 })
        );
        assert_eq!(
            Op::parse("dilate:size=3").unwrap(),
            Op::Dilate(Footprint::Square { size: 3 })
        );
        // skimage's defaults; the deprecated area_threshold (holes smaller than it).
        let holes = |max_size| {
            Op::RemoveHoles(RemoveHoles {
                max_size,
                connectivity: 1,
            })
        };
        assert_eq!(Op::parse("remove_small_holes").unwrap(), holes(64));
        assert_eq!(
            Op::parse("remove_small_holes:area_threshold=10").unwrap(),
            holes(9)
        );
        assert_eq!(
            Op::parse("remove_small_holes:area_threshold=0").unwrap(),
            holes(0)
        );
        assert_eq!(
            Op::parse("expand_labels").unwrap(),
            Op::ExpandLabels(ExpandLabels::new(1.0))
        );
        assert_eq!(
            Op::parse("distance").unwrap(),
            Op::Distance(Distance::new(1.0))
        );
        assert_eq!(
            Op::parse("distance:sampling_y=1,sampling_x=0.5").unwrap(),
            Op::Distance(Distance {
                sampling_z: 1.0,
                sampling_y: 1.0,
                sampling_x: 0.5
            })
        );
        assert_eq!(
            Op::parse("median:size_y=3,size_x=5").unwrap(),
            Op::Median(Median {
                size: [1, 3, 5],
                boundary: Boundary::REFLECT,
            })
        );
    }

    #[test]
    fn the_help_names_every_op() {
        for name in KNOWN_OPS.split(',').map(str::trim) {
            let listed = OP_HELP.lines().any(|l| l.trim_start().starts_with(name));
            assert!(listed, "OP_HELP lacks `{name}`");
        }
    }

    #[test]
    fn rank_ops_serialize_with_their_footprint() {
        let op = Op::parse("open:footprint=disk,radius=4").unwrap();
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(json, r#"{"op":"open","footprint":"disk","radius":4}"#);
        assert_eq!(serde_json::from_str::<Op>(&json).unwrap(), op);
        let m = Op::parse("median:size=5").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Op>(&json).unwrap(), m);
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
            ("sobel:size=3", "unknown op `sobel`"),
            ("median:size=0", "size"),
            ("median:size=29", "exceeds the limit"),
            ("median:size=28", "28x28"),
            ("erode", "missing (e.g. erode:footprint=disk"),
            (
                "dilate:footprint=hexagon,radius=2",
                "unknown footprint `hexagon`",
            ),
            ("open:footprint=disk,size=3", "radius"),
            ("close:footprint=cube,radius=3", "size=N"),
            ("tophat:radius=2000", "exceeds the limit"),
            ("blackhat:footprint=square,size=0", ">= 1"),
            ("dog:low=2,high=1", "at least low"),
            ("dog:high=3", "missing"),
            ("dog:low=0", "low"),
            ("log", "missing"),
            ("log:sigma=-1", "sigma"),
            ("gradient:sigma=0", "sigma"),
            ("box:size", "key=value"),
            ("gaussian:sigma=1,int=floor", "unknown mode `floor`"),
            ("box:size=40000,int=scipy", "with int=scipy"),
            ("label:connectivity=4", "connectivity"),
            ("box:size_y=3", "size"),
            ("gaussian:sigma_z=1", "sigma"),
            ("remove_small_objects", "exactly one"),
            ("remove_small_objects:min_size=2,max_size=3", "exactly one"),
            ("remove_small_objects:min_size=-1", "whole number"),
            ("remove_small_holes:max_size=1.5", "whole number"),
            ("remove_small_holes:connectivity=0", "connectivity"),
            ("remove_small_holes:min_size=3", "unknown parameter"),
            ("remove_small_holes:max_size=3,area_threshold=4", "not both"),
            ("distance:sampling=0", "sampling_z"),
            ("distance:sampling_x=-1,sampling_y=1", "sampling_x"),
            ("distance:sampling=nan", "finite"),
            ("distance:sampling=1e13", "outside the limits"),
            ("distance:sampling=1e-13", "outside the limits"),
            ("distance:sampling_x=2", "sampling"),
            ("distance:sampling=1,sampling_x=2", "either sampling"),
            ("fill_holes:connectivity=2", "unknown parameter"),
            ("clear_border:buffer_size=1", "unknown parameter"),
            ("expand_labels:distance=-1", "distance"),
            ("expand_labels:distance=inf", "finite"),
            ("expand_labels:sampling=2", "unknown parameter"),
            ("expand_labels:spacing=0", "spacing_z"),
            ("expand_labels:spacing=2,spacing_x=1", "not both"),
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
        assert_eq!(BoxBlur::new(1).unwrap().window(Axis::X), (0, 0));
        assert_eq!(BoxBlur::new(4).unwrap().window(Axis::Y), (2, 1));
        assert_eq!(BoxBlur::new(5).unwrap().window(Axis::Z), (2, 2));
    }
}
