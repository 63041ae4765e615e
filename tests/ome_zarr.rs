//! OME-Zarr in and out, against the reference stack (zarr-python and ome-zarr-py write
//! the sources and read imflow's outputs back, scipy gives the expected values; all run
//! by `python/tests/ngff_data.py` with the test venv's Python):
//! - an NGFF 0.5 image (3x3 shards, u16) processed by three concurrent `imflow run
//!   --shard K/3 --format ome-zarr` processes is scipy's whole-image gaussian exactly,
//!   and bit for bit imflow's TIFF path; ome_zarr.reader reads it with its axes and
//!   scale; a re-run shard is all hits; a whole-image op under --shard is refused;
//! - the same with the image and the output on the S3 test server;
//! - an NGFF 0.4 (Zarr v2) volume reads with its voxel size, as its TIFF does;
//! - broken images are typed errors naming the image.
//!
//! Without the venv (or zarr, ome-zarr in it) the tests are skipped with a loud line,
//! or fail where `IMFLOW_REQUIRE_S3=1` (CI, which makes the venv).

mod common;
use common::s3::{s3, S3Server};
use imflow::zarr::ZarrImage;
use imflow::{Error, Image};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OP: &str = "gaussian:sigma=2,int=scipy";

fn python() -> PathBuf {
    std::env::var_os("IMFLOW_TEST_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
        PathBuf::from,
    )
}

/// Runs `ngff_data.py` with `args`: its JSON line, or `None` (a skip) without the venv.
fn py(test: &str, args: &[&str]) -> Option<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/tests/ngff_data.py");
    let out = Command::new(python()).arg(&script).args(args).output();
    let why = match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let line = text.lines().last().unwrap_or_default();
            return Some(serde_json::from_str(line).expect("a JSON line"));
        }
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => format!("{}: {e}", python().display()),
    };
    if std::env::var("IMFLOW_REQUIRE_S3").as_deref() == Ok("1") {
        panic!("{test}: ngff_data.py {args:?} failed: {why}");
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n*** SKIPPED `{test}`: no zarr/ome-zarr Python ({}): {why}\n*** make the venv with scripts/python-env\n",
        python().display()
    );
    None
}

fn imflow(args: &[&str], server: Option<&S3Server>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imflow"));
    c.args(args).env_remove("IMFLOW_STORE");
    if let Some(s) = server {
        c.envs(s.env());
    }
    c
}

fn ok(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "imflow failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("a JSON report")
}

