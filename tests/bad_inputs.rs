//! The bad-input corpus (DESIGN.md, "Bad input and faults"): truncated files, wrong
//! magic, 0x0 images, headers claiming 100,000 x 100,000 pixels, unsupported sample
//! depths, NaN and infinities, 1x1 images. Each bad file gets a clear error that names
//! it and the reason, never a panic, whether it is decoded whole or streamed band by
//! band (a tiny `--memory` streams every TIFF), and in a folder run the good files still
//! complete.

mod common;
use common::*;
use imflow::io::{self, Format};
use imflow::{Image, SampleType, Samples};
use std::path::{Path, PathBuf};

/// A little-endian baseline TIFF of one gray strip, built by hand so the header can say
/// what no encoder would write.
fn tiff(width: u32, height: u32, bits: u16, format: u16, data: &[u8]) -> Vec<u8> {
    const ENTRIES: u16 = 10;
    let data_at = 8 + 2 + 12 * u32::from(ENTRIES) + 4;
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend(ENTRIES.to_le_bytes());
    let mut entry = |tag: u16, long: bool, value: u32| {
        out.extend(tag.to_le_bytes());
        out.extend((if long { 4u16 } else { 3u16 }).to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(value.to_le_bytes()); // a SHORT sits in the low bytes (little-endian)
    };
    entry(256, true, width);
    entry(257, true, height);
    entry(258, false, u32::from(bits));
    entry(259, false, 1); // no compression
    entry(262, false, 1); // black is zero
    entry(273, true, data_at);
    entry(277, false, 1);
    entry(278, true, height.max(1));
    entry(279, true, data.len() as u32);
    entry(339, false, u32::from(format));
    out.extend(0u32.to_le_bytes());
    assert_eq!(out.len() as u32, data_at);
    out.extend(data);
    out
}

/// A PNG whose header says `width` x `height` (8-bit gray), with one tiny data chunk.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit gray, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn f32_image(values: Vec<f32>, width: u32) -> Image {
    let h = values.len() as u32 / width;
    Image::gray(width, h, Samples::F32(values)).unwrap()
}

/// The corpus: (file name, bytes, what its error must say; `None` for a good file).
fn corpus() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let good = random_image(64, 48, 1, SampleType::U16, 5);
    let rgb = random_image(30, 20, 3, SampleType::U8, 6);
    let enc = |img: &Image, f| io::encode(img, f).unwrap();
    let half = |v: Vec<u8>| v[..v.len() / 2].to_vec();
    let ramp: Vec<f32> = (0..600).map(|i| (i % 97) as f32 * 0.5).collect();
    let with = |i: usize, v: f32| {
        let mut r = ramp.clone();
        r[i] = v;
        f32_image(r, 30)
    };
    // f16 samples: the ramp's values are exact in f16 (at most 10 significant bits).
    let f16: Vec<u8> = ramp
        .iter()
        .flat_map(|&x| {
            let b = x.to_bits();
            let h = if x == 0.0 {
                0
            } else {
                let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
                ((exp as u32) << 10 | (b >> 13) & 0x3ff) as u16
            };
            h.to_le_bytes()
        })
        .collect();
    vec![
        ("good.tif", enc(&good, Format::Tiff), None),
        ("good.png", enc(&rgb, Format::Png), None),
        (
            "one.tif",
            enc(&random_image(1, 1, 1, SampleType::U16, 1), Format::Tiff),
            None,
        ),
        ("nan.tif", enc(&with(7, f32::NAN), Format::Tiff), None),
        ("f16.tif", tiff(30, 20, 16, 3, &f16), None),
        (
            "cut.tif",
            half(enc(&good, Format::Tiff)),
            Some("cannot decode"),
        ),
        (
            "cut.png",
            half(enc(&rgb, Format::Png)),
            Some("cannot decode"),
        ),
        ("good.jpg", enc(&rgb, Format::Jpeg), None),
        (
            "cut.jpg",
            half(enc(&rgb, Format::Jpeg)),
            Some("truncated JPEG"),
        ),
        (
            "cut.gif",
            half(enc(&rgb, Format::Gif)),
            Some("cannot decode"),
        ),
        (
            "cut.webp",
            half(enc(&rgb, Format::Webp)),
            Some("cannot decode"),
        ),
        (
            "cut.bmp",
            half(enc(&rgb, Format::Bmp)),
            Some("cannot decode"),
        ),
        (
            "magic.tif",
            {
                let mut b = enc(&good, Format::Tiff);
                b[..2].copy_from_slice(b"XX");
                b
            },
            Some("not a recognised image format"),
        ),
        ("empty.png", Vec::new(), Some("cannot decode image")),
        ("zero.tif", tiff(0, 0, 8, 1, &[]), Some("0x0")),
        ("zero.png", png_claiming(0, 0), Some("cannot decode")),
        (
            "claims.tif",
            tiff(50_000, 50_000, 8, 1, &[0; 64]),
            Some("claims 50000x50000"),
        ),
        (
            "huge.tif",
            tiff(100_000, 100_000, 8, 1, &[0; 64]),
            Some("100000x100000"),
        ),
        (
            "claims.png",
            png_claiming(100_000, 100_000),
            Some("cannot decode"),
        ),
        (
            "u64.tif",
            tiff(30, 20, 64, 1, &[0; 4800]),
            Some("64-bit unsigned samples"),
        ),
        (
            "complex.tif",
            tiff(30, 20, 64, 6, &[0; 4800]),
            Some("64-bit untyped samples"),
        ),
        ("two_bit.tif", tiff(30, 20, 2, 1, &[0; 160]), Some("2-bit")),
    ]
}

