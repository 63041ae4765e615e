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
    assert!(e.to_string().contains("PNG holds only 8- or 16-bit"), "{e}");
}

#[test]
fn format_comes_from_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let img = random_image(6, 6, 1, SampleType::U16, 2);
    let bytes = io::encode(&img, Format::Tiff).unwrap();
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
        voxel: None,
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
        io::save_stack(&stack, format, &path).unwrap();
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
        let from_bytes = io::decode_stack(&std::fs::read(path).unwrap()).map_err(|e| e.at(path));
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

/// Codecs work on bytes and name no file; whoever knows the file adds it, once.
#[test]
fn codec_errors_name_the_file_only_where_it_is_known() {
    let e = io::decode(b"not an image").unwrap_err();
    assert!(matches!(&e, Error::Decode { path: None, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "cannot decode image: not a recognised image format (TIFF, PNG, JPEG, GIF, WebP or BMP)"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.tif");
    std::fs::write(&path, "not an image").unwrap();
    let e = io::load(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Decode { path: Some(p), .. } if p == &path),
        "{e:?}"
    );
    // The decoder's own error is kept as the cause.
    let cut = io::encode(&random_image(9, 9, 1, SampleType::U16, 3), Format::Tiff).unwrap();
    let e = io::decode(&cut[..cut.len() / 2]).unwrap_err();
    assert!(std::error::Error::source(&e).is_some(), "{e:?}");
}

/// Loading a multi-page TIFF page by page once warned "only the first page is read"
/// for every page while reading them all. `load_stack` reads every page and says
/// nothing; `load` reads the first and says so once (checked through the CLI, whose
/// stderr shows the log).
#[test]
fn reading_every_page_warns_of_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pages.tif");
    let stack = io::Stack {
        frames: (0..4)
            .map(|k| random_image(8, 6, 1, SampleType::U16, k))
            .collect(),
        animation: None,
        format: None,
        voxel: None,
    };
    io::save_stack(&stack, Format::Tiff, &path).unwrap();
    assert_eq!(io::load_stack(&path).unwrap().frames.len(), 4);
    let out = dir.path().join("out");
    let o = imflow(&[
        "run",
        "-i",
        path.to_str().unwrap(),
        "--op",
        "box:size=3",
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("first page"), "{}", stderr(&o));
}
