//! imflow: image transforms as WGSL compute kernels on the GPU (wgpu), each with a CPU
//! twin of equal numerics.
pub mod backend;
pub mod cpu;
pub mod error;
pub mod gpu;
pub mod image;
pub mod io;
pub mod ops;
pub mod shaders;

pub use backend::{Backend, OutputType, Processed, Processor};
pub use error::{Error, Result};
pub use gpu::{GpuContext, GpuImage};
pub use image::{Image, SampleType, Samples, Shape};
pub use ops::{BoxBlur, Gaussian, Op, Threshold};