/// Three concurrent `--shard K/3` runs of `OP` on `input` into `out`: their reports.
fn three_shards(input: &str, out: &str, server: Option<&S3Server>) -> Vec<Value> {
    let children: Vec<_> = (0..3)
        .map(|k| {
            let shard = format!("{k}/3");
            imflow(
                &[
                    "run",
                    "-i",
                    input,
                    "--op",
                    OP,
                    "--format",
                    "ome-zarr",
                    "--out",
                    out,
                    "--shard",
                    &shard,
                    "--backend",
                    "cpu",
                    "--json",
                ],
                server,
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn imflow")
        })
        .collect();
    children
        .into_iter()
        .map(|c| ok(&c.wait_with_output().expect("wait")))
        .collect()
}

/// Each report's one output, and its parts' (computed, hit) counts.
fn parts(r: &Value) -> (String, usize, usize) {
    let o = &r["outputs"][0];
    let parts = o["parts"].as_array().expect("parts");
    let computed = parts.iter().filter(|p| p["computed"] == true).count();
    (
        o["output"].as_str().expect("output").to_string(),
        computed,
        parts.len() - computed,
    )
}

/// imflow's TIFF path on `tif`: the output image.
fn tiff_path(tif: &Path, out: &Path) -> Image {
    let r = ok(&imflow(
        &[
            "run",
            "-i",
            tif.to_str().unwrap(),
            "--op",
            OP,
            "--out",
            out.to_str().unwrap(),
            "--backend",
            "cpu",
            "--json",
        ],
        None,
    )
    .output()
    .unwrap());
    let path = r["outputs"][0]["path"].as_str().expect("a TIFF output");
    imflow::io::load(path).unwrap()
}

fn check_output(test: &str, out: &Path, src: &Path) {
    let Some(c) = py(
        test,
        &["check", out.to_str().unwrap(), src.to_str().unwrap(), "2"],
    ) else {
        return;
    };
    assert_eq!(c["equal"], true, "scipy's whole-image gaussian: {c}");
    assert_eq!(c["dtype"], "uint16");
    assert_eq!(c["axes"], serde_json::json!(["y", "x"]));
    assert_eq!(c["units"], serde_json::json!(["micrometer", "micrometer"]));
    assert_eq!(c["scale"], serde_json::json!([0.5, 0.25]));
    assert_eq!(
        (c["version"].as_str(), c["zarr_format"].as_u64()),
        (Some("0.5"), Some(3))
    );
    assert_eq!(c["shards"], serde_json::json!([64, 64]), "{c}");
}

#[test]
fn three_shard_processes_write_the_whole_image_result() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.zarr");
    if py("three_shard_processes", &["write05", src.to_str().unwrap()]).is_none() {
        return;
    }
    let out = dir.path().join("out");
    let reports = three_shards(src.to_str().unwrap(), out.to_str().unwrap(), None);
    let got: Vec<_> = reports.iter().map(parts).collect();
    // One output folder; three rows of shards, one per process, each computed once.
    assert!(got.iter().all(|g| g.0 == got[0].0), "{got:?}");
    assert!(got.iter().all(|g| (g.1, g.2) == (1, 0)), "{got:?}");
    let zarr_out = PathBuf::from(&got[0].0);
    assert!(zarr_out.starts_with(&out) && got[0].0.ends_with(".ome.zarr"));
    check_output("three_shard_processes", &zarr_out, &src);

    // Bit for bit imflow's TIFF path on the same pixels.
    let tiff = tiff_path(&dir.path().join("a.tif"), &dir.path().join("tout"));
    let zarr = ZarrImage::open(&zarr_out).unwrap().read_all().unwrap();
    assert_eq!(zarr.len(), 1);
    assert_eq!(zarr[0], tiff);

    // A re-run shard: all hits.
    let again = ok(&imflow(
        &[
            "run",
            "-i",
            src.to_str().unwrap(),
            "--op",
            OP,
            "--format",
            "ome-zarr",
            "--out",
            out.to_str().unwrap(),
            "--shard",
            "1/3",
            "--backend",
            "cpu",
            "--json",
        ],
        None,
    )
    .output()
    .unwrap());
    let (_, computed, hits) = parts(&again);
    assert_eq!((computed, hits), (0, 1), "{again}");

    // A shard cut short (as by a writer killed mid-put without atomic writes) and a
    // part whose record is gone (killed before recording): each is computed again by
    // its shard's next run, and the image is whole again.
    let shard_run = |k: u32| {
        let shard = format!("{k}/3");
        let args = [
            "run",
            "-i",
            src.to_str().unwrap(),
            "--op",
            OP,
            "--format",
            "ome-zarr",
            "--out",
            out.to_str().unwrap(),
            "--shard",
            &shard,
            "--backend",
            "cpu",
            "--json",
        ];
        parts(&ok(&imflow(&args, None).output().unwrap()))
    };
    let shard_file = zarr_out.join("0/c/1/2");
    let bytes = std::fs::read(&shard_file).unwrap();
    std::fs::write(&shard_file, &bytes[..bytes.len() / 2]).unwrap();
    for record in std::fs::read_dir(out.join(".imflow/parts")).unwrap() {
        let path = record.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("\"shard_row\": 2") {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert_eq!((shard_run(1).1, shard_run(2).1, shard_run(0).1), (1, 1, 0));
    // Whole again (zarrs may lay the inner chunks out in another order: the size, not
    // the bytes, is the same; the pixels are checked below).
    assert_eq!(std::fs::read(&shard_file).unwrap().len(), bytes.len());
    check_output("three_shard_processes", &zarr_out, &src);

    // A whole-image op cannot be split by region: refused, naming the op.
    let o = imflow(
        &[
            "run",
            "-i",
            src.to_str().unwrap(),
            "--op",
            "threshold:method=otsu",
            "--format",
            "ome-zarr",
            "--out",
            out.to_str().unwrap(),
            "--shard",
            "0/3",
        ],
        None,
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("op `threshold` needs the whole image"),
        "{err}"
    );
}

#[test]
fn three_shard_processes_on_s3() {
    let Some(server) = s3("three_shard_processes_on_s3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.zarr");
    if py(
        "three_shard_processes_on_s3",
        &["write05", src.to_str().unwrap()],
    )
    .is_none()
    {
        return;
    }
    let prefix = server.prefix("ngff");
    // The image's files, as they are, into the bucket.
    let mut stack = vec![src.clone()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(dir.path()).unwrap().to_str().unwrap();
            let (status, _) = server.raw(
                "PUT",
                &format!("{prefix}/{rel}"),
                &std::fs::read(&path).unwrap(),
            );
            assert_eq!(status, 200, "{rel}");
        }
    }
    let url = format!("{prefix}/a.zarr");
    let out = format!("{prefix}/out");
    let reports = three_shards(&url, &out, Some(server));
    let got: Vec<_> = reports.iter().map(parts).collect();
    assert!(
        got.iter().all(|g| g.0 == got[0].0 && (g.1, g.2) == (1, 0)),
        "{got:?}"
    );
    assert!(got[0].0.starts_with(&out), "{got:?}");

    // Read back in this process (the server's variables are set), and by ome_zarr from a
    // copy of the output's objects.
    let tiff = tiff_path(&dir.path().join("a.tif"), &dir.path().join("tout"));
    let read = ZarrImage::open(Path::new(&got[0].0))
        .unwrap()
        .read_all()
        .unwrap();
    assert_eq!(read[0], tiff);
    let copy = dir.path().join("copy.zarr");
    for key in server.keys(&got[0].0) {
        let rel = key.strip_prefix(&format!("{}/", got[0].0)).unwrap();
        let local = copy.join(rel);
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, server.get(&key).unwrap()).unwrap();
    }
    check_output("three_shard_processes_on_s3", &copy, &src);
}

