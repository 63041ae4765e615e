//! Per-object measurements: one row per label, with the columns of
//! `skimage.measure.regionprops_table(labels, intensity, properties=...)`:
//! `label`, `area`, `centroid-0`, `centroid-1`, `bbox-0..3`, `intensity_mean`,
//! `intensity_min`, `intensity_max`, `equivalent_diameter_area` (with `-<c>` suffixes
//! on the intensity columns for a colour intensity image, as skimage names them). A
//! stack's tables are one, with a `frame` column first.
//!
//! Sums are kept in f64 over exact integer coordinates and f32 intensities, so area,
//! bbox, min and max are exact and centroids and means are within f64 rounding of
//! skimage's. Rows can be fed a band at a time ([`Measurer::push`]), so a frame never
//! has to be whole.

use crate::image::{Image, ImageView, Samples};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One object's running sums.
#[derive(Clone, Debug)]
struct Acc {
    area: u64,
    sum_r: f64,
    sum_c: f64,
    bbox: [u32; 4],
    sum: Vec<f64>,
    min: Vec<f32>,
    max: Vec<f32>,
}

/// Accumulates one frame's objects, band by band.
#[derive(Clone, Debug)]
pub struct Measurer {
    channels: usize,
    rows_seen: u32,
    objects: BTreeMap<u32, Acc>,
}

/// One frame's table.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameTable {
    /// Intensity channels (the intensity columns repeat per channel).
    pub channels: usize,
    /// One row per object, by label: label, area, centroid-0/1, bbox-0..3, then per
    /// channel mean, min, max, then equivalent_diameter_area.
    pub rows: Vec<Vec<f64>>,
}

impl Measurer {
    /// A frame whose intensity image has `channels` channels.
    pub fn new(channels: usize) -> Self {
        Measurer {
            channels,
            rows_seen: 0,
            objects: BTreeMap::new(),
        }
    }

    /// The next band of rows: labels (one channel, any integer-valued type) and the
    /// intensity image's same rows.
    pub fn push(&mut self, labels: ImageView<'_>, intensity: ImageView<'_>) -> Result<()> {
        let (ls, is) = (labels.shape(), intensity.shape());
        let (w, h) = (ls.width, ls.height);
        if ls.channels != 1 {
            return Err(Error::usage(format!(
                "measure: labels must have one channel, not {}",
                ls.channels
            )));
        }
        if (is.width, is.height) != (w, h) || is.channels as usize != self.channels {
            return Err(Error::usage(format!(
                "measure: labels {ls} and intensity {is} differ in shape"
            )));
        }
        let ids = labels.to_f32_vec();
        let values = intensity.to_f32_vec();
        let c = self.channels;
        for (i, &id) in ids.iter().enumerate() {
            if id == 0.0 {
                continue;
            }
            if !(id > 0.0 && id.fract() == 0.0) {
                return Err(Error::usage(format!(
                    "measure: labels must be whole numbers >= 0, found {id}"
                )));
            }
            let (r, col) = (self.rows_seen + (i as u32) / w, (i as u32) % w);
            let px = &values[i * c..(i + 1) * c];
            let a = self.objects.entry(id as u32).or_insert_with(|| Acc {
                area: 0,
                sum_r: 0.0,
                sum_c: 0.0,
                bbox: [r, col, r, col],
                sum: vec![0.0; c],
                min: vec![f32::INFINITY; c],
                max: vec![f32::NEG_INFINITY; c],
            });
            a.area += 1;
            a.sum_r += f64::from(r);
            a.sum_c += f64::from(col);
            a.bbox = [
                a.bbox[0].min(r),
                a.bbox[1].min(col),
                a.bbox[2].max(r),
                a.bbox[3].max(col),
            ];
            for (k, &v) in px.iter().enumerate() {
                a.sum[k] += f64::from(v);
                a.min[k] = a.min[k].min(v);
                a.max[k] = a.max[k].max(v);
            }
        }
        self.rows_seen += h;
        Ok(())
    }

    /// The table, one row per label in increasing order.
    pub fn finish(self) -> FrameTable {
        let rows = (self.objects.into_iter())
            .map(|(label, a)| {
                let n = a.area as f64;
                let mut row = vec![
                    f64::from(label),
                    n,
                    a.sum_r / n,
                    a.sum_c / n,
                    f64::from(a.bbox[0]),
                    f64::from(a.bbox[1]),
                    f64::from(a.bbox[2]) + 1.0,
                    f64::from(a.bbox[3]) + 1.0,
                ];
                for k in 0..a.sum.len() {
                    row.extend([a.sum[k] / n, f64::from(a.min[k]), f64::from(a.max[k])]);
                }
                row.push((4.0 * n / std::f64::consts::PI).sqrt());
                row
            })
            .collect();
        FrameTable {
            channels: self.channels,
            rows,
        }
    }
}

/// One frame measured whole.
pub fn measure(labels: ImageView<'_>, intensity: ImageView<'_>) -> Result<FrameTable> {
    let mut m = Measurer::new(intensity.shape().channels as usize);
    m.push(labels, intensity)?;
    Ok(m.finish())
}

/// The column names, skimage's, for an intensity image of `channels` channels.
pub fn columns(channels: usize) -> Vec<String> {
    let mut cols: Vec<String> = [
        "label",
        "area",
        "centroid-0",
        "centroid-1",
        "bbox-0",
        "bbox-1",
        "bbox-2",
        "bbox-3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for k in 0..channels {
        for name in ["intensity_mean", "intensity_min", "intensity_max"] {
            cols.push(match channels {
                1 => name.to_string(),
                _ => format!("{name}-{k}"),
            });
        }
    }
    cols.push("equivalent_diameter_area".into());
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

/// The columns as `regionprops_table` returns them: [`columns`]' names, but with a
/// colour intensity image grouped by property (`intensity_mean-0`, `intensity_mean-1`,
/// …, then `intensity_min-*`), where a row (and the CSV) holds them by channel.
pub fn regionprops_columns(channels: usize) -> Vec<RegionpropsColumn> {
    let mut cols: Vec<RegionpropsColumn> = (columns(channels).into_iter().enumerate())
        .map(|(index, name)| RegionpropsColumn {
            integer: name == "label" || name.starts_with("bbox-"),
            index,
            name,
        })
        .collect();
    // The intensity columns start at 8, three per channel: sort by property.
    cols[8..8 + 3 * channels].sort_by_key(|c| ((c.index - 8) % 3, c.index));
    cols
}

/// The frames' tables as CSV: a header, then rows; a `frame` column first when there
/// is more than one frame. Numbers are written so they read back exactly (integers
/// without a fraction).
pub fn to_csv(frames: &[FrameTable]) -> String {
    let channels = frames.first().map_or(1, |f| f.channels);
    let stack = frames.len() > 1;
    let mut out = String::new();
    if stack {
        out.push_str("frame,");
    }
    out.push_str(&columns(channels).join(","));
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
            let rect = |img: &Image| {
                img.crop(crate::image::Rect {
                    x: 0,
                    y: a,
                    width: 6,
                    height: b - a,
                })
                .unwrap()
            };
            m.push(rect(&l).view(), rect(&v).view()).unwrap();
        }
        assert_eq!(m.finish(), whole);
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
