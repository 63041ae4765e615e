//! Whole-frame ops in tiled frames. Each is resolved over the whole frame before the
//! tiles that read it run, in passes over the tiles:
//! - Otsu's threshold: a pass reduces the input to its min and max, a second to its
//!   histogram over that range, a small program scans it; the op then runs as the fixed
//!   threshold it found. The other automatic thresholds (Li, triangle, ...) reduce the
//!   same way (min and max, then a histogram, or the distinct values) and pick their
//!   value on the host ([`crate::cpu::auto_threshold`]). Where the input's values of every tile fit the tiling's
//!   [`Tiling::keep`] bytes, the first pass keeps them resident and the later passes
//!   read them from there; otherwise each pass recomputes them tile by tile, so memory
//!   stays that of a few tiles. Either way a tile's values are the same program's
//!   output over the same window, so the results are the same bits.
//! - Objects (`label`, `remove_small_objects` on a mask): a pass hands the input's rows
//!   band by band to [`Runs`], which keeps only the foreground runs and their
//!   union-find; each tile's values are then rendered from the runs, numbered as the
//!   untiled frame numbers them. `remove_small_holes` does the same with the runs of
//!   the input's inverse (its background), as skimage removes small objects from it.

use super::cut::{Tile, Tiling};
use super::graph::{Graph, Node};
use super::pass::{account, Pipe, TileProgram, TiledOutcome};
use super::rows::{RowSink, RowSource, Rows, TileReader, TileSource};
use super::{Engine, Outcome, Program, Reduced, Reduction, Slot};
use crate::cpu::label::Runs;
use crate::image::{Image, Rect, SampleType, Samples, Shape};
use crate::ops::{Op, RemoveSmall};
use crate::{Error, Result};
use std::sync::Arc;

/// What a node is in the tiled passes (`F`: a frame resident on the engine).
#[derive(Clone, Debug)]
pub(super) enum Step<F> {
    /// A source: its tile is read.
    Source,
    /// Values a pass kept resident, one frame per tile in tile order (each over the
    /// tile's whole window): later passes read them instead of recomputing them, and
    /// their input is no longer needed.
    Resident(Arc<Vec<F>>),
    /// An op computed per tile (a whole-frame op once resolved: Otsu as its threshold).
    Op(Op),
    /// Objects resolved over the whole frame (one [`Runs`] per channel): a tile's values
    /// are rendered from them, and their input is no longer needed.
    Objects { op: Op, runs: Arc<Vec<Runs>> },
}

impl<F> Step<F> {
    /// The graph's nodes as steps, before any resolution.
    pub fn of(graph: &Graph<'_>) -> Vec<Step<F>> {
        (graph.nodes.iter())
            .map(|n| match n {
                Node::Op { op, .. } => Step::Op((*op).clone()),
                Node::Source { .. } => Step::Source,
            })
            .collect()
    }
}

impl<F> Step<F> {
    /// The resident frames of a step no one else holds any more.
    pub fn resident(self) -> Option<Vec<F>> {
        match self {
            Step::Resident(frames) => Arc::try_unwrap(frames).ok(),
            _ => None,
        }
    }
}

/// The nodes `wanted` depends on through `steps` (resolved objects and resident values
/// need no input).
fn needed<F>(graph: &Graph<'_>, steps: &[Step<F>], wanted: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; graph.nodes.len()];
    let mut stack: Vec<usize> = wanted.to_vec();
    while let Some(i) = stack.pop() {
        if !seen[i] {
            seen[i] = true;
            if let (Node::Op { input, .. }, Step::Op(_)) = (&graph.nodes[i], &steps[i]) {
                stack.push(*input);
            }
        }
    }
    seen
}

/// The values of each resolved objects node over `tile`'s window, for the nodes needed.
fn render<F>(steps: &[Step<F>], needed: &[bool], tile: &Tile) -> Vec<Option<Image>> {
    (steps.iter().zip(needed))
        .map(|(step, &need)| match step {
            Step::Objects { op, runs } if need => Some(render_tile(op, runs, tile.outer)),
            _ => None,
        })
        .collect()
}

fn render_tile(op: &Op, runs: &[Runs], rect: Rect) -> Image {
    let c = runs.len();
    let n = rect.len();
    let mut plane = vec![0.0f32; n];
    let mut data = vec![0.0f32; n * c];
    for (ch, r) in runs.iter().enumerate() {
        match op {
            Op::RemoveSmall(rs) => r.render(rect, &mut plane, |l| {
                if rs.removes(r.area(l)) {
                    0.0
                } else {
                    255.0
                }
            }),
            Op::RemoveHoles(h) => crate::cpu::label::holes_render(r, h, rect, &mut plane),
            _ => r.render(rect, &mut plane, |l| l as f32),
        }
        for (i, &v) in plane.iter().enumerate() {
            data[i * c + ch] = v;
        }
    }
    Image::with_shape(rect.shape(c as u32), Samples::F32(data)).expect("a tile's shape is valid")
}

