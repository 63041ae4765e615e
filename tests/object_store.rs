//! The store's suite on both of its spaces, a local folder and an S3 prefix (moto's
//! server on 127.0.0.1, `common::s3`): put-if-absent races, a corrupt object healed, a
//! multipart output, a record without its object, and a cached re-run that downloads no
//! output (counted by the server).

mod common;
use common::s3::{s3, S3Server};
use common::*;
use imflow::executor::Status;
use imflow::key::Key;
use imflow::store::{Draft, Lookup, SourceMeta};
use imflow::{io, Backend, Executor, Flow, Op, RunOptions, RunReport, SampleType, Store};
use std::path::{Path, PathBuf};
use std::sync::Barrier;

/// Where a test's store lives.
enum Place {
    Local(tempfile::TempDir),
    S3(&'static S3Server, String),
}

impl Place {
    /// Both places; S3 only where the test server runs.
    fn both(test: &str) -> Vec<Place> {
        let mut v = vec![Place::Local(tempfile::tempdir().unwrap())];
        if let Some(server) = s3(test) {
            v.push(Place::S3(server, server.prefix(test)));
        }
        v
    }

    fn out(&self) -> PathBuf {
        match self {
            Place::Local(d) => d.path().join("out"),
            Place::S3(_, url) => PathBuf::from(url),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Place::Local(_) => "local",
            Place::S3(..) => "s3",
        }
    }

    /// Replaces an output's bytes, as another tool would (no imflow metadata).
    fn overwrite(&self, path: &Path, bytes: &[u8]) {
        match self {
            Place::Local(_) => std::fs::write(path, bytes).unwrap(),
            Place::S3(s, _) => {
                let (status, _) = s.raw("PUT", path.to_str().unwrap(), bytes);
                assert_eq!(status, 200);
            }
        }
    }

    fn delete(&self, path: &Path) {
        match self {
            Place::Local(_) => std::fs::remove_file(path).unwrap(),
            Place::S3(s, _) => {
                let (status, _) = s.raw("DELETE", path.to_str().unwrap(), b"");
                assert_eq!(status, 204);
            }
        }
    }
}

fn op(s: &str) -> Op {
    Op::parse(s).unwrap()
}

fn inputs(dir: &Path, n: usize, side: u32) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|k| {
            let p = dir.join(format!("img{k:02}.tif"));
            let image = random_image(side, side, 1, SampleType::U16, k as u64 + 1);
            io::save(&image, &p).unwrap();
            p
        })
        .collect()
}

fn flow(files: &[PathBuf]) -> Flow {
    let mut flow = Flow::new();
    for f in files {
        let src = flow.file(f);
        let g = flow.op(src, op("gaussian:sigma=1.5")).unwrap();
        let m = flow.op(g, op("threshold:method=otsu")).unwrap();
        let stem = f.file_stem().unwrap().to_str().unwrap();
        flow.materialize(m, format!("{stem}_mask")).unwrap();
    }
    flow
}

fn draft(device: String) -> Draft {
    let key = Key::of_bytes(b"race");
    Draft {
        key,
        task: key,
        name: "race".into(),
        lineage: Vec::new(),
        inputs: Vec::new(),
        value_type: SampleType::U16,
        source: SourceMeta {
            sample_type: SampleType::U16,
            format: None,
            animation: None,
            voxel: None,
        },
        format: io::Format::Tiff,
        device,
        objects: None,
        replace: false,
    }
}

fn statuses(r: &RunReport) -> Vec<Status> {
    r.outputs.iter().map(|o| o.status).collect()
}

fn run(flow: &Flow, store: &Store) -> RunReport {
    Executor::new(Backend::Cpu)
        .run(flow, store, &RunOptions::default())
        .unwrap()
}

