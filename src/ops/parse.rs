//! Op specs as the CLI, flow files and Python write them: `name[:key=value,...]`, read
//! ([`Op::parse`]) and written back in their canonical form (`Display`), which the
//! round-trip test in `ops` checks against each other.

use super::*;

impl Op {
    /// Parses `name[:key=value,...]`, e.g. `gaussian:sigma=2`, `box:size=5`,
    /// `threshold:value=400`, `threshold:method=otsu`.
    pub fn parse(spec: &str) -> Result<Op> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut params: Vec<(&str, &str)> = Vec::new();
        let op_name: &'static str = match name.trim() {
            "gaussian" => "gaussian",
            "box" => "box",
            "threshold" => "threshold",
            "label" => "label",
            "remove_small_objects" => "remove_small_objects",
            "remove_small_holes" => "remove_small_holes",
            "median" => "median",
            "dog" => "dog",
            "log" => "log",
            "gradient" => "gradient",
            "distance" => "distance",
            "fill_holes" => "fill_holes",
            "clear_border" => "clear_border",
            "expand_labels" => "expand_labels",
            other => match MorphKind::ALL.iter().find(|(_, n)| *n == other) {
                Some((_, n)) => n,
                None => {
                    return Err(Error::UnknownOp {
                        name: other.to_string(),
                        known: KNOWN_OPS,
                    })
                }
            },
        };
        for kv in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| Error::param(op_name, kv, "expected key=value"))?;
            let k = k.trim();
            if params.iter().any(|(seen, _)| *seen == k) {
                return Err(Error::param(op_name, k, "given twice"));
            }
            params.push((k, v.trim()));
        }
        let mut p = Params {
            op: op_name,
            params,
        };
        let op = match op_name {
            "gaussian" => {
                let sigma = p.number("sigma")?;
                let sz = p.number("sigma_z")?;
                let sy = p.number("sigma_y")?;
                let sx = p.number("sigma_x")?;
                let truncate = p.number("truncate")?.unwrap_or(4.0);
                let int = IntMode::parse("gaussian", p.take("int"))?;
                let order = p.orders()?;
                // numpy's axis order: (z, y, x). A per-axis form without sigma_z leaves
                // the slices of a volume apart (scipy's sigma=(0, sy, sx)).
                let [sigma_z, sigma_y, sigma_x] =
                    match (sigma, sz, sy, sx) {
                        (Some(s), None, None, None) => [s; 3],
                        (None, z, Some(y), Some(x)) => [z.unwrap_or(0.0), y, x],
                        (Some(_), _, _, _) => return Err(Error::param(
                            "gaussian",
                            "sigma",
                            "give either sigma, or sigma_y and sigma_x (and sigma_z for volumes)",
                        )),
                        _ => {
                            return Err(Error::param(
                                "gaussian",
                                "sigma",
                                "missing (e.g. gaussian:sigma=2, or sigma_y=1,sigma_x=2, or \
                             sigma_z=1,sigma_y=2,sigma_x=2)",
                            ))
                        }
                    };
                Op::Gaussian(Gaussian {
                    sigma_z,
                    sigma_y,
                    sigma_x,
                    truncate,
                    int,
                    order,
                    boundary: Boundary::REFLECT,
                })
            }
            "box" => {
                let size = p.sizes("box:size=5, or size_y=3,size_x=5")?;
                let int = IntMode::parse("box", p.take("int"))?;
                Op::Box(BoxBlur {
                    size,
                    int,
                    boundary: Boundary::REFLECT,
                })
            }
            "median" => Op::Median(Median {
                size: p.sizes("median:size=3, or size_y=3,size_x=5")?,
                boundary: Boundary::REFLECT,
            }),
            "threshold" => p.threshold()?,
            "gradient" => Op::Gradient(Gradient {
                sigma: p.number("sigma")?.ok_or_else(|| {
                    Error::param("gradient", "sigma", "missing (e.g. gradient:sigma=2)")
                })?,
                truncate: p.number("truncate")?.unwrap_or(4.0),
                boundary: Boundary::REFLECT,
            }),
            "log" => Op::Log(Log {
                sigma: p
                    .number("sigma")?
                    .ok_or_else(|| Error::param("log", "sigma", "missing (e.g. log:sigma=2)"))?,
                truncate: p.number("truncate")?.unwrap_or(4.0),
                boundary: Boundary::REFLECT,
            }),
            "dog" => {
                let low = p.number("low")?.ok_or_else(|| {
                    Error::param("dog", "low", "missing (e.g. dog:low=1 or dog:low=1,high=3)")
                })?;
                Op::Dog(Dog {
                    low,
                    // scikit-image's default.
                    high: p.number("high")?.unwrap_or(low * 1.6),
                    truncate: p.number("truncate")?.unwrap_or(4.0),
                    boundary: Boundary::REFLECT,
                })
            }
            "distance" => Op::Distance(p.sampling()?),
            "fill_holes" => Op::FillHoles,
            "clear_border" => Op::ClearBorder,
            "expand_labels" => Op::ExpandLabels(p.expand()?),
            "remove_small_holes" => Op::RemoveHoles(p.holes()?),
            "label" => Op::Label(Label {
                connectivity: p.connectivity()?,
            }),
            "remove_small_objects" => Op::RemoveSmall(RemoveSmall {
                min_size: p.whole("min_size")?,
                max_size: p.whole("max_size")?,
                connectivity: p.connectivity()?,
            }),
            kind => {
                let kind = MorphKind::ALL
                    .iter()
                    .find(|(_, n)| *n == kind)
                    .map_or(MorphKind::Erode, |p| p.0);
                Op::from_morph(kind, p.footprint()?)
            }
        };
        let mut op = op;
        if let Some(b) = op.boundary_mut() {
            let cval = p.number("cval")?;
            *b = Boundary::parse(op_name, |k| p.take(k).map(str::to_string), cval)?;
        }
        p.finish()?;
        op.validate()?;
        Ok(op)
    }
}
/// The `key=value` pairs of one spec, consumed as they are read so leftovers can be named.
struct Params<'a> {
    op: &'static str,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    fn take(&mut self, key: &str) -> Option<&'a str> {
        let i = self.params.iter().position(|(k, _)| *k == key)?;
        Some(self.params.remove(i).1)
    }

    fn number(&mut self, key: &str) -> Result<Option<f64>> {
        self.take(key)
            .map(|v| {
                v.parse::<f64>().map_err(|_| {
                    Error::param(self.op, key, format!("expected a number, got `{v}`"))
                })
            })
            .transpose()
    }

    /// A whole number >= 0.
    fn whole(&mut self, key: &str) -> Result<Option<u64>> {
        self.number(key)?
            .map(|v| {
                if v.fract() == 0.0 && (0.0..=9.0e15).contains(&v) {
                    Ok(v as u64)
                } else {
                    Err(Error::param(
                        self.op,
                        key,
                        format!("must be a whole number >= 0, got {v}"),
                    ))
                }
            })
            .transpose()
    }

    /// `connectivity`, 1 by default; values beyond a u8 saturate, and the op refuses them.
    fn connectivity(&mut self) -> Result<u8> {
        Ok(self
            .whole("connectivity")?
            .map_or(1, |c| u8::try_from(c).unwrap_or(u8::MAX)))
    }

    /// Filling small holes: `max_size` (skimage's default 64), or the deprecated
    /// `area_threshold` (holes smaller than it, so `max_size = area_threshold - 1`).
    fn holes(&mut self) -> Result<RemoveHoles> {
        let max_size = self.whole("max_size")?;
        let area_threshold = self.whole("area_threshold")?;
        let max_size = match (max_size, area_threshold) {
            (Some(_), Some(_)) => {
                return Err(Error::param(
                    "remove_small_holes",
                    "area_threshold",
                    "give max_size (holes of at most that many pixels are filled) or \
                     area_threshold (holes smaller than it), not both",
                ))
            }
            (Some(n), None) => n,
            (None, Some(a)) => a.saturating_sub(1),
            (None, None) => RemoveHoles::DEFAULT_MAX_SIZE,
        };
        Ok(RemoveHoles {
            max_size,
            connectivity: self.connectivity()?,
        })
    }

    /// Expanding labels: `distance` (skimage's default 1) and the spacing, none (1),
    /// `spacing=S`, or any of `spacing_z`, `spacing_y`, `spacing_x` (1 if absent).
    fn expand(&mut self) -> Result<ExpandLabels> {
        let distance = self.number("distance")?.unwrap_or(1.0);
        let all = self.number("spacing")?;
        let (z, y, x) = (
            self.number("spacing_z")?,
            self.number("spacing_y")?,
            self.number("spacing_x")?,
        );
        if all.is_some() && (z.is_some() || y.is_some() || x.is_some()) {
            return Err(Error::param(
                "expand_labels",
                "spacing",
                "give either spacing or spacing_z/spacing_y/spacing_x, not both",
            ));
        }
        let one = all.unwrap_or(1.0);
        Ok(ExpandLabels {
            distance,
            spacing_z: z.unwrap_or(one),
            spacing_y: y.unwrap_or(one),
            spacing_x: x.unwrap_or(one),
        })
    }

    /// The distance transform's sampling: none (1), `sampling=S`, or `sampling_y` and
    /// `sampling_x` (and `sampling_z`, 1 if absent), numpy's axis order as scipy's
    /// `sampling=(sz, sy, sx)`.
    fn sampling(&mut self) -> Result<Distance> {
        let s = self.number("sampling")?;
        let (z, y, x) = (
            self.number("sampling_z")?,
            self.number("sampling_y")?,
            self.number("sampling_x")?,
        );
        match (s, z, y, x) {
            (None, None, None, None) => Ok(Distance::new(1.0)),
            (Some(s), None, None, None) => Ok(Distance::new(s)),
            (None, z, Some(y), Some(x)) => Ok(Distance {
                sampling_z: z.unwrap_or(1.0),
                sampling_y: y,
                sampling_x: x,
            }),
            (Some(_), _, _, _) => Err(Error::param(
                "distance",
                "sampling",
                "give either sampling, or sampling_y and sampling_x (and sampling_z for volumes)",
            )),
            _ => Err(Error::param(
                "distance",
                "sampling",
                "per-axis sampling needs both sampling_y and sampling_x (e.g. \
                 distance:sampling_y=1,sampling_x=0.5)",
            )),
        }
    }

    /// `threshold:value=V`, `threshold:method=M` for an automatic method (otsu, li,
    /// triangle, yen, isodata, mean, minimum), or `threshold:method=local,block=N[,offset=C]`.
    fn threshold(&mut self) -> Result<Op> {
        let method = self.take("method");
        let value = self.number("value")?;
        let (block, offset) = (self.number("block")?, self.number("offset")?);
        let names = "value, local, otsu, li, triangle, yen, isodata, mean or minimum";
        if method != Some("local") {
            for (key, given) in [("block", block), ("offset", offset)] {
                if given.is_some() {
                    return Err(Error::param(
                        "threshold",
                        key,
                        "only method=local takes it (e.g. threshold:method=local,block=51,offset=2)",
                    ));
                }
            }
        }
        let t = match (method, value) {
            (None | Some("value"), Some(value)) => Threshold::Value { value },
            (None | Some("value"), None) => {
                return Err(Error::param(
                    "threshold",
                    "value",
                    "missing (e.g. threshold:value=400 or threshold:method=otsu)",
                ))
            }
            (Some(m), Some(_)) => {
                return Err(Error::param(
                    "threshold",
                    "value",
                    format!("not allowed with method={m}"),
                ))
            }
            (Some("local"), None) => {
                let block = block.ok_or_else(|| {
                    Error::param(
                        "threshold",
                        "block",
                        "missing: method=local needs an odd block size (e.g. threshold:method=local,block=51)",
                    )
                })?;
                if block.fract() != 0.0 || block < 0.0 || block > f64::from(u32::MAX) {
                    return Err(Error::param(
                        "threshold",
                        "block",
                        format!("must be a whole odd number, got {block}"),
                    ));
                }
                Threshold::Local {
                    block: block as u32,
                    offset: offset.unwrap_or(0.0),
                }
            }
            (Some(m), None) => match METHODS.iter().find(|(name, _)| *name == m) {
                Some((_, t)) => *t,
                None => {
                    return Err(Error::param(
                        "threshold",
                        "method",
                        format!("unknown method `{m}` (expected {names})"),
                    ))
                }
            },
        };
        Ok(Op::Threshold(t))
    }

    /// A gaussian's derivative orders: none (0), `order=N` for every axis, or `order_y`,
    /// `order_x` (and `order_z`, 0 if absent), numpy's axis order as scipy's
    /// `order=(oz, oy, ox)`.
    fn orders(&mut self) -> Result<[u32; 3]> {
        let mut one = |key: &str| -> Result<Option<u32>> {
            self.whole(key)?
                .map(|o| {
                    u32::try_from(o).map_err(|_| {
                        Error::param("gaussian", key, format!("must be at most {MAX_ORDER}"))
                    })
                })
                .transpose()
        };
        let all = one("order")?;
        let (z, y, x) = (one("order_z")?, one("order_y")?, one("order_x")?);
        match (all, z, y, x) {
            (None, None, None, None) => Ok([0; 3]),
            (Some(o), None, None, None) => Ok([o; 3]),
            (None, z, Some(y), Some(x)) => Ok([z.unwrap_or(0), y, x]),
            (Some(_), ..) => Err(Error::param(
                "gaussian",
                "order",
                "give either order, or order_y and order_x (and order_z for volumes)",
            )),
            _ => Err(Error::param(
                "gaussian",
                "order",
                "per-axis orders need both order_y and order_x (e.g. order_y=0,order_x=1)",
            )),
        }
    }

    /// Per-axis window sides: `size=N`, or `size_y`, `size_x` (and `size_z`, 1 if
    /// absent), each a whole number; `example` shows the forms in the error.
    fn sizes(&mut self, example: &str) -> Result<[u32; 3]> {
        let op = self.op;
        let mut side = |key: &str| -> Result<Option<u32>> {
            self.number(key)?
                .map(|size| {
                    if size.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&size) {
                        Err(Error::param(
                            op,
                            key,
                            format!("must be a whole number >= 1, got {size}"),
                        ))
                    } else {
                        Ok(size as u32)
                    }
                })
                .transpose()
        };
        let size = side("size")?;
        let (sz, sy, sx) = (side("size_z")?, side("size_y")?, side("size_x")?);
        match (size, sz, sy, sx) {
            (Some(s), None, None, None) => Ok([s; 3]),
            (None, z, Some(y), Some(x)) => Ok([z.unwrap_or(1), y, x]),
            (Some(_), _, _, _) => Err(Error::param(
                op,
                "size",
                "give either size, or size_y and size_x (and size_z for volumes)",
            )),
            _ => Err(Error::param(
                op,
                "size",
                format!("missing (e.g. {example})"),
            )),
        }
    }

    /// A footprint: `footprint=disk|ball|cross` with `radius=R`, or
    /// `footprint=square|cube` with `size=N`; without `footprint`, `radius` means a
    /// disk and `size` a square.
    fn footprint(&mut self) -> Result<Footprint> {
        let op = self.op;
        let shape = self.take("footprint");
        let radius = self.whole("radius")?;
        let size = self.whole("size")?;
        let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let f = match (shape, radius, size) {
            (Some("disk") | None, Some(r), None) => Footprint::Disk { radius: n(r) },
            (Some("ball"), Some(r), None) => Footprint::Ball { radius: n(r) },
            (Some("cross"), Some(r), None) => Footprint::Cross { radius: n(r) },
            (Some("square") | None, None, Some(s)) => Footprint::Square { size: n(s) },
            (Some("cube"), None, Some(s)) => Footprint::Cube { size: n(s) },
            (Some(s), _, _) if !["disk", "ball", "cross", "square", "cube"].contains(&s) => {
                return Err(Error::param(
                    op,
                    "footprint",
                    format!("unknown footprint `{s}` (expected disk, ball, cross, square or cube)"),
                ))
            }
            (Some("square" | "cube"), _, _) => {
                return Err(Error::param(
                    op,
                    "size",
                    "the side of a square or cube footprint: give size=N alone",
                ))
            }
            (Some(_), _, _) => {
                return Err(Error::param(
                    op,
                    "radius",
                    "the radius of a disk, ball or cross footprint: give radius=R alone",
                ))
            }
            (None, _, _) => {
                return Err(Error::param(
                    op,
                    "footprint",
                    format!(
                    "missing (e.g. {op}:footprint=disk,radius=3 or {op}:footprint=square,size=5)"
                ),
                ))
            }
        };
        f.validate(op)?;
        Ok(f)
    }

    fn finish(self) -> Result<()> {
        match self.params.first() {
            None => Ok(()),
            Some((k, _)) => Err(Error::param(self.op, *k, "unknown parameter")),
        }
    }
}

