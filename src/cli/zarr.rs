//! `imflow run --format ome-zarr`: OME-Zarr images in, NGFF 0.5 with sharding out, the
//! rows of shards split over `--shard K/N` processes (see `imflow::zarr::region`).

use super::fail;
use super::run::RunArgs;
use crate::exit;
use imflow::shard::Shard;
use imflow::store::Location;
use imflow::zarr::region::RegionRun;
use imflow::{Backend, Error, Op, Processor, Store};

pub fn run(a: &RunArgs, shard: Option<Shard>) -> u8 {
    let what = &a.what;
    if what.flow.is_some() || what.ops.is_empty() {
        return fail(
            exit::USAGE,
            &"--format ome-zarr runs a chain of --op ops (flow files are not split by region yet)",
        );
    }
    let ops = match what
        .ops
        .iter()
        .map(|s| Op::parse(s))
        .collect::<imflow::Result<Vec<_>>>()
    {
        Ok(ops) => ops,
        Err(e) => return fail(exit::USAGE, &e),
    };
    for place in std::iter::once(&what.store.out).chain(what.store.store.as_ref()) {
        if let Err(e) = Location::of_path(place) {
            return fail(exit::USAGE, &e);
        }
    }
    let skip = [
        what.store.out.clone(),
        what.store.store.clone().unwrap_or_default(),
    ];
    let inputs = match imflow::inputs::expand(&what.input, &skip) {
        Ok(f) => f,
        Err(e) => return fail(exit::USAGE, &e),
    };
    if let Some(p) = inputs
        .iter()
        .find(|p| !p.to_str().is_some_and(imflow::inputs::is_zarr))
    {
        return fail(
            exit::USAGE,
            &format!(
                "{}: --format ome-zarr reads OME-Zarr images (a .zarr folder or URL); write other inputs as TIFF",
                p.display()
            ),
        );
    }
    let store = match Store::open(&what.store.out, what.store.store.as_deref()) {
        Ok(s) => s,
        Err(e @ Error::Usage { .. }) => return fail(exit::USAGE, &e),
        Err(e) => return fail(exit::FAILED, &e),
    };
    let backend: Backend = a.backend.parse().expect("clap checked the value");
    let budget = match super::budget(a.memory.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let processor = match Processor::new(backend) {
        Ok(p) => p.with_budget(budget),
        Err(e) => return fail(exit::FAILED, &e),
    };
    if let Some(n) = processor.notice() {
        eprintln!("imflow: {n}");
    }
    let job = RegionRun {
        processor: &processor,
        store: &store,
        ops: &ops,
        output: super::output_type(&what.dtype),
        shard,
        refresh: a.refresh,
    };
    let (mut computed, mut hits, mut failed) = (0, 0, 0);
    let mut outputs = Vec::new();
    for input in &inputs {
        match job.run(input) {
            Ok((out, parts)) => {
                for p in &parts {
                    let r = &p.record;
                    eprintln!(
                        "{} frame {} rows {}..{}: {} ({} shards)",
                        input.display(),
                        r.frame,
                        r.rows.0,
                        r.rows.1,
                        if p.computed { "computed" } else { "hit" },
                        r.shards.len()
                    );
                    if p.computed {
                        computed += 1;
                    } else {
                        hits += 1;
                    }
                }
                outputs.push(serde_json::json!({
                    "source": input,
                    "output": out,
                    "parts": parts,
                }));
            }
            // A whole-frame op under --shard is a usage error: nothing was written.
            Err(e @ Error::NotRegional { .. }) => return fail(exit::USAGE, &e),
            Err(e) => {
                failed += 1;
                eprintln!("  failed: {e}");
                outputs.push(serde_json::json!({"source": input, "error": e.to_string()}));
            }
        }
    }
    let part = shard.map_or_else(String::new, |s| format!(" (shard {s})"));
    eprintln!(
        "{} OME-Zarr images{part}: {computed} parts computed, {hits} cached, {failed} images failed; on {}",
        inputs.len(),
        processor.device_name()
    );
    if a.json {
        println!("{}", serde_json::json!({ "outputs": outputs }));
    }
    if failed == 0 {
        exit::OK
    } else {
        exit::PARTIAL
    }
}