/// Eight threads commit one output at once, each with a record of its own (its
/// "device"): exactly one record wins, and every thread reads that one back.
#[test]
fn put_if_absent_has_one_winner() {
    for place in Place::both("put_if_absent_has_one_winner") {
        let store = Store::open(place.out(), None).unwrap();
        let stack = io::Stack::single(random_image(64, 48, 1, SampleType::U16, 5));
        let barrier = Barrier::new(8);
        let hits: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (store, stack, barrier) = (&store, &stack, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        store.write(draft(format!("worker-{i}")), stack).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winner = &hits[0].record.device;
        assert!(
            hits.iter().all(|h| &h.record.device == winner),
            "{}: {:?}",
            place.name(),
            hits.iter().map(|h| &h.record.device).collect::<Vec<_>>()
        );
        match store.lookup(&Key::of_bytes(b"race"), None) {
            Lookup::Hit(h) => assert_eq!(&h.record.device, winner, "{}", place.name()),
            other => panic!("{}: {other:?}", place.name()),
        }
        let v = store.verify().unwrap();
        assert_eq!((v.records, v.ok), (1, 1), "{}: {v:?}", place.name());
    }
}

/// A corrupt output is recomputed with a warning and put again; a record whose object
/// is gone likewise; the next run is all hits and `verify` (which downloads) agrees.
#[test]
fn corrupt_and_missing_outputs_are_healed() {
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(&dir.path().join("in"), 3, 40);
    let flow = flow(&files);
    for place in Place::both("corrupt_and_missing_outputs_are_healed") {
        let store = Store::open(place.out(), None).unwrap();
        let first = run(&flow, &store);
        assert_eq!(statuses(&first), [Status::Computed; 3], "{}", place.name());
        let path = |k: usize| first.outputs[k].path.clone().unwrap();
        let good = match &place {
            Place::Local(_) => std::fs::read(path(0)).unwrap(),
            Place::S3(s, _) => s.get(path(0).to_str().unwrap()).unwrap(),
        };
        let mut bad = good.clone();
        bad[good.len() / 2] ^= 0x40;
        place.overwrite(&path(0), &bad);
        place.delete(&path(2));
        let second = run(&flow, &store);
        assert_eq!(
            statuses(&second),
            [Status::Computed, Status::StoreHit, Status::Computed],
            "{}",
            place.name()
        );
        assert_eq!(
            second.warnings.len(),
            2,
            "{}: {:?}",
            place.name(),
            second.warnings
        );
        assert!(
            matches!(*second.warnings[0].error, imflow::Error::Corrupt { .. }),
            "{}: {}",
            place.name(),
            second.warnings[0]
        );
        assert!(
            second.warnings[1]
                .to_string()
                .contains(path(2).to_str().unwrap()),
            "{}: {}",
            place.name(),
            second.warnings[1]
        );
        let third = run(&flow, &store);
        assert_eq!(statuses(&third), [Status::StoreHit; 3], "{}", place.name());
        let v = store.verify().unwrap();
        assert_eq!((v.ok, v.problems.len()), (3, 0), "{}: {v:?}", place.name());
        // A corrupt object with imflow's own metadata left on is still caught by
        // `verify`, which downloads and hashes.
        if let Place::S3(s, _) = &place {
            assert_eq!(s.get(path(0).to_str().unwrap()).unwrap(), good, "healed");
        }
    }
}

/// An output over 5 MiB is uploaded in parts (the server saw a multipart upload) and
/// reads back intact, whole and streamed (`put_file`).
#[test]
fn large_outputs_upload_in_parts() {
    let Some(server) = s3("large_outputs_upload_in_parts") else {
        return;
    };
    let place = Place::S3(server, server.prefix("large"));
    let store = Store::open(place.out(), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 1400 x 1100 f32: 6.2 MB of TIFF.
    let src = dir.path().join("big.tif");
    io::save(&random_image(1400, 1100, 1, SampleType::F32, 9), &src).unwrap();
    let mut flow = Flow::new();
    let s = flow.file(&src);
    let g = flow.op(s, op("gaussian:sigma=1")).unwrap();
    flow.materialize(g, "big").unwrap();
    let r = run(&flow, &store);
    assert_eq!(statuses(&r), [Status::Computed]);
    let bytes = r.outputs[0].file_bytes.unwrap();
    assert!(bytes > 5 << 20, "{bytes}");
    let log = server.requests();
    let uploads = log
        .iter()
        .filter(|(m, p)| m == "POST" && p.contains("?uploads") && p.contains("/big-"))
        .count();
    assert_eq!(uploads, 1, "one multipart upload: {log:?}");
    let parts = log
        .iter()
        .filter(|(m, p)| m == "PUT" && p.contains("/big-") && p.contains("partNumber="))
        .count();
    assert_eq!(parts, 2, "5 MiB and the rest");
    assert_eq!(statuses(&run(&flow, &store)), [Status::StoreHit]);
    let v = store.verify().unwrap();
    assert_eq!((v.ok, v.problems.len()), (1, 0), "{v:?}");
    // The same through the streamed path.
    let file = store
        .put_file("streamed", "bin", |w| {
            std::io::Write::write_all(w, &vec![7u8; 6 << 20]).map_err(|e| imflow::Error::io("x", e))
        })
        .unwrap();
    assert_eq!(file.bytes, 6 << 20);
    let got = server.get(file.path.to_str().unwrap()).unwrap();
    assert_eq!((got.len(), got[0]), (6 << 20, 7));
}

/// A fully cached re-run costs two small requests per output, the record (GET) and the
/// object's metadata (HEAD), and downloads no output.
#[test]
fn a_cached_rerun_downloads_no_output() {
    let Some(server) = s3("a_cached_rerun_downloads_no_output") else {
        return;
    };
    let prefix = server.prefix("cached");
    let store = Store::open(&prefix, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(&dir.path().join("in"), 4, 48);
    let flow = flow(&files);
    assert_eq!(statuses(&run(&flow, &store)), [Status::Computed; 4]);
    let before = server.requests().len();
    let again = run(&flow, &Store::open(&prefix, None).unwrap());
    assert_eq!(statuses(&again), [Status::StoreHit; 4]);
    // This test's requests (the tests of this binary share the server).
    let mine = prefix.trim_start_matches("s3://").to_string();
    let log: Vec<(String, String)> = (server.requests().split_off(before).into_iter())
        .filter(|(_, p)| p.contains(&mine))
        .collect();
    let outputs: Vec<&(String, String)> =
        log.iter().filter(|(_, p)| p.contains("_mask-")).collect();
    assert!(
        outputs.iter().all(|(m, _)| m == "HEAD"),
        "no output downloaded: {outputs:?}"
    );
    assert_eq!(outputs.len(), 4, "one HEAD per output");
    let records = log
        .iter()
        .filter(|(m, p)| m == "GET" && p.contains("/.imflow/records/"))
        .count();
    assert_eq!(records, 4, "one record read per output: {log:?}");
    // Besides: opening the store (its store.json) and the run's log.
    let other: Vec<_> = log
        .iter()
        .filter(|(_, p)| !p.contains("_mask-") && !p.contains("/records/"))
        .collect();
    assert!(other.len() <= 2, "{other:?}");
}
