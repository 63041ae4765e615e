//! NGFF metadata: the `multiscales` of an OME-Zarr image (0.4 in `.zattrs`, 0.5 under
//! `attributes.ome` of `zarr.json`), its axes mapped onto imflow's image model and its
//! level-0 scale read as the voxel size; and the 0.5 metadata imflow writes.

use crate::image::{SampleType, VoxelSize};
use serde_json::{json, Value};

/// Which axis of imflow's model an NGFF axis is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Time: frames of a sequence.
    T,
    /// Channels (interleaved in imflow's images).
    C,
    /// Slices of a volume.
    Z,
    /// Rows.
    Y,
    /// Columns.
    X,
}

impl Axis {
    /// The NGFF name.
    pub fn name(self) -> &'static str {
        match self {
            Axis::T => "t",
            Axis::C => "c",
            Axis::Z => "z",
            Axis::Y => "y",
            Axis::X => "x",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Axis::T => "time",
            Axis::C => "channel",
            _ => "space",
        }
    }
}

/// What the metadata of an image says: its axes, level 0's path, its scale, the units.
#[derive(Clone, Debug, PartialEq)]
pub struct Multiscale {
    /// NGFF version (`0.4`, `0.5`).
    pub version: String,
    /// The image's name, where it has one.
    pub name: Option<String>,
    /// The axes, in the array's order: `[t,][c,][z,]y,x`.
    pub axes: Vec<Axis>,
    /// The unit of the space axes (NGFF's name, `micrometer`), where given.
    pub space_unit: Option<String>,
    /// The unit of the time axis, where given.
    pub time_unit: Option<String>,
    /// Level 0's path in the group (`0`, `s0`, ...).
    pub path: String,
    /// Level 0's scale per axis (the dataset's times the multiscale's, where both are
    /// given); 1 where none is.
    pub scale: Vec<f64>,
}

