//! Units too large for one program per frame: frames cut into tiles, TIFF sources read
//! band by band, and TIFF outputs written band by band straight into the store, so
//! memory follows the budget, not the image.

use super::front::{Front, Work};
use crate::budget::Budget;
use crate::engine::graph::{Graph, Node};
use crate::engine::tiled::{self, Collect, RowSink, RowSource, Tiling};
use crate::engine::Engine;
use crate::flow::NodeKind;
use crate::image::{Image, Rect, SampleType, Shape};
use crate::io::tiff::TiffFrames;
use crate::io::{self, Format};
use crate::measure::{FrameTable, Measurer};
use crate::store::StoredFile;
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// The unit's frame shape and how an engine would cut it, when it must be tiled (its
/// frames exceed the engine's plane limit or `budget.max_tile`, or a source is streamed).
pub(super) fn tiling<E: Engine>(
    engine: &E,
    front: &Front<'_, '_>,
    w: &Work,
    budget: &Budget,
) -> Result<Option<Tiling>> {
    let Some(unit) = graph(front, w)? else {
        return Ok(None);
    };
    let t = Tiling::for_engine(
        engine,
        unit.shape,
        unit.graph.extent(unit.shape.is_volume()),
        budget,
    )?;
    let tiled = !t.is_whole() || !w.lazy.is_empty();
    Ok(tiled.then_some(t))
}

/// A unit as one frame graph.
struct UnitGraph<'a> {
    shape: Shape,
    graph: Graph<'a>,
    /// The flow node of each graph node.
    nodes: Vec<usize>,
    /// The graph's outputs that are the unit's outputs come first, this many of them;
    /// after them, two per measure node (labels, intensity), fed band by band to its
    /// measurer.
    outputs: usize,
    /// Each measure node and the index of its labels among the graph's outputs.
    measures: Vec<(usize, usize)>,
}

/// The unit as a frame graph. `None` when nothing of it can run.
fn graph<'a>(front: &Front<'_, 'a>, w: &Work) -> Result<Option<UnitGraph<'a>>> {
    let run = &*front.run;
    let mut nodes: Vec<usize> = w
        .unit
        .inputs
        .iter()
        .chain(&w.viable)
        .copied()
        .filter(|i| w.stacks.contains_key(i) || w.lazy.contains_key(i) || w.viable.contains(i))
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    let mut shape = None;
    let mut g = Graph::default();
    let mut index: HashMap<usize, usize> = HashMap::new();
    let mut sources = 0;
    // The flow node of each graph node (measure nodes have none: they read outputs).
    let mut order = Vec::new();
    for &i in &nodes {
        let source_shape = match (w.stacks.get(&i), w.lazy.get(&i), run.kind(i)) {
            (Some(stack), _, _) => Some(stack.frames[0].shape()),
            (_, Some(lazy), _) => Some(lazy.shape),
            (_, _, NodeKind::Image { image, .. }) => Some(image.shape()),
            _ => None,
        };
        let node = match (source_shape, run.kind(i)) {
            (Some(s), _) => {
                if shape.is_some_and(|t| t != s) {
                    return Err(Error::usage(format!(
                        "the sources of one computation differ in shape: {} and {s}",
                        shape.unwrap_or(s)
                    )));
                }
                shape = Some(s);
                sources += 1;
                Node::Source {
                    index: sources - 1,
                    value_type: w.loaded_as.get(&i).copied().unwrap_or(w.value_types[&i]),
                }
            }
            (None, NodeKind::Op { op, .. }) => Node::Op {
                op,
                input: index[&run.inputs(i)[0]],
            },
            // Measured on the host from the bands of two outputs; see below.
            (None, NodeKind::Measure { .. }) => continue,
            (None, _) => return Err(Error::usage(format!("node {i} has no values to tile"))),
        };
        index.insert(i, g.nodes.len());
        g.nodes.push(node);
        order.push(i);
    }
    for &o in (w.unit.outputs.iter()).filter(|o| w.viable.contains(o) && index.contains_key(o)) {
        let (_, m) = run
            .outputs
            .iter()
            .find(|(n, _)| *n == o)
            .expect("an output");
        g.outputs.push((
            index[&o],
            m.dtype.resolve(w.meta[&o].source_type, w.value_types[&o]),
        ));
    }
    // Each measure reads its labels as label values and its intensity as f32 (exact
    // for every 8- and 16-bit intensity), as a whole frame's measure does.
    let outputs = g.outputs.len();
    let mut measures = Vec::new();
    for &m in &w.viable {
        let NodeKind::Measure { labels, intensity } = run.kind(m) else {
            continue;
        };
        let (Some(&l), Some(&i)) = (index.get(&labels.index()), index.get(&intensity.index()))
        else {
            return Err(Error::usage(format!(
                "node {m} measures nodes outside its computation"
            )));
        };
        measures.push((m, g.outputs.len()));
        g.outputs.push((l, SampleType::U32));
        g.outputs.push((i, SampleType::F32));
    }
    Ok(shape.map(|shape| UnitGraph {
        shape,
        graph: g,
        nodes: order,
        outputs,
        measures,
    }))
}

