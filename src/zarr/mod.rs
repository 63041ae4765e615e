//! OME-Zarr images in and out (NGFF 0.4 on Zarr v2, 0.5 on Zarr v3), through the
//! `zarrs` crate: a local `.zarr` folder or an object URL (`s3://bucket/img.zarr`, with a
//! store feature, through `zarrs_object_store` on the store's own clients).
//!
//! Reading takes level 0 of the first multiscale: its axes (`[t,][c,][z,]y,x`) map onto
//! imflow's images (Z, Y, X[, C], channels interleaved) with `t` as frames, and its
//! scale is the voxel size. Any box of it is read by ranged reads of the chunks (or the
//! inner chunks of shards) it touches, never the whole array.
//!
//! Writing makes NGFF 0.5 with sharding ([`write`]): one shard per object, each written
//! whole by exactly one writer; [`region`] splits an image's rows of shards over
//! processes.

mod local;
pub mod meta;
pub mod region;
pub mod write;

use crate::image::{Image, Rect, SampleType, Samples, Shape, VoxelSize};
use crate::store::Location;
use crate::{Error, Result};
pub use meta::{Axis, Multiscale};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zarrs::array::{Array, ArraySubset};
use zarrs::storage::{ReadableWritableListableStorage, StoreKey};

/// The storage behind a Zarr hierarchy: a folder, or a prefix of a bucket.
pub(crate) type Storage = ReadableWritableListableStorage;

pub use crate::inputs::is_zarr;

/// The storage of `location` (which must exist, for reading: checked by the metadata
/// reads that follow).
pub(crate) fn storage(path: &Path) -> Result<Storage> {
    match Location::of_path(path)? {
        Location::Local(p) => {
            let store = zarrs::filesystem::FilesystemStore::new(&p).map_err(|e| Error::Ngff {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            Ok(Arc::new(local::AtomicFolder::new(p, store)))
        }
        #[cfg(feature = "object-store-base")]
        Location::Object(url) => crate::store::object::zarr_storage(&url),
        #[cfg(not(feature = "object-store-base"))]
        Location::Object(url) => unreachable!("{url}: parsed only where the build reaches it"),
    }
}

/// The bytes at `key` of `storage`, if any.
pub(crate) fn get(storage: &Storage, path: &Path, key: &str) -> Result<Option<Vec<u8>>> {
    let k = StoreKey::new(key).map_err(|e| ngff(path, e))?;
    storage
        .get(&k)
        .map(|b| b.map(|b| b.to_vec()))
        .map_err(|e| ngff(path, format!("reading {key}: {e}")))
}

fn ngff(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Ngff {
        path: path.to_path_buf(),
        reason: why.to_string(),
    }
}

fn json(path: &Path, key: &str, bytes: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| ngff(&path.join(key), format!("not JSON: {e}")))
}

/// An OME-Zarr image opened for reading: its level 0, mapped onto imflow's model.
pub struct ZarrImage {
    /// As given (a folder or an object URL).
    path: PathBuf,
    array: Array<dyn zarrs::storage::ReadableWritableListableStorageTraits>,
    /// The multiscale metadata.
    pub meta: Multiscale,
    /// Each frame's shape (Z, Y, X, C).
    pub shape: Shape,
    /// Frames (the `t` axis, else 1).
    pub frames: u32,
    /// The sample type.
    pub sample_type: SampleType,
    /// The voxel size the scale gives.
    pub voxel: VoxelSize,
    /// Level 0's chunk grid (shard) shape, in the array's axis order.
    pub chunks: Vec<u64>,
    /// Level 0's Zarr metadata as stored (part of what the image is).
    pub array_json: Vec<u8>,
    /// The group's attributes as stored.
    pub attributes: serde_json::Value,
}

impl std::fmt::Debug for ZarrImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrImage")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .field("frames", &self.frames)
            .field("sample_type", &self.sample_type)
            .finish()
    }
}

