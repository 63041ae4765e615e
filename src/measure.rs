//! Per-object measurements: one row per label, with the columns of
//! `skimage.measure.regionprops_table(labels, intensity, properties=...)`:
//! `label`, `area`, `centroid-0..`, `bbox-0..`, `intensity_mean`, `intensity_min`,
//! `intensity_max`, `equivalent_diameter_area` (with `-<c>` suffixes on the intensity
//! columns for an intensity image of several channels, as skimage names them). A volume
//! has three centroid columns and six bbox ones, in numpy's axis order (z, y, x). Where
//! the voxel size is known, `area_physical`, `centroid_physical-*` and
//! `equivalent_diameter_area_physical` follow: skimage's `area`, `centroid` and
//! `equivalent_diameter_area` with `spacing=` the voxel size. A stack's tables are one,
//! with a `frame` column first.
//!
//! Sums are kept in f64 over exact integer coordinates and f32 intensities, so area,
//! bbox, min and max are exact and centroids and means are within f64 rounding of
//! skimage's. Rows can be fed a band at a time ([`Measurer::push`]), so a frame never
//! has to be whole.

use crate::image::{Image, ImageView, Samples, Shape, VoxelSize};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One object's running sums.
#[derive(Clone, Debug)]
struct Acc {
    area: u64,
    /// Sums of z, y, x.
    sum: [f64; 3],
    /// z, y, x of the first corner, then of the last.
    bbox: [u32; 6],
    values: Vec<f64>,
    min: Vec<f32>,
    max: Vec<f32>,
}

/// Accumulates one frame's objects, band by band.
#[derive(Clone, Debug)]
pub struct Measurer {
    channels: usize,
    /// Rows per slice (`u32::MAX` for a 2-D frame: every row in slice 0).
    height: u32,
    volume: bool,
    voxel: Option<VoxelSize>,
    rows_seen: u64,
    objects: BTreeMap<u32, Acc>,
}

/// One frame's table.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameTable {
    /// Intensity channels (the intensity columns repeat per channel).
    pub channels: usize,
    /// 2, or 3 for a volume.
    pub ndim: usize,
    /// Whether the physical columns follow (the voxel size was known).
    pub physical: bool,
    /// One row per object, by label: the values of [`columns`].
    pub rows: Vec<Vec<f64>>,
}

impl Measurer {
    /// A 2-D frame whose intensity image has `channels` channels.
    pub fn new(channels: usize) -> Self {
        Measurer {
            channels,
            height: u32::MAX,
            volume: false,
            voxel: None,
            rows_seen: 0,
            objects: BTreeMap::new(),
        }
    }

    /// A frame of `shape` (a volume's slices come one after another), its intensity
    /// image of `channels` channels, with the physical columns where `voxel` is known.
    pub fn for_frame(shape: Shape, channels: usize, voxel: Option<&VoxelSize>) -> Self {
        Measurer {
            height: if shape.is_volume() {
                shape.height
            } else {
                u32::MAX
            },
            volume: shape.is_volume(),
            voxel: voxel.cloned(),
            ..Measurer::new(channels)
        }
    }

    /// The next band of rows (of a volume: whole slices): labels (one channel, any
    /// integer-valued type) and the intensity image's same rows.
    pub fn push(&mut self, labels: ImageView<'_>, intensity: ImageView<'_>) -> Result<()> {
        let (ls, is) = (labels.shape(), intensity.shape());
        let w = ls.width;
        if ls.channels != 1 {
            return Err(Error::usage(format!(
                "measure: labels must have one channel, not {}",
                ls.channels
            )));
        }
        if (is.width, is.height, is.depth) != (w, ls.height, ls.depth)
            || is.channels as usize != self.channels
        {
            return Err(Error::usage(format!(
                "measure: labels {ls} and intensity {is} differ in shape"
            )));
        }
        let ids = labels.to_f32_vec();
        let values = intensity.to_f32_vec();
        let c = self.channels;
        let height = u64::from(self.height);
        for (i, &id) in ids.iter().enumerate() {
            if id == 0.0 {
                continue;
            }
            if !(id > 0.0 && id.fract() == 0.0) {
                return Err(Error::usage(format!(
                    "measure: labels must be whole numbers >= 0, found {id}"
                )));
            }
            let row = self.rows_seen + (i as u64) / u64::from(w);
            let at = [(row / height) as u32, (row % height) as u32, (i as u32) % w];
            let px = &values[i * c..(i + 1) * c];
            let a = self.objects.entry(id as u32).or_insert_with(|| Acc {
                area: 0,
                sum: [0.0; 3],
                bbox: [at[0], at[1], at[2], at[0], at[1], at[2]],
                values: vec![0.0; c],
                min: vec![f32::INFINITY; c],
                max: vec![f32::NEG_INFINITY; c],
            });
            a.area += 1;
            for (k, &v) in at.iter().enumerate() {
                a.sum[k] += f64::from(v);
                a.bbox[k] = a.bbox[k].min(v);
                a.bbox[k + 3] = a.bbox[k + 3].max(v);
            }
            for (k, &v) in px.iter().enumerate() {
                a.values[k] += f64::from(v);
                a.min[k] = a.min[k].min(v);
                a.max[k] = a.max[k].max(v);
            }
        }
        self.rows_seen += u64::from(ls.rows());
        Ok(())
    }

