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
//!
//! A top-level `volume = true` reads each multi-page TIFF as one volume (a z-stack) even
//! where the file does not say so (ImageJ hyperstacks and OME-TIFFs say it themselves):
//!
//! ```toml
//! volume = true
//! [nodes.smooth]
//! from = "input"
//! op = "gaussian:sigma_z=1,sigma_y=2,sigma_x=2"
//! output = "smooth"
//! ```
//!
//! A measurement table reads two nodes, a label image and the image to measure:
//!
//! ```toml
//! [nodes.labels]
//! from = "input"
//! ops = ["gaussian:sigma=2", "threshold:method=otsu", "label"]
//!
//! [nodes.objects]
//! from = ["labels", "input"]     # labels, intensity
//! op = "measure"
//! output = "objects"             # <stem>_objects-<hash16>.csv
//! ```

use crate::backend::OutputType;
use crate::flow::{Flow, NodeId};
use crate::io::{Format, Reading};
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
    /// Read every multi-page TIFF as a volume.
    #[serde(default)]
    volume: bool,
    nodes: BTreeMap<String, NodeSpec>,
}

/// `from`: one node's name, or a list of them (a measure's labels and intensity).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum From {
    One(String),
    Many(Vec<String>),
}

/// The op name of a measurement table in flow files.
pub const MEASURE: &str = "measure";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSpec {
    from: From,
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
    /// `input` or other nodes' names: one for ops, two (labels, intensity) for a
    /// measurement table.
    pub from: Vec<String>,
    /// The ops, in order (none for a measurement table).
    pub ops: Vec<Op>,
    /// Whether the node is a measurement table (`op = "measure"`).
    pub measure: bool,
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
    /// How each source's pages are read (`volume = true`: as a volume).
    pub reading: Reading,
}

/// A problem in a flow file: the message, the node it is in (to find its line), and
/// the underlying error.
struct Bad {
    node: Option<String>,
    message: String,
    line: Option<usize>,
    source: Option<crate::error::BoxError>,
}

/// `message` about `what` (a node, or one of its fields: `a.dtype`).
fn bad(what: impl Into<String>, message: impl Into<String>) -> Bad {
    let what = what.into();
    Bad {
        message: format!("`{what}`: {}", message.into()),
        node: Some(what),
        line: None,
        source: None,
    }
}

impl Bad {
    /// The error, naming the file and the line: the parser's, or the line of the node's
    /// table (`[nodes.<name>]`).
    fn at(self, path: &Path, text: &str) -> Error {
        let line = self.line.or_else(|| {
            let node = self.node.as_deref()?.split('.').next()?;
            text.lines()
                .position(|l| {
                    let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
                    l == format!("[nodes.{node}]") || l == format!("[nodes.\"{node}\"]")
                })
                .map(|i| i + 1)
        });
        Error::FlowFile {
            path: path.to_path_buf(),
            line,
            message: self.message,
            source: self.source,
        }
    }
}

impl FlowSpec {
    /// A linear chain of ops with one output named after the source (`--op` mode).
    pub fn chain(ops: Vec<Op>, dtype: OutputType, format: Option<Format>) -> Self {
        FlowSpec {
            steps: vec![StepSpec {
                name: "result".into(),
                from: vec![INPUT.into()],
                ops,
                measure: false,
                output: Some(String::new()),
                dtype,
                format,
            }],
            reading: Reading::Auto,
        }
    }

