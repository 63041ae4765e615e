//! An OME-Zarr image processed by region, across processes: `imflow run --shard K/N
//! --format ome-zarr` over the same image and store in N processes (a Slurm array, an
//! Indexed Job), each taking a disjoint set of the output's rows of shards, reading those
//! rows and their halo (ranged reads of the chunks they touch), writing its shards whole,
//! and recording each part it wrote. Together they write what one process would, bit
//! for bit: kernels reflect at the image's edges, not the part's (see
//! [`crate::Processor::run_part`]).
//!
//! Which ops split so: local filters (gaussian, box, a fixed threshold) and chains of
//! them. Ops that need the whole frame (Otsu's threshold, label, remove-small, measure)
//! do not: a process sees only its rows, and there is no reduction across processes
//! yet, so under `--shard` they are refused ([`Error::NotRegional`]); without `--shard`
//! one process reads each frame whole and writes every shard.
//!
//! Keys. The output folder is named `<stem>-<key16>.ome.zarr`, its key over the flow
//! (the ops' task keys), the output type and the source's identity: its URL or path,
//! level 0's Zarr metadata and the group's attributes; every process derives the same
//! name without reading the pixels. Each part's record (`<store>/parts/<key>.json`) is
//! keyed by content: the output's key, the part's rows, and the blake3 of the samples
//! it read (its rows and halo, decoded). A re-run reads each part's input again and
//! skips the parts whose record and shards are there; a part whose input changed is
//! computed again and its shards rewritten in place.

use super::write::{Layout, ZarrOutput};
use super::{Axis, ZarrImage};
use crate::backend::{OutputType, Processor};
use crate::engine::tiled::{RowSink, RowSource};
use crate::engine::Graph;
use crate::image::{Image, Rect};
use crate::key::{self, Key};
use crate::ops::Op;
use crate::shard::Shard;
use crate::store::Store;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the part record format.
const PART_VERSION: u32 = 1;

/// What one part (one frame's rows of shards) of an output is, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    /// The record format's version.
    pub version: u32,
    /// The part's key.
    pub key: Key,
    /// The output image (a folder or an object URL).
    pub output: PathBuf,
    /// The source image.
    pub source: PathBuf,
    /// The frame (`t`).
    pub frame: u32,
    /// The shard row.
    pub shard_row: u32,
    /// The rows of the frame it covers, `[start, end)`.
    pub rows: (u32, u32),
    /// The shards it wrote, each its key in the image and size (`None`: all fill
    /// value, so not stored).
    pub shards: Vec<(String, Option<u64>)>,
    /// When, in seconds since 1970.
    pub created_unix: u64,
}

/// What happened to one part in this run.
#[derive(Clone, Debug, Serialize)]
pub struct PartReport {
    /// The part's record.
    pub record: PartRecord,
    /// Whether it was computed (else its record and shards were there).
    pub computed: bool,
}

/// An OME-Zarr run over some images: the ops, the output type, the shard of the work.
pub struct RegionRun<'a> {
    /// Runs the ops.
    pub processor: &'a Processor,
    /// Where outputs and part records go.
    pub store: &'a Store,
    /// The chain.
    pub ops: &'a [Op],
    /// The output's sample type.
    pub output: OutputType,
    /// This process's share of the parts, `None`: all of them.
    pub shard: Option<Shard>,
    /// Recompute parts that are recorded.
    pub refresh: bool,
}

/// Samples of frame rows held in memory (a part and its halo), read as a frame's rows.
struct Window<'i> {
    image: &'i Image,
    /// The frame row of its first row.
    y: u32,
}

impl RowSource for Window<'_> {
    fn rows(&mut self, part: Rect) -> Result<Image> {
        self.image.crop(Rect {
            y: part.y - self.y,
            ..part
        })
    }
}

/// A part's tiles, placed into one band of its rows.
struct Band {
    part: Rect,
    image: Option<Image>,
}

impl RowSink for Band {
    fn put(&mut self, _band: Image) -> Result<()> {
        Err(Error::usage("a part's band takes tiles, with their places"))
    }