    /// The table, one row per label in increasing order.
    pub fn finish(self) -> FrameTable {
        let ndim = if self.volume { 3 } else { 2 };
        // The axes a row reports: (z, y, x) of a volume, (y, x) of a 2-D frame.
        let axes = 3 - ndim..3;
        let spacing = self.voxel.as_ref().map(VoxelSize::zyx);
        let diameter =
            |v: f64| (2.0 * ndim as f64 * v / std::f64::consts::PI).powf(1.0 / ndim as f64);
        let rows = (self.objects.into_iter())
            .map(|(label, a)| {
                let n = a.area as f64;
                let mut row = vec![f64::from(label), n];
                row.extend(axes.clone().map(|k| a.sum[k] / n));
                row.extend(axes.clone().map(|k| f64::from(a.bbox[k])));
                row.extend(axes.clone().map(|k| f64::from(a.bbox[k + 3]) + 1.0));
                for k in 0..a.values.len() {
                    row.extend([a.values[k] / n, f64::from(a.min[k]), f64::from(a.max[k])]);
                }
                row.push(diameter(n));
                if let Some(sp) = spacing {
                    let volume = n * axes.clone().map(|k| sp[k]).product::<f64>();
                    row.push(volume);
                    row.extend(axes.clone().map(|k| a.sum[k] / n * sp[k]));
                    row.push(diameter(volume));
                }
                row
            })
            .collect();
        FrameTable {
            channels: self.channels,
            ndim,
            physical: spacing.is_some(),
            rows,
        }
    }
}

/// One frame measured whole (a volume in 3-D).
pub fn measure(labels: ImageView<'_>, intensity: ImageView<'_>) -> Result<FrameTable> {
    measure_with(labels, intensity, None)
}

/// [`measure`], with the physical columns of a known voxel size.
pub fn measure_with(
    labels: ImageView<'_>,
    intensity: ImageView<'_>,
    voxel: Option<&VoxelSize>,
) -> Result<FrameTable> {
    let mut m = Measurer::for_frame(labels.shape(), intensity.shape().channels as usize, voxel);
    m.push(labels, intensity)?;
    Ok(m.finish())
}

impl FrameTable {
    /// The column names, skimage's, of this table's rows.
    pub fn columns(&self) -> Vec<String> {
        columns_of(self.ndim, self.channels, self.physical)
    }
}

/// The column names, skimage's, for a 2-D frame's intensity image of `channels`
/// channels.
pub fn columns(channels: usize) -> Vec<String> {
    columns_of(2, channels, false)
}

/// The column names of a table of `ndim` dimensions (2 or 3), an intensity image of
/// `channels` channels, with the physical columns or not.
pub fn columns_of(ndim: usize, channels: usize, physical: bool) -> Vec<String> {
    let mut cols: Vec<String> = vec!["label".into(), "area".into()];
    cols.extend((0..ndim).map(|k| format!("centroid-{k}")));
    cols.extend((0..2 * ndim).map(|k| format!("bbox-{k}")));
    for k in 0..channels {
        for name in ["intensity_mean", "intensity_min", "intensity_max"] {
            cols.push(match channels {
                1 => name.to_string(),
                _ => format!("{name}-{k}"),
            });
        }
    }
    cols.push("equivalent_diameter_area".into());
    if physical {
        cols.push("area_physical".into());
        cols.extend((0..ndim).map(|k| format!("centroid_physical-{k}")));
        cols.push("equivalent_diameter_area_physical".into());
    }
    cols
}

