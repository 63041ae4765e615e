//! File formats: what imflow writes, it reads back unchanged.

mod common;
use common::*;
use imflow::io::{self, Format};
use imflow::{Error, Image, SampleType, Samples};

#[test]
fn tiff_round_trips_every_type_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    for t in [SampleType::U8, SampleType::U16, SampleType::F32] {
        for c in [1, 3, 4] {
            let img = random_image(13, 7, c, t, u64::from(c) + t.size() as u64);
            let path = dir.path().join(format!("x-{t}-{c}.tif"));
            io::save(&img, &path).unwrap();
            assert_eq!(io::load(&path).unwrap(), img, "{t} x{c}");
        }
    }
}

#[test]
fn png_round_trips_8_and_16_bit() {
    let dir = tempfile::tempdir().unwrap();
    for t in [SampleType::U8, SampleType::U16] {
        for c in [1, 3, 4] {
            let img = random_image(9, 5, c, t, 3);
            let path = dir.path().join(format!("x-{t}-{c}.png"));
            io::save(&img, &path).unwrap();
            assert_eq!(io::load(&path).unwrap(), img, "{t} x{c}");
        }
    }
}

#[test]
fn jpeg_loads_as_u8_and_refuses_what_it_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let img = Image::gray(16, 16, Samples::U8(vec![128; 256])).unwrap();
    let path = dir.path().join("x.jpg");
    io::save(&img, &path).unwrap();
    let back = io::load(&path).unwrap();
    assert_eq!(
        (
            back.width(),
            back.height(),
            back.channels(),
            back.sample_type()
        ),
        (16, 16, 1, SampleType::U8)
    );
    assert!(back.to_f32_vec().iter().all(|&v| (v - 128.0).abs() <= 1.0));
    for bad in [
        random_image(4, 4, 1, SampleType::U16, 1),
        random_image(4, 4, 4, SampleType::U8, 1),
    ] {
        let e = io::save(&bad, dir.path().join("y.jpg")).unwrap_err();
        assert!(
            matches!(e, Error::Encode { .. }) && e.to_string().contains("y.jpg"),
            "{e}"
        );
    }
    let e = io::save(
        &random_image(4, 4, 1, SampleType::F32, 1),
        dir.path().join("f.png"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("PNG cannot hold f32"), "{e}");
}

#[test]
fn format_comes_from_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let img = random_image(6, 6, 1, SampleType::U16, 2);
    let bytes = io::encode(&img, Format::Tiff, dir.path()).unwrap();
    let misnamed = dir.path().join("actually-a-tiff.png");
    std::fs::write(&misnamed, bytes).unwrap();
    assert_eq!(io::load(&misnamed).unwrap(), img);
}

#[test]
fn writes_are_atomic_and_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.tif");
    io::save(&random_image(8, 8, 1, SampleType::U8, 1), &path).unwrap();
    io::save(&random_image(8, 8, 1, SampleType::U8, 2), &path).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.tif")]);
    let e = io::save(
        &random_image(8, 8, 1, SampleType::U8, 1),
        dir.path().join("no/such/dir/x.tif"),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("no/such/dir/x.tif"),
        "{e}"
    );
}

#[test]
fn gif_first_frame_loads_as_rgba() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.gif");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = image::codecs::gif::GifEncoder::new(file);
        let frame = image::RgbaImage::from_pixel(5, 4, image::Rgba([10, 20, 30, 255]));
        enc.encode_frame(image::Frame::new(frame)).unwrap();
    }
    let img = io::load(&path).unwrap();
    assert_eq!(
        (img.width(), img.height(), img.channels(), img.sample_type()),
        (5, 4, 4, SampleType::U8)
    );
    assert_eq!(&img.to_f32_vec()[..4], &[10.0, 20.0, 30.0, 255.0]);
}