impl ZarrImage {
    /// Opens the image at `path` (a folder or an object URL): reads its group metadata
    /// and level 0's array metadata, and checks both against imflow's model. Every error
    /// names the image (and where it is one, the metadata file).
    pub fn open(path: &Path) -> Result<ZarrImage> {
        let storage = storage(path)?;
        // Zarr v3 first (NGFF 0.5), then v2 (NGFF 0.4).
        let (attributes, version) = if let Some(b) = get(&storage, path, "zarr.json")? {
            let group = json(path, "zarr.json", &b)?;
            if group.get("node_type").and_then(|v| v.as_str()) != Some("group") {
                return Err(ngff(
                    &path.join("zarr.json"),
                    "not a group (an OME-Zarr image is a group holding its levels)",
                ));
            }
            (group.get("attributes").cloned().unwrap_or_default(), 3)
        } else if let Some(b) = get(&storage, path, ".zattrs")? {
            (json(path, ".zattrs", &b)?, 2)
        } else {
            return Err(ngff(
                path,
                "neither zarr.json (NGFF 0.5) nor .zattrs (NGFF 0.4) found: not an OME-Zarr image",
            ));
        };
        let meta = Multiscale::parse(&attributes).map_err(|e| {
            ngff(
                &path.join(if version == 3 { "zarr.json" } else { ".zattrs" }),
                e,
            )
        })?;
        let level = meta.path.trim_matches('/').to_string();
        let array_key = if version == 3 {
            format!("{level}/zarr.json")
        } else {
            format!("{level}/.zarray")
        };
        let array_json = get(&storage, path, &array_key)?.ok_or_else(|| {
            ngff(
                &path.join(&array_key),
                "level 0's array metadata is missing",
            )
        })?;
        let array_meta = json(path, &array_key, &array_json)?;
        let dtype = array_meta
            .get(if version == 3 { "data_type" } else { "dtype" })
            .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string))
            .unwrap_or_default();
        let sample_type = meta::sample_type(&dtype).ok_or_else(|| {
            ngff(
                &path.join(&array_key),
                format!(
                    "data type `{dtype}`: imflow processes uint8, uint16, uint32, int8, int16, int32, float32 and float64"
                ),
            )
        })?;
        let array = Array::open(storage, &format!("/{level}")).map_err(|e| {
            let hint = if e.to_string().contains("blosc") {
                " (Blosc needs imflow's `ome-zarr-blosc` feature)"
            } else {
                ""
            };
            ngff(&path.join(&array_key), format!("{e}{hint}"))
        })?;
        let dims = array.shape().to_vec();
        if dims.len() != meta.axes.len() {
            return Err(ngff(
                &path.join(&array_key),
                format!(
                    "level 0 has {} dimensions but the multiscale names {} axes",
                    dims.len(),
                    meta.axes.len()
                ),
            ));
        }
        let at = |a| meta.index(a).map_or(Ok(1), |i| u32::try_from(dims[i]));
        let too_big = |_| ngff(path, format!("shape {dims:?} is too large"));
        let (t, c, z, y, x) = (
            at(Axis::T).map_err(too_big)?,
            at(Axis::C).map_err(too_big)?,
            at(Axis::Z).map_err(too_big)?,
            at(Axis::Y).map_err(too_big)?,
            at(Axis::X).map_err(too_big)?,
        );
        let shape = Shape::volume(x, y, z, c).map_err(|e| e.at(path))?;
        let chunks = array
            .chunk_shape(&vec![0; dims.len()])
            .map_err(|e| ngff(path, e))?
            .iter()
            .map(|n| n.get())
            .collect();
        Ok(ZarrImage {
            path: path.to_path_buf(),
            voxel: meta.voxel(),
            array,
            meta,
            shape,
            frames: t,
            sample_type,
            chunks,
            array_json,
            attributes,
        })
    }

    /// As given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The chunk (shard) grid's extent along `axis` (1 for an absent axis).
    pub fn chunk(&self, axis: Axis) -> u64 {
        self.meta.index(axis).map_or(1, |i| self.chunks[i])
    }

    /// The inner chunk shape of a sharded level 0 (Zarr v3's `sharding_indexed`), in
    /// the array's axis order; `None` for an array that is not sharded.
    pub fn inner_chunks(&self) -> Option<Vec<u64>> {
        let meta: serde_json::Value = serde_json::from_slice(&self.array_json).ok()?;
        let codec = meta.get("codecs")?.as_array()?.first()?;
        if codec.get("name")?.as_str()? != "sharding_indexed" {
            return None;
        }
        let shape = codec.get("configuration")?.get("chunk_shape")?.as_array()?;
        shape.iter().map(serde_json::Value::as_u64).collect()
    }

    /// The box `part` (frame coordinates: columns, rows, slices) of frame `t`, every
    /// channel: read by ranged reads of the chunks it touches.
    pub fn read(&self, t: u32, part: Rect) -> Result<Image> {
        if t >= self.frames || !part.fits(self.shape) {
            return Err(ngff(
                &self.path,
                format!("box {part:?} of frame {t} lies outside the image"),
            ));
        }
        let ranges: Vec<std::ops::Range<u64>> = (self.meta.axes.iter())
            .map(|a| {
                let (at, len) = match a {
                    Axis::T => (t, 1),
                    Axis::C => (0, self.shape.channels),
                    Axis::Z => (part.z, part.depth),
                    Axis::Y => (part.y, part.height),
                    Axis::X => (part.x, part.width),
                };
                u64::from(at)..u64::from(at) + u64::from(len)
            })
            .collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        let err = |e: zarrs::array::ArrayError| ngff(&self.path, e);
        let samples = match self.sample_type {
            SampleType::U8 => Samples::U8(self.array.retrieve_array_subset(&subset).map_err(err)?),
            SampleType::U16 => {
                Samples::U16(self.array.retrieve_array_subset(&subset).map_err(err)?)
            }
            SampleType::U32 => {
                Samples::U32(self.array.retrieve_array_subset(&subset).map_err(err)?)
            }
            SampleType::I8 => Samples::I8(self.array.retrieve_array_subset(&subset).map_err(err)?),
            SampleType::I16 => {
                Samples::I16(self.array.retrieve_array_subset(&subset).map_err(err)?)
            }
            SampleType::I32 => {
                Samples::I32(self.array.retrieve_array_subset(&subset).map_err(err)?)
            }
            SampleType::F32 => {
                Samples::F32(self.array.retrieve_array_subset(&subset).map_err(err)?)
            }
            SampleType::F64 => {
                Samples::F64(self.array.retrieve_array_subset(&subset).map_err(err)?)
            }
        };
        let shape = part.shape(self.shape.channels);
        let samples = interleave(samples, shape.channels as usize);
        Image::with_shape(shape, samples).map_err(|e| e.at(&self.path))
    }

    /// Every frame, whole.
    pub fn read_all(&self) -> Result<Vec<Image>> {
        (0..self.frames)
            .map(|t| self.read(t, Rect::of(self.shape)))
            .collect()
    }
}

