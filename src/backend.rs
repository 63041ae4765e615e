//! Choosing a backend, and running a chain of ops on one image or stack with it.

use crate::budget::Budget;
use crate::engine::tiled::{self, Collect, RowSink, RowSource, Tiling};
use crate::engine::{CpuEngine, Engine, GpuEngine, Graph, Program, Slot, MAX_FRAMES_IN_FLIGHT};
use crate::gpu::GpuContext;
use crate::image::{Image, ImageView, SampleType};
use crate::io::Stack;
use crate::ops::Op;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Which implementation runs the kernels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A hardware GPU if one exists, else the CPU twins (with a one-line notice). A
    /// software adapter (llvmpipe) is passed over for the twins, which are faster on
    /// the same cores, unless `WGPU_ADAPTER_NAME` names it.
    #[default]
    Auto,
    /// The GPU, or an error if there is none.
    Gpu,
    /// The CPU twins.
    Cpu,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Backend::Auto),
            "gpu" => Ok(Backend::Gpu),
            "cpu" => Ok(Backend::Cpu),
            o => Err(format!("unknown backend `{o}` (expected auto, gpu or cpu)")),
        }
    }
}

impl Backend {
    /// The GPU to use, if any, and for `Auto` without a usable GPU the notice that says
    /// so (logged here at info; shown to people by whoever has them). `Gpu` without an
    /// adapter, and any other GPU failure, is an error.
    pub fn resolve(self) -> Result<(Option<GpuContext>, Option<String>)> {
        match self {
            Backend::Cpu => Ok((None, None)),
            Backend::Gpu => Ok((Some(GpuContext::new()?), None)),
            Backend::Auto => match GpuContext::for_auto(&crate::gpu::GpuOptions::from_env()) {
                Ok(Ok(ctx)) => Ok((Some(ctx), None)),
                Ok(Err(why)) => {
                    let notice = format!("running on the CPU twins: {why}");
                    log::info!("{notice}");
                    Ok((None, Some(notice)))
                }
                Err(e @ (Error::NoAdapter { .. } | Error::Device { .. })) => {
                    let notice = format!("no usable GPU ({e}); running on the CPU");
                    log::info!("{notice}");
                    Ok((None, Some(notice)))
                }
                Err(e) => Err(e),
            },
        }
    }
}

/// The sample type written out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputType {
    /// A mask stays u8; anything else gets the source's sample type (rounded, clamped).
    #[default]
    Same,
    /// This type.
    Exactly(SampleType),
}

impl OutputType {
    /// The concrete type for a source of type `source` whose values are now `value_type`.
    pub fn resolve(self, source: SampleType, value_type: SampleType) -> SampleType {
        match self {
            OutputType::Exactly(t) => t,
            OutputType::Same if value_type == SampleType::U8 && source != value_type => {
                SampleType::U8
            }
            // Labels: u32 levels, narrowed to u16 when they fit (see `narrow_labels`).
            OutputType::Same if value_type == SampleType::U32 => SampleType::U32,
            OutputType::Same => source,
        }
    }
}

/// The result of [`Processor::run`].
#[derive(Clone, Debug)]
pub struct Processed {
    /// The output image.
    pub image: Image,
    /// The threshold each threshold op used, in op order (Otsu's computed value, or the
    /// fixed one).
    pub thresholds: Vec<f64>,
}

enum Which {
    Cpu(CpuEngine),
    Gpu(GpuEngine),
}

/// Runs op chains on a chosen backend, one image or a stack of frames at a time, with no
/// cache. Each frame is one program: on the GPU one upload of the source's own samples,
/// the ops on resident buffers, one download, all in one submit; a stack's frames are
/// pipelined. A frame too large for one program (the GPU's binding limit, the memory
/// budget) runs in tiles, with the same result.
pub struct Processor {
    engine: Which,
    notice: Option<String>,
    budget: Budget,
}

impl Processor {
    /// A processor for `backend`. `Auto` without an adapter gives the CPU, and
    /// [`Processor::notice`] says so.
    pub fn new(backend: Backend) -> Result<Self> {
        let (gpu, notice) = backend.resolve()?;
        Ok(Processor {
            engine: gpu.map_or(Which::Cpu(CpuEngine), |c| Which::Gpu(GpuEngine::new(c))),
            notice,
            budget: Budget::default(),
        })
    }

    /// The CPU twins.
    pub fn cpu() -> Self {
        Processor {
            engine: Which::Cpu(CpuEngine),
            notice: None,
            budget: Budget::default(),
        }
    }

    /// A GPU context the caller made.
    pub fn gpu(ctx: GpuContext) -> Self {
        Processor {
            engine: Which::Gpu(GpuEngine::new(ctx)),
            notice: None,
            budget: Budget::default(),
        }
    }

