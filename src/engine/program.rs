//! A recording of one frame's work: uploads and resident inputs, ops, downloads, and
//! frames to keep resident. Slots are the values commands produce; each slot is freed
//! right after the last command that reads it, so a chain of any length holds at most
//! its live values.

use crate::image::{Image, ImageView, Rect, SampleType, Window};
use crate::ops::Op;
use crate::{Error, Result};

/// A value a command of a [`Program`] produces (the command's index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot(pub(crate) usize);

impl Slot {
    /// The index of the command that produced it, which indexes [`Outcome`]'s
    /// per-command figures.
    pub fn index(self) -> usize {
        self.0
    }
}

pub(crate) enum Cmd<'a, F> {
    Upload {
        image: ImageView<'a>,
        /// The part of `image` to upload; `None`: all of it.
        part: Option<Rect>,
        value_type: SampleType,
        window: Window,
    },
    Resident {
        frame: F,
    },
    Apply {
        op: &'a Op,
        input: Slot,
    },
    Download {
        input: Slot,
        to: SampleType,
        rect: Option<Rect>,
    },
    Keep {
        input: Slot,
    },
    Reduce {
        input: Slot,
        rect: Option<Rect>,
        reduction: Reduction,
    },
    OtsuScan {
        counts: Vec<u64>,
        lo: f32,
        hi: f32,
        integer: bool,
    },
}

/// A reduction of a frame's part that a tiled frame combines across its tiles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reduction {
    /// The smallest and largest sample, NaNs ignored.
    MinMax,
    /// Otsu's histogram over [lo, hi], the whole frame's min and max: one bin per
    /// level for integer levels, 256 bins otherwise.
    Histogram {
        /// The whole frame's smallest sample.
        lo: f32,
        /// The whole frame's largest sample.
        hi: f32,
        /// One bin per integer level.
        integer: bool,
    },
    /// The distinct values with their counts (Li's on float data).
    Values,
    /// The exact sum of the values (the mean's on float data).
    Sum,
}

/// What a [`Reduction`] gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Reduced {
    /// Min and max; `None` when every sample was NaN.
    Range(Option<(f32, f32)>),
    /// Histogram counts.
    Counts(Vec<u64>),
    /// Distinct values and their counts.
    Values(super::reduced::ValueCounts),
    /// The exact sum and the count of the values.
    Sum(super::reduced::ExactSum),
}

impl Reduced {
    /// The reduction of two parts of a frame together (two tiles' results).
    pub fn combine(self, other: Reduced) -> Result<Reduced> {
        Ok(match (self, other) {
            (Reduced::Range(a), Reduced::Range(b)) => Reduced::Range(match (a, b) {
                (Some((l0, h0)), Some((l1, h1))) => Some((l0.min(l1), h0.max(h1))),
                (a, b) => a.or(b),
            }),
            (Reduced::Counts(mut a), Reduced::Counts(b)) if a.len() == b.len() => {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                Reduced::Counts(a)
            }
            (Reduced::Values(a), Reduced::Values(b)) => Reduced::Values(a.merge(b)),
            (Reduced::Sum(a), Reduced::Sum(b)) => Reduced::Sum(a.merge(b)),
            _ => return Err(Error::usage("two tiles gave different kinds of reduction")),
        })
    }
}

impl<F> Cmd<'_, F> {
    fn input(&self) -> Option<Slot> {
        match self {
            Cmd::Apply { input, .. }
            | Cmd::Download { input, .. }
            | Cmd::Keep { input }
            | Cmd::Reduce { input, .. } => Some(*input),
            Cmd::Upload { .. } | Cmd::Resident { .. } | Cmd::OtsuScan { .. } => None,
        }
    }
}

