//! Programs on the GPU: the whole frame recorded into one encoder (upload, widen, every
//! op's dispatches, narrow, copies to one staging buffer, Otsu's value beside them),
//! submitted once and mapped once. The one exception is an automatic threshold other
//! than Otsu's (Li, triangle, ...): its value is picked on the host from reductions read
//! back in the middle of the frame, then the frame goes on in a fresh recording.

use super::program::Cmd;
use super::{Engine, Outcome, Program};
use crate::gpu::batch::Submitted;
use crate::gpu::convert::PackedImage;
use crate::gpu::{GpuContext, GpuImage, PendingReduction, PendingThreshold};
use crate::image::SampleType;
use crate::ops::{Op, Threshold};
use crate::Result;
use std::sync::Arc;

/// A GPU device as an [`Engine`].
#[derive(Clone, Debug)]
pub struct GpuEngine {
    ctx: GpuContext,
}

impl GpuEngine {
    /// The device memory a budget gives this adapter: a software adapter's memory is
    /// the host's; wgpu does not report a GPU's, so a default stands in.
    fn memory(&self, budget: &crate::budget::Budget) -> u64 {
        let software = self.ctx.adapter().device_type == "Cpu";
        budget.gpu_memory.unwrap_or(if software {
            budget.memory
        } else {
            crate::budget::DEFAULT_GPU_MEMORY
        })
    }

    /// The engine of a GPU context.
    pub fn new(ctx: GpuContext) -> Self {
        GpuEngine { ctx }
    }

    /// The context: device, pool, counters.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }
}

/// A submitted frame: where each result lands in its staging buffer.
pub struct GpuPending {
    submitted: Submitted,
    reads: Reads,
    outcome: Outcome<Arc<GpuImage>>,
}

/// What a recording reads back, and where each result lands in its staging buffer.
#[derive(Default)]
struct Reads {
    images: Vec<PackedImage>,
    thresholds: Vec<(usize, PendingThreshold)>,
    reductions: Vec<(usize, PendingReduction)>,
}

impl Reads {
    /// Moves every result into `outcome`, from the mapped staging bytes.
    fn read(self, mapped: &[u8], outcome: &mut Outcome<Arc<GpuImage>>) -> Result<()> {
        for p in &self.images {
            outcome.images.push(p.read(mapped)?);
        }
        for (i, t) in &self.thresholds {
            outcome.thresholds[*i] = Some(super::defined_threshold(t.read(mapped))?);
        }
        for (i, r) in &self.reductions {
            outcome.reduced[*i] = Some(r.read(mapped)?);
        }
        Ok(())
    }
}

impl GpuEngine {
    /// An automatic threshold of `src` other than Otsu's (which the GPU scans itself):
    /// each reduction [`crate::cpu::auto_threshold::resolve`] asks for is recorded, and
    /// what is recorded so far is submitted and read back (a host round trip in the
    /// middle of the frame, which the method's host step needs); recording goes on in a
    /// fresh batch.
    fn resolve_threshold(
        &self,
        batch: &mut crate::gpu::batch::Batch<'_>,
        reads: &mut Reads,
        out: &mut Outcome<Arc<GpuImage>>,
        src: &GpuImage,
        method: &Threshold,
    ) -> Result<f64> {
        let integer = crate::cpu::threshold::integer_levels(src.value_type());
        crate::cpu::auto_threshold::resolve(method, integer, &mut |r| {
            let pending = batch.reduce(src, r)?;
            let earlier = std::mem::take(reads);
            batch.submit_and_continue()?.wait(|mapped| {
                earlier.read(mapped, out)?;
                pending.read(mapped)
            })
        })
    }
}

impl GpuEngine {
    /// `expand_labels` of `src` by the CPU twin (see `gpu/expand.rs`): what is recorded
    /// so far is submitted with a copy of `src` to read back (the earlier reads land in
    /// `out`), and the frame goes on in a fresh recording from the uploaded result.
    fn expand_labels(
        &self,
        batch: &mut crate::gpu::batch::Batch<'_>,
        reads: &mut Reads,
        out: &mut Outcome<Arc<GpuImage>>,
        src: &GpuImage,
        e: &crate::ops::ExpandLabels,
    ) -> Result<GpuImage> {
        e.validate()?;
        let slot = batch.read_planes(src)?;
        let earlier = std::mem::take(reads);
        let read = batch.submit_and_continue()?.wait(|mapped| {
            earlier.read(mapped, out)?;
            Ok(slot.of(mapped).to_vec())
        })?;
        batch.expanded(src, &read, e)
    }
}

impl Engine for GpuEngine {
    type Frame = Arc<GpuImage>;
    type Pending = GpuPending;

    fn device_name(&self) -> String {
        self.ctx.name().to_string()
    }

    fn frame_bytes(frame: &Self::Frame) -> u64 {
        frame.gpu_bytes()
    }

    fn frame_value_type(frame: &Self::Frame) -> SampleType {
        frame.value_type()
    }

    fn plane_limit(&self, budget: &crate::budget::Budget) -> u64 {
        (self.memory(budget) / super::PLANES_PER_TILE).min(self.ctx.max_binding())
    }

    fn keep_limit(&self, budget: &crate::budget::Budget) -> u64 {
        budget.resident.unwrap_or(self.memory(budget) / 4)
    }

    fn prepare(&self, budget: &crate::budget::Budget) {
        // Free buffers kept for reuse count against the budget too.
        self.ctx
            .set_pool_limit((self.memory(budget) / 4).min(512 << 20));
    }