    fn put_tiles(&mut self, tiles: Vec<(Rect, Image)>) -> Result<()> {
        for (rect, tile) in tiles {
            let shape = self.part.shape(tile.shape().channels);
            let band = (self.image).get_or_insert_with(|| Image::blank(shape, tile.sample_type()));
            band.put_at((rect.x, rect.y - self.part.y, rect.z), &tile)?;
        }
        Ok(())
    }
}

impl RegionRun<'_> {
    /// The output of `source`: its path and layout, key and name.
    fn output_of(&self, img: &ZarrImage) -> Result<(Key, String, Layout)> {
        let to = Processor::output_type(self.ops, img.sample_type, self.output);
        let mut h = blake3::Hasher::new();
        h.update(b"imflow.ngff.output.v1\0");
        let chain =
            (self.ops.iter()).fold(Key::of_bytes(b"ngff.source"), |k, op| key::task(op, &[k]));
        for field in [
            img.path().to_string_lossy().as_bytes(),
            &img.array_json,
            &serde_json::to_vec(&img.attributes).expect("serialisable"),
            chain.as_bytes(),
            to.name().as_bytes(),
        ] {
            h.update(&(field.len() as u64).to_le_bytes());
            h.update(field);
        }
        let key = Key::of_hasher(&h);
        let stem = stem(img.path());
        let clamp = |v: u64, whole: u32| u32::try_from(v).unwrap_or(whole).clamp(1, whole.max(1));
        let shard = (
            clamp(img.chunk(Axis::Y), img.shape.height),
            clamp(img.chunk(Axis::X), img.shape.width),
        );
        // The source's inner chunks where it is sharded, else chunks of at most 256 x 256
        // that divide the shard.
        let source_inner = img.inner_chunks();
        let inner = |axis: Axis, s: u32| {
            let divides = |d: &u32| *d > 0 && s.is_multiple_of(*d);
            (img.meta.index(axis))
                .and_then(|i| source_inner.as_ref().map(|c| c[i]))
                .and_then(|c| u32::try_from(c).ok())
                .filter(divides)
                .unwrap_or_else(|| (1..=s).rev().find(|d| divides(d) && *d <= 256).unwrap_or(s))
        };
        let layout = Layout {
            axes: img.meta.axes.clone(),
            frames: img.frames,
            shape: img.shape,
            sample_type: to,
            shard,
            inner: (inner(Axis::Y, shard.0), inner(Axis::X, shard.1)),
            voxel: Some(img.voxel.clone()),
            time_unit: img.meta.time_unit.clone(),
        };
        Ok((key, format!("{stem}-{}.ome.zarr", key.short()), layout))
    }

    /// Runs this process's parts of `source`; the output's path and each part's report.
    pub fn run(&self, source: &Path) -> Result<(PathBuf, Vec<PartReport>)> {
        let img = ZarrImage::open(source)?;
        for op in self.ops {
            op.validate()?;
            op.check_input(img.sample_type)?;
            if self.shard.is_some_and(|s| s.count > 1) && (op.is_whole_frame() || op.wraps()) {
                return Err(Error::NotRegional {
                    op: op.name().to_string(),
                });
            }
        }
        let (out_key, name, layout) = self.output_of(&img)?;
        let out_path = self.store.out_dir().join(&name);
        let output = ZarrOutput::create(&out_path, stem(source).as_str(), layout.clone())?;
        let whole_frame = self.ops.iter().any(Op::is_whole_frame);
        let (bands, _) = layout.grid();
        let mut graph = Graph::chain(self.ops, img.sample_type);
        graph.outputs.push((graph.last(), layout.sample_type));
        let halo = graph.halo();
        let mut reports = Vec::new();
        for t in 0..img.frames {
            // A whole-frame op (one process only): the frame whole, once.
            let whole = match whole_frame {
                true => Some(
                    self.processor
                        .run(&img.read(t, Rect::of(img.shape))?, self.ops, self.output)?
                        .image,
                ),
                false => None,
            };
            for i in 0..bands {
                let global = u64::from(t) * u64::from(bands) + u64::from(i);
                if self
                    .shard
                    .is_some_and(|s| global % u64::from(s.count) != u64::from(s.index))
                {
                    continue;
                }
                let (h, sy) = (img.shape.height, layout.shard.0);
                let rows = (i * sy, (i * sy + sy).min(h));
                let part = Rect {
                    depth: img.shape.depth,
                    ..Rect::area(0, rows.0, img.shape.width, rows.1 - rows.0)
                };
                // The part's rows and halo (all of them for a whole-frame op).
                let (from, to) = match whole_frame {
                    true => (0, h),
                    false => (rows.0.saturating_sub(halo.y), (rows.1 + halo.y).min(h)),
                };
                let read = Rect {
                    depth: img.shape.depth,
                    ..Rect::area(0, from, img.shape.width, to - from)
                };
                let input = img.read(t, read)?;
                let part_key = part_key(&out_key, t, rows, from, &input);
                if !self.refresh {
                    if let Some(record) = self.recorded(&output, &part_key)? {
                        reports.push(PartReport {
                            record,
                            computed: false,
                        });
                        continue;
                    }
                }
                let band = match &whole {
                    Some(frame) => frame.crop(part)?,
                    None => {
                        let mut sink = Band { part, image: None };
                        self.processor.run_part(
                            img.shape,
                            img.sample_type,
                            &mut Window {
                                image: &input,
                                y: from,
                            },
                            self.ops,
                            layout.sample_type,
                            part,
                            &mut sink,
                        )?;
                        sink.image
                            .ok_or_else(|| Error::usage("a part produced no tiles"))?
                    }
                };
                drop(input);
                let keys = output.write_band(t, i, &band)?;
                let shards = keys
                    .into_iter()
                    .map(|k| Ok((k.clone(), output.size_of(&k)?)))
                    .collect::<Result<Vec<_>>>()?;
                let record = PartRecord {
                    version: PART_VERSION,
                    key: part_key,
                    output: out_path.clone(),
                    source: source.to_path_buf(),
                    frame: t,
                    shard_row: i,
                    rows,
                    shards,
                    created_unix: crate::store::now_unix(),
                };
                let bytes = serde_json::to_vec_pretty(&record).expect("serialisable");
                // A part written twice (a refresh, two runs at once) wrote the same
                // shards: the first record stands.
                self.store.create_part(&part_key, &bytes)?;
                reports.push(PartReport {
                    record,
                    computed: true,
                });
            }
        }
        Ok((out_path, reports))
    }

    /// The record of a part whose shards are all there with their recorded sizes.
    fn recorded(&self, output: &ZarrOutput, part: &Key) -> Result<Option<PartRecord>> {
        let Some(bytes) = self.store.read_part(part)? else {
            return Ok(None);
        };
        let path = self.store.part_path(part);
        let record: PartRecord = crate::store::parse_json(&path, &bytes)?;
        if record.version != PART_VERSION || record.key != *part {
            return Ok(None);
        }
        for (shard, size) in &record.shards {
            if output.size_of(shard)? != *size {
                log::warn!(
                    "{}: shard {shard} is missing or altered; part recomputed",
                    output.path().display()
                );
                return Ok(None);
            }
        }
        Ok(Some(record))
    }
}

/// A part's key: its output's, its frame and rows, and the samples it read from where.
fn part_key(output: &Key, t: u32, rows: (u32, u32), from: u32, input: &Image) -> Key {
    let mut h = blake3::Hasher::new();
    h.update(b"imflow.ngff.part.v1\0");
    h.update(output.as_bytes());
    for v in [t, rows.0, rows.1, from] {
        h.update(&v.to_le_bytes());
    }
    h.update(key::image_source(input).as_bytes());
    Key::of_hasher(&h)
}

/// An image's name without `.zarr` (and `.ome`).
fn stem(path: &Path) -> String {
    let text = path.to_string_lossy();
    let name = text
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("image");
    let name = name.strip_suffix(".zarr").unwrap_or(name);
    let name = name.strip_suffix(".ome").unwrap_or(name);
    match name {
        "" => "image".to_string(),
        n => n.to_string(),
    }
}