/// One frame's work, recorded before anything runs.
///
/// ```
/// # use imflow::engine::{CpuEngine, Engine, Program};
/// # use imflow::{Image, Op, SampleType, Samples};
/// # fn main() -> imflow::Result<()> {
/// let image = Image::gray(4, 3, Samples::U16(vec![100; 12]))?;
/// let (g, t) = (Op::parse("gaussian:sigma=1")?, Op::parse("threshold:method=otsu")?);
/// let mut p = Program::new();
/// let src = p.upload(&image);
/// let smooth = p.apply(&g, src)?;
/// let mask = p.apply(&t, smooth)?;
/// p.download(mask, SampleType::U8);
/// let out = CpuEngine.run(p)?;
/// assert_eq!(out.images[0].sample_type(), SampleType::U8);
/// # Ok(())
/// # }
/// ```
pub struct Program<'a, F> {
    pub(crate) cmds: Vec<Cmd<'a, F>>,
    /// What each command's value is (None for commands without one).
    types: Vec<Option<SampleType>>,
    downloads: usize,
    keeps: usize,
}

impl<F> Default for Program<'_, F> {
    fn default() -> Self {
        Program {
            cmds: Vec::new(),
            types: Vec::new(),
            downloads: 0,
            keeps: 0,
        }
    }
}

impl<'a, F> Program<'a, F> {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, cmd: Cmd<'a, F>, value_type: Option<SampleType>) -> Slot {
        self.cmds.push(cmd);
        self.types.push(value_type);
        Slot(self.cmds.len() - 1)
    }

    fn check(&self, slot: Slot) -> Result<SampleType> {
        self.types
            .get(slot.0)
            .copied()
            .flatten()
            .ok_or_else(|| Error::usage(format!("slot {} holds no image in this program", slot.0)))
    }

    /// Uploads a source image; its values are its samples.
    pub fn upload(&mut self, image: &'a Image) -> Slot {
        self.upload_view(image.view())
    }

    /// Uploads borrowed samples (a numpy array's buffer, say) with no copy first.
    pub fn upload_view(&mut self, image: ImageView<'a>) -> Slot {
        self.upload_window(image, image.sample_type(), Window::whole(image.shape()))
    }

    /// Uploads an image whose values are of `value_type` (a stored result read back).
    pub fn upload_as(&mut self, image: &'a Image, value_type: SampleType) -> Slot {
        self.upload_window(image.view(), value_type, Window::whole(image.shape()))
    }

    /// Uploads a window of a larger image (a tile and its halo): kernels reflect at
    /// the larger image's edges.
    pub fn upload_window(
        &mut self,
        image: ImageView<'a>,
        value_type: SampleType,
        window: Window,
    ) -> Slot {
        self.push(
            Cmd::Upload {
                image,
                part: None,
                value_type,
                window,
            },
            Some(value_type),
        )
    }

    /// Uploads the part `part` of an image (a tile's window of a frame in memory),
    /// read in place: [`Program::upload_window`] of that part, without copying it out
    /// first.
    pub fn upload_part(
        &mut self,
        image: ImageView<'a>,
        part: Rect,
        value_type: SampleType,
        window: Window,
    ) -> Result<Slot> {
        if !part.fits(image.shape()) {
            return Err(Error::usage(format!(
                "part {part:?} does not fit a {} image",
                image.shape()
            )));
        }
        Ok(self.push(
            Cmd::Upload {
                image,
                part: Some(part),
                value_type,
                window,
            },
            Some(value_type),
        ))
    }

    /// A frame already resident on the engine, whose values are of `value_type`.
    pub fn resident(&mut self, frame: F, value_type: SampleType) -> Slot {
        self.push(Cmd::Resident { frame }, Some(value_type))
    }

    /// Applies `op` to `input`. The op's parameters are checked here.
    pub fn apply(&mut self, op: &'a Op, input: Slot) -> Result<Slot> {
        op.validate()?;
        let t = self.check(input)?;
        op.check_input(t)?;
        Ok(self.push(Cmd::Apply { op, input }, Some(op.output_type(t))))
    }

    /// Narrows `input` to `to` and reads it back; returns its index in
    /// [`Outcome::images`].
    pub fn download(&mut self, input: Slot, to: SampleType) -> usize {
        self.download_rect(input, to, None)
    }

    /// [`Program::download`] of the part `rect` of the value (a tile's inner part).
    pub fn download_rect(&mut self, input: Slot, to: SampleType, rect: Option<Rect>) -> usize {
        self.push(Cmd::Download { input, to, rect }, None);
        self.downloads += 1;
        self.downloads - 1
    }

    /// Reduces `input` (or its part `rect`); the result is in [`Outcome::reduced`] at
    /// the returned slot's index.
    pub fn reduce(&mut self, input: Slot, rect: Option<Rect>, reduction: Reduction) -> Slot {
        self.push(
            Cmd::Reduce {
                input,
                rect,
                reduction,
            },
            None,
        )
    }

    /// Otsu's threshold from a whole frame's histogram over [lo, hi]; the value is in
    /// [`Outcome::thresholds`] at the returned slot's index.
    pub fn otsu_scan(&mut self, counts: Vec<u64>, lo: f32, hi: f32, integer: bool) -> Slot {
        self.push(
            Cmd::OtsuScan {
                counts,
                lo,
                hi,
                integer,
            },
            None,
        )
    }

    /// Keeps `input` resident after the program; returns its index in [`Outcome::kept`].
    pub fn keep(&mut self, input: Slot) -> usize {
        self.push(Cmd::Keep { input }, None);
        self.keeps += 1;
        self.keeps - 1
    }

    /// What `slot`'s values are.
    pub fn value_type(&self, slot: Slot) -> Option<SampleType> {
        self.types.get(slot.0).copied().flatten()
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True for a program with no commands.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// For each command, the slots whose last reader it is (to free right after it).
    /// A value nobody reads is dead at once.
    pub(crate) fn deaths(&self) -> Vec<Vec<Slot>> {
        let mut last: Vec<Option<usize>> = vec![None; self.cmds.len()];
        for (i, c) in self.cmds.iter().enumerate() {
            if let Some(s) = c.input() {
                last[s.0] = Some(i);
            }
        }
        let mut deaths = vec![Vec::new(); self.cmds.len()];
        for (s, l) in last.iter().enumerate() {
            if self.types[s].is_some() {
                deaths[l.unwrap_or(s)].push(Slot(s));
            }
        }
        deaths
    }
}