/// Planar channels (`c` before the space axes, as NGFF orders them) to interleaved (as
/// imflow's images hold them).
pub(crate) fn interleave(samples: Samples, channels: usize) -> Samples {
    // Sample i of the interleaved vector is channel i % c of pixel i / c.
    reorder(samples, channels, |i, plane, c| (i % c) * plane + i / c)
}

/// Interleaved channels to planar.
pub(crate) fn planar(samples: Samples, channels: usize) -> Samples {
    // Sample i of the planar vector is pixel i % plane of channel i / plane.
    reorder(samples, channels, |i, plane, c| (i % plane) * c + i / plane)
}

/// `out[i] = in[from(i, plane, channels)]`, for any sample type.
fn reorder(s: Samples, c: usize, from: impl Fn(usize, usize, usize) -> usize) -> Samples {
    if c <= 1 {
        return s;
    }
    fn go<T: Copy>(v: Vec<T>, c: usize, from: &dyn Fn(usize, usize, usize) -> usize) -> Vec<T> {
        let plane = v.len() / c;
        (0..v.len()).map(|i| v[from(i, plane, c)]).collect()
    }
    macro_rules! each {
        ($($v:ident),*) => {
            match s {
                $(Samples::$v(v) => Samples::$v(go(v, c, &from)),)*
            }
        };
    }
    each!(U8, U16, F32, I8, I16, I32, U32, F64)
}
