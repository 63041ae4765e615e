//! Programs on the CPU twins: f32 planes in RAM, one op after another, each value freed
//! after its last reader. Submitting runs the program; there is nothing to wait for.

use super::program::{Cmd, Reduced, Reduction};
use super::{Engine, Outcome, Program};
use crate::cpu::{self, threshold, Planes};
use crate::image::{Rect, SampleType};
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
        let deaths = program.deaths();
        let mut out = Outcome::new(program.len());
        let mut slots: Vec<Option<Arc<Planes>>> = vec![None; program.len()];
        for (i, cmd) in program.cmds.into_iter().enumerate() {
            let value = |s: super::Slot| slots[s.0].as_ref().expect("live until its last reader");
            let made = match cmd {
                Cmd::Upload {
                    image,
                    part,
                    value_type,
                    window,
                } => {
                    let rect = part.unwrap_or(Rect::of(image.shape()));
                    let mut p = cpu::convert::to_planes_part(image, rect);
                    p.value_type = value_type;
                    p.window = window;
                    Some(Arc::new(p))
                }
                Cmd::Resident { frame } => Some(frame),
                Cmd::Apply { op, input } => {
                    let (planes, t) = cpu::apply(value(input), op)?;
                    out.thresholds[i] = t.map(super::defined_threshold).transpose()?;
                    Some(Arc::new(planes))
                }
                Cmd::Download { input, to, rect } => {
                    let v = value(input);
                    let rect = part_of(v, rect)?;
                    out.images.push(cpu::convert::to_image_rect(v, rect, to));
                    None
                }
                Cmd::Keep { input } => {
                    out.kept.push(Arc::clone(value(input)));
                    None
                }
                Cmd::Reduce {
                    input,
                    rect,
                    reduction,
                } => {
                    let v = value(input);
                    let rect = part_of(v, rect)?;
                    // The part's rows are read where they lie: no copy of the part.
                    let rows = v.par_rows(rect);
                    out.reduced[i] = Some(match reduction {
                        Reduction::MinMax => Reduced::Range(threshold::min_max_parts(rows)),
                        Reduction::Histogram { lo, hi, integer } => {
                            Reduced::Counts(threshold::histogram_of_parts(rows, lo, hi, integer))
                        }
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
                if let Some(planes) = slots[dead.0].take() {
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

/// The part of `planes` a command reads: `rect` if it lies within them, all of them
/// for `None`.
fn part_of(planes: &Planes, rect: Option<Rect>) -> Result<Rect> {
    match rect {
        None => Ok(Rect::of(planes.shape)),
        Some(r) if r.fits(planes.shape) => Ok(r),
        Some(r) => Err(Error::usage(format!(
            "part {r:?} does not fit a {} window",
            planes.shape
        ))),
    }
}
