//! Flow files: a TOML description of the ops applied to every input, which can branch.
//!
//! ```toml
//! # One denoised image feeding two masks.
//! [nodes.denoised]
//! from = "input"                 # every source file
//! op = "gaussian:sigma=2"
//!
//! [nodes.fixed]
//! from = "denoised"
//! op = "threshold:value=400"
//! output = "fixed"               # written as <stem>_fixed-<hash16>.<ext>
//!
//! [nodes.otsu]
//! from = "denoised"
//! ops = ["box:size=3", "threshold:method=otsu"]   # a chain
//! output = "otsu"
//! dtype = "u8"                   # optional: same (default), u8, u16, f32
//! format = "png"                 # optional: tif, png, jpg, gif (default by content)
//! ```
//!
//! Each node takes `from` (`input` or another node's name) and `op` or `ops`; a node
//! with `output` is written. Every flow needs at least one output.

use crate::backend::OutputType;
use crate::flow::{Flow, NodeId};
use crate::io::Format;
use crate::ops::Op;
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The name `from` uses for the source file.
pub const INPUT: &str = "input";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    nodes: BTreeMap<String, NodeSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSpec {
    from: String,
    op: Option<String>,
    #[serde(default)]
    ops: Vec<String>,
    output: Option<String>,
    dtype: Option<String>,
    format: Option<String>,
}

/// One node of a parsed flow file.
#[derive(Clone, Debug)]
pub struct StepSpec {
    /// The node's name.
    pub name: String,
    /// `input` or another node's name.
    pub from: String,
    /// The ops, in order.
    pub ops: Vec<Op>,
    /// Output suffix, when this node is written.
    pub output: Option<String>,
    /// Output sample type.
    pub dtype: OutputType,
    /// Output format.
    pub format: Option<Format>,
}

/// A parsed flow file: steps in dependency order.
#[derive(Clone, Debug)]
pub struct FlowSpec {
    /// Steps, each after the step it reads from.
    pub steps: Vec<StepSpec>,
}

fn bad(param: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidParam {
        op: "flow file",
        param: param.into(),
        reason: reason.into(),
    }
}

impl FlowSpec {
    /// A linear chain of ops with one output named after the source (`--op` mode).
    pub fn chain(ops: Vec<Op>, dtype: OutputType, format: Option<Format>) -> Self {
        FlowSpec {
            steps: vec![StepSpec {
                name: "result".into(),
                from: INPUT.into(),
                ops,
                output: Some(String::new()),
                dtype,
                format,
            }],
        }
    }

