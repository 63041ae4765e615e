//! Frames of any size: cut into tiles, each with a halo equal to the graph's reach, run
//! as one program per tile, and stitched back band by band. Kernels reflect at the whole
//! frame's edges (see [`crate::image::Window`]) and every running sum starts at a fixed place of the
//! whole frame, so a tiled result equals the untiled one bit for bit.
//!
//! Whole-frame ops (Otsu's threshold, objects) are resolved first, one after another, in
//! passes over the tiles (see [`super::whole_frame`]) that keep what they computed
//! resident where the budget allows, and recompute it otherwise, so memory stays that
//! of a few tiles whatever the frame's size.
//!
//! Sources are read in place or a band of rows at a time ([`RowSource`]) and outputs are
//! handed over a row of tiles at a time ([`RowSink`]), so a frame need never be whole
//! in memory (see [`super::rows`]).

pub use super::cut::{Tile, Tiling};
use super::graph::{Graph, Node};
pub use super::pass::TiledOutcome;
use super::rows::Rows;
pub use super::rows::{assemble, Collect, RowSink, RowSource};
use super::whole_frame::{slot, Step, TiledFrame};
use super::Engine;
use crate::image::Shape;
use crate::ops::{Op, Threshold};
use crate::{Error, Result};

/// Runs `graph` on a frame of `frame`'s shape tile by tile: `sources[i]` feeds the
/// graph's source `i`, `sinks[k]` takes output `k`'s bands.
pub fn run<E: Engine>(
    engine: &E,
    graph: &Graph<'_>,
    frame: Shape,
    tiling: &Tiling,
    sources: &mut [&mut dyn RowSource],
    sinks: &mut [&mut dyn RowSink],
) -> Result<TiledOutcome> {
    let types = graph.value_types()?;
    if sinks.len() != graph.outputs.len() {
        return Err(Error::usage(format!(
            "{} sinks for {} outputs",
            sinks.len(),
            graph.outputs.len()
        )));
    }
    let n = graph.nodes.len();
    let mut out = TiledOutcome {
        thresholds: vec![None; n],
        uploaded: vec![0; n],
        downloaded: vec![0; n],
        programs: 0,
    };
    let tf = TiledFrame {
        engine,
        graph,
        types,
        frame,
        tiling,
    };
    // The nodes as steps, whole-frame ones replaced by what they resolve to.
    let mut steps: Vec<Step<E::Frame>> = Step::of(graph);
    let targets: Vec<usize> = graph.outputs.iter().map(|o| o.0).collect();
    let needed = graph.ancestors(&targets);
    // `mode=wrap` reads the frame's far side at each edge, which a tile does not hold.
    if !tiling.is_whole() {
        if let Some(op) = (0..n).find_map(|i| match &steps[i] {
            Step::Op(op) if needed[i] && op.wraps() => Some(op),
            _ => None,
        }) {
            let (x, y, z) = tiling.tile;
            return Err(Error::WholeFrameOnly {
                op: format!("{} (mode=wrap)", op.name()),
                frame: frame.to_string(),
                tile: crate::image::dims(x, y, z, frame.channels),
            });
        }
    }
    let whole_frame: Vec<usize> = (0..n)
        .filter(|&i| needed[i] && matches!(&steps[i], Step::Op(op) if op.is_whole_frame()))
        .collect();
    for t in whole_frame {
        let (Node::Op { input, .. }, Step::Op(op)) = (&graph.nodes[t], steps[t].clone()) else {
            unreachable_op()?
        };
        if !op.tiles() {
            // One tile is the whole frame: the op runs on it as it is.
            if tiling.is_whole() {
                continue;
            }
            let (x, y, z) = tiling.tile;
            return Err(Error::WholeFrameOnly {
                op: op.name().to_string(),
                frame: frame.to_string(),
                tile: crate::image::dims(x, y, z, frame.channels),
            });
        }
        let input = *input;
        steps[t] = match op {
            Op::Threshold(method) => {
                let value = tf.resolve_threshold(&mut steps, sources, input, &method, &mut out)?;
                out.thresholds[t] = Some(value);
                Step::Op(Op::Threshold(Threshold::Value {
                    value: super::defined_threshold(value)?,
                }))
            }
            op => {
                let runs = tf.resolve_objects(&steps, sources, input, &op, &mut out)?;
                Step::Objects {
                    op,
                    runs: std::sync::Arc::new(runs),
                }
            }
        };
    }
    // The final pass: every output, cropped to each tile and stitched into bands.
    let mut rows = Rows::new(graph.outputs.len());
    tf.pass(
        &steps,
        sources,
        &targets,
        &mut out,
        &|p, slots, tile, layout| {
            for &(node, to) in &graph.outputs {
                p.download_rect(slot(slots, node)?, to, Some(tile.inner_in_window()));
                layout.node_of.push(node);
            }
            Ok(())
        },
        &mut |o, l| rows.take(o.images, l, sinks),
    )?;
    for step in steps {
        if let Some(frames) = Step::resident(step) {
            frames.into_iter().for_each(|f| engine.recycle(f));
        }
    }
    Ok(out)
}

fn unreachable_op<T>() -> Result<T> {
    Err(Error::usage("a whole-frame op that is not an op"))
}