#[test]
fn ngff_04_volume_reads_with_its_voxel_size() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("v.zarr");
    if py("ngff_04_volume", &["write04", src.to_str().unwrap()]).is_none() {
        return;
    }
    let img = ZarrImage::open(&src).unwrap();
    assert_eq!((img.meta.version.as_str(), img.frames), ("0.4", 1));
    assert_eq!(img.shape, imflow::Shape::volume(50, 40, 4, 1).unwrap());
    let v = &img.voxel;
    assert_eq!((v.z, v.y, v.x, v.unit.as_str()), (2.0, 0.5, 0.5, "µm"));
    let tiff = imflow::io::load_stack(dir.path().join("v.tif")).unwrap();
    assert_eq!(img.read_all().unwrap(), tiff.frames);

    // Out as NGFF 0.5 (one process): the voxel size is the output's scale, and the
    // pixels are the TIFF path's.
    let out = dir.path().join("out");
    let r = ok(&imflow(
        &[
            "run",
            "-i",
            src.to_str().unwrap(),
            "--op",
            "gaussian:sigma=1",
            "--format",
            "ome-zarr",
            "--out",
            out.to_str().unwrap(),
            "--backend",
            "cpu",
            "--json",
        ],
        None,
    )
    .output()
    .unwrap());
    let (path, computed, _) = parts(&r);
    assert_eq!(computed, 2, "40 rows in shards of 20");
    let written = ZarrImage::open(Path::new(&path)).unwrap();
    assert_eq!((written.meta.version.as_str(), &written.voxel), ("0.5", v));
    let via_tiff = ok(&imflow(
        &[
            "run",
            "-i",
            dir.path().join("v.tif").to_str().unwrap(),
            "--op",
            "gaussian:sigma=1",
            "--out",
            dir.path().join("tout").to_str().unwrap(),
            "--backend",
            "cpu",
            "--json",
        ],
        None,
    )
    .output()
    .unwrap());
    let tiff_out =
        imflow::io::load_stack(via_tiff["outputs"][0]["path"].as_str().unwrap()).unwrap();
    assert_eq!(written.read_all().unwrap(), tiff_out.frames);

    // An OME-Zarr source in an ordinary run (a TIFF out, keyed by its content): the same
    // pixels and voxel size; a second run is a hit.
    let zout = dir.path().join("zout");
    let args = [
        "run",
        "-i",
        src.to_str().unwrap(),
        "--op",
        "gaussian:sigma=1",
        "--out",
        zout.to_str().unwrap(),
        "--backend",
        "cpu",
        "--json",
    ];
    let r = ok(&imflow(&args, None).output().unwrap());
    let o = &r["outputs"][0];
    assert_eq!(o["status"], "computed", "{r}");
    let from_zarr = imflow::io::load_stack(o["path"].as_str().unwrap()).unwrap();
    assert_eq!(from_zarr.frames, tiff_out.frames);
    assert_eq!(from_zarr.voxel.as_ref(), Some(v));
    let again = ok(&imflow(&args, None).output().unwrap());
    assert_eq!(again["outputs"][0]["status"], "store_hit", "{again}");
}

