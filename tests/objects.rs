//! Labelling, removing small objects and measuring, against scipy and scikit-image
//! (tests/goldens/generate_objects.py), on both backends, whole and in tiles; and a
//! measured flow through the executor.

mod common;
use common::*;
use imflow::budget::Budget;
use imflow::executor::Status;
use imflow::{
    io, Executor, Flow, Image, Op, OutputType, Processor, RunOptions, SampleType, Samples, Store,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Goldens {
    labels: Vec<LabelCase>,
    remove_small: Vec<RemoveCase>,
    measure: Vec<Table>,
}

#[derive(Deserialize)]
struct LabelCase {
    name: String,
    source: Source,
    connectivity: u8,
    count: u64,
    blake3: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Source {
    Generated {
        height: u32,
        width: u32,
        density: f64,
        seed: u64,
    },
    File {
        file: String,
    },
}

#[derive(Deserialize)]
struct RemoveCase {
    height: u32,
    width: u32,
    density: f64,
    seed: u64,
    spec: String,
    blake3: String,
    kept: u64,
}

#[derive(Deserialize)]
struct Table {
    name: String,
    columns: Vec<String>,
    rows: Vec<Vec<f64>>,
}

fn goldens() -> Goldens {
    let text = std::fs::read_to_string(goldens_dir().join("objects.json")).expect("objects.json");
    serde_json::from_str(&text).expect("parses")
}

/// splitmix64 of `seed * 2^32 + index`, as the generator computes it.
fn splitmix(index: u64, seed: u64) -> u64 {
    let mut z = (seed << 32)
        .wrapping_add(index)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mask(height: u32, width: u32, density: f64, seed: u64) -> Image {
    let cut = (density * 4_294_967_296.0) as u64;
    let v = (0..u64::from(height) * u64::from(width))
        .map(|i| {
            if splitmix(i, seed) >> 32 < cut {
                255
            } else {
                0
            }
        })
        .collect();
    Image::gray(width, height, Samples::U8(v)).unwrap()
}

fn source(s: &Source) -> Image {
    match s {
        Source::Generated {
            height,
            width,
            density,
            seed,
        } => mask(*height, *width, *density, *seed),
        Source::File { file } => io::load(goldens_dir().join(file)).unwrap(),
    }
}

/// blake3 of the values as u32, little-endian (the generator's digest).
fn digest(image: &Image) -> String {
    let bytes: Vec<u8> = image
        .to_f32_vec()
        .iter()
        .flat_map(|&v| (v as u32).to_le_bytes())
        .collect();
    blake3::hash(&bytes).to_hex().to_string()
}

fn processors(test: &str) -> Vec<(&'static str, Processor)> {
    let mut p = vec![("cpu", Processor::cpu())];
    if let Some(ctx) = gpu(test) {
        p.push(("gpu", Processor::gpu(ctx)));
    }
    p
}

fn run(p: &Processor, image: &Image, spec: &str) -> Image {
    let ops = [Op::parse(spec).unwrap()];
    p.run(image, &ops, OutputType::Exactly(SampleType::U32))
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
        .image
}

#[test]
fn labels_match_scipy_and_skimage() {
    let g = goldens();
    let mut compared = 0;
    for (backend, p) in processors("labels_match_scipy_and_skimage") {
        for case in &g.labels {
            let image = source(&case.source);
            let spec = format!("label:connectivity={}", case.connectivity);
            let out = run(&p, &image, &spec);
            let what = format!("[{backend}] {} {spec}", case.name);
            let max = out.to_f32_vec().into_iter().fold(0.0f32, f32::max) as u64;
            assert_eq!(max, case.count, "{what}: object count");
            assert_eq!(digest(&out), case.blake3, "{what}: labels differ");
            compared += 1;
        }
    }
    assert!(compared >= 50, "{compared} cases: goldens went missing");
}

#[test]
fn tiled_labels_equal_untiled_on_4096_squared() {
    let g = goldens();
    let big: Vec<&LabelCase> = (g.labels.iter())
        .filter(|c| c.name.starts_with("random_4096x4096"))
        .collect();
    assert_eq!(big.len(), 2);
    for (backend, p) in processors("tiled_labels_equal_untiled_on_4096_squared") {
        let tiled = match backend {
            "cpu" => Processor::cpu(),
            _ => Processor::gpu(p.gpu_context().unwrap().clone()),
        }
        .with_budget(Budget {
            max_tile: Some(1000),
            ..Budget::default()
        });
        let image = source(&big[0].source);
        for case in &big {
            let spec = format!("label:connectivity={}", case.connectivity);
            let out = run(&tiled, &image, &spec);
            assert_eq!(
                digest(&out),
                case.blake3,
                "[{backend}] tiled {spec} differs from scipy/skimage"
            );
        }
    }
}

#[test]
fn small_objects_are_removed_as_skimage_removes_them() {
    let g = goldens();
    for (backend, p) in processors("small_objects_are_removed_as_skimage_removes_them") {
        for case in &g.remove_small {
            let image = mask(case.height, case.width, case.density, case.seed);
            let out = run(&p, &image, &case.spec);
            let kept = out.to_f32_vec().iter().filter(|&&v| v != 0.0).count() as u64;
            assert_eq!(kept, case.kept, "[{backend}] {}", case.spec);
            assert_eq!(digest(&out), case.blake3, "[{backend}] {}", case.spec);
        }
    }
}

/// Labels, then objects removed by area from the labels (kept labels keep their
/// values), both backends alike; and a mask's objects removed keep the rest a mask.
#[test]
fn removing_small_labels_keeps_the_rest_of_them() {
    let image = mask(120, 90, 0.45, 3);
    let ops: Vec<Op> = ["label:connectivity=1", "remove_small_objects:min_size=3"]
        .iter()
        .map(|s| Op::parse(s).unwrap())
        .collect();
    let mut results = Vec::new();
    for (backend, p) in processors("removing_small_labels_keeps_the_rest_of_them") {
        let labels = run(&p, &image, "label:connectivity=1").to_f32_vec();
        let out = p.run(&image, &ops, OutputType::Same).unwrap().image;
        assert_eq!(out.sample_type(), SampleType::U32, "{backend}");
        let out = out.to_f32_vec();
        let mut area = std::collections::HashMap::new();
        for &l in &labels {
            *area.entry(l as u32).or_insert(0u32) += 1;
        }
        for (l, o) in labels.iter().zip(&out) {
            let keep = *l != 0.0 && area[&(*l as u32)] >= 3;
            assert_eq!(*o, if keep { *l } else { 0.0 }, "{backend}");
        }
        assert!(out.iter().any(|&v| v != 0.0) && area.values().any(|&a| a < 3));
        results.push(out);
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "backends agree");
}

fn check_table(t: &Table, got_csv: &str) {
    let mut lines = got_csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, t.columns, "{}: columns", t.name);
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), t.rows.len(), "{}: rows", t.name);
    for (got, want) in rows.iter().zip(&t.rows) {
        for ((g, w), col) in got.iter().zip(want).zip(&t.columns) {
            let exact = !(col.starts_with("centroid") || col == "intensity_mean")
                && col != "equivalent_diameter_area";
            if exact {
                assert_eq!(g, w, "{} {col}", t.name);
            } else {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{} {col}: {g} vs {w}",
                    t.name
                );
            }
        }
    }
}