    /// Reads and parses a flow file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse_named(&text, path)
    }

    /// Parses a flow file's text; errors name it `<flow>`.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_named(text, Path::new("<flow>"))
    }

    fn parse_named(text: &str, path: &Path) -> Result<Self> {
        Self::parse_text(text).map_err(|b| b.at(path, text))
    }

    fn parse_text(text: &str) -> std::result::Result<Self, Bad> {
        let spec: FileSpec = toml::from_str(text).map_err(|e| Bad {
            node: None,
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().to_string(),
            source: Some(Box::new(e)),
        })?;
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
            let from = match n.from {
                From::One(f) => vec![f],
                From::Many(f) => f,
            };
            let measure = specs.iter().any(|s| s.trim() == MEASURE);
            match (measure, specs.len(), from.len()) {
                (true, 1, 2) | (false, _, 1) => {}
                (true, 1, _) => {
                    return Err(bad(
                        format!("{name}.from"),
                        "`measure` reads two nodes: from = [\"<labels>\", \"<intensity>\"]",
                    ))
                }
                (true, _, _) => {
                    return Err(bad(
                        &name,
                        "`measure` is a node of its own, not part of `ops`",
                    ))
                }
                (false, _, _) => {
                    return Err(bad(
                        format!("{name}.from"),
                        "ops read one node; only `measure` reads two",
                    ))
                }
            }
            let specs = if measure { Vec::new() } else { specs };
            let ops = specs
                .iter()
                .map(|s| Op::parse(s))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| Bad {
                    message: format!("node `{name}`: {e}"),
                    source: Some(Box::new(e)),
                    ..bad(&name, "")
                })?;
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
                    Format::from_extension(&f).ok_or_else(|| {
                        bad(
                            format!("{name}.format"),
                            format!("unknown format `{f}` (tif, png, jpg, gif, webp, bmp)"),
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
                from,
                ops,
                measure,
                output: n.output,
                dtype,
                format,
            });
        }
        // Order steps after what they read from; unknown names and cycles are errors.
        let mut ordered: Vec<StepSpec> = Vec::new();
        while !steps.is_empty() {
            let ready = steps.iter().position(|s| {
                (s.from.iter()).all(|f| f == INPUT || ordered.iter().any(|o| &o.name == f))
            });
            match ready {
                Some(k) => ordered.push(steps.remove(k)),
                None => {
                    let s = &steps[0];
                    let from = (s.from.iter())
                        .find(|f| *f != INPUT && !ordered.iter().any(|o| &o.name == *f))
                        .cloned()
                        .unwrap_or_default();
                    let known = steps.iter().any(|t| t.name == from);
                    return Err(bad(
                        format!("{}.from", s.name),
                        if known {
                            format!("`{from}` is part of a cycle")
                        } else {
                            format!("no node named `{from}` (use `input` for the source)")
                        },
                    ));
                }
            }
        }
        if !ordered.iter().any(|s| s.output.is_some()) {
            return Err(Bad {
                node: None,
                message: "no node has an `output`; nothing would be written".into(),
                line: None,
                source: None,
            });
        }
        Ok(FlowSpec {
            steps: ordered,
            reading: if spec.volume {
                Reading::Volume
            } else {
                Reading::Auto
            },
        })
    }

    /// Adds the steps for one source file to `flow`; outputs are named
    /// `<stem>_<output>` (or `<stem>` for an empty output name).
    pub fn add_source(&self, flow: &mut Flow, source: &Path) -> Result<Vec<NodeId>> {
        let stem = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let src = flow.file_as(source, self.reading);
        let mut named: HashMap<&str, NodeId> = HashMap::from([(INPUT, src)]);
        let mut outputs = Vec::new();
        for step in &self.steps {
            let node = match step.from.as_slice() {
                [labels, intensity] if step.measure => {
                    flow.measure(named[labels.as_str()], named[intensity.as_str()])?
                }
                [from] => flow.chain(named[from.as_str()], &step.ops)?,
                _ => {
                    return Err(Error::usage(format!(
                        "node `{}` reads the wrong inputs",
                        step.name
                    )))
                }
            };
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
            ("[nodes.a]\nfrom = \"input\"\nop = \"sobel:size=3\"\noutput = \"x\"", "unknown op `sobel`"),
            ("[nodes.a]\nfrom = \"input\"\nop = \"box:size=3\"\noutput = \"x\"\ncolour = 1", "unknown field"),
            ("[nodes.a]\nfrom = \"input\"\nop = \"box:size=3\"\noutput = \"x\"\nformat = \"xcf\"", "unknown format"),
            ("not toml at all [", "<flow>:1"),
        ];
        for (text, needle) in cases {
            let e = FlowSpec::parse(text).unwrap_err();
            assert!(matches!(e, Error::FlowFile { .. }), "{e:?}");
            let e = e.to_string();
            assert!(e.contains(needle), "{text}: `{e}` lacks `{needle}`");
        }
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flow.toml");
        let text = "# a flow\n[nodes.a]\nfrom = \"input\"\nop = \"box:size=3\"\noutput = \"x\"\n\n[nodes.b]\nfrom = \"nowhere\"\nop = \"box:size=3\"\n";
        std::fs::write(&path, text).unwrap();
        let e = FlowSpec::load(&path).unwrap_err();
        match &e {
            Error::FlowFile { path: p, line, .. } => assert_eq!((p, *line), (&path, Some(7))),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("flow.toml:7: "), "{e}");
        std::fs::write(&path, "[nodes.a]\nfrom = \"input\"\nop = 3\n").unwrap();
        let e = FlowSpec::load(&path).unwrap_err();
        assert!(
            matches!(
                e,
                Error::FlowFile {
                    line: Some(3),
                    source: Some(_),
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