#[test]
fn broken_images_are_typed_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, needle) in [
        ("nometa", "neither zarr.json"),
        ("dtype", "data type `int64`"),
        ("axes", "axes [x, y]"),
    ] {
        let p = dir.path().join(format!("{kind}.zarr"));
        if py("broken_images", &["bad", kind, p.to_str().unwrap()]).is_none() {
            return;
        }
        let e = ZarrImage::open(&p).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(&e, Error::Ngff { path, .. } if path.starts_with(&p)),
            "{e:?}"
        );
        assert!(
            text.contains(needle) && text.contains(p.to_str().unwrap()),
            "{text}"
        );
    }
    // A folder that does not exist.
    let missing = dir.path().join("missing.zarr");
    let e = ZarrImage::open(&missing).unwrap_err();
    assert!(e.to_string().contains("missing.zarr"), "{e}");
}

/// A frame read band by band (no whole frame in memory), as a region run reads it.
struct Rows<'a>(&'a Image);

impl imflow::engine::tiled::RowSource for Rows<'_> {
    fn rows(&mut self, part: imflow::image::Rect) -> imflow::Result<Image> {
        self.0.crop(part)
    }
}

/// Tiles, placed into a frame.
struct Place(Image);

impl imflow::engine::tiled::RowSink for Place {
    fn put(&mut self, _band: Image) -> imflow::Result<()> {
        unreachable!("tiles come with their places")
    }

    fn put_tiles(&mut self, tiles: Vec<(imflow::image::Rect, Image)>) -> imflow::Result<()> {
        for (r, t) in tiles {
            self.0.put_at((r.x, r.y, r.z), &t).unwrap();
        }
        Ok(())
    }
}

/// `Processor::run_part` on bands of a frame (small tiles inside each band, so halos
/// cross tiles and bands) gives the whole-frame run bit for bit: the gaussian, and the
/// box filter, whose running sums start at fixed places of the frame; on a volume too.
/// A whole-frame op is refused by name.
#[test]
fn parts_equal_the_whole_frame_bit_for_bit() {
    use imflow::budget::Budget;
    use imflow::Processor;
    let budget = Budget {
        max_tile: Some(24),
        ..Budget::default()
    };
    let mut processors = vec![Processor::cpu().with_budget(budget)];
    // The GPU's kernels too, where there is an adapter (llvmpipe will do).
    if let Some(ctx) = common::gpu("parts_equal_the_whole_frame_bit_for_bit") {
        processors.push(Processor::gpu(ctx).with_budget(budget));
    }
    for p in &processors {
        check_parts(p);
    }
}

