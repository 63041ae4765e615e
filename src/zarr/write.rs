//! Writing NGFF 0.5 (Zarr v3) with sharding: one level at `0`, shards of whole rows of
//! chunks (one frame, every channel and slice, `shard_y` rows by `shard_x` columns),
//! each put whole by one writer in one request (a shard written in parts by several
//! writers would lose some of them: the read-modify-write that Python stacks do then
//! corrupts silently). Every writer puts the same metadata, byte for byte.

use super::{ngff, Axis, Multiscale, Storage};
use crate::image::{Image, Rect, SampleType, Samples, Shape, VoxelSize};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zarrs::array::codec::ZstdCodec;
use zarrs::array::{Array, ArrayBuilder};
use zarrs::storage::StoreKey;

/// The zstd level of the shards' inner chunks (zarr-python's default codec, a light level).
const ZSTD_LEVEL: i32 = 3;

/// What an output image is: its axes, frames, frame shape, sample type, grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The axes, in order (`[t,][c,][z,]y,x`).
    pub axes: Vec<Axis>,
    /// Frames (the `t` axis; 1 without it).
    pub frames: u32,
    /// Each frame's shape.
    pub shape: Shape,
    /// The sample type.
    pub sample_type: SampleType,
    /// A shard's rows and columns.
    pub shard: (u32, u32),
    /// An inner chunk's rows and columns (dividing the shard's).
    pub inner: (u32, u32),
    /// The voxel size (the scale).
    pub voxel: Option<VoxelSize>,
    /// The unit of `t`, where known.
    pub time_unit: Option<String>,
}

impl Layout {
    /// The array's extent along each axis.
    fn dims(&self) -> Vec<u64> {
        self.per_axis(
            self.frames,
            (self.shape.height, self.shape.width),
            self.shape.depth,
        )
    }

    fn per_axis(&self, t: u32, (y, x): (u32, u32), z: u32) -> Vec<u64> {
        (self.axes.iter())
            .map(|a| match a {
                Axis::T => t,
                Axis::C => self.shape.channels,
                Axis::Z => z,
                Axis::Y => y,
                Axis::X => x,
            })
            .map(u64::from)
            .collect()
    }

    /// Shards along y and x.
    pub fn grid(&self) -> (u32, u32) {
        (
            self.shape.height.div_ceil(self.shard.0),
            self.shape.width.div_ceil(self.shard.1),
        )
    }
}

/// An NGFF 0.5 output being written.
pub struct ZarrOutput {
    path: PathBuf,
    storage: Storage,
    array: Array<dyn zarrs::storage::ReadableWritableListableStorageTraits>,
    layout: Layout,
}

