//! Compute pipelines, built once per context with explicit bind-group layouts and cached
//! by kernel. Binding 0 of every kernel is its uniform `Params`; the storage bindings
//! are listed here, and each kernel's override constants (tile and workgroup sizes) come
//! from its host module. The pipeline cache key is the kernel, which fixes its constants.
//! A unit test (`layout_tests`) checks all of it against the WGSL with naga.

use crate::shaders::Shader;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;

/// Whether a kernel only reads a storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    ReadWrite,
}
use Access::{Read, ReadWrite};

/// One entry point of one shader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    Unpack,
    Pack,
    GaussHorizontalTiled,
    GaussVerticalTiled,
    GaussHorizontalDirect,
    GaussVerticalDirect,
    BoxVertical,
    BoxHorizontal,
    ThresholdApply,
    MinMax,
    HistogramShared,
    HistogramGlobal,
    OtsuScanInteger,
    OtsuScanFloat,
    Crop,
    GaussIntVertical,
    GaussIntHorizontal,
    BoxIntVertical,
    BoxIntHorizontal,
    LabelInit,
    LabelUnite,
    LabelCompress,
    LabelFlag,
    ScanBlocks,
    ScanAdd,
    LabelWrite,
    ObjectsCount,
    ObjectsKeep,
    Antisym,
    SquareSum,
    Root,
    Median,
    MorphGrow,
    MorphFold,
    MorphDifference,
    DistanceRows,
    DistanceColumns,
    DistanceFinish,
    SegmentInit,
    SegmentUnite,
    SegmentCompress,
    SegmentTouch,
    SegmentWrite,
    LocalCompare,
    /// `shaders/pad.wgsl`: padding by a boundary mode.
    Pad,
    HolesInvert,
}

impl Kernel {
    pub fn shader(self) -> Shader {
        use Kernel::*;
        match self {
            Unpack | Pack => Shader::Convert,
            GaussHorizontalTiled
            | GaussVerticalTiled
            | GaussHorizontalDirect
            | GaussVerticalDirect => Shader::Gaussian,
            BoxVertical | BoxHorizontal => Shader::BoxBlur,
            ThresholdApply | MinMax | HistogramShared | HistogramGlobal | OtsuScanInteger
            | OtsuScanFloat => Shader::Threshold,
            Crop => Shader::Window,
            GaussIntVertical | GaussIntHorizontal => Shader::GaussianInt,
            BoxIntVertical | BoxIntHorizontal => Shader::BoxInt,
            LabelInit | LabelUnite | LabelCompress | LabelFlag | ScanBlocks | ScanAdd
            | LabelWrite | ObjectsCount | ObjectsKeep => Shader::Label,
            Median | MorphGrow | MorphFold | MorphDifference => Shader::Rank,
            Antisym | SquareSum | Root => Shader::Derivative,
            DistanceRows | DistanceColumns | DistanceFinish => Shader::Distance,
            SegmentInit | SegmentUnite | SegmentCompress | SegmentTouch | SegmentWrite => {
                Shader::Segment
            }
            LocalCompare => Shader::Local,
            Pad => Shader::Pad,
            HolesInvert => Shader::Holes,
        }
    }

