//! The axes of a multi-page TIFF: which page holds which slice, channel and time point,
//! and the voxel size. Read from an ImageJ hyperstack's description (`ImageJ=`,
//! `channels=`, `slices=`, `frames=`, `spacing=`, `unit=`, with the pixel size in the
//! resolution tags) or from OME-XML (`Pixels`: `DimensionOrder`, `SizeZ/C/T`,
//! `PhysicalSizeX/Y/Z`, `TiffData`); written as ImageJ descriptions, which Fiji, napari
//! and tifffile read as volumes.

use crate::image::VoxelSize;
use crate::{Error, Result};

/// How to read a multi-page file's pages.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Reading {
    /// As the file says: an ImageJ hyperstack or OME-TIFF by its axes (slices make a
    /// volume, time points a sequence, channels the channel axis); any other multi-page
    /// file as a stack of 2-D frames.
    #[default]
    Auto,
    /// As a volume: the file's slices, or, where it has none, its pages (or time points).
    Volume,
    /// Every page a 2-D frame of its own, whatever the file says.
    Frames,
}

/// Which of the axes varies fastest from page to page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    Z,
    C,
    T,
}

/// Where a file's images are among its pages.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Time points: the frames of the stack.
    pub frames: usize,
    /// Slices of each frame's volume (1: 2-D frames).
    pub slices: usize,
    /// Channels held as pages of their own (1 where a page holds every channel).
    pub channels: usize,
    /// The page order, fastest first.
    order: [Axis; 3],
    /// OME's explicit page of each plane (in `order`), where it gives one.
    map: Option<Vec<usize>>,
    /// The voxel size, where the file records one.
    pub voxel: Option<VoxelSize>,
    /// Whether the file says what its axes are (ImageJ or OME), or its pages are read
    /// as they come.
    pub described: bool,
}

impl Layout {
    /// Every page a frame.
    pub fn plain(pages: usize) -> Layout {
        Layout {
            frames: pages,
            slices: 1,
            channels: 1,
            order: [Axis::C, Axis::Z, Axis::T],
            map: None,
            voxel: None,
            described: false,
        }
    }

    /// Pages in ImageJ's order (channels fastest, then slices, then frames).
    fn imagej(frames: usize, slices: usize, channels: usize, voxel: Option<VoxelSize>) -> Self {
        Layout {
            frames,
            slices,
            channels,
            order: [Axis::C, Axis::Z, Axis::T],
            map: None,
            voxel,
            described: true,
        }
    }

    /// Pages the layout covers.
    pub fn pages(&self) -> usize {
        self.frames * self.slices * self.channels
    }

    /// Whether the frames are volumes, or channels come from separate pages: what the
    /// pages of a plain stack never need.
    pub fn is_plain(&self) -> bool {
        self.slices == 1 && self.channels == 1
    }

    /// The page holding channel `c` of slice `z` of frame `t`.
    pub fn page(&self, t: usize, z: usize, c: usize) -> usize {
        let (mut index, mut stride) = (0, 1);
        for axis in self.order {
            let (i, n) = match axis {
                Axis::Z => (z, self.slices),
                Axis::C => (c, self.channels),
                Axis::T => (t, self.frames),
            };
            index += i * stride;
            stride *= n;
        }
        self.map.as_ref().map_or(index, |m| m[index])
    }

    /// The layout to read a file of `pages` pages by, from its first page's description
    /// and resolution (pixels per unit along x and y), as `reading` asks.
    pub fn of_file(
        description: Option<&str>,
        resolution: Option<(f64, f64)>,
        page_channels: u32,
        pages: usize,
        reading: Reading,
    ) -> Result<Layout> {
        if reading == Reading::Frames {
            return Ok(Layout::plain(pages));
        }
        let described = match description {
            Some(d) if d.starts_with("ImageJ=") => Some(imagej(d, resolution)?),
            Some(d) if d.trim_start().starts_with('<') && d.contains("<OME") => {
                Some(ome(d, page_channels)?)
            }
            _ => None,
        };
        let mut layout = match described {
            Some(l) if l.pages() > pages || l.map.iter().flatten().any(|&p| p >= pages) => {
                return Err(Error::unsupported(format!(
                    "the file describes {} frames x {} slices x {} channels = {} pages but holds {pages}",
                    l.frames,
                    l.slices,
                    l.channels,
                    l.pages()
                )))
            }
            Some(l) => l,
            None => Layout::plain(pages),
        };
        if reading == Reading::Volume && layout.slices == 1 {
            // Nothing says which pages are slices: the frames are.
            layout.slices = layout.frames;
            layout.frames = 1;
            layout.order = match layout.order {
                [Axis::C, Axis::Z, Axis::T] => [Axis::C, Axis::T, Axis::Z],
                o => o.map(|a| match a {
                    Axis::T => Axis::Z,
                    Axis::Z => Axis::T,
                    a => a,
                }),
            };
        }
        Ok(layout)
    }
}

