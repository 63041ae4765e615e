//! What one frame computes, as the tiled runner needs to know it: sources, ops (a DAG in
//! topological order) and the outputs to write, with the halo each node's values need.

use crate::image::SampleType;
use crate::ops::{Op, Reach};
use crate::{Error, Result};

/// One node of a frame's graph.
#[derive(Clone, Debug)]
pub enum Node<'a> {
    /// Source number `index` of the frame, whose values are of `value_type`.
    Source {
        /// Which source.
        index: usize,
        /// What its values are.
        value_type: SampleType,
    },
    /// `op` applied to node `input`.
    Op {
        /// The op.
        op: &'a Op,
        /// The node it reads (an earlier one).
        input: usize,
    },
}

/// A frame's sources, ops and outputs.
#[derive(Clone, Debug, Default)]
pub struct Graph<'a> {
    /// In topological order: every op after its input.
    pub nodes: Vec<Node<'a>>,
    /// The outputs: a node, and the sample type it is written in.
    pub outputs: Vec<(usize, SampleType)>,
}

impl<'a> Graph<'a> {
    /// A chain of ops on one source, its last value the one output.
    pub fn chain(ops: &'a [Op], value_type: SampleType) -> Self {
        let mut nodes = vec![Node::Source {
            index: 0,
            value_type,
        }];
        for (i, op) in ops.iter().enumerate() {
            nodes.push(Node::Op { op, input: i });
        }
        Graph {
            nodes,
            outputs: Vec::new(),
        }
    }

    /// The last node.
    pub fn last(&self) -> usize {
        self.nodes.len() - 1
    }

    /// Checks the order and the op parameters; returns each node's value type.
    pub fn value_types(&self) -> Result<Vec<SampleType>> {
        let mut types: Vec<SampleType> = Vec::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            types.push(match n {
                Node::Source { value_type, .. } => *value_type,
                Node::Op { op, input } => {
                    let t = *types.get(*input).filter(|_| *input < i).ok_or_else(|| {
                        Error::usage(format!("node {i} reads node {input}, not an earlier one"))
                    })?;
                    op.validate()?;
                    op.check_input(t)?;
                    op.output_type(t)
                }
            });
        }
        Ok(types)
    }

    /// The nodes the given ones depend on (themselves included).
    pub fn ancestors(&self, of: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = of.to_vec();
        while let Some(i) = stack.pop() {
            if !seen[i] {
                seen[i] = true;
                if let Node::Op { input, .. } = self.nodes[i] {
                    stack.push(input);
                }
            }
        }
        seen
    }

    /// Per node, how far around a tile its values must be exact for the given targets
    /// (their values exact on the tile itself) to be: the sum of the reaches on the way.
    pub fn needs(&self, targets: &[usize]) -> Vec<Reach> {
        let mut need: Vec<Option<Reach>> = vec![None; self.nodes.len()];
        for &t in targets {
            need[t] = Some(Reach::default());
        }
        for i in (0..self.nodes.len()).rev() {
            if let (Some(n), Node::Op { op, input }) = (need[i], &self.nodes[i]) {
                let have = need[*input].unwrap_or_default();
                need[*input] = Some(have.max(n.plus(op.reach())));
            }
        }
        need.into_iter().map(Option::unwrap_or_default).collect()
    }

    /// The halo a tile's sources need for every output to be exact on the tile.
    pub fn halo(&self) -> Reach {
        let targets: Vec<usize> = self.outputs.iter().map(|o| o.0).collect();
        let need = self.needs(&targets);
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n, Node::Source { .. }))
            .fold(Reach::default(), |h, (i, _)| h.max(need[i]))
    }

    /// The halo, and the most any filter with a boundary mode pads its input past the
    /// frame's edges (see [`Op::padded`]) in a frame with (`volume`) or without slices:
    /// what a tile's planes take.
    pub fn extent(&self, volume: bool) -> (Reach, Reach) {
        let pad = (self.nodes.iter())
            .filter_map(|n| match n {
                Node::Op { op, .. } => op.padded(volume, SampleType::F32).map(|(_, _, by)| by),
                Node::Source { .. } => None,
            })
            .fold(Reach::default(), Reach::max);
        (self.halo(), pad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halos_add_up_along_the_way_to_each_output() {
        let ops = [
            Op::parse("gaussian:sigma_y=1,sigma_x=2").unwrap(), // reach (8, 4, 0)
            Op::parse("threshold:value=3").unwrap(),            // 0
            Op::parse("gaussian:sigma=0.5").unwrap(),           // (2, 2, 2)
        ];
        let mut g = Graph::chain(&ops, SampleType::U16);
        g.outputs.push((3, SampleType::U8));
        let r = |x, y, z| Reach { x, y, z };
        assert_eq!(g.halo(), r(10, 6, 2));
        // An output earlier in the chain needs less; the largest need wins.
        g.outputs = vec![(1, SampleType::U8)];
        assert_eq!(g.halo(), r(8, 4, 0));
        let types = g.value_types().unwrap();
        assert_eq!(
            types,
            [
                SampleType::U16,
                SampleType::F32,
                SampleType::U8,
                SampleType::F32
            ]
        );
        assert_eq!(g.ancestors(&[1]), [true, true, false, false]);
    }
}