    fn submit(&self, program: Program<'_, Self::Frame>) -> Result<Self::Pending> {
        let deaths = program.deaths();
        let mut out = Outcome::new(program.len());
        let mut reads = Reads::default();
        let mut slots: Vec<Option<Arc<GpuImage>>> = vec![None; program.len()];
        let mut batch = self.ctx.batch("imflow.frame");
        for (i, cmd) in program.cmds.into_iter().enumerate() {
            let value = |s: super::Slot| slots[s.0].as_ref().expect("live until its last reader");
            let made = match cmd {
                Cmd::Upload {
                    image,
                    part,
                    value_type,
                    window,
                } => {
                    // The GPU takes whole rows of bytes: a part is cut out on the host.
                    let cut;
                    let image = match part {
                        Some(rect) => {
                            cut = image.crop(rect)?;
                            cut.view()
                        }
                        None => image,
                    };
                    let wire = crate::gpu::convert::wire_size(image.sample_type());
                    out.uploaded[i] = image.samples().len() as u64 * wire;
                    Some(Arc::new(batch.upload(image, value_type, window)?))
                }
                Cmd::Resident { frame } => Some(frame),
                Cmd::Apply { op, input } => {
                    let src = value(input);
                    op.check_shape(src.shape())?;
                    Some(Arc::new(match op {
                        Op::Gaussian(_)
                        | Op::Box(_)
                        | Op::Median(_)
                        | Op::Dog(_)
                        | Op::Log(_)
                        | Op::Gradient(_) => batch.filter(src, op)?,
                        Op::Label(l) => batch.label(src, l)?,
                        Op::RemoveSmall(r) => batch.remove_small(src, r)?,
                        Op::RemoveHoles(r) => batch.remove_holes(src, r)?,
                        Op::Distance(d) => batch.distance(src, d)?,
                        Op::FillHoles => batch.fill_holes(src)?,
                        Op::ClearBorder => batch.clear_border(src)?,
                        Op::ExpandLabels(e) => {
                            self.expand_labels(&mut batch, &mut reads, &mut out, src, e)?
                        }
                        Op::Erode(_)
                        | Op::Dilate(_)
                        | Op::Open(_)
                        | Op::Close(_)
                        | Op::Tophat(_)
                        | Op::Blackhat(_) => {
                            batch.morph(src, &op.morph().expect("a morphology op"))?
                        }
                        Op::Threshold(Threshold::Local { block, offset }) => {
                            batch.local_threshold(src, *block, *offset)?
                        }
                        Op::Threshold(t) => {
                            t.validate()?;
                            let fixed;
                            let t = if t.is_whole_frame() && !matches!(t, Threshold::Otsu) {
                                let value = self
                                    .resolve_threshold(&mut batch, &mut reads, &mut out, src, t)?;
                                fixed = Threshold::Value {
                                    value: super::defined_threshold(value)?,
                                };
                                &fixed
                            } else {
                                t
                            };
                            let (mask, pending) = batch.threshold(src, t)?;
                            if matches!(t, Threshold::Otsu) {
                                out.downloaded[i] = 4;
                            }
                            reads.thresholds.push((i, pending));
                            mask
                        }
                    }))
                }
                Cmd::Download { input, to, rect } => {
                    let src = value(input);
                    let packed = match rect.filter(|r| *r != crate::image::Rect::of(src.shape())) {
                        Some(r) => {
                            let part = batch.crop(src, r)?;
                            let packed = batch.download(&part, to)?;
                            batch.free(part.into_buffer());
                            packed
                        }
                        None => batch.download(src, to)?,
                    };
                    out.downloaded[i] = packed.slot.len;
                    reads.images.push(packed);
                    None
                }
                Cmd::Reduce {
                    input,
                    rect,
                    reduction,
                } => {
                    let src = value(input);
                    let part = match rect.filter(|r| *r != crate::image::Rect::of(src.shape())) {
                        Some(r) => Some(batch.crop(src, r)?),
                        None => None,
                    };
                    let of = part.as_ref().unwrap_or(src);
                    let pending = batch.reduce(of, reduction)?;
                    out.downloaded[i] = pending.bytes();
                    reads.reductions.push((i, pending));
                    if let Some(p) = part {
                        batch.free(p.into_buffer());
                    }
                    None
                }
                Cmd::OtsuScan {
                    counts,
                    lo,
                    hi,
                    integer,
                } => {
                    out.uploaded[i] = counts.len() as u64 * 4;
                    out.downloaded[i] = 4;
                    reads
                        .thresholds
                        .push((i, batch.otsu_scan(&counts, lo, hi, integer)?));
                    None
                }
                Cmd::Keep { input } => {
                    out.kept.push(Arc::clone(value(input)));
                    None
                }
            };
            slots[i] = made;
            for dead in &deaths[i] {
                if let Some(image) = slots[dead.0].take() {
                    batch.release(image);
                }
            }
        }
        Ok(GpuPending {
            submitted: batch.submit()?,
            reads,
            outcome: out,
        })
    }

    fn finish(&self, pending: Self::Pending) -> Result<Outcome<Self::Frame>> {
        let GpuPending {
            submitted,
            reads,
            mut outcome,
        } = pending;
        submitted.wait(|mapped| {
            reads.read(mapped, &mut outcome)?;
            Ok(outcome)
        })
    }
}
