//! imflow: image transforms as WGSL compute kernels on the GPU (through wgpu), each with
//! a CPU twin of equal numerics.
//!
//! Semantics are scipy's and scikit-image's: [`Gaussian`] is
//! `scipy.ndimage.gaussian_filter(mode='reflect')`, [`BoxBlur`] is `uniform_filter`,
//! [`Threshold::Otsu`] is `skimage.filters.threshold_otsu` followed by `x > t`.
//!
//! # Getting started
//!
//! ```
//! use imflow::{Backend, Image, Op, OutputType, Processor, SampleType, Samples};
//!
//! # fn main() -> imflow::Result<()> {
//! // A 16-bit image: a bright square on a dim background.
//! let (w, h) = (64, 48);
//! let pixels = (0..w * h).map(|i| if (i % w) > 20 && (i / w) > 10 { 3000 } else { 400 }).collect();
//! let image = Image::gray(w, h, Samples::U16(pixels))?;
//!
//! // Denoise, then segment with Otsu's threshold. On the GPU the image is uploaded once
//! // as u16, both ops run on resident buffers, and the mask comes back as u8.
//! let ops = [Op::parse("gaussian:sigma=2")?, Op::parse("threshold:method=otsu")?];
//! let processor = Processor::new(Backend::Auto)?; // the GPU if there is one, else the CPU
//! let out = processor.run(&image, &ops, OutputType::Same)?;
//!
//! assert_eq!(out.image.sample_type(), SampleType::U8);
//! assert!(out.thresholds[0] > 400.0 && out.thresholds[0] < 3000.0);
//! # Ok(())
//! # }
//! ```
//!
//! For folders of files with cached, verified results, build a [`Flow`] and run it with
//! an [`Executor`] over a [`Store`]: re-runs reuse every output whose file still hashes
//! to its record, and a run with nothing to compute never opens the GPU. Files:
//! [`io::load_stack`] and [`io::encode_stack`] (TIFF pages, GIF frames, PNG, JPEG);
//! folders and globs: [`inputs::expand`].
//!
//! Underneath, both run on one [`engine`]: a frame's chain is recorded as a
//! [`engine::Program`] and executed by the CPU twins ([`cpu`]) or the GPU ([`gpu`], one
//! submit and one map per frame). [`GpuContext`] also exposes single kernels on
//! resident images ([`GpuContext::upload`], [`GpuContext::apply`],
//! [`GpuContext::download`]) and the counters that prove what crossed the bus.

pub mod apply;
pub mod backend;
pub mod budget;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod executor;
pub mod flow;
pub mod flowfile;
pub mod gpu;
pub mod image;
pub mod inputs;
pub mod io;
pub mod key;
pub mod measure;
pub mod ops;
pub mod shaders;
pub mod shard;
pub mod store;
#[cfg(feature = "ome-zarr")]
pub mod zarr;

pub use backend::{Backend, OutputType, Processed, Processor};
pub use error::{Error, Result};
pub use executor::{Executor, RunOptions, RunReport, Status};
pub use flow::{Flow, NodeId};
pub use gpu::{GpuContext, GpuImage, GpuStats};
pub use image::{Image, ImageView, SampleType, Samples, SamplesRef, Shape, VoxelSize};
pub use ops::{BoxBlur, Gaussian, IntMode, Op, Threshold};
pub use store::Store;
