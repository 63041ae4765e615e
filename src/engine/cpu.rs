//! Programs on the CPU twins: f32 planes in RAM, one op after another, each value freed
//! after its last reader. Submitting runs the program; there is nothing to wait for.

use super::program::{Cmd, Reduced, Reduction};
use super::{Engine, Outcome, Program};
use crate::cpu::{self, threshold, Planes, PlanesRef};
use crate::image::{Image, ImageView, Rect, SampleType, Samples, SamplesRef};
use crate::{Error, Result};
use std::sync::Arc;

/// The CPU twins as an [`Engine`]. Parallel within each kernel (rayon).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuEngine;

impl Engine for CpuEngine {
    type Frame = Arc<Planes>;
    type Pending = Outcome<Arc<Planes>>;

    fn device_name(&self) -> String {
        "cpu".into()
    }

    fn frame_bytes(frame: &Self::Frame) -> u64 {
        frame.data.len() as u64 * 4
    }

    fn frame_value_type(frame: &Self::Frame) -> SampleType {
        frame.value_type
    }

    fn plane_limit(&self, budget: &crate::budget::Budget) -> u64 {
        // The tiles share the budget with the values kept resident between passes (a
        // quarter of it, see `keep_limit`) and the pool of free planes (an eighth, see
        // `prepare`): the tiles get the rest. A 4 GiB volume's run under --memory 1GiB
        // peaked at 1.63 GiB when tiles had the whole budget.
        budget.memory / 8 * 5 / super::PLANES_PER_TILE
    }

    fn keep_limit(&self, budget: &crate::budget::Budget) -> u64 {
        budget.resident.unwrap_or(budget.memory / 4)
    }

    fn recycle(&self, frame: Self::Frame) {
        // Planes no one else holds go back to the pool for the next ones.
        if let Ok(planes) = Arc::try_unwrap(frame) {
            cpu::pool::give(planes.data);
        }
    }

    fn prepare(&self, budget: &crate::budget::Budget) {
        // Free planes kept for reuse count against the budget too (as the GPU's buffers).
        cpu::pool::set_limit((budget.memory / 8).min(512 << 20));
    }

    fn submit(&self, program: Program<'_, Self::Frame>) -> Result<Self::Pending> {
        if let Some(out) = direct(&program) {
            return out;
        }
        let deaths = program.deaths();
        let mut out = Outcome::new(program.len());
        let mut slots: Vec<Option<Value<'_>>> = (0..program.len()).map(|_| None).collect();
        for (i, cmd) in program.cmds.into_iter().enumerate() {
            let made = match cmd {
                Cmd::Upload {
                    image,
                    part,
                    value_type,
                    window,
                } => {
                    let rect = part.unwrap_or(Rect::of(image.shape()));
                    match borrowable(image, rect) {
                        // A one-channel f32 image is already a plane: read where it lies.
                        Some(data) => Some(Value::Borrowed(PlanesRef {
                            shape: image.shape(),
                            data,
                            value_type,
                            window,
                        })),
                        None => {
                            let mut p = cpu::convert::to_planes_part(image, rect);
                            p.value_type = value_type;
                            p.window = window;
                            Some(Value::Owned(Arc::new(p)))
                        }
                    }
                }
                Cmd::Resident { frame } => Some(Value::Owned(frame)),
                Cmd::Apply { op, input } => {
                    let (planes, t) = cpu::apply_ref(value(&slots, input), op)?;
                    out.thresholds[i] = t.map(super::defined_threshold).transpose()?;
                    Some(Value::Owned(Arc::new(planes)))
                }
                Cmd::Download { input, to, rect } => {
                    let v = value(&slots, input);
                    let rect = part_of(v, rect)?;
                    // The last read of one whole f32 plane that no one else holds: the
                    // plane becomes the image, without a copy.
                    let whole_f32 = to == SampleType::F32
                        && v.shape.channels == 1
                        && rect == Rect::of(v.shape)
                        && deaths[i].contains(&input);
                    let moved = match slots[input.0].take() {
                        Some(Value::Owned(arc)) if whole_f32 => match Arc::try_unwrap(arc) {
                            Ok(p) => Some(Image::with_shape(p.shape, Samples::F32(p.data))?),
                            Err(arc) => {
                                slots[input.0] = Some(Value::Owned(arc));
                                None
                            }
                        },
                        other => {
                            slots[input.0] = other;
                            None
                        }
                    };
                    let image = match moved {
                        Some(image) => image,
                        None => cpu::convert::to_image_rect(value(&slots, input), rect, to),
                    };
                    out.images.push(image);
                    None
                }
                Cmd::Keep { input } => {
                    let kept = match slots[input.0].as_ref().expect("live until its last reader") {
                        Value::Owned(arc) => Arc::clone(arc),
                        Value::Borrowed(p) => Arc::new(p.to_planes()),
                    };
                    out.kept.push(kept);
                    None
                }
                Cmd::Reduce {
                    input,
                    rect,
                    reduction,
                } => {
                    let v = value(&slots, input);
                    let rect = part_of(v, rect)?;
                    // The part's rows are read where they lie: no copy of the part.
                    let rows = v.par_rows(rect);
                    out.reduced[i] = Some(match reduction {
                        Reduction::MinMax => Reduced::Range(threshold::min_max_parts(rows)),
                        Reduction::Histogram { lo, hi, integer } => {
                            Reduced::Counts(threshold::histogram_of_parts(rows, lo, hi, integer))
                        }
                        Reduction::Values => Reduced::Values(super::ValueCounts::of_parts(rows)),
                        Reduction::Sum => Reduced::Sum(super::ExactSum::of_parts(rows)),
                    });
                    None
                }
                Cmd::OtsuScan {
                    counts,
                    lo,
                    hi,
                    integer,
                } => {
                    out.thresholds[i] = Some(super::defined_threshold(
                        threshold::otsu_from_histogram(&counts, lo, hi, integer),
                    )?);
                    None
                }
            };
            slots[i] = made;
            for dead in &deaths[i] {
                if let Some(Value::Owned(planes)) = slots[dead.0].take() {
                    self.recycle(planes);
                }
            }
        }
        Ok(out)
    }

