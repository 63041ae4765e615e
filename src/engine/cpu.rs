//! Programs on the CPU twins: f32 planes in RAM, one op after another, each value freed
//! after its last reader. Submitting runs the program; there is nothing to wait for.

use super::program::{Cmd, Reduced, Reduction};
use super::{Engine, Outcome, Program};
use crate::cpu::{self, threshold, Planes};
use crate::image::SampleType;
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
        budget.memory / super::PLANES_PER_TILE
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
                    value_type,
                    window,
                } => {
                    let mut p = cpu::convert::to_planes_view(image);
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
                    let image = match rect {
                        Some(r) if r.fits(v.shape) => cpu::convert::to_image_rect(v, r, to),
                        Some(r) => cpu::convert::to_image(&checked_crop(v, r)?, to),
                        None => cpu::convert::to_image(v, to),
                    };
                    out.images.push(image);
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
                    let part;
                    let data = match rect {
                        Some(r) => {
                            part = checked_crop(v, r)?;
                            &part.data
                        }
                        None => &v.data,
                    };
                    out.reduced[i] = Some(match reduction {
                        Reduction::MinMax => Reduced::Range(threshold::min_max(data)),
                        Reduction::Histogram { lo, hi, integer } => {
                            Reduced::Counts(threshold::histogram_of(data, lo, hi, integer))
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
                slots[dead.0] = None;
            }
        }
        Ok(out)
    }

    fn finish(&self, pending: Self::Pending) -> Result<Outcome<Self::Frame>> {
        Ok(pending)
    }
}

/// The part `rect` of `planes`, if it lies within them.
fn checked_crop(planes: &Planes, rect: crate::image::Rect) -> Result<Planes> {
    if !rect.fits(planes.shape) {
        return Err(Error::usage(format!(
            "crop {rect:?} does not fit a {} window",
            planes.shape
        )));
    }
    Ok(planes.crop(rect))
}