fn write_corpus(dir: &Path) -> Vec<(PathBuf, Option<&'static str>)> {
    corpus()
        .into_iter()
        .map(|(name, bytes, want)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            (path, want)
        })
        .collect()
}

fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// Every decode path of the library: the file, its bytes, every page.
#[test]
fn the_library_refuses_each_bad_file_clearly() {
    let dir = tempfile::tempdir().unwrap();
    for (path, want) in write_corpus(dir.path()) {
        let loaded = std::panic::catch_unwind(|| io::load(&path))
            .unwrap_or_else(|_| panic!("{}: load panicked", path.display()));
        let stack = std::panic::catch_unwind(|| io::load_stack(&path))
            .unwrap_or_else(|_| panic!("{}: load_stack panicked", path.display()));
        let bytes = std::fs::read(&path).unwrap();
        let decoded = std::panic::catch_unwind(|| io::decode(&bytes))
            .unwrap_or_else(|_| panic!("{}: decode panicked", path.display()));
        match want {
            None => {
                // Compared as bytes: NaN != NaN.
                let img = loaded.unwrap_or_else(|e| panic!("{e}"));
                let bits = |i: &Image| (i.shape(), i.samples().as_le_bytes().into_owned());
                assert_eq!(
                    bits(&stack.unwrap().frames[0]),
                    bits(&img),
                    "{}",
                    path.display()
                );
                assert_eq!(bits(&decoded.unwrap()), bits(&img), "{}", path.display());
            }
            Some(reason) => {
                for e in [loaded.unwrap_err(), stack.unwrap_err()] {
                    let msg = e.to_string();
                    assert!(msg.contains(name(&path)), "{msg}");
                    assert!(
                        msg.contains(reason),
                        "{}: `{msg}` lacks `{reason}`",
                        name(&path)
                    );
                }
                let msg = decoded.unwrap_err().to_string();
                assert!(
                    msg.contains(reason),
                    "{}: `{msg}` lacks `{reason}`",
                    name(&path)
                );
            }
        }
    }
    // The good ones hold what was written: f16 widened exactly, NaN kept.
    let f16 = io::load(dir.path().join("f16.tif")).unwrap();
    assert_eq!(f16.sample_type(), SampleType::F32);
    let want: Vec<f32> = (0..600).map(|i| (i % 97) as f32 * 0.5).collect();
    assert_eq!(f16.samples(), &Samples::F32(want));
    let nan = io::load(dir.path().join("nan.tif")).unwrap();
    assert!(matches!(nan.samples(), Samples::F32(v) if v[7].is_nan()));
}