    fn finish(&self, pending: Self::Pending) -> Result<Outcome<Self::Frame>> {
        Ok(pending)
    }
}

/// A program of one op on one whole 2-D image, downloaded whole (a one-image call), run
/// from the image's samples straight to the result's where `cpu::direct` covers the op
/// and types: no planes in between. `None`: the program takes the planar path.
fn direct(program: &Program<'_, Arc<Planes>>) -> Option<Result<Outcome<Arc<Planes>>>> {
    let [Cmd::Upload {
        image,
        part,
        value_type,
        window,
    }, Cmd::Apply { op, input }, Cmd::Download {
        input: last,
        to,
        rect,
    }] = &program.cmds[..]
    else {
        return None;
    };
    let whole = Rect::of(image.shape());
    let is_whole = |r: &Option<Rect>| r.is_none_or(|r| r == whole);
    if input.0 != 0 || last.0 != 1 || !is_whole(part) || !is_whole(rect) {
        return None;
    }
    if *window != crate::image::Window::whole(image.shape()) {
        return None;
    }
    let done = cpu::direct::apply(*image, *value_type, op, *to)?;
    Some(done.and_then(|(image, t)| {
        let mut out = Outcome::new(program.len());
        out.thresholds[1] = t.map(super::defined_threshold).transpose()?;
        out.images.push(image);
        Ok(out)
    }))
}

/// A value of a program on the CPU: planes of its own, or a source's samples borrowed.
enum Value<'a> {
    Owned(Arc<Planes>),
    Borrowed(PlanesRef<'a>),
}

impl Value<'_> {
    fn planes(&self) -> PlanesRef<'_> {
        match self {
            Value::Owned(p) => p.view(),
            Value::Borrowed(p) => *p,
        }
    }
}

/// The planes of slot `s`, live until its last reader.
fn value<'s>(slots: &'s [Option<Value<'_>>], s: super::Slot) -> PlanesRef<'s> {
    (slots[s.0].as_ref())
        .expect("live until its last reader")
        .planes()
}

/// The samples of `image` as a plane the kernels can read where they lie: a whole
/// one-channel f32 image (a numpy array's buffer, say). Others are widened or
/// de-interleaved into planes first.
fn borrowable<'a>(image: ImageView<'a>, rect: Rect) -> Option<&'a [f32]> {
    match image.samples() {
        SamplesRef::F32(v) if image.shape().channels == 1 && rect == Rect::of(image.shape()) => {
            Some(v)
        }
        _ => None,
    }
}

/// The part of `planes` a command reads: `rect` if it lies within them, all of them
/// for `None`.
fn part_of(planes: PlanesRef<'_>, rect: Option<Rect>) -> Result<Rect> {
    match rect {
        None => Ok(Rect::of(planes.shape)),
        Some(r) if r.fits(planes.shape) => Ok(r),
        Some(r) => Err(Error::usage(format!(
            "part {r:?} does not fit a {} window",
            planes.shape
        ))),
    }
}