/// An ImageJ description's axes and voxel size.
fn imagej(text: &str, resolution: Option<(f64, f64)>) -> Result<Layout> {
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
    };
    let count = |key: &str| -> Result<usize> {
        match value(key) {
            None => Ok(1),
            Some(v) => v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                Error::decode(format!(
                    "the ImageJ description's `{key}={v}` is not a count"
                ))
            }),
        }
    };
    let (channels, slices, mut frames) = (count("channels")?, count("slices")?, count("frames")?);
    let images = value("images").and_then(|v| v.parse::<usize>().ok());
    // A stack saved without `slices`/`frames` is `images` slices in ImageJ's own eyes;
    // imflow reads such a stack as frames unless told it is a volume.
    if let Some(n) = images {
        if channels * slices * frames < n && slices == 1 && frames == 1 {
            frames = n / channels;
        }
    }
    let spacing = value("spacing").and_then(|v| v.parse::<f64>().ok());
    let unit = value("unit").map(|u| unit_name(&u));
    let pixel = resolution.map(|(rx, ry)| (1.0 / rx, 1.0 / ry));
    let voxel = (spacing.is_some() || unit.is_some() || pixel.is_some()).then(|| {
        let (x, y) = pixel.unwrap_or((1.0, 1.0));
        VoxelSize {
            z: spacing.unwrap_or(1.0),
            y,
            x,
            unit: unit.unwrap_or_else(|| "pixel".into()),
        }
    });
    Ok(Layout::imagej(frames, slices, channels, voxel))
}

/// Units as OME names them (ImageJ writes `micron`, or `\u00B5m` escaped).
fn unit_name(u: &str) -> String {
    match u {
        "micron" | "microns" | "um" | "\\u00B5m" | "\u{b5}m" | "\u{3bc}m" => "\u{b5}m".into(),
        other => other.into(),
    }
}