impl std::fmt::Display for Op {
    /// The canonical spec, which [`Op::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fmt_params(f)?;
        match self.boundary() {
            Some(b) => f.write_str(&b.spec_suffix()),
            None => Ok(()),
        }
    }
}

impl Op {
    /// The spec without the boundary.
    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Gaussian(g) => {
                if g.sigma_x == g.sigma_y && g.sigma_y == g.sigma_z {
                    write!(f, "gaussian:sigma={}", g.sigma_x)?;
                } else {
                    let (z, y, x) = (g.sigma_z, g.sigma_y, g.sigma_x);
                    write!(f, "gaussian:sigma_z={z},sigma_y={y},sigma_x={x}")?;
                }
                write!(f, ",truncate={}{}", g.truncate, g.int.spec_suffix())?;
                match g.order {
                    [0, 0, 0] => Ok(()),
                    [z, y, x] if z == y && y == x => write!(f, ",order={x}"),
                    [z, y, x] => write!(f, ",order_z={z},order_y={y},order_x={x}"),
                }
            }
            Op::Box(b) if b.size[0] == b.size[1] && b.size[1] == b.size[2] => {
                write!(f, "box:size={}{}", b.size[0], b.int.spec_suffix())
            }
            Op::Box(b) => write!(
                f,
                "box:size_z={},size_y={},size_x={}{}",
                b.size[0],
                b.size[1],
                b.size[2],
                b.int.spec_suffix()
            ),
            Op::Threshold(Threshold::Value { value }) => write!(f, "threshold:value={value}"),
            Op::Threshold(Threshold::Local { block, offset }) => {
                write!(f, "threshold:method=local,block={block},offset={offset}")
            }
            Op::Threshold(t) => write!(f, "threshold:method={}", t.method()),
            Op::Label(l) => write!(f, "label:connectivity={}", l.connectivity),
            Op::RemoveSmall(r) => match (r.min_size, r.max_size) {
                (Some(n), _) => write!(
                    f,
                    "remove_small_objects:min_size={n},connectivity={}",
                    r.connectivity
                ),
                (None, n) => write!(
                    f,
                    "remove_small_objects:max_size={},connectivity={}",
                    n.unwrap_or(0),
                    r.connectivity
                ),
            },
            Op::RemoveHoles(r) => write!(
                f,
                "remove_small_holes:max_size={},connectivity={}",
                r.max_size, r.connectivity
            ),
            Op::Median(m) if m.size[0] == m.size[1] && m.size[1] == m.size[2] => {
                write!(f, "median:size={}", m.size[0])
            }
            Op::Median(m) => write!(
                f,
                "median:size_z={},size_y={},size_x={}",
                m.size[0], m.size[1], m.size[2]
            ),
            Op::Dog(d) => write!(
                f,
                "dog:low={},high={},truncate={}",
                d.low, d.high, d.truncate
            ),
            Op::Log(l) => write!(f, "log:sigma={},truncate={}", l.sigma, l.truncate),
            Op::Gradient(g) => write!(f, "gradient:sigma={},truncate={}", g.sigma, g.truncate),
            Op::Distance(d) if d.sampling_x == d.sampling_y && d.sampling_y == d.sampling_z => {
                write!(f, "distance:sampling={}", d.sampling_x)
            }
            Op::Distance(d) => write!(
                f,
                "distance:sampling_z={},sampling_y={},sampling_x={}",
                d.sampling_z, d.sampling_y, d.sampling_x
            ),
            Op::FillHoles => write!(f, "fill_holes"),
            Op::ClearBorder => write!(f, "clear_border"),
            Op::ExpandLabels(e) if e.spacing() == [1.0; 3] => {
                write!(f, "expand_labels:distance={}", e.distance)
            }
            Op::ExpandLabels(e) => write!(
                f,
                "expand_labels:distance={},spacing_z={},spacing_y={},spacing_x={}",
                e.distance, e.spacing_z, e.spacing_y, e.spacing_x
            ),
            _ => match self.morph() {
                Some(m) => write!(f, "{}:{}", m.kind.name(), m.footprint.spec()),
                None => Ok(()),
            },
        }
    }
}