    pub fn entry_point(self) -> &'static str {
        use Kernel::*;
        match self {
            Unpack => "unpack",
            Pack => "pack",
            GaussHorizontalTiled => "horizontal_tiled",
            GaussVerticalTiled => "vertical_tiled",
            GaussHorizontalDirect => "horizontal_direct",
            GaussVerticalDirect => "vertical_direct",
            BoxVertical => "vertical",
            BoxHorizontal => "horizontal",
            ThresholdApply => "apply",
            MinMax => "min_max",
            HistogramShared => "histogram_shared",
            HistogramGlobal => "histogram_global",
            OtsuScanInteger => "otsu_scan_integer",
            OtsuScanFloat => "otsu_scan_float",
            Crop => "crop",
            GaussIntVertical | BoxIntVertical => "vertical",
            GaussIntHorizontal | BoxIntHorizontal => "horizontal",
            LabelInit => "init",
            LabelUnite => "unite_neighbours",
            LabelCompress => "compress",
            LabelFlag => "flag",
            ScanBlocks => "scan_blocks",
            ScanAdd => "scan_add",
            LabelWrite => "write_labels",
            ObjectsCount => "count",
            ObjectsKeep => "keep",
            Median => "median",
            MorphGrow => "grow",
            MorphFold => "fold",
            MorphDifference => "difference",
            Antisym => "antisym",
            SquareSum => "square_sum",
            Root => "root",
            DistanceRows => "rows",
            DistanceColumns => "columns",
            DistanceFinish => "finish",
            SegmentInit => "init",
            SegmentUnite => "unite_neighbours",
            SegmentCompress => "compress",
            SegmentTouch => "touch",
            SegmentWrite => "write",
            LocalCompare => "compare",
            Pad => "pad",
            HolesInvert => "invert",
        }
    }

    /// Storage bindings, by binding number.
    pub fn storage(self) -> &'static [(u32, Access)] {
        use Kernel::*;
        match self {
            Unpack | Pack | BoxVertical | BoxHorizontal | Crop | BoxIntVertical
            | BoxIntHorizontal | Median | MorphDifference | SquareSum | LocalCompare | Pad
            | HolesInvert => &[(1, Read), (2, ReadWrite)],
            Antisym => &[(1, Read), (2, ReadWrite), (3, Read)],
            Root => &[(2, ReadWrite)],
            MorphGrow => &[(1, Read), (4, ReadWrite)],
            MorphFold => &[(2, ReadWrite), (3, Read), (4, ReadWrite)],
            GaussHorizontalTiled
            | GaussVerticalTiled
            | GaussHorizontalDirect
            | GaussVerticalDirect
            | GaussIntVertical
            | GaussIntHorizontal => &[(1, Read), (2, ReadWrite), (3, Read)],
            ThresholdApply => &[(1, Read), (2, ReadWrite), (3, ReadWrite)],
            MinMax => &[(1, Read), (3, ReadWrite)],
            HistogramShared | HistogramGlobal => &[(1, Read), (3, ReadWrite), (4, ReadWrite)],
            OtsuScanInteger | OtsuScanFloat => &[(3, ReadWrite), (4, ReadWrite)],
            LabelInit | LabelUnite => &[(1, Read), (3, ReadWrite)],
            LabelCompress => &[(3, ReadWrite)],
            LabelFlag => &[(3, ReadWrite), (4, ReadWrite)],
            ScanBlocks | ScanAdd => &[(4, ReadWrite)],
            LabelWrite => &[(2, ReadWrite), (3, ReadWrite), (4, ReadWrite)],
            ObjectsCount => &[(1, Read), (3, ReadWrite), (5, ReadWrite)],
            ObjectsKeep => &[(1, Read), (2, ReadWrite), (3, ReadWrite), (5, ReadWrite)],
            DistanceRows => &[(1, Read), (3, ReadWrite)],
            DistanceColumns => &[
                (3, ReadWrite),
                (4, ReadWrite),
                (5, ReadWrite),
                (6, ReadWrite),
            ],
            DistanceFinish => &[(2, ReadWrite), (3, ReadWrite)],
            SegmentInit | SegmentCompress => &[(3, ReadWrite)],
            SegmentUnite => &[(1, Read), (3, ReadWrite)],
            SegmentTouch => &[(1, Read), (3, ReadWrite), (4, ReadWrite)],
            SegmentWrite => &[(1, Read), (2, ReadWrite), (3, ReadWrite), (4, ReadWrite)],
        }
    }

    /// The values of the shader's override constants (tile and workgroup sizes), from
    /// the host module that dispatches the kernel.
    pub fn constants(self) -> &'static [(&'static str, f64)] {
        use Kernel::*;
        match self {
            Unpack | Pack => super::convert::CONSTANTS,
            GaussHorizontalTiled
            | GaussVerticalTiled
            | GaussHorizontalDirect
            | GaussVerticalDirect => super::gaussian::CONSTANTS,
            BoxVertical | BoxHorizontal => super::box_blur::CONSTANTS,
            ThresholdApply | MinMax | HistogramShared | HistogramGlobal | OtsuScanInteger
            | OtsuScanFloat => super::threshold::CONSTANTS,
            Crop => super::window::CONSTANTS,
            GaussIntVertical | GaussIntHorizontal | BoxIntVertical | BoxIntHorizontal => {
                super::scipy_int::CONSTANTS
            }
            LabelInit | LabelUnite | LabelCompress | LabelFlag | ScanBlocks | ScanAdd
            | LabelWrite | ObjectsCount | ObjectsKeep => super::label::CONSTANTS,
            Median | MorphGrow | MorphFold | MorphDifference => super::rank::CONSTANTS,
            Antisym | SquareSum | Root => super::derivative::CONSTANTS,
            DistanceRows | DistanceColumns | DistanceFinish => super::distance::CONSTANTS,
            SegmentInit | SegmentUnite | SegmentCompress | SegmentTouch | SegmentWrite => {
                super::segment::CONSTANTS
            }
            LocalCompare => super::local::CONSTANTS,
            Pad => super::pad::CONSTANTS,
            HolesInvert => super::holes::CONSTANTS,
        }
    }

    /// Size in bytes of the host's `Params` struct for this kernel.
    #[cfg(test)]
    pub fn params_size(self) -> usize {
        use Kernel::*;
        match self {
            Unpack | Pack => std::mem::size_of::<super::convert::Params>(),
            GaussHorizontalTiled
            | GaussVerticalTiled
            | GaussHorizontalDirect
            | GaussVerticalDirect => std::mem::size_of::<super::gaussian::Params>(),
            BoxVertical | BoxHorizontal => std::mem::size_of::<super::box_blur::Params>(),
            ThresholdApply | MinMax | HistogramShared | HistogramGlobal | OtsuScanInteger
            | OtsuScanFloat => std::mem::size_of::<super::threshold::Params>(),
            Crop => std::mem::size_of::<super::window::Params>(),
            GaussIntVertical | GaussIntHorizontal => {
                std::mem::size_of::<super::scipy_int::GaussParams>()
            }
            BoxIntVertical | BoxIntHorizontal => std::mem::size_of::<super::scipy_int::BoxParams>(),
            LabelInit | LabelUnite | LabelCompress | LabelFlag | ScanBlocks | ScanAdd
            | LabelWrite | ObjectsCount | ObjectsKeep => {
                std::mem::size_of::<super::label::Params>()
            }
            Median | MorphGrow | MorphFold | MorphDifference => {
                std::mem::size_of::<super::rank::Params>()
            }
            Antisym | SquareSum | Root => std::mem::size_of::<super::derivative::Params>(),
            DistanceRows | DistanceColumns | DistanceFinish => {
                std::mem::size_of::<super::distance::Params>()
            }
            SegmentInit | SegmentUnite | SegmentCompress | SegmentTouch | SegmentWrite => {
                std::mem::size_of::<super::segment::Params>()
            }
            LocalCompare => std::mem::size_of::<super::local::Params>(),
            Pad => std::mem::size_of::<super::pad::Params>(),
            HolesInvert => std::mem::size_of::<super::holes::Params>(),
        }
    }

    /// Every kernel.
    #[cfg(test)]
    pub const ALL: [Kernel; 46] = [
        Kernel::Unpack,
        Kernel::Pack,
        Kernel::GaussHorizontalTiled,
        Kernel::GaussVerticalTiled,
        Kernel::GaussHorizontalDirect,
        Kernel::GaussVerticalDirect,
        Kernel::BoxVertical,
        Kernel::BoxHorizontal,
        Kernel::ThresholdApply,
        Kernel::MinMax,
        Kernel::HistogramShared,
        Kernel::HistogramGlobal,
        Kernel::OtsuScanInteger,
        Kernel::OtsuScanFloat,
        Kernel::Crop,
        Kernel::GaussIntVertical,
        Kernel::GaussIntHorizontal,
        Kernel::BoxIntVertical,
        Kernel::BoxIntHorizontal,
        Kernel::LabelInit,
        Kernel::LabelUnite,
        Kernel::LabelCompress,
        Kernel::LabelFlag,
        Kernel::ScanBlocks,
        Kernel::ScanAdd,
        Kernel::LabelWrite,
        Kernel::ObjectsCount,
        Kernel::ObjectsKeep,
        Kernel::Antisym,
        Kernel::SquareSum,
        Kernel::Root,
        Kernel::Median,
        Kernel::MorphGrow,
        Kernel::MorphFold,
        Kernel::MorphDifference,
        Kernel::DistanceRows,
        Kernel::DistanceColumns,
        Kernel::DistanceFinish,
        Kernel::SegmentInit,
        Kernel::SegmentUnite,
        Kernel::SegmentCompress,
        Kernel::SegmentTouch,
        Kernel::SegmentWrite,
        Kernel::LocalCompare,
        Kernel::Pad,
        Kernel::HolesInvert,
    ];

    /// `imflow.<shader>.<entry>`, the label of the pipeline and its errors.
    pub fn label(self) -> String {
        format!(
            "imflow.{}.{}",
            self.shader().file_name().trim_end_matches(".wgsl"),
            self.entry_point()
        )
    }
}