/// OME-XML's first image: its axes, page map and voxel size.
fn ome(xml: &str, page_channels: u32) -> Result<Layout> {
    let bad = |why: String| Error::decode(format!("OME-XML: {why}"));
    let doc = roxmltree::Document::parse(xml).map_err(|e| bad(e.to_string()))?;
    let pixels = doc
        .descendants()
        .find(|n| n.has_tag_name("Pixels") || n.tag_name().name() == "Pixels")
        .ok_or_else(|| bad("no Pixels element".into()))?;
    let size = |name: &str| -> Result<usize> {
        match pixels.attribute(name) {
            None => Ok(1),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad(format!("{name}=\"{v}\" is not a size"))),
        }
    };
    let (z, mut c, t) = (size("SizeZ")?, size("SizeC")?, size("SizeT")?);
    // RGB pages: their samples are the channels.
    if page_channels > 1 && c == page_channels as usize {
        c = 1;
    }
    let order_text = pixels.attribute("DimensionOrder").unwrap_or("XYZCT");
    let order: Vec<Axis> = order_text
        .chars()
        .skip(2)
        .map(|ch| match ch {
            'Z' => Ok(Axis::Z),
            'C' => Ok(Axis::C),
            'T' => Ok(Axis::T),
            _ => Err(bad(format!("DimensionOrder \"{order_text}\""))),
        })
        .collect::<Result<_>>()?;
    let order: [Axis; 3] = order
        .try_into()
        .map_err(|_| bad(format!("DimensionOrder \"{order_text}\"")))?;
    let physical = |axis: &str| -> Option<(f64, String)> {
        let v = pixels
            .attribute(format!("PhysicalSize{axis}").as_str())?
            .parse()
            .ok()?;
        let unit = pixels
            .attribute(format!("PhysicalSize{axis}Unit").as_str())
            .map_or_else(|| "\u{b5}m".to_string(), unit_name);
        Some((v, unit))
    };
    let (px, py, pz) = (physical("X"), physical("Y"), physical("Z"));
    let voxel = (px.is_some() || py.is_some() || pz.is_some()).then(|| {
        let unit = [&px, &py, &pz]
            .into_iter()
            .flatten()
            .map(|(_, u)| u.clone())
            .next()
            .unwrap_or_else(|| "\u{b5}m".into());
        VoxelSize {
            z: pz.map_or(1.0, |p| p.0),
            y: py.map_or(1.0, |p| p.0),
            x: px.map_or(1.0, |p| p.0),
            unit,
        }
    });
    let mut layout = Layout {
        frames: t,
        slices: z,
        channels: c,
        order,
        map: None,
        voxel,
        described: true,
    };
    // TiffData: which IFD holds which planes (planes numbered in DimensionOrder).
    let data: Vec<roxmltree::Node<'_, '_>> = pixels
        .children()
        .filter(|n| n.tag_name().name() == "TiffData")
        .collect();
    if data
        .iter()
        .any(|d| d.children().any(|n| n.tag_name().name() == "UUID"))
    {
        return Err(Error::unsupported(
            "an OME-TIFF whose planes are in other files (TiffData with UUID); open the \
             file that holds them all, or convert it to one OME-TIFF",
        ));
    }
    if !data.is_empty() {
        let planes = layout.pages();
        let mut map = vec![usize::MAX; planes];
        let number = |n: &roxmltree::Node<'_, '_>, key: &str| -> Result<Option<usize>> {
            n.attribute(key)
                .map(|v| {
                    v.parse::<usize>()
                        .map_err(|_| bad(format!("{key}=\"{v}\"")))
                })
                .transpose()
        };
        for d in &data {
            let ifd = number(d, "IFD")?.unwrap_or(0);
            let (fz, fc, ft) = (
                number(d, "FirstZ")?.unwrap_or(0),
                number(d, "FirstC")?.unwrap_or(0),
                number(d, "FirstT")?.unwrap_or(0),
            );
            let plain = Layout {
                map: None,
                ..layout.clone()
            };
            let start = plain.page(ft, fz, fc);
            let count = match number(d, "PlaneCount")? {
                Some(n) => n,
                None if data.len() == 1 => planes.saturating_sub(start),
                None => 1,
            };
            for k in 0..count {
                if let Some(slot) = map.get_mut(start + k) {
                    *slot = ifd + k;
                }
            }
        }
        if map.contains(&usize::MAX) {
            return Err(bad("TiffData leaves some planes without a page".into()));
        }
        layout.map = Some(map);
    }
    Ok(layout)
}

/// An ImageJ hyperstack description of `frames` x `slices` x `channels` pages, with
/// the voxel size where there is one (the pixel size goes in the resolution tags).
pub fn imagej_description(
    frames: usize,
    slices: usize,
    channels: usize,
    voxel: Option<&VoxelSize>,
) -> String {
    let mut d = format!("ImageJ=1.11a\nimages={}\n", frames * slices * channels);
    if channels > 1 {
        d += &format!("channels={channels}\n");
    }
    if slices > 1 {
        d += &format!("slices={slices}\n");
    }
    if frames > 1 {
        d += &format!("frames={frames}\n");
    }
    d += "hyperstack=true\n";
    if channels > 1 {
        d += "mode=grayscale\n";
    }
    if let Some(v) = voxel {
        // ImageJ descriptions are ASCII: micrometres are `micron`, as ImageJ writes them.
        let unit = if v.unit == "\u{b5}m" {
            "micron"
        } else {
            v.unit.as_str()
        };
        d += &format!("unit={unit}\nspacing={}\n", v.z);
    }
    d += "loop=false\n";
    d
}

