//! Running a chain of ops on one image with either backend.

use crate::cpu;
use crate::gpu::GpuContext;
use crate::image::{Image, SampleType};
use crate::ops::Op;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which implementation runs the kernels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The GPU if an adapter exists, else the CPU (with a one-line notice).
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
            Backend::Auto => match GpuContext::new() {
                Ok(ctx) => Ok((Some(ctx), None)),
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

enum Engine {
    Cpu,
    Gpu(GpuContext),
}

/// Runs op chains on a chosen backend.
pub struct Processor {
    engine: Engine,
    notice: Option<String>,
}

impl Processor {
    /// A processor for `backend`. `Auto` without an adapter gives the CPU, and
    /// [`Processor::notice`] says so.
    pub fn new(backend: Backend) -> Result<Self> {
        let (gpu, notice) = backend.resolve()?;
        Ok(Processor {
            engine: gpu.map_or(Engine::Cpu, Engine::Gpu),
            notice,
        })
    }

    /// The CPU twins.
    pub fn cpu() -> Self {
        Processor {
            engine: Engine::Cpu,
            notice: None,
        }
    }

    /// A GPU context the caller made.
    pub fn gpu(ctx: GpuContext) -> Self {
        Processor {
            engine: Engine::Gpu(ctx),
            notice: None,
        }
    }

    /// Why `Auto` fell back to the CPU, if it did.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The GPU context, when running on one.
    pub fn gpu_context(&self) -> Option<&GpuContext> {
        match &self.engine {
            Engine::Gpu(c) => Some(c),
            Engine::Cpu => None,
        }
    }

    /// `cpu`, or the adapter's name.
    pub fn device_name(&self) -> String {
        match &self.engine {
            Engine::Cpu => "cpu".into(),
            Engine::Gpu(c) => c.adapter().name.clone(),
        }
    }

    /// Applies `ops` in order. On the GPU that is one upload, the ops on resident
    /// buffers, and one download.
    pub fn run(&self, image: &Image, ops: &[Op], output: OutputType) -> Result<Processed> {
        for op in ops {
            op.validate()?;
        }
        match &self.engine {
            Engine::Cpu => {
                let mut planes = cpu::convert::to_planes(image);
                let mut thresholds = Vec::new();
                for op in ops {
                    let (next, t) = cpu::apply(&planes, op);
                    planes = next;
                    thresholds.extend(t);
                }
                let to = output.resolve(image.sample_type(), planes.value_type);
                Ok(Processed {
                    image: cpu::convert::to_image(&planes, to),
                    thresholds,
                })
            }
            Engine::Gpu(ctx) => {
                let mut current = ctx.upload(image)?;
                let mut pending = Vec::new();
                for op in ops {
                    let (next, t) = ctx.apply(&current, op)?;
                    current = next;
                    pending.extend(t);
                }
                let to = output.resolve(image.sample_type(), current.value_type());
                let out = ctx.download(&current, to)?;
                let thresholds = pending.iter().map(|t| t.value()).collect::<Result<_>>()?;
                Ok(Processed {
                    image: out,
                    thresholds,
                })
            }
        }
    }
}