fn check_parts(p: &imflow::Processor) {
    use imflow::image::Rect;
    use imflow::{OutputType, Processor, SampleType};
    let plane = common::random_image(70, 90, 1, SampleType::F32, 7);
    let volume = Image::volume_of(
        (0..5)
            .map(|k| common::random_image(30, 41, 1, SampleType::U16, k + 1))
            .collect(),
    )
    .unwrap();
    for (image, spec) in [
        (&plane, "gaussian:sigma=2.5"),
        (&plane, "box:size=7"),
        (&volume, "gaussian:sigma=1.5"),
        (&volume, "box:size=3"),
    ] {
        let ops = vec![imflow::Op::parse(spec).unwrap()];
        let whole = p.run(image, &ops, OutputType::Same).unwrap().image;
        let shape = image.shape();
        let mut got = Place(Image::blank(shape, whole.sample_type()));
        let (a, b) = (shape.height / 4, shape.height * 2 / 3);
        for (y, h) in [(0, a), (a, b - a), (b, shape.height - b)] {
            let part = Rect {
                depth: shape.depth,
                ..Rect::area(0, y, shape.width, h)
            };
            let t = Processor::output_type(&ops, image.sample_type(), OutputType::Same);
            p.run_part(
                shape,
                image.sample_type(),
                &mut Rows(image),
                &ops,
                t,
                part,
                &mut got,
            )
            .unwrap();
        }
        assert!(got.0 == whole, "{spec} on {shape}, {}", p.device_name());
    }
    let otsu = vec![imflow::Op::parse("threshold:method=otsu").unwrap()];
    let e = p
        .run_part(
            plane.shape(),
            SampleType::F32,
            &mut Rows(&plane),
            &otsu,
            SampleType::U8,
            Rect::area(0, 0, 70, 10),
            &mut Place(Image::blank(plane.shape(), SampleType::U8)),
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::NotRegional { op } if op == "threshold"),
        "{e}"
    );
}

/// A (t, c, y, x) image written by imflow's writer reads back frame by frame with its
/// channels interleaved as they were; a region run over it (two processes' shares)
/// gives each frame's whole-frame result, with the axes and the scale kept.
#[test]
fn frames_and_channels_round_trip_and_split() {
    use imflow::image::Rect;
    use imflow::shard::Shard;
    use imflow::zarr::region::RegionRun;
    use imflow::zarr::write::{Layout, ZarrOutput};
    use imflow::zarr::Axis;
    use imflow::{OutputType, Processor, SampleType, Store, VoxelSize};
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tc.zarr");
    let frames: Vec<Image> = (0..2)
        .map(|t| common::random_image(50, 45, 3, SampleType::U16, t + 11))
        .collect();
    let voxel = VoxelSize {
        z: 1.0,
        y: 0.2,
        x: 0.3,
        unit: "µm".into(),
    };
    let layout = Layout {
        axes: vec![Axis::T, Axis::C, Axis::Y, Axis::X],
        frames: 2,
        shape: frames[0].shape(),
        sample_type: SampleType::U16,
        shard: (16, 32),
        inner: (8, 16),
        voxel: Some(voxel.clone()),
        time_unit: Some("second".into()),
    };
    let out = ZarrOutput::create(&src, "tc", layout.clone()).unwrap();
    for (t, f) in frames.iter().enumerate() {
        for i in 0..layout.grid().0 {
            let rows = 16.min(45 - i * 16);
            out.write_band(
                t as u32,
                i,
                &f.crop(Rect::area(0, i * 16, 50, rows)).unwrap(),
            )
            .unwrap();
        }
    }
    let read = ZarrImage::open(&src).unwrap();
    assert_eq!((read.frames, read.voxel.clone()), (2, voxel.clone()));
    assert_eq!(read.read_all().unwrap(), frames);

    let store = Store::open(dir.path().join("out"), None).unwrap();
    let processor = Processor::cpu();
    let ops = vec![imflow::Op::parse("gaussian:sigma=1.5").unwrap()];
    let mut written = None;
    for k in 0..2 {
        let run = RegionRun {
            processor: &processor,
            store: &store,
            ops: &ops,
            output: OutputType::Same,
            shard: Some(Shard::parse(&format!("{k}/2")).unwrap()),
            refresh: false,
        };
        let (path, parts) = run.run(&src).unwrap();
        assert_eq!(
            parts.len(),
            3,
            "6 bands (2 frames x 3 rows of shards), 3 each"
        );
        written = Some(path);
    }
    let result = ZarrImage::open(&written.unwrap()).unwrap();
    assert_eq!(result.meta.axes, [Axis::T, Axis::C, Axis::Y, Axis::X]);
    assert_eq!(
        (result.voxel.clone(), result.meta.time_unit.as_deref()),
        (voxel, Some("second"))
    );
    for (t, f) in frames.iter().enumerate() {
        let want = processor.run(f, &ops, OutputType::Same).unwrap().image;
        assert!(
            result.read(t as u32, Rect::of(f.shape())).unwrap() == want,
            "frame {t}"
        );
    }
}