/// Ends a tile's program of a pass, given each node's slot: records what the pass reads
/// back (a reduction, downloads), each command's node in the layout (one per command).
type FinishProgram<'f, E> = dyn Fn(
        &mut Program<'_, <E as Engine>::Frame>,
        &[Option<Slot>],
        &Tile,
        &mut TileProgram,
    ) -> Result<()>
    + 'f;
/// Takes a tile program's outcome in a pass.
type Take<'t, E> = dyn FnMut(Outcome<<E as Engine>::Frame>, &TileProgram) -> Result<()> + 't;

/// The slot of node `node` in a tile's program.
pub(super) fn slot(slots: &[Option<Slot>], node: usize) -> Result<Slot> {
    slots.get(node).copied().flatten().ok_or_else(|| {
        Error::usage(format!(
            "node {node} was not recorded in the tile's program"
        ))
    })
}

/// A tile and its place in tile order (which indexes resident values).
#[derive(Clone, Copy)]
struct TileAt<'t> {
    tile: &'t Tile,
    index: usize,
}

/// A tiled frame's fixed parts, which every pass over it shares.
pub(super) struct TiledFrame<'f, 'a, E: Engine> {
    pub engine: &'f E,
    pub graph: &'f Graph<'a>,
    /// What each node's values are.
    pub types: Vec<SampleType>,
    pub frame: Shape,
    pub tiling: &'f Tiling,
}

impl<E: Engine> TiledFrame<'_, '_, E> {
    /// One pass over the frame's tiles recording the nodes `wanted` depend on through
    /// `steps`, each tile's program ended by `finish_program`; `take` gets each
    /// program's outcome, in tile order, with the tile's place.
    pub fn pass(
        &self,
        steps: &[Step<E::Frame>],
        sources: &mut [&mut dyn RowSource],
        wanted: &[usize],
        out: &mut TiledOutcome,
        finish_program: &FinishProgram<'_, E>,
        take: &mut Take<'_, E>,
    ) -> Result<()> {
        let needed = needed(self.graph, steps, wanted);
        // Sources are read only when a pass needs them (not once their values are kept).
        let reads = (self.graph.nodes.iter().zip(&needed))
            .any(|(n, &need)| need && matches!(n, Node::Source { .. }));
        let mut reader = TileReader::new(sources, self.frame.width);
        let mut pipe = Pipe::new(self.engine);
        let mut index = 0;
        for row in self.tiling.rows() {
            for (col, tile) in row.iter().enumerate() {
                let ends_band = col + 1 == row.len() && self.tiling.ends_band(tile);
                let images = if reads {
                    reader.images(tile, row.len())?
                } else {
                    Vec::new()
                };
                let rendered = render(steps, &needed, tile);
                let mut layout = TileProgram::new(*tile, ends_band);
                let mut p = Program::new();
                let at = TileAt { tile, index };
                index += 1;
                let slots =
                    self.record(steps, &needed, at, &images, &rendered, &mut p, &mut layout)?;
                finish_program(&mut p, &slots, tile, &mut layout)?;
                out.programs += 1;
                if let Some((o, l)) = pipe.submit(p, layout)? {
                    account(&o, &l, out);
                    take(o, &l)?;
                }
            }
        }
        while let Some((o, l)) = pipe.next()? {
            account(&o, &l, out);
            take(o, &l)?;
        }
        Ok(())
    }