impl Multiscale {
    /// Parses the first multiscale of `attrs` (the group's attributes: `.zattrs` of
    /// 0.4, `zarr.json`'s `attributes` of 0.5). Errors say what is wrong, without a path.
    pub fn parse(attrs: &Value) -> Result<Multiscale, String> {
        // 0.5 nests everything under `ome`; 0.4 has it at the top.
        let (ome, outer_version) = match attrs.get("ome") {
            Some(ome) => (ome, ome.get("version").and_then(Value::as_str)),
            None => (attrs, None),
        };
        let list = ome
            .get("multiscales")
            .and_then(Value::as_array)
            .ok_or("no `multiscales` in the group's attributes (not an OME-Zarr image; a plate or a label group is not read)")?;
        let ms = list.first().ok_or("`multiscales` is empty")?;
        let version = outer_version
            .or_else(|| ms.get("version").and_then(Value::as_str))
            .unwrap_or("0.4")
            .to_string();
        if !matches!(version.as_str(), "0.4" | "0.5") {
            return Err(format!("NGFF version {version} (imflow reads 0.4 and 0.5)"));
        }
        let axes_json = ms
            .get("axes")
            .and_then(Value::as_array)
            .ok_or("the multiscale has no `axes`")?;
        let mut axes = Vec::new();
        let (mut space_unit, mut time_unit) = (None, None);
        for a in axes_json {
            // 0.3 wrote bare names; 0.4 and 0.5 write objects.
            let name = a
                .get("name")
                .or(Some(a))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("an axis without a name: {a}"))?;
            let axis = match name.to_ascii_lowercase().as_str() {
                "t" => Axis::T,
                "c" => Axis::C,
                "z" => Axis::Z,
                "y" => Axis::Y,
                "x" => Axis::X,
                other => {
                    return Err(format!(
                        "axis `{other}`: imflow maps the axes t, c, z, y and x (in that order) onto its images"
                    ))
                }
            };
            if let Some(unit) = a.get("unit").and_then(Value::as_str) {
                match axis {
                    Axis::T => time_unit = Some(unit.to_string()),
                    Axis::C => {}
                    _ => match &space_unit {
                        Some(u) if u != unit => {
                            return Err(format!(
                                "space axes in different units ({u}, {unit}); imflow keeps one unit for z, y and x"
                            ))
                        }
                        _ => space_unit = Some(unit.to_string()),
                    },
                }
            }
            axes.push(axis);
        }
        let order = [Axis::T, Axis::C, Axis::Z, Axis::Y, Axis::X];
        let ranks: Vec<usize> = axes
            .iter()
            .map(|a| order.iter().position(|o| o == a).expect("listed"))
            .collect();
        let names: Vec<&str> = axes.iter().map(|a| a.name()).collect();
        if ranks.windows(2).any(|w| w[0] >= w[1])
            || axes.len() < 2
            || axes[axes.len() - 2..] != [Axis::Y, Axis::X]
        {
            return Err(format!(
                "axes [{}]: imflow reads [t,][c,][z,]y,x (each at most once, in that order, ending in y, x)",
                names.join(", ")
            ));
        }
        let datasets = ms
            .get("datasets")
            .and_then(Value::as_array)
            .ok_or("the multiscale has no `datasets`")?;
        let level0 = datasets.first().ok_or("`datasets` is empty")?;
        let path = level0
            .get("path")
            .and_then(Value::as_str)
            .ok_or("level 0 has no `path`")?
            .to_string();
        let mut scale = vec![1.0; axes.len()];
        for transforms in [
            level0.get("coordinateTransformations"),
            ms.get("coordinateTransformations"),
        ]
        .into_iter()
        .flatten()
        {
            for t in transforms.as_array().into_iter().flatten() {
                if t.get("type").and_then(Value::as_str) != Some("scale") {
                    continue;
                }
                let s = t
                    .get("scale")
                    .and_then(Value::as_array)
                    .ok_or("a scale transformation without a `scale` list (a `path` to a file is not read)")?;
                if s.len() != axes.len() {
                    return Err(format!(
                        "a scale of {} values for {} axes",
                        s.len(),
                        axes.len()
                    ));
                }
                for (v, f) in scale.iter_mut().zip(s) {
                    let f = f
                        .as_f64()
                        .filter(|f| f.is_finite() && *f > 0.0)
                        .ok_or_else(|| format!("scale value {f} is not a positive number"))?;
                    *v *= f;
                }
            }
        }
        Ok(Multiscale {
            version,
            name: ms.get("name").and_then(Value::as_str).map(str::to_string),
            axes,
            space_unit,
            time_unit,
            path,
            scale,
        })
    }

    /// Where `axis` is in the array's order.
    pub fn index(&self, axis: Axis) -> Option<usize> {
        self.axes.iter().position(|&a| a == axis)
    }

    /// The voxel size the scale gives (z 1 for an image without z), in imflow's unit
    /// names (`µm` for NGFF's `micrometer`).
    pub fn voxel(&self) -> VoxelSize {
        let at = |a| self.index(a).map_or(1.0, |i| self.scale[i]);
        VoxelSize {
            z: at(Axis::Z),
            y: at(Axis::Y),
            x: at(Axis::X),
            unit: self
                .space_unit
                .as_deref()
                .map_or_else(String::new, |u| unit_to_imflow(u).to_string()),
        }
    }

    /// The group attributes of an NGFF 0.5 image with one level at `0`, these axes, and
    /// `voxel`'s scale (1 on t and c).
    pub fn attributes_v05(
        name: &str,
        axes: &[Axis],
        voxel: Option<&VoxelSize>,
        time_unit: Option<&str>,
    ) -> Value {
        let unit = voxel
            .map(|v| unit_to_ngff(&v.unit))
            .filter(|u| !u.is_empty());
        let axes_json: Vec<Value> = axes
            .iter()
            .map(|&a| {
                let mut o = json!({"name": a.name(), "type": a.kind()});
                match a {
                    Axis::T => {
                        if let Some(u) = time_unit {
                            o["unit"] = json!(u);
                        }
                    }
                    Axis::C => {}
                    _ => {
                        if let Some(u) = &unit {
                            o["unit"] = json!(u);
                        }
                    }
                }
                o
            })
            .collect();
        let scale: Vec<f64> = axes
            .iter()
            .map(|a| match (a, voxel) {
                (Axis::Z, Some(v)) => v.z,
                (Axis::Y, Some(v)) => v.y,
                (Axis::X, Some(v)) => v.x,
                _ => 1.0,
            })
            .collect();
        json!({
            "ome": {
                "version": "0.5",
                "multiscales": [{
                    "name": name,
                    "axes": axes_json,
                    "datasets": [{
                        "path": "0",
                        "coordinateTransformations": [{"type": "scale", "scale": scale}],
                    }],
                }],
            }
        })
    }
}

