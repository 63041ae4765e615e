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

/// `load_stack` (and the executor, for files whose stamp vouches for them) decodes a
/// TIFF straight from the open file; every other format, and every bad file, goes
/// through the bytes. Both must give the same frames, and fail alike.
#[test]
fn decoding_from_the_file_matches_decoding_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let pages = |t, c, n: u64| io::Stack {
        frames: (0..n).map(|k| random_image(21, 9, c, t, 40 + k)).collect(),
        animation: None,
        format: None,
    };
    let mut files = Vec::new();
    for (name, stack, format) in [
        ("u16x3.tif", pages(SampleType::U16, 1, 3), Format::Tiff),
        ("rgb8.tif", pages(SampleType::U8, 3, 1), Format::Tiff),
        ("rgbaf32.tif", pages(SampleType::F32, 4, 2), Format::Tiff),
        ("g16.png", pages(SampleType::U16, 1, 1), Format::Png),
        ("anim.gif", pages(SampleType::U8, 3, 2), Format::Gif),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, io::encode_stack(&stack, format, &path).unwrap()).unwrap();
        files.push(path);
    }
    // Bad files: a TIFF cut in half, one with only its magic, garbage, empty.
    let whole = std::fs::read(&files[0]).unwrap();
    for (name, bytes) in [
        ("cut.tif", &whole[..whole.len() / 2]),
        ("magic.tif", &whole[..4]),
        ("text.tif", &b"not an image"[..]),
        ("empty.tif", &[][..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    }
    for path in &files {
        let from_bytes = io::decode_stack(&std::fs::read(path).unwrap(), path);
        let from_file = io::load_stack(path);
        match (from_bytes, from_file) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{}", path.display());
                assert!(!b.frames.is_empty());
            }
            (Err(_), Err(e)) => {
                let name = path.file_name().unwrap().to_str().unwrap();
                assert!(e.to_string().contains(name), "{e}");
            }
            (a, b) => panic!("{}: from bytes {a:?}, from the file {b:?}", path.display()),
        }
    }
    // The good ones really are good, and the TIFF pages all came back.
    assert_eq!(io::load_stack(&files[0]).unwrap().frames.len(), 3);
    assert_eq!(io::load_stack(&files[4]).unwrap().frames.len(), 2);
    assert!(io::load_stack(&files[5]).is_err());
}