/// What a program produced.
#[derive(Debug)]
pub struct Outcome<F> {
    /// The downloaded images, in the order of [`Program::download`].
    pub images: Vec<Image>,
    /// The kept frames, in the order of [`Program::keep`].
    pub kept: Vec<F>,
    /// Per command: the threshold a threshold op (or an Otsu scan) used.
    pub thresholds: Vec<Option<f64>>,
    /// Per command: what a reduction gave.
    pub reduced: Vec<Option<Reduced>>,
    /// Per command: bytes it uploaded to the device (0 on the CPU).
    pub uploaded: Vec<u64>,
    /// Per command: bytes it read back from the device (0 on the CPU).
    pub downloaded: Vec<u64>,
}

impl<F> Outcome<F> {
    pub(crate) fn new(commands: usize) -> Self {
        Outcome {
            images: Vec::new(),
            kept: Vec::new(),
            thresholds: vec![None; commands],
            reduced: vec![None; commands],
            uploaded: vec![0; commands],
            downloaded: vec![0; commands],
        }
    }

    /// The threshold the op at `slot` used, for a threshold op.
    pub fn threshold(&self, slot: Slot) -> Option<f64> {
        self.thresholds.get(slot.0).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Samples;

    #[test]
    fn values_die_after_their_last_reader() {
        let image = Image::gray(2, 2, Samples::U8(vec![1, 2, 3, 4])).unwrap();
        let g = Op::parse("gaussian:sigma=1").unwrap();
        let mut p: Program<'_, ()> = Program::new();
        let a = p.upload(&image); // 0
        let b = p.apply(&g, a).unwrap(); // 1
        let c = p.apply(&g, b).unwrap(); // 2
        p.download(b, SampleType::F32); // 3
        p.keep(c); // 4
        let _unused = p.apply(&g, a).unwrap(); // 5
        let d = p.deaths();
        assert_eq!(d[2], vec![]);
        assert_eq!(d[3], vec![b]);
        assert_eq!(d[4], vec![c]);
        assert_eq!(
            d[5],
            vec![a, Slot(5)],
            "a's last reader, and a value nobody reads"
        );
        assert_eq!(p.value_type(c), Some(SampleType::F32));
        assert_eq!(p.value_type(Slot(3)), None);
        assert!(p.apply(&g, Slot(3)).is_err(), "a download holds no image");
    }
}
