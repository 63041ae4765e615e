//! Flows: a DAG of sources and ops, some of whose nodes are materialized.
//!
//! Nodes are only ever appended and an op's inputs must already exist, so a node's index
//! is a topological order and cycles cannot be built.

use crate::backend::OutputType;
use crate::image::Image;
use crate::io::{Format, Reading};
use crate::key::{self, Key};
use crate::ops::Op;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A node of a [`Flow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct NodeId(pub(crate) usize);

impl From<usize> for NodeId {
    /// The node at this index (adding nodes returns their ids; this is for reports,
    /// which name nodes by index).
    fn from(index: usize) -> Self {
        NodeId(index)
    }
}

impl NodeId {
    /// The node's index in its flow.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What a node is.
#[derive(Clone, Debug)]
pub enum NodeKind {
    /// An image file, keyed by its bytes, read as the [`Reading`] says (a multi-page
    /// TIFF as a volume, say).
    File(PathBuf, Reading),
    /// An image in memory, keyed by its samples.
    Image {
        /// A name for reports and lineage.
        name: String,
        /// The image.
        image: Arc<Image>,
    },
    /// An op applied to another node.
    Op {
        /// The op.
        op: Op,
        /// Its input.
        input: NodeId,
    },
    /// A table of per-object measurements (see [`crate::measure`]): a label image's
    /// objects measured on an intensity image. Written as CSV; no op reads it.
    Measure {
        /// The label image (e.g. a `label` node).
        labels: NodeId,
        /// The image the intensity columns are measured on (e.g. the source).
        intensity: NodeId,
    },
}

impl NodeKind {
    /// The nodes this one reads.
    pub fn inputs(&self) -> Vec<NodeId> {
        match self {
            NodeKind::Op { input, .. } => vec![*input],
            NodeKind::Measure { labels, intensity } => vec![*labels, *intensity],
            NodeKind::File(_, _) | NodeKind::Image { .. } => Vec::new(),
        }
    }

    /// Whether the node's value is a table rather than an image.
    pub fn is_table(&self) -> bool {
        matches!(self, NodeKind::Measure { .. })
    }
}

/// How and whether a node's result leaves the executor.
#[derive(Clone, Debug)]
pub struct Materialize {
    /// Output name: files are `<name>-<hash16>.<ext>`.
    pub name: String,
    /// Sample type of the written result.
    pub dtype: OutputType,
    /// File format; by default TIFF, except PNG for 8-bit colour.
    pub format: Option<Format>,
    /// Write the file and its record (the default). When false, the result is returned
    /// in memory in the run report and nothing is written or looked up on disk.
    pub persist: bool,
}

impl Materialize {
    /// The output's key: the task plus how the output is written, as specified (the
    /// resolved type and format follow from the task, so the spec is enough). Records
    /// are named by it.
    pub fn output_key(&self, task: &Key) -> Key {
        let dtype = match self.dtype {
            OutputType::Same => "same",
            OutputType::Exactly(t) => t.name(),
        };
        let format = self.format.map_or("default", Format::name);
        key::output(task, &self.name, dtype, format)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub materialize: Option<Materialize>,
}

/// A DAG of image sources and ops. Build it, mark outputs, and give it to an
/// [`crate::Executor`].
#[derive(Clone, Debug, Default)]
pub struct Flow {
    pub(crate) nodes: Vec<Node>,
}

impl Flow {
    /// An empty flow.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, kind: NodeKind) -> NodeId {
        self.nodes.push(Node {
            kind,
            materialize: None,
        });
        NodeId(self.nodes.len() - 1)
    }

    /// An image file source.
    pub fn file(&mut self, path: impl AsRef<Path>) -> NodeId {
        self.file_as(path, Reading::Auto)
    }

    /// [`Flow::file`], its pages read as `reading` says: [`Reading::Volume`] makes a
    /// plain multi-page TIFF one volume of its pages.
    pub fn file_as(&mut self, path: impl AsRef<Path>, reading: Reading) -> NodeId {
        self.push(NodeKind::File(path.as_ref().to_path_buf(), reading))
    }

    /// An in-memory image source.
    pub fn image(&mut self, name: impl Into<String>, image: Image) -> NodeId {
        self.push(NodeKind::Image {
            name: name.into(),
            image: Arc::new(image),
        })
    }

    /// `op` applied to `input`. The op's parameters are checked here.
    pub fn op(&mut self, input: NodeId, op: Op) -> Result<NodeId> {
        op.validate()?;
        self.check(input)?;
        self.check_image(input, op.name())?;
        Ok(self.push(NodeKind::Op { op, input }))
    }

    /// Per-object measurements of `labels` on `intensity` (two nodes of one shape): a
    /// table, written as CSV when materialized.
    pub fn measure(&mut self, labels: NodeId, intensity: NodeId) -> Result<NodeId> {
        for n in [labels, intensity] {
            self.check(n)?;
            self.check_image(n, "measure")?;
        }
        Ok(self.push(NodeKind::Measure { labels, intensity }))
    }

    /// A chain of ops from `input`; returns the last node (or `input` for no ops).
    pub fn chain(&mut self, input: NodeId, ops: &[Op]) -> Result<NodeId> {
        ops.iter()
            .try_fold(input, |node, op| self.op(node, op.clone()))
    }

    /// Marks `node` to be written as `<name>-<hash16>.<ext>` with default settings;
    /// returns the settings to adjust.
    pub fn materialize(
        &mut self,
        node: NodeId,
        name: impl Into<String>,
    ) -> Result<&mut Materialize> {
        self.check(node)?;
        let name = name.into();
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::InvalidParam {
                op: "materialize",
                param: "name".into(),
                reason: format!(
                    "`{name}` must be a plain, non-empty file name not starting with `.`"
                ),
            });
        }
        Ok(self.nodes[node.0].materialize.insert(Materialize {
            name,
            dtype: OutputType::Same,
            format: None,
            persist: true,
        }))
    }

    /// The node's kind.
    pub fn kind(&self, node: NodeId) -> Option<&NodeKind> {
        self.nodes.get(node.0).map(|n| &n.kind)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the flow has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The materialized nodes, in the order they were added.
    pub fn outputs(&self) -> impl Iterator<Item = (NodeId, &Materialize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.materialize.as_ref().map(|m| (NodeId(i), m)))
    }

    fn check_image(&self, node: NodeId, what: &str) -> Result<()> {
        if self.nodes[node.0].kind.is_table() {
            return Err(Error::usage(format!(
                "`{what}` reads an image, and node {} is a table of measurements",
                node.0
            )));
        }
        Ok(())
    }

    fn check(&self, node: NodeId) -> Result<()> {
        if node.0 < self.nodes.len() {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "node {} does not belong to this flow (it has {} nodes)",
                node.0,
                self.nodes.len()
            )))
        }
    }

    /// A short label for reports: the op spec, or the source's path or name.
    pub fn label(&self, node: NodeId) -> String {
        match &self.nodes[node.0].kind {
            NodeKind::File(p, _) => p.display().to_string(),
            NodeKind::Image { name, .. } => format!("image:{name}"),
            NodeKind::Op { op, .. } => op.to_string(),
            NodeKind::Measure { .. } => "measure".into(),
        }
    }
}