    /// The memory budget and tile limits frames run within.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The memory budget and tile limits.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// How a frame of `shape` running `ops` is cut: one tile when it fits.
    pub fn tiling(&self, shape: crate::image::Shape, ops: &[Op]) -> Result<Tiling> {
        let mut graph = Graph::chain(ops, SampleType::F32);
        graph.outputs.push((graph.last(), SampleType::F32));
        match &self.engine {
            Which::Cpu(e) => {
                Tiling::for_engine(e, shape, graph.extent(shape.is_volume()), &self.budget)
            }
            Which::Gpu(e) => {
                Tiling::for_engine(e, shape, graph.extent(shape.is_volume()), &self.budget)
            }
        }
    }

    /// Why `Auto` fell back to the CPU, if it did.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The GPU context, when running on one.
    pub fn gpu_context(&self) -> Option<&GpuContext> {
        match &self.engine {
            Which::Gpu(e) => Some(e.context()),
            Which::Cpu(_) => None,
        }
    }

    /// `cpu`, or the adapter's name.
    pub fn device_name(&self) -> String {
        match &self.engine {
            Which::Cpu(e) => e.device_name(),
            Which::Gpu(e) => e.device_name(),
        }
    }

    /// Applies `ops` in order to one image.
    pub fn run(&self, image: &Image, ops: &[Op], output: OutputType) -> Result<Processed> {
        self.run_view(image.view(), ops, output)
    }

    /// [`Processor::run`] on borrowed samples (a numpy array's buffer, say): read where
    /// they lie, not copied first.
    pub fn run_view(
        &self,
        image: ImageView<'_>,
        ops: &[Op],
        output: OutputType,
    ) -> Result<Processed> {
        let mut out = self.run_views(&[image], ops, output)?;
        Ok(out.remove(0))
    }

    /// Applies `ops` to every frame of a stack (TIFF pages, GIF frames; Otsu per frame),
    /// frame k+1 recorded while frame k runs. The result keeps the stack's animation
    /// and format.
    pub fn run_stack(
        &self,
        stack: &Stack,
        ops: &[Op],
        output: OutputType,
    ) -> Result<(Stack, Vec<Vec<f64>>)> {
        let views: Vec<ImageView<'_>> = stack.frames.iter().map(Image::view).collect();
        let done = self.run_views(&views, ops, output)?;
        let (frames, thresholds) = done.into_iter().map(|p| (p.image, p.thresholds)).unzip();
        Ok((
            Stack {
                frames,
                animation: stack.animation.clone(),
                format: stack.format,
                voxel: stack.voxel.clone(),
            },
            thresholds,
        ))
    }