#[derive(Clone)]
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

#[derive(Default)]
pub(crate) struct Pipelines {
    modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Kernel, Pipeline>>,
}

impl Pipelines {
    /// The pipeline for `kernel`, built on first use. Shader compilation and pipeline
    /// creation run inside an error scope, so a driver's refusal is an error, not a panic.
    pub fn get(
        &self,
        device: &wgpu::Device,
        f64_available: bool,
        kernel: Kernel,
    ) -> Result<Pipeline> {
        if let Some(p) = self
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&kernel)
        {
            return Ok(p.clone());
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
            let shader = kernel.shader();
            modules
                .entry(shader)
                .or_insert_with(|| {
                    device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(&format!("imflow.{}", shader.file_name())),
                        source: wgpu::ShaderSource::Wgsl(
                            shader.compiled_source(f64_available).into(),
                        ),
                    })
                })
                .clone()
        };
        let label = kernel.label();
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }];
        entries.extend(kernel.storage().iter().map(|&(binding, access)| {
            wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: access == Access::Read,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }
        }));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&label),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(kernel.entry_point()),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: kernel.constants(),
                ..Default::default()
            },
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::gpu(label, e.to_string()));
        }
        let p = Pipeline { pipeline, layout };
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(kernel, p.clone());
        Ok(p)
    }
}