/// A column of `skimage.measure.regionprops_table`'s result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionpropsColumn {
    /// Where it is in a [`FrameTable`] row.
    pub index: usize,
    /// skimage's key.
    pub name: String,
    /// Whether skimage gives it as integers (int64: `label`, `bbox-*`); the others are
    /// float64.
    pub integer: bool,
}

/// The columns of a 2-D frame's table as `regionprops_table` returns them (see
/// [`FrameTable::regionprops_columns`]).
pub fn regionprops_columns(channels: usize) -> Vec<RegionpropsColumn> {
    regionprops_columns_of(2, channels, false)
}

/// The columns as `regionprops_table` returns them: [`columns_of`]' names, but with an
/// intensity image of several channels grouped by property (`intensity_mean-0`,
/// `intensity_mean-1`, …, then `intensity_min-*`), where a row (and the CSV) holds them
/// by channel.
pub fn regionprops_columns_of(
    ndim: usize,
    channels: usize,
    physical: bool,
) -> Vec<RegionpropsColumn> {
    let mut cols: Vec<RegionpropsColumn> =
        (columns_of(ndim, channels, physical).into_iter().enumerate())
            .map(|(index, name)| RegionpropsColumn {
                integer: name == "label" || name.starts_with("bbox-"),
                index,
                name,
            })
            .collect();
    // The intensity columns follow label, area, the centroid and the bbox, three per
    // channel: sort them by property.
    let first = 2 + 3 * ndim;
    cols[first..first + 3 * channels].sort_by_key(|c| ((c.index - first) % 3, c.index));
    cols
}

impl FrameTable {
    /// This table's columns as `regionprops_table` returns them.
    pub fn regionprops_columns(&self) -> Vec<RegionpropsColumn> {
        regionprops_columns_of(self.ndim, self.channels, self.physical)
    }
}

/// The frames' tables as CSV: a header, then rows; a `frame` column first when there
/// is more than one frame. Numbers are written so they read back exactly (integers
/// without a fraction).
pub fn to_csv(frames: &[FrameTable]) -> String {
    let header = frames
        .first()
        .map_or_else(|| columns(1), FrameTable::columns);
    let stack = frames.len() > 1;
    let mut out = String::new();
    if stack {
        out.push_str("frame,");
    }
    out.push_str(&header.join(","));
    out.push('\n');
    for (f, t) in frames.iter().enumerate() {
        for row in &t.rows {
            if stack {
                let _ = write!(out, "{f},");
            }
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{v}");
            }
            out.push('\n');
        }
    }
    out
}

/// Objects in the frames' tables.
pub fn count(frames: &[FrameTable]) -> u64 {
    frames.iter().map(|f| f.rows.len() as u64).sum()
}