    /// Applies `ops` to each of `frames` (borrowed), frame k+1 recorded while frame k
    /// runs; a threshold op's value is each frame's own.
    pub fn run_views(
        &self,
        frames: &[ImageView<'_>],
        ops: &[Op],
        output: OutputType,
    ) -> Result<Vec<Processed>> {
        for op in ops {
            op.validate()?;
        }
        let Some(first) = frames.first() else {
            return Ok(Vec::new());
        };
        let tiling = self.tiling(first.shape(), ops)?;
        match &self.engine {
            Which::Cpu(e) => e.prepare(&self.budget),
            Which::Gpu(e) => e.prepare(&self.budget),
        }
        match (&self.engine, tiling.is_whole()) {
            (Which::Cpu(e), true) => run_frames(e, frames, ops, output),
            (Which::Gpu(e), true) => run_frames(e, frames, ops, output),
            (Which::Cpu(e), false) => frames
                .iter()
                .map(|f| run_tiled(e, *f, ops, output, &tiling))
                .collect(),
            (Which::Gpu(e), false) => frames
                .iter()
                .map(|f| run_tiled(e, *f, ops, output, &tiling))
                .collect(),
        }
    }

    /// Runs `ops` on a frame read band by band from `source` and hands the result to
    /// `sink` band by band: a frame that need never be whole in memory (a TIFF too large
    /// for it, streamed in and out). Returns the thresholds the threshold ops used.
    pub fn run_streamed(
        &self,
        shape: crate::image::Shape,
        source_type: SampleType,
        source: &mut dyn RowSource,
        ops: &[Op],
        to: SampleType,
        sink: &mut dyn RowSink,
    ) -> Result<Vec<f64>> {
        let tiling = self.tiling(shape, ops)?;
        let mut graph = Graph::chain(ops, source_type);
        graph.outputs.push((graph.last(), to));
        match &self.engine {
            Which::Cpu(e) => e.prepare(&self.budget),
            Which::Gpu(e) => e.prepare(&self.budget),
        }
        let out = match &self.engine {
            Which::Cpu(e) => tiled::run(e, &graph, shape, &tiling, &mut [source], &mut [sink])?,
            Which::Gpu(e) => tiled::run(e, &graph, shape, &tiling, &mut [source], &mut [sink])?,
        };
        Ok(thresholds_of(&graph, &out.thresholds))
    }

    /// Runs `ops` on the box `part` of a frame of `shape` (rows of it, say), read from
    /// `source` as full-width bands of the frame (the part and its halo), and hands the
    /// part's result to `sink` tile by tile, in frame coordinates. Kernels reflect at
    /// the frame's edges, not the part's, so the part equals that box of a whole-frame
    /// run bit for bit: processes that each run their own rows of one image together
    /// compute what one process would. Ops that need the whole frame (Otsu, labels)
    /// are refused with [`Error::NotRegional`].
    #[allow(clippy::too_many_arguments)]
    pub fn run_part(
        &self,
        shape: crate::image::Shape,
        source_type: SampleType,
        source: &mut dyn RowSource,
        ops: &[Op],
        to: SampleType,
        part: crate::image::Rect,
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        for op in ops {
            op.validate()?;
            if op.is_whole_frame() || op.wraps() {
                return Err(Error::NotRegional {
                    op: op.name().to_string(),
                });
            }
        }
        if !part.fits(shape) {
            return Err(Error::usage(format!(
                "part {part:?} lies outside the {shape} frame"
            )));
        }
        let tiling = Tiling {
            part: Some(part),
            ..self.tiling(shape, ops)?
        };
        let mut graph = Graph::chain(ops, source_type);
        graph.outputs.push((graph.last(), to));
        match &self.engine {
            Which::Cpu(e) => e.prepare(&self.budget),
            Which::Gpu(e) => e.prepare(&self.budget),
        }
        match &self.engine {
            Which::Cpu(e) => tiled::run(e, &graph, shape, &tiling, &mut [source], &mut [sink])?,
            Which::Gpu(e) => tiled::run(e, &graph, shape, &tiling, &mut [source], &mut [sink])?,
        };
        Ok(())
    }

    /// The output type `output` gives for `ops` on samples of `source`.
    pub fn output_type(ops: &[Op], source: SampleType, output: OutputType) -> SampleType {
        let values = ops.iter().fold(source, |t, op| op.output_type(t));
        output.resolve(source, values)
    }
}

/// The threshold ops' values, in op order.
fn thresholds_of(graph: &Graph<'_>, t: &[Option<f64>]) -> Vec<f64> {
    graph
        .nodes
        .iter()
        .zip(t)
        .filter(|(n, _)| {
            matches!(
                n,
                crate::engine::graph::Node::Op {
                    op: Op::Threshold(_),
                    ..
                }
            )
        })
        .filter_map(|(_, t)| *t)
        .collect()
}

/// One frame in tiles, collected back into an image.
fn run_tiled<E: Engine>(
    engine: &E,
    frame: ImageView<'_>,
    ops: &[Op],
    output: OutputType,
    tiling: &Tiling,
) -> Result<Processed> {
    let to = Processor::output_type(ops, frame.sample_type(), output);
    let mut graph = Graph::chain(ops, frame.sample_type());
    graph.outputs.push((graph.last(), to));
    let mut sink = Collect::new(frame.shape());
    let mut source = frame;
    let out = tiled::run(
        engine,
        &graph,
        frame.shape(),
        tiling,
        &mut [&mut source],
        &mut [&mut sink],
    )?;
    Ok(Processed {
        image: sink.into_image()?,
        thresholds: thresholds_of(&graph, &out.thresholds),
    })
}

fn run_frames<E: Engine>(
    engine: &E,
    frames: &[ImageView<'_>],
    ops: &[Op],
    output: OutputType,
) -> Result<Vec<Processed>> {
    let mut pending = VecDeque::new();
    let mut done = Vec::with_capacity(frames.len());
    let finish = |(p, slots): (E::Pending, Vec<Slot>)| -> Result<Processed> {
        let mut out = engine.finish(p)?;
        Ok(Processed {
            image: out.images.remove(0),
            thresholds: slots.iter().filter_map(|&s| out.threshold(s)).collect(),
        })
    };
    for frame in frames {
        let mut program = Program::new();
        let mut value = program.upload_view(*frame);
        let mut thresholds = Vec::new();
        for op in ops {
            value = program.apply(op, value)?;
            if matches!(op, Op::Threshold(_)) {
                thresholds.push(value);
            }
        }
        let values = program.value_type(value).unwrap_or(frame.sample_type());
        program.download(value, output.resolve(frame.sample_type(), values));
        pending.push_back((engine.submit(program)?, thresholds));
        if pending.len() >= MAX_FRAMES_IN_FLIGHT {
            done.push(finish(pending.pop_front().expect("non-empty"))?);
        }
    }
    for p in pending {
        done.push(finish(p)?);
    }
    Ok(done)
}
