//! The plumbing of a pass over a tiled frame's tiles: programs kept in flight, each
//! tile program's bookkeeping, and what the passes moved and found.

use super::cut::Tile;
use super::{Engine, Outcome, Program, Slot, MAX_FRAMES_IN_FLIGHT};
use crate::Result;
use std::collections::VecDeque;

/// What a tiled frame did, per node of its graph.
#[derive(Clone, Debug, Default)]
pub struct TiledOutcome {
    /// The threshold each threshold op used.
    pub thresholds: Vec<Option<f64>>,
    /// Bytes uploaded for each node.
    pub uploaded: Vec<u64>,
    /// Bytes read back for each node.
    pub downloaded: Vec<u64>,
    /// Tiles run (over all passes).
    pub programs: usize,
}

/// Frames kept in flight: submit, and get back the oldest once there are too many.
pub(super) struct Pipe<'e, E: Engine, L> {
    engine: &'e E,
    queue: VecDeque<(E::Pending, L)>,
}

impl<'e, E: Engine, L> Pipe<'e, E, L> {
    pub fn new(engine: &'e E) -> Self {
        Pipe {
            engine,
            queue: VecDeque::new(),
        }
    }

    pub fn submit(
        &mut self,
        p: Program<'_, E::Frame>,
        layout: L,
    ) -> Result<Option<(Outcome<E::Frame>, L)>> {
        self.queue.push_back((self.engine.submit(p)?, layout));
        if self.queue.len() >= MAX_FRAMES_IN_FLIGHT {
            return self.next();
        }
        Ok(None)
    }

    pub fn next(&mut self) -> Result<Option<(Outcome<E::Frame>, L)>> {
        match self.queue.pop_front() {
            Some((p, l)) => Ok(Some((self.engine.finish(p)?, l))),
            None => Ok(None),
        }
    }
}

/// The per-command bookkeeping of one tile's program.
pub(super) struct TileProgram {
    /// The tile.
    pub tile: Tile,
    /// Whether the tile completes a band its sinks take (see [`Tiling::ends_band`]).
    pub ends_band: bool,
    /// Node of each command (for byte figures).
    pub node_of: Vec<usize>,
    /// Slots of reductions or downloads, as the pass wants them.
    pub slots: Vec<Slot>,
    /// Threshold ops' slots.
    pub thresholds: Vec<(usize, Slot)>,
}

impl TileProgram {
    pub fn new(tile: Tile, ends_band: bool) -> Self {
        TileProgram {
            tile,
            ends_band,
            node_of: Vec::new(),
            slots: Vec::new(),
            thresholds: Vec::new(),
        }
    }
}

/// Adds a program's bytes to the nodes that moved them, and its thresholds.
pub(super) fn account<F>(o: &Outcome<F>, layout: &TileProgram, out: &mut TiledOutcome) {
    for (c, &node) in layout.node_of.iter().enumerate() {
        out.uploaded[node] += o.uploaded[c];
        out.downloaded[node] += o.downloaded[c];
    }
    for &(node, s) in &layout.thresholds {
        if out.thresholds[node].is_none() {
            out.thresholds[node] = o.threshold(s);
        }
    }
}
