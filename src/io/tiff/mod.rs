//! TIFF through the `tiff` crate: every page; gray, RGB or RGBA, chunky or planar; u8,
//! u16, u32, i8, i16, i32, f32 and f64 samples, 1-bit masks (read as 0/1 u8) and f16
//! (read as f32); strips or tiles, in any compression the crate decodes (zstd, deflate,
//! LZW, ...); classic TIFF or BigTIFF.
//!
//! Pages are read band by band ([`TiffPages::read_rows`]), so a frame larger than memory
//! can stream through the tile pipeline: uncompressed strips are read row by row
//! straight from the file (a whole-slide TIFF is often one uncompressed strip of
//! gigabytes), compressed chunks are decoded one at a time and the last row of chunks
//! is kept for the next band. [`write_stream`] writes pages band by band, as strips,
//! BigTIFF when the file could pass 4 GiB.
//!
//! Multi-page files are read by their axes ([`TiffFrames`], [`Layout`]): an ImageJ
//! hyperstack or an OME-TIFF by what it says, a plain multi-page file as a stack of 2-D
//! frames unless [`Reading::Volume`] asks for a volume; volumes are written as ImageJ
//! hyperstacks with their voxel size.

mod frames;
mod meta;
mod read;
mod write;

pub use frames::TiffFrames;
pub use meta::{imagej_description, Layout, Reading};
pub(super) use read::{decode_pages, shape_to_decode};
pub use read::{probe, PageInfo, TiffPages};
pub(super) use write::encode;
pub use write::{needs_bigtiff, write_stream};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Image, SampleType, Samples};
    use crate::io::Stack;
    use crate::Error;
    use std::io::Cursor;

    fn image(t: SampleType, c: u32, w: u32, h: u32) -> Image {
        let n = (w * h * c) as usize;
        let v: Vec<f64> = (0..n).map(|i| (i * 37 % 251) as f64 - 100.0).collect();
        let img = Image::new(w, h, c, Samples::F64(v)).unwrap();
        crate::cpu::convert::retype(&img, t)
    }

    /// Every type and layout written whole, then read whole and band by band (bands
    /// that straddle strips), gives back the same samples.
    #[test]
    fn every_type_round_trips_whole_and_by_bands() {
        for t in SampleType::ALL {
            for c in [1, 3, 4] {
                let img = image(t, c, 37, 29);
                let stack = Stack::single(img.clone());
                let bytes = encode(&stack).unwrap();
                let (pages, more) = decode_pages(Cursor::new(&bytes), 9, 1 << 30).unwrap();
                assert_eq!((pages.len(), more), (1, false));
                assert_eq!(pages[0], img, "{t} x{c}");
                let mut r = TiffPages::open(Cursor::new(&bytes), 1 << 30).unwrap();
                let band = r.read_rows(3, 20).unwrap();
                assert_eq!(
                    band,
                    img.crop(crate::image::Rect::area(0, 3, 37, 17)).unwrap()
                );
            }
        }
    }

    /// Streaming writes of bands of any height make the very file a whole write makes,
    /// over several pages.
    #[test]
    fn streamed_pages_equal_whole_ones() {
        // 4000-byte rows: strips of 250 rows, so the bands below straddle strips.
        let pages: Vec<Image> = (0..3)
            .map(|_| image(SampleType::U16, 1, 2000, 601))
            .collect();
        let mut out = Cursor::new(Vec::new());
        let mut bands = pages
            .iter()
            .flat_map(|p| {
                [(0, 7), (7, 300), (300, 601)]
                    .map(|(a, b)| p.crop(crate::image::Rect::area(0, a, 2000, b - a)).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter();
        write_stream(
            &mut out,
            pages[0].shape(),
            SampleType::U16,
            3,
            None,
            &mut || bands.next().ok_or_else(|| Error::encode("out of bands")),
        )
        .unwrap();
        let streamed = out.into_inner();
        let (back, _) = decode_pages(Cursor::new(&streamed), 9, 1 << 30).unwrap();
        assert_eq!(back, pages);
        let whole = encode(&Stack::of(pages)).unwrap();
        assert_eq!(streamed, whole, "the same bytes");
    }
}