    /// Records one tile's sources and the `needed` nodes; returns each node's slot (those
    /// recorded).
    #[allow(clippy::too_many_arguments)]
    fn record<'p>(
        &self,
        steps: &'p [Step<E::Frame>],
        needed: &[bool],
        TileAt {
            tile,
            index: tile_index,
        }: TileAt<'_>,
        images: &'p [TileSource<'p>],
        rendered: &'p [Option<Image>],
        p: &mut Program<'p, E::Frame>,
        layout: &mut TileProgram,
    ) -> Result<Vec<Option<Slot>>> {
        let (graph, types, frame) = (self.graph, &self.types, self.frame);
        let mut slots: Vec<Option<Slot>> = vec![None; graph.nodes.len()];
        for (i, node) in graph.nodes.iter().enumerate().filter(|(i, _)| needed[*i]) {
            let s = match (node, &steps[i]) {
                (_, Step::Resident(frames)) => {
                    let frame = frames.get(tile_index).ok_or_else(|| {
                        Error::usage(format!("no resident values for tile {tile_index}"))
                    })?;
                    p.resident(frame.clone(), types[i])
                }
                (Node::Source { index, .. }, _) => {
                    let window = tile.window(frame);
                    match images.get(*index) {
                        Some(TileSource::Part(view, rect)) => {
                            p.upload_part(*view, *rect, types[i], window)?
                        }
                        Some(TileSource::Read(image)) => {
                            p.upload_window(image.view(), types[i], window)
                        }
                        None => {
                            return Err(Error::usage(format!(
                                "no source {index} for the tiled frame"
                            )))
                        }
                    }
                }
                (Node::Op { .. }, Step::Objects { .. }) => {
                    let image = rendered[i]
                        .as_ref()
                        .ok_or_else(|| Error::usage("resolved objects were not rendered"))?;
                    p.upload_window(image.view(), types[i], tile.window(frame))
                }
                (Node::Op { input, .. }, Step::Op(op)) => {
                    let s = p.apply(op, slots[*input].expect("inputs come first"))?;
                    if matches!(op, Op::Threshold(_)) {
                        layout.thresholds.push((i, s));
                    }
                    s
                }
                (Node::Op { .. }, Step::Source) => {
                    return Err(Error::usage("an op node recorded as a source"))
                }
            };
            slots[i] = Some(s);
            layout.node_of.push(i);
        }
        Ok(slots)
    }

    /// Whether one more node's values may stay resident over the whole frame: every
    /// tile's window of them, with those already kept, within the tiling's
    /// [`Tiling::keep`] bytes.
    fn may_keep(&self, steps: &[Step<E::Frame>]) -> bool {
        let windows: u64 = (self.tiling.rows().iter().flatten())
            .map(|t| t.outer.len() as u64)
            .sum();
        let node = windows * u64::from(self.frame.channels) * 4;
        let kept = steps
            .iter()
            .filter(|s| matches!(s, Step::Resident(_)))
            .count() as u64;
        node.saturating_mul(kept + 1) <= self.tiling.keep
    }

    /// A pass over every tile reducing node `input`'s values over its inner part; with
    /// `keep`, each tile's values also stay resident.
    fn reduce_pass(
        &self,
        steps: &[Step<E::Frame>],
        sources: &mut [&mut dyn RowSource],
        input: usize,
        reduction: Reduction,
        keep: bool,
        out: &mut TiledOutcome,
    ) -> Result<(Vec<Reduced>, Vec<E::Frame>)> {
        let (mut got, mut kept) = (Vec::new(), Vec::new());
        self.pass(
            steps,
            sources,
            &[input],
            out,
            &|p, slots, tile, layout| {
                let values = slot(slots, input)?;
                let s = p.reduce(values, Some(tile.inner_in_window()), reduction);
                layout.slots.push(s);
                layout.node_of.push(input);
                if keep {
                    p.keep(values);
                    layout.node_of.push(input);
                }
                Ok(())
            },
            &mut |o, l| {
                let r = o.reduced[l.slots[0].index()].clone();
                got.push(r.ok_or_else(|| Error::usage("a reduction gave nothing"))?);
                kept.extend(o.kept);
                Ok(())
            },
        )?;
        Ok((got, kept))
    }

    /// Makes node `input`'s values resident from the frames a pass kept.
    fn make_resident(
        &self,
        steps: &mut [Step<E::Frame>],
        input: usize,
        kept: Vec<E::Frame>,
    ) -> Result<()> {
        if kept.len() != self.tiling.count() {
            return Err(Error::usage(format!(
                "{} tiles kept their values, of {}",
                kept.len(),
                self.tiling.count()
            )));
        }
        steps[input] = Step::Resident(Arc::new(kept));
        Ok(())
    }

    /// The threshold `method` picks for node `input`'s values over the whole frame:
    /// Otsu's by [`Self::resolve_otsu`], the others from the same reductions an untiled
    /// frame makes ([`crate::cpu::auto_threshold::resolve`]), each over every tile and
    /// combined. The first pass keeps the values resident where they fit.
    pub fn resolve_threshold(
        &self,
        steps: &mut [Step<E::Frame>],
        sources: &mut [&mut dyn RowSource],
        input: usize,
        method: &crate::ops::Threshold,
        out: &mut TiledOutcome,
    ) -> Result<f64> {
        if matches!(method, crate::ops::Threshold::Otsu) {
            return self.resolve_otsu(steps, sources, input, out);
        }
        let integer = crate::cpu::threshold::integer_levels(self.types[input]);
        crate::cpu::auto_threshold::resolve(method, integer, &mut |r| {
            let keep = !matches!(steps[input], Step::Resident(_)) && self.may_keep(steps);
            let (got, kept) = self.reduce_pass(steps, sources, input, r, keep, out)?;
            if keep {
                self.make_resident(steps, input, kept)?;
            }
            let mut got = got.into_iter();
            let first = got
                .next()
                .ok_or_else(|| Error::usage("a reduction pass had no tiles"))?;
            got.try_fold(first, Reduced::combine)
        })
    }

    /// Otsu's threshold of node `input`'s values over the whole frame: its min and max
    /// over every tile's inner part, its histogram over that range, and the scan. The
    /// first pass keeps the input's values resident where they fit (`steps[input]`
    /// becomes [`Step::Resident`]), so the histogram pass and the tiles that threshold
    /// them read them instead of recomputing them.
    pub fn resolve_otsu(
        &self,
        steps: &mut [Step<E::Frame>],
        sources: &mut [&mut dyn RowSource],
        input: usize,
        out: &mut TiledOutcome,
    ) -> Result<f64> {
        let integer = crate::cpu::threshold::integer_levels(self.types[input]);
        let keep = !matches!(steps[input], Step::Resident(_)) && self.may_keep(steps);
        let (ranges, kept) =
            self.reduce_pass(steps, sources, input, Reduction::MinMax, keep, out)?;
        if keep {
            self.make_resident(steps, input, kept)?;
        }
        let mut range: Option<(f32, f32)> = None;
        for r in ranges {
            if let Reduced::Range(Some((lo, hi))) = r {
                range = Some(match range {
                    None => (lo, hi),
                    Some((a, b)) => (a.min(lo), b.max(hi)),
                });
            }
        }
        let Some((lo, hi)) = range else {
            return Ok(f64::NAN); // nothing but NaN: as the untiled twin says
        };
        if lo == hi {
            return Ok(f64::from(lo));
        }
        let bins = crate::cpu::threshold::bin_count(lo, hi, integer);
        let mut counts = vec![0u64; bins];
        let histogram = Reduction::Histogram { lo, hi, integer };
        for r in self
            .reduce_pass(steps, sources, input, histogram, false, out)?
            .0
        {
            let Reduced::Counts(c) = r else {
                return Err(Error::usage("a histogram pass gave no counts"));
            };
            for (a, b) in counts.iter_mut().zip(c) {
                *a += b;
            }
        }
        let mut p = Program::new();
        let s = p.otsu_scan(counts, lo, hi, integer);
        let o = self.engine.run(p)?;
        out.programs += 1;
        out.downloaded[input] += o.downloaded[s.index()];
        out.uploaded[input] += o.uploaded[s.index()];
        o.threshold(s)
            .ok_or_else(|| Error::usage("the Otsu scan gave no threshold"))
    }

    /// The objects of node `input`'s values over the whole frame, for `op` (`label`,
    /// `remove_small_objects` on a mask, or `remove_small_holes`, whose objects are the
    /// background's): its rows, band by band, into one [`Runs`] per channel.
    pub fn resolve_objects(
        &self,
        steps: &[Step<E::Frame>],
        sources: &mut [&mut dyn RowSource],
        input: usize,
        op: &Op,
        out: &mut TiledOutcome,
    ) -> Result<Vec<Runs>> {
        let connectivity = match op {
            Op::Label(l) => l.connectivity,
            Op::RemoveSmall(r) if !RemoveSmall::labels_mode(self.types[input]) => r.connectivity,
            Op::RemoveHoles(r) => r.connectivity,
            _ => {
                return Err(Error::usage(format!(
                    "`{op}` on label values cannot run in tiles yet: remove small objects \
                     from the mask before labelling it, or raise --memory so the frame is whole"
                )))
            }
        };
        let mut runs = IntoRuns {
            runs: (0..self.frame.channels)
                .map(|_| Runs::new(self.frame.width, self.frame.height, connectivity))
                .collect(),
            inverse: matches!(op, Op::RemoveHoles(_)),
        };
        let mut rows = Rows::new(1);
        self.pass(
            steps,
            sources,
            &[input],
            out,
            &|p, slots, tile, layout| {
                let s = slot(slots, input)?;
                p.download_rect(s, SampleType::F32, Some(tile.inner_in_window()));
                layout.node_of.push(input);
                Ok(())
            },
            &mut |o, l| rows.take(o.images, l, &mut [&mut runs]),
        )?;
        for r in &mut runs.runs {
            r.finish()?;
        }
        Ok(runs.runs)
    }
}

/// Bands of an objects op's input (f32), into one [`Runs`] per channel: of the input,
/// or of its inverse (`logical_not`, for filling holes).
struct IntoRuns {
    runs: Vec<Runs>,
    inverse: bool,
}

impl RowSink for IntoRuns {
    fn put(&mut self, band: Image) -> Result<()> {
        let Samples::F32(v) = band.samples() else {
            return Err(Error::usage("a band came back as another type"));
        };
        let c = self.runs.len();
        for (ch, r) in self.runs.iter_mut().enumerate() {
            let plane: Vec<f32> = v.iter().skip(ch).step_by(c).copied().collect();
            if self.inverse {
                r.push_rows(&crate::cpu::label::invert(&plane));
            } else {
                r.push_rows(&plane);
            }
        }
        Ok(())
    }
}