/// A frame's source: a decoded frame, or a frame of a TIFF read part by part (rows of a
/// page; rows of some slices of a volume).
enum FrameSource<'s> {
    Image(&'s Image),
    Tiff(&'s mut TiffFrames<std::io::BufReader<std::fs::File>>, usize),
}

impl RowSource for FrameSource<'_> {
    fn rows(&mut self, part: Rect) -> Result<Image> {
        match self {
            FrameSource::Image(image) => {
                let mut image: &Image = image;
                image.rows(part)
            }
            FrameSource::Tiff(f, t) => f.read(*t, part),
        }
    }

    fn whole(&self) -> Option<crate::image::ImageView<'_>> {
        match self {
            FrameSource::Image(image) => Some(image.view()),
            FrameSource::Tiff(..) => None,
        }
    }
}

/// A frame's output: bands sent to a writer thread, collected, or measured (one side of
/// a measure node's pair of inputs).
enum FrameSink {
    Writer(SyncSender<Image>),
    Collect(Collect),
    Measure(Rc<RefCell<Bands>>, Side),
}

#[derive(Clone, Copy)]
enum Side {
    Labels,
    Intensity,
}

/// A measure node's two inputs, band by band: each pair of bands goes to the measurer
/// as soon as both have come.
struct Bands {
    labels: VecDeque<Image>,
    intensity: VecDeque<Image>,
    measurer: Option<Measurer>,
}

impl Bands {
    fn new(frame: Shape, voxel: Option<&crate::image::VoxelSize>) -> Rc<RefCell<Bands>> {
        Rc::new(RefCell::new(Bands {
            labels: VecDeque::new(),
            intensity: VecDeque::new(),
            measurer: Some(Measurer::for_frame(frame, frame.channels as usize, voxel)),
        }))
    }

    fn put(&mut self, side: Side, band: Image) -> Result<()> {
        match side {
            Side::Labels => self.labels.push_back(band),
            Side::Intensity => self.intensity.push_back(band),
        }
        while !self.labels.is_empty() && !self.intensity.is_empty() {
            let (l, i) = (self.labels.pop_front(), self.intensity.pop_front());
            let (Some(l), Some(i), Some(m)) = (l, i, self.measurer.as_mut()) else {
                return Err(Error::usage("a measure's bands came after its end"));
            };
            m.push(l.view(), i.view())?;
        }
        Ok(())
    }

    /// The frame's table, once every band has come.
    fn finish(&mut self) -> Result<FrameTable> {
        match (
            self.labels.is_empty() && self.intensity.is_empty(),
            self.measurer.take(),
        ) {
            (true, Some(m)) => Ok(m.finish()),
            _ => Err(Error::usage("a measure's inputs came back unevenly")),
        }
    }
}

impl RowSink for FrameSink {
    fn put(&mut self, band: Image) -> Result<()> {
        match self {
            FrameSink::Writer(tx) => tx
                .send(band)
                .map_err(|_| Error::encode("the output writer stopped")),
            FrameSink::Collect(c) => c.put(band),
            FrameSink::Measure(bands, side) => bands.borrow_mut().put(*side, band),
        }
    }

    fn put_tiles(&mut self, tiles: Vec<(Rect, Image)>) -> Result<()> {
        match self {
            FrameSink::Collect(c) => c.put_tiles(tiles),
            _ => self.put(crate::engine::tiled::assemble(tiles)?),
        }
    }
}