/// A folder run over the corpus, whole and streamed, on each backend: the bad files
/// fail with their reasons in the summary, the good ones complete, nothing panics.
#[test]
fn a_folder_run_reports_every_bad_file_and_completes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let files = write_corpus(&input);
    let mut backends = vec!["cpu"];
    if gpu("a_folder_run_reports_every_bad_file_and_completes_the_rest").is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        for memory in ["1GiB", "16KiB"] {
            let out = dir.path().join(format!("out-{backend}-{memory}"));
            let o = imflow(&[
                "run",
                "--input",
                input.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--op",
                "gaussian:sigma=1",
                "--op",
                "threshold:method=otsu",
                "--backend",
                backend,
                "--memory",
                memory,
            ]);
            let err = stderr(&o);
            let what = format!("{backend}, --memory {memory}");
            assert!(!err.contains("panicked"), "{what}: {err}");
            assert_eq!(o.status.code(), Some(3), "{what}: {err}");
            let summary = err.rsplit_once(" failed;").map_or("", |(_, s)| s);
            for (path, want) in &files {
                let stem = path.file_stem().unwrap().to_str().unwrap();
                match want {
                    Some(reason) => {
                        let line = summary
                            .lines()
                            .find(|l| l.contains(&format!("/{}:", name(path))))
                            .unwrap_or_else(|| {
                                panic!("{what}: {} not reported: {err}", name(path))
                            });
                        assert!(line.contains(reason), "{what}: `{line}` lacks `{reason}`");
                    }
                    None => {
                        let made =
                            std::fs::read_dir(&out)
                                .unwrap()
                                .filter_map(|e| e.ok())
                                .any(|e| {
                                    let n = e.file_name().into_string().unwrap();
                                    n.starts_with(&format!("{stem}-")) && n.ends_with(".tif")
                                });
                        assert!(made, "{what}: no output for {}: {err}", name(path));
                    }
                }
            }
        }
    }
}

/// Values Otsu cannot bin: infinities make its range infinite, and skimage refuses them;
/// imflow says so instead of writing an empty mask. A filter alone passes them through,
/// as scipy does, and NaNs are left out of Otsu's histogram.
#[test]
fn otsu_refuses_infinities_and_filters_pass_them_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut ramp: Vec<f32> = (0..600).map(|i| (i % 97) as f32).collect();
    ramp[5] = f32::INFINITY;
    ramp[9] = f32::NEG_INFINITY;
    let inf = dir.path().join("inf.tif");
    io::save(&f32_image(ramp, 30), &inf).unwrap();
    let mut backends = vec!["cpu"];
    if gpu("otsu_refuses_infinities_and_filters_pass_them_through").is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        for memory in ["1GiB", "16KiB"] {
            let out = dir.path().join(format!("mask-{backend}-{memory}.tif"));
            let args = |op: &'static str| {
                vec![
                    "apply".to_string(),
                    inf.to_str().unwrap().into(),
                    out.to_str().unwrap().into(),
                    "--op".into(),
                    op.into(),
                    "--backend".into(),
                    backend.into(),
                    "--memory".into(),
                    memory.into(),
                ]
            };
            let run = |op| {
                let a = args(op);
                imflow(&a.iter().map(String::as_str).collect::<Vec<_>>())
            };
            let o = run("threshold:method=otsu");
            let err = stderr(&o);
            assert!(!o.status.success(), "{backend} {memory}: {err}");
            assert!(!err.contains("panicked"), "{err}");
            assert!(
                err.contains("needs finite values"),
                "{backend} {memory}: {err}"
            );
            assert!(!out.exists(), "no mask is written");
            let o = run("gaussian:sigma=1");
            assert!(o.status.success(), "{}", stderr(&o));
            let Samples::F32(v) = io::load(&out).unwrap().samples().clone() else {
                panic!("f32 out");
            };
            assert!(v.iter().any(|x| x.is_infinite()) && v.iter().any(|x| x.is_nan()));
        }
    }
}