/// `v` as a rational of 32-bit terms (resolution tags), as exact as they allow.
pub fn rational(v: f64) -> (u32, u32) {
    if !(v.is_finite() && v > 0.0) {
        return (1, 1);
    }
    let mut d: u32 = 1;
    while d < 1_000_000_000 && v * f64::from(d) * 10.0 <= f64::from(u32::MAX) {
        d *= 10;
    }
    (((v * f64::from(d)).round() as u32).max(1), d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagej_hyperstacks_map_pages_channel_first() {
        let d = "ImageJ=1.53t\nimages=180\nchannels=2\nslices=30\nframes=3\nhyperstack=true\n\
                 unit=micron\nspacing=0.5\nloop=false\n";
        let l = Layout::of_file(Some(d), Some((10.0, 10.0)), 1, 180, Reading::Auto).unwrap();
        assert_eq!((l.frames, l.slices, l.channels), (3, 30, 2));
        assert_eq!(l.page(0, 0, 1), 1);
        assert_eq!(l.page(0, 1, 0), 2);
        assert_eq!(l.page(2, 29, 1), 179);
        let v = l.voxel.clone().unwrap();
        assert_eq!((v.z, v.y, v.x, v.unit.as_str()), (0.5, 0.1, 0.1, "\u{b5}m"));
        // A description that claims more pages than the file holds is refused.
        assert!(Layout::of_file(Some(d), None, 1, 179, Reading::Auto).is_err());
        // The description written for it reads back to the same axes.
        let back = imagej_description(3, 30, 2, Some(&l.voxel.clone().unwrap()));
        let l2 = Layout::of_file(Some(&back), Some((10.0, 10.0)), 1, 180, Reading::Auto).unwrap();
        assert_eq!(
            (l2.frames, l2.slices, l2.channels, l2.voxel),
            (3, 30, 2, l.voxel)
        );
    }

    #[test]
    fn plain_stacks_are_frames_unless_read_as_a_volume() {
        let l = Layout::of_file(None, None, 1, 7, Reading::Auto).unwrap();
        assert!(l.is_plain() && !l.described && l.frames == 7);
        let v = Layout::of_file(None, None, 1, 7, Reading::Volume).unwrap();
        assert_eq!((v.frames, v.slices, v.channels), (1, 7, 1));
        assert_eq!(v.page(0, 6, 0), 6);
        let d = "ImageJ=1.53t\nimages=4\nslices=4\n";
        let f = Layout::of_file(Some(d), None, 1, 4, Reading::Frames).unwrap();
        assert_eq!((f.frames, f.slices), (4, 1));
    }

    #[test]
    fn ome_dimension_orders_and_tiff_data() {
        let xml = |order: &str, data: &str| {
            format!(
                r#"<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
                <Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="{order}" Type="uint16"
                SizeX="5" SizeY="4" SizeZ="3" SizeC="2" SizeT="2" PhysicalSizeX="0.2"
                PhysicalSizeY="0.2" PhysicalSizeZ="1.5" PhysicalSizeZUnit="µm">{data}</Pixels></Image></OME>"#
            )
        };
        let l = Layout::of_file(Some(&xml("XYZCT", "")), None, 1, 12, Reading::Auto).unwrap();
        assert_eq!((l.frames, l.slices, l.channels), (2, 3, 2));
        assert_eq!(l.page(0, 1, 0), 1, "z fastest");
        assert_eq!(l.page(0, 0, 1), 3);
        assert_eq!(l.page(1, 0, 0), 6);
        assert_eq!(l.voxel.as_ref().unwrap().zyx(), [1.5, 0.2, 0.2]);
        let l = Layout::of_file(Some(&xml("XYCZT", "")), None, 1, 12, Reading::Auto).unwrap();
        assert_eq!(l.page(0, 0, 1), 1, "c fastest");
        // Explicit planes: every plane its own TiffData, pages reversed.
        let mut data = String::new();
        for p in 0..12 {
            let (z, c, t) = (p % 3, (p / 3) % 2, p / 6);
            data += &format!(
                r#"<TiffData IFD="{}" FirstZ="{z}" FirstC="{c}" FirstT="{t}" PlaneCount="1"/>"#,
                11 - p
            );
        }
        let l = Layout::of_file(Some(&xml("XYZCT", &data)), None, 1, 12, Reading::Auto).unwrap();
        assert_eq!(l.page(0, 0, 0), 11);
        assert_eq!(l.page(1, 2, 1), 0);
        assert!(Layout::of_file(Some(&xml("XYZQT", "")), None, 1, 12, Reading::Auto).is_err());
    }

    #[test]
    fn rationals_keep_the_resolution() {
        for v in [10.0, 15.384615, 0.001, 1234.5] {
            let (n, d) = rational(v);
            assert!(
                (f64::from(n) / f64::from(d) - v).abs() / v < 1e-6,
                "{v}: {n}/{d}"
            );
        }
    }
}