/// The measured flow through the executor, on the nuclei test image and on random
/// labels: tables equal skimage's `regionprops_table`; a re-run is all hits and still
/// reports the object counts.
#[test]
fn measured_flows_match_regionprops_and_come_back_from_the_cache() {
    let g = goldens();
    let dir = tempfile::tempdir().unwrap();
    // The random case's inputs as files: labels (u16 TIFF) and intensity.
    let lab_mask = mask(150, 200, 0.4, 7);
    let labels = run(&Processor::cpu(), &lab_mask, "label:connectivity=2");
    let labels_path = dir.path().join("labels.tif");
    io::save(
        &imflow::cpu::convert::retype(&labels, SampleType::U16),
        &labels_path,
    )
    .unwrap();
    let intensity: Vec<u16> = (0..150 * 200u64)
        .map(|i| (splitmix(i, 8) >> 48) as u16)
        .collect();
    let intensity_path = dir.path().join("intensity.tif");
    io::save(
        &Image::gray(200, 150, Samples::U16(intensity)).unwrap(),
        &intensity_path,
    )
    .unwrap();

    let mut flow = Flow::new();
    let nuclei = flow.file(goldens_dir().join("nuclei_u16.tif"));
    let ops: Vec<Op> = ["gaussian:sigma=2", "threshold:method=otsu", "label"]
        .iter()
        .map(|s| Op::parse(s).unwrap())
        .collect();
    let nuclei_labels = flow.chain(nuclei, &ops).unwrap();
    flow.materialize(nuclei_labels, "nuclei_labels").unwrap();
    let t = flow.measure(nuclei_labels, nuclei).unwrap();
    flow.materialize(t, "nuclei").unwrap();
    let (l, i) = (flow.file(&labels_path), flow.file(&intensity_path));
    let t = flow.measure(l, i).unwrap();
    flow.materialize(t, "random").unwrap();
    assert!(
        flow.op(t, Op::parse("box:size=3").unwrap()).is_err(),
        "a table is no image"
    );

    let mut executors = vec![("cpu", Executor::new(imflow::Backend::Cpu))];
    if let Some(ctx) = gpu("measured_flows_match_regionprops_and_come_back_from_the_cache") {
        executors.push(("gpu", Executor::with_gpu(ctx)));
    }
    for (backend, exec) in executors {
        let store = Store::open(dir.path().join(format!("out-{backend}")), None).unwrap();
        let first = exec.run(&flow, &store, &RunOptions::default()).unwrap();
        assert!(first.ok(), "{backend}: {:?}", first.failures);
        for t in &g.measure {
            let o = first.output(&t.name).unwrap();
            assert_eq!(o.status, Status::Computed, "{backend}");
            let path = o.path.as_ref().unwrap();
            assert!(
                path.extension().is_some_and(|e| e == "csv"),
                "{}",
                path.display()
            );
            check_table(t, &std::fs::read_to_string(path).unwrap());
            assert_eq!(o.objects, Some(t.rows.len() as u64), "{backend}");
        }
        let counted = first.output("nuclei_labels").unwrap().objects;
        assert_eq!(counted, Some(g.measure[0].rows.len() as u64));
        let again = Executor::new(imflow::Backend::Cpu)
            .run(&flow, &store, &RunOptions::default())
            .unwrap();
        assert!(again.outputs.iter().all(|o| o.status == Status::StoreHit));
        assert!(again.device.is_none(), "nothing computed");
        let objects: Vec<_> = again.outputs.iter().map(|o| o.objects).collect();
        let before: Vec<_> = first.outputs.iter().map(|o| o.objects).collect();
        assert_eq!(objects, before, "{backend}: hits report the counts");
    }
}

/// A flow file's measure node reads two nodes; the CLI writes the CSV and prints the
/// object counts.
#[test]
fn a_flow_file_measures_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("flow.toml");
    std::fs::write(
        &flow,
        r#"
[nodes.labels]
from = "input"
ops = ["gaussian:sigma=2", "threshold:method=otsu", "label"]
output = "labels"

[nodes.objects]
from = ["labels", "input"]
op = "measure"
output = "objects"
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let input = goldens_dir().join("nuclei_u16.tif");
    let args = [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--flow",
        flow.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ];
    let o = imflow(&args);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let n = goldens().measure[0].rows.len();
    assert!(err.contains(&format!("({n} objects)")), "{err}");
    assert!(err.contains(&format!("nuclei_u16_objects {n}")), "{err}");
    let csv = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".csv"))
        .expect("a CSV");
    check_table(
        &goldens().measure[0],
        &std::fs::read_to_string(csv.path()).unwrap(),
    );
    let again = imflow(&args);
    assert!(stderr(&again).contains("2 cached"), "{}", stderr(&again));
}