    /// Reads and parses a flow file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| match e {
            Error::InvalidParam { param, reason, .. } => {
                bad(param, format!("{}: {reason}", path.display()))
            }
            e => e,
        })
    }

    /// Parses a flow file's text.
    pub fn parse(text: &str) -> Result<Self> {
        let spec: FileSpec = toml::from_str(text).map_err(|e| bad("toml", e.to_string()))?;
        let mut steps = Vec::new();
        for (name, n) in spec.nodes {
            if name == INPUT {
                return Err(bad(
                    name,
                    "`input` names the source; pick another node name",
                ));
            }
            let mut specs = n.ops;
            if let Some(op) = n.op {
                specs.insert(0, op);
            }
            if specs.is_empty() {
                return Err(bad(&name, "needs `op` or `ops`"));
            }
            let ops = specs
                .iter()
                .map(|s| Op::parse(s))
                .collect::<Result<Vec<_>>>()?;
            let dtype = match n.dtype.as_deref() {
                None | Some("same") => OutputType::Same,
                Some(t) => OutputType::Exactly(
                    t.parse()
                        .map_err(|e: String| bad(format!("{name}.dtype"), e))?,
                ),
            };
            let format = n
                .format
                .map(|f| {
                    Format::from_path(Path::new(&format!("x.{f}"))).map_err(|_| {
                        bad(
                            format!("{name}.format"),
                            format!("unknown format `{f}` (tif, png, jpg, gif)"),
                        )
                    })
                })
                .transpose()?;
            if let Some(o) = &n.output {
                if o.is_empty() || o.contains(['/', '\\']) {
                    return Err(bad(
                        format!("{name}.output"),
                        format!("`{o}` must be a plain, non-empty name"),
                    ));
                }
            }
            steps.push(StepSpec {
                name,
                from: n.from,
                ops,
                output: n.output,
                dtype,
                format,
            });
        }
        // Order steps after what they read from; unknown names and cycles are errors.
        let mut ordered: Vec<StepSpec> = Vec::new();
        while !steps.is_empty() {
            let ready = steps
                .iter()
                .position(|s| s.from == INPUT || ordered.iter().any(|o| o.name == s.from));
            match ready {
                Some(k) => ordered.push(steps.remove(k)),
                None => {
                    let s = &steps[0];
                    let known = steps.iter().any(|t| t.name == s.from);
                    return Err(bad(
                        format!("{}.from", s.name),
                        if known {
                            format!("`{}` is part of a cycle", s.from)
                        } else {
                            format!("no node named `{}` (use `input` for the source)", s.from)
                        },
                    ));
                }
            }
        }
        if !ordered.iter().any(|s| s.output.is_some()) {
            return Err(bad(
                "output",
                "no node has an `output`; nothing would be written",
            ));
        }
        Ok(FlowSpec { steps: ordered })
    }

    /// Adds the steps for one source file to `flow`; outputs are named
    /// `<stem>_<output>` (or `<stem>` for an empty output name).
    pub fn add_source(&self, flow: &mut Flow, source: &Path) -> Result<Vec<NodeId>> {
        let stem = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let src = flow.file(source);
        let mut named: HashMap<&str, NodeId> = HashMap::from([(INPUT, src)]);
        let mut outputs = Vec::new();
        for step in &self.steps {
            let node = flow.chain(named[step.from.as_str()], &step.ops)?;
            named.insert(&step.name, node);
            if let Some(o) = &step.output {
                let name = if o.is_empty() {
                    stem.clone()
                } else {
                    format!("{stem}_{o}")
                };
                let m = flow.materialize(node, name)?;
                m.dtype = step.dtype;
                m.format = step.format;
                outputs.push(node);
            }
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_branching_flow_in_dependency_order() {
        let spec = FlowSpec::parse(
            r#"
            [nodes.otsu]
            from = "denoised"
            ops = ["box:size=3", "threshold:method=otsu"]
            output = "otsu"
            [nodes.denoised]
            from = "input"
            op = "gaussian:sigma=2"
            [nodes.fixed]
            from = "denoised"
            op = "threshold:value=400"
            output = "fixed"
            dtype = "u8"
            format = "png"
            "#,
        )
        .unwrap();
        let names: Vec<&str> = spec.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[0], "denoised");
        let mut flow = Flow::new();
        let outs = spec
            .add_source(&mut flow, Path::new("/data/cell7.tif"))
            .unwrap();
        assert_eq!(outs.len(), 2);
        let names: Vec<String> = flow.outputs().map(|(_, m)| m.name.clone()).collect();
        assert!(names.contains(&"cell7_fixed".into()) && names.contains(&"cell7_otsu".into()));
        assert_eq!(
            flow.len(),
            1 + 1 + 1 + 2,
            "source, gaussian shared, fixed, box, otsu"
        );
    }

    #[test]
    fn bad_flow_files_say_what_is_wrong() {
        let cases = [
            ("[nodes.a]\nfrom = \"b\"\nop = \"box:size=3\"\noutput = \"x\"", "no node named `b`"),
            ("[nodes.a]\nfrom = \"b\"\nop = \"box:size=3\"\n[nodes.b]\nfrom = \"a\"\nop = \"box:size=3\"\noutput = \"x\"", "cycle"),
            ("[nodes.a]\nfrom = \"input\"\nop = \"box:size=3\"", "no node has an `output`"),
            ("[nodes.a]\nfrom = \"input\"\noutput = \"x\"", "needs `op` or `ops`"),
            ("[nodes.a]\nfrom = \"input\"\nop = \"median:size=3\"\noutput = \"x\"", "unknown op `median`"),
            ("[nodes.a]\nfrom = \"input\"\nop = \"box:size=3\"\noutput = \"x\"\ncolour = 1", "unknown field"),
            ("[nodes.a]\nfrom = \"input\"\nop = \"box:size=3\"\noutput = \"x\"\nformat = \"bmp\"", "unknown format"),
            ("not toml at all [", "toml"),
        ];
        for (text, needle) in cases {
            let e = FlowSpec::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: `{e}` lacks `{needle}`");
        }
    }
}