/// Runs a unit in tiles: every frame through [`tiled::run`], TIFF outputs streamed into
/// the store as their bands come, the others collected for the encoders.
pub(super) fn run_unit<E: Engine>(
    engine: &E,
    front: &mut Front<'_, '_>,
    mut w: Work,
    tiling: Tiling,
    budget: &Budget,
) {
    let device = engine.device_name();
    let result = std::thread::scope(|scope| -> Result<Vec<(usize, StoredFile, SampleType)>> {
        let unit = graph(front, &w)?.ok_or_else(|| Error::usage("nothing to tile"))?;
        let (shape, g, nodes) = (unit.shape, &unit.graph, &unit.nodes);
        let (store, flow) = (front.run.store, front.run.flow);
        let run = &*front.run;
        for lazy in w.lazy.values() {
            if let Some(s) = &lazy.source {
                s.check_unchanged()?;
            }
        }
        // Outputs written as TIFF stream into the store; the rest are collected.
        let mut writers = Vec::new();
        let mut senders: Vec<Option<SyncSender<Image>>> = Vec::new();
        for &(gi, to) in &g.outputs[..unit.outputs] {
            let o = nodes[gi];
            let (_, m) = run
                .outputs
                .iter()
                .find(|(n, _)| *n == o)
                .expect("an output");
            let format = m.format.unwrap_or_else(|| {
                io::default_format_for(to, shape.channels, w.frames, w.meta[&o].format)
            });
            if !m.persist || format != Format::Tiff {
                senders.push(None);
                continue;
            }
            let (tx, rx): (SyncSender<Image>, Receiver<Image>) = sync_channel(1);
            let (name, frames) = (m.name.clone(), w.frames);
            let voxel = w.meta[&o].voxel.clone();
            let writer = scope.spawn(move || {
                store.put_file(&name, "tif", |file| {
                    io::tiff::write_stream(file, shape, to, frames, voxel.as_ref(), &mut || {
                        rx.recv()
                            .map_err(|_| Error::encode("the tiles stopped coming"))
                    })
                })
            });
            writers.push((o, to, writer));
            senders.push(Some(tx));
        }
        let sources: Vec<usize> = nodes
            .iter()
            .zip(&g.nodes)
            .filter(|(_, n)| matches!(n, Node::Source { .. }))
            .map(|(&i, _)| i)
            .collect();
        // One reader per streamed source, in the sources' order.
        let mut readers = Vec::new();
        for i in sources.iter().filter(|i| w.lazy.contains_key(i)) {
            readers.push(w.lazy[i].open(engine.plane_limit(budget).max(1 << 20))?);
        }
        for f in 0..w.frames {
            let mut pages = readers.iter_mut();
            let mut frame_sources: Vec<FrameSource<'_>> = Vec::new();
            for i in &sources {
                let kind = flow.kind(crate::flow::NodeId::from(*i));
                frame_sources.push(match (w.stacks.get(i), kind) {
                    (Some(stack), _) => FrameSource::Image(&stack.frames[f]),
                    (None, Some(NodeKind::Image { image, .. })) => FrameSource::Image(image),
                    _ => FrameSource::Tiff(pages.next().expect("a reader per streamed source"), f),
                });
            }
            let mut sinks: Vec<FrameSink> = senders
                .iter()
                .map(|tx| match tx {
                    Some(tx) => FrameSink::Writer(tx.clone()),
                    None => FrameSink::Collect(Collect::new(shape)),
                })
                .collect();
            let measured: Vec<(usize, Rc<RefCell<Bands>>)> = (unit.measures.iter())
                .map(|&(m, _)| {
                    (
                        m,
                        Bands::new(shape, w.meta.get(&m).and_then(|m| m.voxel.as_ref())),
                    )
                })
                .collect();
            for (_, bands) in &measured {
                sinks.push(FrameSink::Measure(Rc::clone(bands), Side::Labels));
                sinks.push(FrameSink::Measure(Rc::clone(bands), Side::Intensity));
            }
            let out = {
                let mut srcs: Vec<&mut dyn RowSource> = frame_sources
                    .iter_mut()
                    .map(|s| s as &mut dyn RowSource)
                    .collect();
                let mut outs: Vec<&mut dyn RowSink> =
                    sinks.iter_mut().map(|s| s as &mut dyn RowSink).collect();
                tiled::run(engine, g, shape, &tiling, &mut srcs, &mut outs)?
            };
            let run = &mut *front.run;
            for (gi, &i) in nodes.iter().enumerate() {
                run.nodes[i].bytes_uploaded += out.uploaded[gi];
                run.nodes[i].bytes_downloaded += out.downloaded[gi];
                if let Some(t) = out.thresholds[gi] {
                    run.nodes[i].thresholds.push(t);
                }
            }
            for (k, sink) in sinks.into_iter().enumerate() {
                if let FrameSink::Collect(c) = sink {
                    w.images
                        .entry(nodes[g.outputs[k].0])
                        .or_default()
                        .push(c.into_image()?);
                }
            }
            for (m, bands) in measured {
                let table = bands.borrow_mut().finish()?;
                w.tables.entry(m).or_default().push(table);
            }
        }
        drop(senders); // the writers end their files
        for lazy in w.lazy.values() {
            if let Some(s) = &lazy.source {
                s.check_unchanged()?;
            }
        }
        writers
            .into_iter()
            .map(|(o, to, h)| {
                let file = h.join().map_err(|_| Error::Crashed {
                    path: store.out_dir().to_path_buf(),
                    what: "encoder",
                })??;
                Ok((o, file, to))
            })
            .collect()
    });
    let stored = match result {
        Ok(stored) => stored,
        Err(e) => {
            w.failed = Some(Arc::new(e));
            front.finish(w, Some(&device));
            return;
        }
    };
    let shape = w
        .stacks
        .values()
        .map(|s| s.frames[0].shape())
        .chain(w.lazy.values().map(|l| l.shape))
        .next();
    for &i in &w.viable {
        front.run.nodes[i].status = crate::executor::Status::Computed;
    }
    for (o, file, to) in stored {
        let run = &mut *front.run;
        let meta = Arc::clone(&w.meta[&o]);
        let draft = run.draft(o, w.value_types[&o], &meta, Format::Tiff, device.clone());
        let hit = shape
            .ok_or_else(|| Error::usage("a streamed unit without a shape"))
            .and_then(|shape| run.store.commit(draft, file, shape, to, w.frames));
        w.unit.outputs.retain(|&x| x != o);
        front.written(o, hit);
    }
    front.finish(w, Some(&device));
}