/// Largest label of label frames (the object count of `label`'s output).
pub fn label_count(frames: &[Image]) -> u64 {
    frames
        .iter()
        .map(|f| match f.samples() {
            Samples::U32(v) => v.iter().copied().max().unwrap_or(0) as u64,
            Samples::U16(v) => v.iter().copied().max().unwrap_or(0) as u64,
            _ => f.to_f32_vec().into_iter().fold(0.0f32, f32::max) as u64,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_as_skimage_names_and_computes_it() {
        // Label 2 is a 2x2 block at rows 1-2, cols 2-3; label 1 a single pixel.
        let labels =
            Image::gray(4, 3, Samples::U32(vec![1, 0, 0, 0, 0, 0, 2, 2, 0, 0, 2, 2])).unwrap();
        let intensity = Image::gray(4, 3, Samples::U16((0..12).map(|v| v * 10).collect())).unwrap();
        let t = measure(labels.view(), intensity.view()).unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(&t.rows[0][..8], &[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        let r = &t.rows[1];
        assert_eq!(&r[..8], &[2.0, 4.0, 1.5, 2.5, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            &r[8..11],
            &[(60.0 + 70.0 + 100.0 + 110.0) / 4.0, 60.0, 110.0]
        );
        assert!((r[11] - (16.0 / std::f64::consts::PI).sqrt()).abs() < 1e-12);
        let csv = to_csv(&[t]);
        assert!(csv.starts_with("label,area,centroid-0,centroid-1,bbox-0,bbox-1,bbox-2,bbox-3,intensity_mean,intensity_min,intensity_max,equivalent_diameter_area\n"));
        assert!(csv.contains("\n2,4,1.5,2.5,1,2,3,4,85,60,110,"), "{csv}");
    }

    #[test]
    fn bands_measure_as_the_whole() {
        let labels: Vec<u32> = (0..60u32).map(|i| (i * 7 % 5) % 3).collect();
        let l = Image::gray(6, 10, Samples::U32(labels)).unwrap();
        let v = Image::gray(
            6,
            10,
            Samples::F32((0..60).map(|i| i as f32 * 0.5).collect()),
        )
        .unwrap();
        let whole = measure(l.view(), v.view()).unwrap();
        let mut m = Measurer::new(1);
        for (a, b) in [(0, 3), (3, 7), (7, 10)] {
            let rect = |img: &Image| img.crop(crate::image::Rect::area(0, a, 6, b - a)).unwrap();
            m.push(rect(&l).view(), rect(&v).view()).unwrap();
        }
        assert_eq!(m.finish(), whole);
    }

    /// A volume's columns: three centroids, six bbox values, diameters of spheres; the
    /// physical columns scale by the voxel size; slabs of slices measure as the whole.
    #[test]
    fn volumes_measure_in_3d() {
        // 3 slices of 2x3: label 1 at (0,0,0) and (1,0,0); label 2 at (2,1,2).
        let mut ids = vec![0u16; 18];
        (ids[0], ids[6], ids[17]) = (1, 1, 2);
        let shape = Shape::volume(3, 2, 3, 1).unwrap();
        let l = Image::with_shape(shape, Samples::U16(ids)).unwrap();
        let v =
            Image::with_shape(shape, Samples::F32((0..18).map(|i| i as f32).collect())).unwrap();
        let voxel = VoxelSize {
            z: 2.0,
            y: 0.5,
            x: 0.5,
            unit: "\u{b5}m".into(),
        };
        let t = measure_with(l.view(), v.view(), Some(&voxel)).unwrap();
        assert_eq!((t.ndim, t.physical), (3, true));
        let cols = t.columns();
        assert_eq!(cols[2..5], ["centroid-0", "centroid-1", "centroid-2"]);
        assert_eq!(cols.len(), t.rows[0].len());
        let r = &t.rows[0];
        assert_eq!(
            &r[..11],
            &[1.0, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 1.0]
        );
        assert_eq!(&r[11..14], &[3.0, 0.0, 6.0]);
        assert!((r[14] - (12.0 / std::f64::consts::PI).cbrt()).abs() < 1e-12);
        assert_eq!(&r[15..19], &[1.0, 1.0, 0.0, 0.0]);
        assert!((r[19] - (6.0 / std::f64::consts::PI).cbrt()).abs() < 1e-12);
        let mut m = Measurer::for_frame(shape, 1, Some(&voxel));
        for z in 0..3 {
            let slab = |img: &Image| {
                img.crop(crate::image::Rect {
                    z,
                    depth: 1,
                    ..crate::image::Rect::of(shape)
                })
                .unwrap()
            };
            m.push(slab(&l).view(), slab(&v).view()).unwrap();
        }
        assert_eq!(m.finish(), t);
    }

    #[test]
    fn regionprops_columns_group_a_colour_image_by_property() {
        let names =
            |c| -> Vec<String> { regionprops_columns(c).into_iter().map(|c| c.name).collect() };
        assert_eq!(names(1), columns(1), "one channel: the CSV's order");
        let rgb = regionprops_columns(3);
        let at = |name: &str| rgb.iter().find(|c| c.name == name).unwrap().clone();
        assert_eq!(
            names(3)[8..17],
            [
                "intensity_mean-0",
                "intensity_mean-1",
                "intensity_mean-2",
                "intensity_min-0",
                "intensity_min-1",
                "intensity_min-2",
                "intensity_max-0",
                "intensity_max-1",
                "intensity_max-2",
            ]
        );
        // Each still points at its place in a row (by channel).
        assert_eq!(columns(3)[at("intensity_mean-1").index], "intensity_mean-1");
        assert_eq!(columns(3)[at("intensity_max-0").index], "intensity_max-0");
        let integer: Vec<String> = rgb
            .into_iter()
            .filter(|c| c.integer)
            .map(|c| c.name)
            .collect();
        assert_eq!(integer, ["label", "bbox-0", "bbox-1", "bbox-2", "bbox-3"]);
    }
}
