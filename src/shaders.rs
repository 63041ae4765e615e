//! Every WGSL source imflow runs, in one place. One kernel family per file, each compiled
//! with the shared prelude (`shaders/prelude.wgsl`: reflect, flat indices) in front.

/// The prelude every family is compiled with.
pub const PRELUDE: &str = include_str!("../shaders/prelude.wgsl");

/// A WGSL shader family in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    /// `shaders/convert.wgsl`: u8/u16/f32 samples <-> f32 planes.
    Convert,
    /// `shaders/gaussian.wgsl`: separable gaussian.
    Gaussian,
    /// `shaders/box_blur.wgsl`: box (mean) filter by running sums.
    BoxBlur,
    /// `shaders/threshold.wgsl`: fixed threshold and Otsu.
    Threshold,
    /// `shaders/window.wgsl`: the inner part of a tile.
    Window,
    /// `shaders/gaussian_int.wgsl`: gaussian on integer levels, scipy's integer path
    /// (f64; needs SHADER_F64).
    GaussianInt,
    /// `shaders/box_int.wgsl`: box on integer levels, scipy's integer path.
    BoxInt,
    /// `shaders/label.wgsl`: connected components, removing small objects.
    Label,
    /// `shaders/rank.wgsl`: the median and grey morphology.
    Rank,
    /// `shaders/derivative.wgsl`: gaussian derivatives of order 1, gradient magnitude.
    Derivative,
    /// `shaders/distance.wgsl`: the Euclidean distance transform.
    Distance,
    /// `shaders/segment.wgsl`: filling holes, clearing the border.
    Segment,
    /// `shaders/local.wgsl`: the local threshold's comparison.
    Local,
    /// `shaders/pad.wgsl`: padding by a boundary mode.
    Pad,
    /// `shaders/holes.wgsl`: a mask's inverse (filling small holes).
    Holes,
}

impl Shader {
    /// Every shader family.
    pub const ALL: [Shader; 15] = [
        Shader::Convert,
        Shader::Gaussian,
        Shader::BoxBlur,
        Shader::Threshold,
        Shader::Window,
        Shader::GaussianInt,
        Shader::BoxInt,
        Shader::Label,
        Shader::Rank,
        Shader::Derivative,
        Shader::Distance,
        Shader::Segment,
        Shader::Local,
        Shader::Pad,
        Shader::Holes,
    ];

    /// The file's source as committed.
    pub fn source(self) -> &'static str {
        match self {
            Shader::Convert => include_str!("../shaders/convert.wgsl"),
            Shader::Gaussian => include_str!("../shaders/gaussian.wgsl"),
            Shader::BoxBlur => include_str!("../shaders/box_blur.wgsl"),
            Shader::Threshold => include_str!("../shaders/threshold.wgsl"),
            Shader::Window => include_str!("../shaders/window.wgsl"),
            Shader::GaussianInt => include_str!("../shaders/gaussian_int.wgsl"),
            Shader::BoxInt => include_str!("../shaders/box_int.wgsl"),
            Shader::Label => include_str!("../shaders/label.wgsl"),
            Shader::Rank => include_str!("../shaders/rank.wgsl"),
            Shader::Derivative => include_str!("../shaders/derivative.wgsl"),
            Shader::Distance => include_str!("../shaders/distance.wgsl"),
            Shader::Segment => include_str!("../shaders/segment.wgsl"),
            Shader::Local => include_str!("../shaders/local.wgsl"),
            Shader::Pad => include_str!("../shaders/pad.wgsl"),
            Shader::Holes => include_str!("../shaders/holes.wgsl"),
        }
    }

    /// The file name, for labels and messages.
    pub fn file_name(self) -> &'static str {
        match self {
            Shader::Convert => "convert.wgsl",
            Shader::Gaussian => "gaussian.wgsl",
            Shader::BoxBlur => "box_blur.wgsl",
            Shader::Threshold => "threshold.wgsl",
            Shader::Window => "window.wgsl",
            Shader::GaussianInt => "gaussian_int.wgsl",
            Shader::BoxInt => "box_int.wgsl",
            Shader::Label => "label.wgsl",
            Shader::Rank => "rank.wgsl",
            Shader::Derivative => "derivative.wgsl",
            Shader::Distance => "distance.wgsl",
            Shader::Segment => "segment.wgsl",
            Shader::Local => "local.wgsl",
            Shader::Pad => "pad.wgsl",
            Shader::Holes => "holes.wgsl",
        }
    }

    /// The source as compiled: the prelude, then the file. `threshold.wgsl` also gets
    /// its `real` type (f64 where the adapter has SHADER_F64, for skimage's f64 class
    /// means; f32 elsewhere).
    pub fn compiled_source(self, f64_available: bool) -> String {
        let real = match self {
            Shader::Threshold if f64_available => "alias real = f64;\n",
            Shader::Threshold => "alias real = f32;\n",
            _ => "",
        };
        format!("{real}{PRELUDE}\n{}", self.source())
    }

    /// Whether the family needs SHADER_F64 (f64 in shaders) to compile.
    pub fn needs_f64(self) -> bool {
        self == Shader::GaussianInt
    }
}
