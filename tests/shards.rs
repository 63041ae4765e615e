//! Sharded runs through the real binary on one S3 store (moto's server on 127.0.0.1,
//! `common::s3`), sources read from the bucket too: three concurrent `--shard K/3`
//! processes give what one unsharded run gives, each input computed once; the same from
//! Slurm's and Kubernetes' environment; `gather` lists the whole set or names what is
//! missing; a re-run shard is all hits; a shard killed mid-run leaves nothing partial
//! and completes when run again. Also: URLs this build cannot reach are refused.

mod common;
use common::s3::{s3, S3Server};
use common::*;
use imflow::{io, SampleType};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Output, Stdio};

const N: usize = 12;

fn imflow(server: &S3Server, args: &[&str], env: &[(&str, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imflow"));
    // A shard's index comes from its own variables only.
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
        "IMFLOW_SHARD_COUNT",
        "IMFLOW_STORE",
    ] {
        c.env_remove(var);
    }
    c.args(args)
        .envs(server.env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    c
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Uploads `N` u16 sources under `<raw>/`.
fn upload_sources(server: &S3Server, raw: &str, side: u32) {
    for k in 0..N {
        let image = random_image(side, side, 1, SampleType::U16, k as u64 + 1);
        let bytes = io::encode_stack(&io::Stack::single(image), io::Format::Tiff).unwrap();
        let (status, _) = server.raw("PUT", &format!("{raw}/img{k:02}.tif"), &bytes);
        assert_eq!(status, 200);
    }
}

fn run_args<'a>(raw: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "-i",
        raw,
        "--op",
        "gaussian:sigma=1.5",
        "--op",
        "threshold:method=otsu",
        "--out",
        out,
        "--backend",
        "cpu",
        "--json",
    ]
}

/// Output name -> (status, file URL's name, blake3) of a run's report.
fn outputs(r: &Value) -> BTreeMap<String, (String, String, String)> {
    r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let path = o["path"].as_str().unwrap_or_default();
            (
                o["name"].as_str().unwrap().to_string(),
                (
                    o["status"].as_str().unwrap().to_string(),
                    path.rsplit('/').next().unwrap().to_string(),
                    o["file_blake3"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

/// The records under a store prefix: key -> (file, blake3).
fn records(server: &S3Server, out: &str) -> BTreeMap<String, (String, String)> {
    server
        .keys(&format!("{out}/.imflow/records"))
        .iter()
        .map(|k| {
            let r: Value = serde_json::from_slice(&server.get(k).unwrap()).unwrap();
            (
                r["key"].as_str().unwrap().to_string(),
                (
                    r["file"].as_str().unwrap().to_string(),
                    r["file_blake3"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// Every object under `out`: records parse, outputs hash to their names.
fn assert_nothing_partial(server: &S3Server, out: &str) {
    for key in server.keys(out) {
        let bytes = server.get(&key).unwrap();
        if key.contains("/.imflow/") {
            serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|e| panic!("{key}: {e}"));
            continue;
        }
        let name = key.rsplit('/').next().unwrap();
        let hash16 = name.rsplit_once('.').unwrap().0.rsplit_once('-').unwrap().1;
        assert_eq!(
            imflow::key::Key::of_bytes(&bytes).short(),
            hash16,
            "{key} is not whole"
        );
    }
}

fn spawn_shards(
    server: &S3Server,
    raw: &str,
    out: &str,
    envs: Vec<Vec<(&str, String)>>,
    shard_arg: impl Fn(usize) -> String,
) -> Vec<Value> {
    let children: Vec<Child> = envs
        .iter()
        .enumerate()
        .map(|(k, env)| {
            let shard = shard_arg(k);
            let mut args = run_args(raw, out);
            args.extend(["--shard", shard.as_str()]);
            imflow(server, &args, env)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            json(&o)
        })
        .collect()
}

/// Each input computed by exactly one shard, and together the whole set.
fn assert_partition(reports: &[Value], whole: &BTreeMap<String, (String, String, String)>) {
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in reports {
        for (name, (status, file, hash)) in outputs(r) {
            assert_eq!(status, "computed", "{name}");
            assert!(
                seen.insert(name.clone(), (file, hash)).is_none(),
                "{name} processed twice"
            );
        }
    }
    let want: BTreeMap<String, (String, String)> = whole
        .iter()
        .map(|(n, (_, f, h))| (n.clone(), (f.clone(), h.clone())))
        .collect();
    assert_eq!(seen, want, "the shards' outputs are the unsharded run's");
}

#[test]
fn shards_on_one_s3_store_equal_one_unsharded_run() {
    let Some(server) = s3("shards_on_one_s3_store_equal_one_unsharded_run") else {
        return;
    };
    let raw = server.prefix("raw");
    upload_sources(server, &raw, 40);
    let raw_dir = format!("{raw}/");

    // One unsharded run: the reference.
    let whole_out = server.prefix("whole");
    let o = imflow(server, &run_args(&raw_dir, &whole_out), &[])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let whole = outputs(&json(&o));
    assert_eq!(whole.len(), N);
    let whole_records = records(server, &whole_out);
    assert_eq!(whole_records.len(), N);

    let gather = |out: &str| {
        imflow(
            server,
            &[
                "gather",
                "-i",
                &raw_dir,
                "--op",
                "gaussian:sigma=1.5",
                "--op",
                "threshold:method=otsu",
                "--out",
                out,
            ],
            &[],
        )
        .output()
        .unwrap()
    };

    // --shard K/3: two shards first, so gather names what the third owes.
    let out = server.prefix("sharded");
    let two = spawn_shards(server, &raw_dir, &out, vec![vec![]; 2], |k| {
        format!("{k}/3")
    });
    let g = gather(&out);
    assert_eq!(g.status.code(), Some(1));
    let err = String::from_utf8_lossy(&g.stderr);
    let owed: usize = N - two.iter().map(|r| outputs(r).len()).sum::<usize>();
    assert!(
        owed > 0 && err.contains(&format!("{owed} missing")),
        "{err}"
    );
    assert_eq!(err.matches("  missing: img").count(), owed, "{err}");
    let third = spawn_shards(server, &raw_dir, &out, vec![vec![]], |_| "2/3".into());
    let reports: Vec<Value> = two.into_iter().chain(third).collect();
    assert_partition(&reports, &whole);
    assert_eq!(records(server, &out), whole_records, "the same records");
    let g = gather(&out);
    assert_eq!(
        g.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&g.stderr)
    );
    let listed: BTreeSet<String> = String::from_utf8_lossy(&g.stdout)
        .lines()
        .map(|l| l.rsplit('/').next().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = whole.values().map(|(_, f, _)| f.clone()).collect();
    assert_eq!(listed, want, "gather lists every output");

    // Re-running any shard is all hits.
    let again = spawn_shards(server, &raw_dir, &out, vec![vec![]], |_| "1/3".into());
    let s = &again[0]["summary"];
    assert_eq!(s["computed"], 0);
    assert_eq!(s["hits"], s["outputs"]);

    // Slurm array (--array=1-3) and a Kubernetes Indexed Job (completions 3).
    let slurm: Vec<Vec<(&str, String)>> = (1..=3)
        .map(|id| {
            vec![
                ("SLURM_ARRAY_TASK_ID", id.to_string()),
                ("SLURM_ARRAY_TASK_MIN", "1".to_string()),
                ("SLURM_ARRAY_TASK_MAX", "3".to_string()),
                ("SLURM_ARRAY_TASK_COUNT", "3".to_string()),
            ]
        })
        .collect();
    let k8s: Vec<Vec<(&str, String)>> = (0..3)
        .map(|i| {
            vec![
                ("JOB_COMPLETION_INDEX", i.to_string()),
                ("IMFLOW_SHARD_COUNT", "3".to_string()),
            ]
        })
        .collect();
    for (engine, envs) in [("slurm", slurm), ("k8s", k8s)] {
        let out = server.prefix(engine);
        let reports = spawn_shards(server, &raw_dir, &out, envs, |_| "auto".into());
        assert_partition(&reports, &whole);
        assert_eq!(records(server, &out), whole_records, "{engine}");
    }
}

#[test]
fn a_shard_killed_mid_run_completes_when_run_again() {
    let Some(server) = s3("a_shard_killed_mid_run_completes_when_run_again") else {
        return;
    };
    let raw = server.prefix("raw-big");
    upload_sources(server, &raw, 384);
    let raw_dir = format!("{raw}/");
    let out = server.prefix("killed");
    let mut args = run_args(&raw_dir, &out);
    args.extend(["--shard", "0/1", "--jobs", "1"]);
    // Killed once its first outputs are in: mid-run, with more to come.
    let mut child = imflow(server, &args, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let records_under = |out: &str| server.keys(&format!("{out}/.imflow/records")).len();
    while records_under(&out) == 0 && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = records(server, &out).len();
    assert!(done < N, "killed before the end ({done} records)");
    assert_nothing_partial(server, &out);
    let o = imflow(server, &args, &[]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&o);
    assert_eq!(r["summary"]["outputs"], N);
    assert!(r["summary"]["hits"].as_u64().unwrap() >= done as u64);
    assert_nothing_partial(server, &out);
    let v = imflow(server, &["cache", "verify", "--out", &out], &[])
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    assert!(String::from_utf8_lossy(&v.stdout)
        .contains(&format!("{N} records, {N} verified, 0 problems")));
}

/// `--out` with a URL this build cannot reach (gs:// without `gcs`), or an unknown
/// scheme: exit 2 naming what is missing, and nothing written locally (no `./gs:`).
#[test]
fn unreachable_urls_are_refused_without_local_trace() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.tif");
    io::save(&random_image(8, 8, 1, SampleType::U16, 1), &src).unwrap();
    let mut cases = vec![("ftp://h/x", "unsupported URL scheme `ftp://`")];
    if !cfg!(feature = "gcs") {
        cases.push(("gs://b/x", "without the `gcs` feature"));
    }
    if !cfg!(feature = "s3") {
        cases.push(("s3://b/x", "without the `s3` feature"));
    }
    for (url, needle) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_imflow"))
            .args([
                "run",
                "-i",
                src.to_str().unwrap(),
                "--op",
                "box:size=3",
                "--out",
                url,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains(needle), "{url}: {err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            [std::ffi::OsString::from("a.tif")],
            "{url}: wrote {left:?}"
        );
    }
}

/// The Slurm script and the Kubernetes manifest in docs/ run as written (the manifest's
/// command, its shard count and completions), against the test bucket.
#[test]
fn the_docs_commands_run_as_written() {
    let Some(server) = s3("the_docs_commands_run_as_written") else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let raw = server.prefix("raw-docs");
    upload_sources(server, &raw, 32);
    let raw_dir = format!("{raw}/");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_imflow"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // Slurm: three array tasks (--array=0-2), then the gather step.
    let out = server.prefix("slurm-docs");
    let script = root.join("docs/slurm-array.sh");
    let slurm = |args: &[&str], id: Option<usize>| {
        let mut c = Command::new("bash");
        c.arg(&script).args(args).env_remove("IMFLOW_STORE");
        c.envs(server.env())
            .env("PATH", &path)
            .env("IMFLOW_INPUT", &raw_dir)
            .env("IMFLOW_OUT", &out)
            .env("SLURM_CPUS_PER_TASK", "1")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("IMFLOW_SHARD_COUNT");
        match id {
            Some(id) => c
                .env("SLURM_ARRAY_TASK_ID", id.to_string())
                .env("SLURM_ARRAY_TASK_MIN", "0")
                .env("SLURM_ARRAY_TASK_MAX", "2"),
            None => c.env_remove("SLURM_ARRAY_TASK_ID"),
        };
        c
    };
    let tasks: Vec<Child> = (0..3)
        .map(|id| {
            slurm(&[], Some(id))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for t in tasks {
        let o = t.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let g = slurm(&["gather"], None).output().unwrap();
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    assert_eq!(String::from_utf8_lossy(&g.stdout).lines().count(), N);

    // Kubernetes: the manifest's command, IMFLOW_SHARD_COUNT and completions.
    let manifest = std::fs::read_to_string(root.join("docs/k8s-indexed-job.yaml")).unwrap();
    let field = |name: &str| {
        let line = manifest
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no `{name}` in the manifest"));
        line.trim_start()[name.len()..].trim().to_string()
    };
    let command: Vec<String> = serde_json::from_str(&field("command:")).unwrap();
    let completions: usize = field("completions:").parse().unwrap();
    let lines: Vec<&str> = manifest.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("name: IMFLOW_SHARD_COUNT"))
        .unwrap();
    let count = lines[at + 1]
        .trim()
        .trim_start_matches("value:")
        .trim()
        .trim_matches('"')
        .to_string();
    assert_eq!(
        count,
        completions.to_string(),
        "IMFLOW_SHARD_COUNT must equal completions"
    );
    assert_eq!(command[0], "imflow");
    let out = server.prefix("k8s-docs");
    let args: Vec<String> = command[1..]
        .iter()
        .map(|a| {
            a.replace("s3://lab/raw/", &raw_dir)
                .replace("s3://lab/results/nuclei", &out)
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pods: Vec<Child> = (0..completions)
        .map(|i| {
            imflow(
                server,
                &args,
                &[
                    ("JOB_COMPLETION_INDEX", i.to_string()),
                    ("IMFLOW_SHARD_COUNT", count.clone()),
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for p in pods {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(records(server, &out).len(), N);
}
