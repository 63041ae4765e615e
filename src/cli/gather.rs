//! `imflow gather`: the result set of a flow over every shard, computed by nobody here.

use super::fail;
use super::run::{Built, FlowArgs};
use crate::exit;
use clap::Args;
use imflow::executor::{self, Status};
use imflow::RunOptions;

#[derive(Args)]
pub struct GatherArgs {
    #[command(flatten)]
    what: FlowArgs,
    /// Treat stored results older than this as missing (e.g. 12h, 7d).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    max_age: Option<std::time::Duration>,
    /// Print the report as JSON on stdout (the schema of `run --json`; missing outputs
    /// are `failed`, with why).
    #[arg(long)]
    json: bool,
}

pub fn gather(a: GatherArgs) -> u8 {
    if a.what.format.as_deref() == Some("ome-zarr") {
        // Not yet: an OME-Zarr output is complete when every band has its part record
        // (`<store>/parts/`), which gather does not check.
        return fail(
            exit::USAGE,
            &"gather does not list OME-Zarr outputs yet (their bands' records are in <store>/parts/)",
        );
    }
    let Built { flow, files, store } = match a.what.build(None) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let options = RunOptions {
        max_age: a.max_age,
        ..Default::default()
    };
    let report = executor::gather(&flow, &store, &options);
    let missing: Vec<_> = (report.outputs.iter())
        .filter(|o| o.status != Status::StoreHit)
        .collect();
    if a.json {
        println!("{}", report.to_json());
    } else {
        for o in report
            .outputs
            .iter()
            .filter(|o| o.status == Status::StoreHit)
        {
            if let Some(p) = &o.path {
                println!("{}", p.display());
            }
        }
    }
    eprintln!(
        "{} outputs from {} inputs: {} stored, {} missing",
        report.outputs.len(),
        files.len(),
        report.outputs.len() - missing.len(),
        missing.len()
    );
    for o in &missing {
        let why = o.error.as_ref().map_or_else(String::new, |e| e.to_string());
        eprintln!("  missing: {} ({why})", o.name);
    }
    if missing.is_empty() {
        exit::OK
    } else {
        fail(exit::FAILED, &format!("{} outputs missing", missing.len()))
    }
}