impl ZarrOutput {
    /// Opens the output at `path` for writing, putting its group and array metadata
    /// (the same bytes whoever puts them, so concurrent writers agree).
    pub fn create(path: &Path, name: &str, layout: Layout) -> Result<ZarrOutput> {
        if !layout.axes.contains(&Axis::C) && layout.shape.channels > 1 {
            return Err(ngff(path, "channels without a `c` axis"));
        }
        let storage = super::storage(path)?;
        let err = |e: &dyn std::fmt::Display| ngff(path, e);
        let attrs = Multiscale::attributes_v05(
            name,
            &layout.axes,
            layout.voxel.as_ref(),
            layout.time_unit.as_deref(),
        );
        let group = serde_json::json!({
            "zarr_format": 3,
            "node_type": "group",
            "attributes": attrs,
        });
        let bytes = serde_json::to_vec_pretty(&group).expect("serialisable");
        let key = StoreKey::new("zarr.json").map_err(|e| err(&e))?;
        storage.set(&key, bytes.into()).map_err(|e| err(&e))?;
        let chunk = layout.per_axis(1, layout.shard, layout.shape.depth);
        let inner = layout.per_axis(1, layout.inner, layout.shape.depth);
        let names: Vec<&str> = layout.axes.iter().map(|a| a.name()).collect();
        macro_rules! builder {
            ($zero:expr) => {
                ArrayBuilder::new(
                    layout.dims(),
                    chunk,
                    super::meta::zarr_type(layout.sample_type),
                    $zero,
                )
            };
        }
        let mut b = match layout.sample_type {
            SampleType::U8 => builder!(0u8),
            SampleType::U16 => builder!(0u16),
            SampleType::U32 => builder!(0u32),
            SampleType::I8 => builder!(0i8),
            SampleType::I16 => builder!(0i16),
            SampleType::I32 => builder!(0i32),
            SampleType::F32 => builder!(0f32),
            SampleType::F64 => builder!(0f64),
        };
        b.subchunk_shape(inner)
            .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(ZSTD_LEVEL, false))])
            .dimension_names(Some(names));
        let array = b.build(Arc::clone(&storage), "/0").map_err(|e| err(&e))?;
        array.store_metadata().map_err(|e| err(&e))?;
        Ok(ZarrOutput {
            path: path.to_path_buf(),
            storage,
            array,
            layout,
        })
    }

    /// As given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The store key of shard (`t`, row `i`, column `j`), relative to the image.
    pub fn shard_key(&self, t: u32, i: u32, j: u32) -> String {
        let idx: Vec<String> = self
            .shard_indices(t, i, j)
            .iter()
            .map(u64::to_string)
            .collect();
        format!("0/c/{}", idx.join("/"))
    }

    fn shard_indices(&self, t: u32, i: u32, j: u32) -> Vec<u64> {
        (self.layout.axes.iter())
            .map(|a| match a {
                Axis::T => u64::from(t),
                Axis::Y => u64::from(i),
                Axis::X => u64::from(j),
                _ => 0,
            })
            .collect()
    }

    /// The size of a stored object (a shard), `None` where there is none (a shard all of
    /// the fill value is not stored).
    pub fn size_of(&self, key: &str) -> Result<Option<u64>> {
        let k = StoreKey::new(key).map_err(|e| ngff(&self.path, e))?;
        self.storage
            .size_key(&k)
            .map_err(|e| ngff(&self.path, format!("{key}: {e}")))
    }

    /// Writes every shard of shard row `i` of frame `t` from `band`, the frame's rows
    /// of that shard row (all columns, slices and channels), each shard whole.
    pub fn write_band(&self, t: u32, i: u32, band: &Image) -> Result<Vec<String>> {
        let l = &self.layout;
        let (sy, sx) = l.shard;
        let rows = sy.min(l.shape.height - i * sy);
        if band.shape()
            != (Shape {
                height: rows,
                ..l.shape
            })
            || band.sample_type() != l.sample_type
        {
            return Err(Error::encode(format!(
                "shard row {i}: a {} {} band for a {} {} image",
                band.shape(),
                band.sample_type(),
                l.shape,
                l.sample_type
            ))
            .at(&self.path));
        }
        let mut keys = Vec::new();
        for j in 0..l.grid().1 {
            let cols = sx.min(l.shape.width - j * sx);
            let part = band.crop(Rect {
                depth: l.shape.depth,
                ..Rect::area(j * sx, 0, cols, rows)
            })?;
            // A shard at the image's edge is stored whole too: padded with the fill value.
            let whole = Shape {
                width: sx,
                height: sy,
                ..part.shape()
            };
            let mut padded = Image::blank(whole, l.sample_type);
            padded.put_at((0, 0, 0), &part)?;
            let planar = super::planar(padded.into_samples(), l.shape.channels as usize);
            let at = self.shard_indices(t, i, j);
            let err = |e: zarrs::array::ArrayError| ngff(&self.path, format!("shard {at:?}: {e}"));
            match planar {
                Samples::U8(v) => self.array.store_chunk(&at, v),
                Samples::U16(v) => self.array.store_chunk(&at, v),
                Samples::U32(v) => self.array.store_chunk(&at, v),
                Samples::I8(v) => self.array.store_chunk(&at, v),
                Samples::I16(v) => self.array.store_chunk(&at, v),
                Samples::I32(v) => self.array.store_chunk(&at, v),
                Samples::F32(v) => self.array.store_chunk(&at, v),
                Samples::F64(v) => self.array.store_chunk(&at, v),
            }
            .map_err(err)?;
            keys.push(self.shard_key(t, i, j));
        }
        Ok(keys)
    }
}