/// NGFF's unit names (UDUNITS-2) to the short ones imflow's TIFF metadata uses.
fn unit_to_imflow(unit: &str) -> &str {
    match unit {
        "micrometer" => "µm",
        "nanometer" => "nm",
        "millimeter" => "mm",
        "centimeter" => "cm",
        "meter" => "m",
        u => u,
    }
}

/// The short unit names to NGFF's.
fn unit_to_ngff(unit: &str) -> String {
    match unit {
        "µm" | "um" | "micron" => "micrometer",
        "nm" => "nanometer",
        "mm" => "millimeter",
        "cm" => "centimeter",
        "m" => "meter",
        u => u,
    }
    .to_string()
}

/// imflow's sample type of a Zarr data type: v3 names (`uint16`) or v2 typestrings
/// (`<u2`, `|u1`); big-endian v2 arrays are read by zarrs in native order all the same.
pub fn sample_type(dtype: &str) -> Option<SampleType> {
    let t = dtype.trim_start_matches(['<', '>', '|', '=']);
    Some(match t {
        "uint8" | "u1" => SampleType::U8,
        "uint16" | "u2" => SampleType::U16,
        "uint32" | "u4" => SampleType::U32,
        "int8" | "i1" => SampleType::I8,
        "int16" | "i2" => SampleType::I16,
        "int32" | "i4" => SampleType::I32,
        "float32" | "f4" => SampleType::F32,
        "float64" | "f8" => SampleType::F64,
        _ => return None,
    })
}

/// The Zarr v3 data type name of a sample type.
pub fn zarr_type(t: SampleType) -> &'static str {
    match t {
        SampleType::U8 => "uint8",
        SampleType::U16 => "uint16",
        SampleType::U32 => "uint32",
        SampleType::I8 => "int8",
        SampleType::I16 => "int16",
        SampleType::I32 => "int32",
        SampleType::F32 => "float32",
        SampleType::F64 => "float64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_axes_and_scale() {
        let v05 = json!({"ome": {"version": "0.5", "multiscales": [{
            "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
                     {"name": "x", "type": "space", "unit": "micrometer"}],
            "datasets": [{"path": "s0", "coordinateTransformations": [{"type": "scale", "scale": [1, 0.5, 0.25]}]}],
            "coordinateTransformations": [{"type": "scale", "scale": [1, 2, 2]}]}]}});
        let m = Multiscale::parse(&v05).unwrap();
        assert_eq!((m.version.as_str(), m.path.as_str()), ("0.5", "s0"));
        assert_eq!(m.axes, [Axis::C, Axis::Y, Axis::X]);
        assert_eq!(
            m.voxel(),
            VoxelSize {
                z: 1.0,
                y: 1.0,
                x: 0.5,
                unit: "µm".into()
            }
        );
        let v04 = json!({"multiscales": [{"version": "0.4",
            "axes": [{"name": "z"}, {"name": "y"}, {"name": "x"}],
            "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [2, 1, 1]}]}]}]});
        let m = Multiscale::parse(&v04).unwrap();
        assert_eq!((m.version.as_str(), m.voxel().z), ("0.4", 2.0));
        for (bad, needle) in [
            (
                json!({"multiscales": [{"axes": [{"name": "x"}, {"name": "y"}], "datasets": [{"path": "0"}]}]}),
                "in that order",
            ),
            (
                json!({"multiscales": [{"axes": [{"name": "q"}, {"name": "y"}, {"name": "x"}], "datasets": [{"path": "0"}]}]}),
                "axis `q`",
            ),
            (json!({"foo": 1}), "no `multiscales`"),
            (
                json!({"ome": {"version": "0.6", "multiscales": []}}),
                "empty",
            ),
        ] {
            let e = Multiscale::parse(&bad).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
        // What imflow writes, it reads back.
        let voxel = VoxelSize {
            z: 1.0,
            y: 0.3,
            x: 0.3,
            unit: "µm".into(),
        };
        let attrs = Multiscale::attributes_v05("a", &[Axis::Y, Axis::X], Some(&voxel), None);
        assert_eq!(Multiscale::parse(&attrs).unwrap().voxel(), voxel);
    }

    #[test]
    fn data_types() {
        assert_eq!(sample_type("<u2"), Some(SampleType::U16));
        assert_eq!(sample_type("uint16"), Some(SampleType::U16));
        assert_eq!(sample_type("int64"), None);
        for t in SampleType::ALL {
            assert_eq!(sample_type(zarr_type(t)), Some(t));
        }
    }
}
