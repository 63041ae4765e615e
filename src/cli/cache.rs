//! `imflow cache stats|verify|gc`.

use super::fail;
use crate::{exit, FindStoreArgs};
use clap::Subcommand;
use imflow::store::GcPolicy;
use imflow::Store;

#[derive(Subcommand)]
pub enum CacheCommand {
    /// Records, runs and bytes in a store.
    Stats {
        #[command(flatten)]
        store: FindStoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every stored file against its record; exit 1 if any is missing or corrupt.
    Verify {
        #[command(flatten)]
        store: FindStoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove outputs no longer wanted. Nothing is removed without a rule; a file a
    /// kept record points at is never removed. Stale temporary files always go.
    Gc {
        #[command(flatten)]
        store: FindStoreArgs,
        /// Keep only outputs produced or reused by the last N runs.
        #[arg(long, value_name = "N")]
        keep_runs: Option<usize>,
        /// Remove outputs older than this (e.g. 12h, 7d, 30days).
        #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
        max_age: Option<std::time::Duration>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn open(s: &FindStoreArgs) -> Result<Store, u8> {
    Store::find(s.out.as_deref(), s.store.as_deref()).map_err(|e| match e {
        imflow::Error::Usage { .. } => fail(exit::USAGE, &e),
        e => fail(exit::FAILED, &e),
    })
}

pub fn cache(cmd: CacheCommand) -> u8 {
    let result = match cmd {
        CacheCommand::Stats { store, json } => open(&store).and_then(|s| {
            let st = s.stats().map_err(|e| fail(exit::FAILED, &e))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&st).expect("serialisable")
                );
            } else {
                println!(
                    "{}: {} records, {} runs, {:.1} MB of outputs",
                    s.dir().display(),
                    st.records,
                    st.runs,
                    st.file_bytes as f64 / 1e6
                );
            }
            Ok(exit::OK)
        }),
        CacheCommand::Verify { store, json } => open(&store).and_then(|s| {
            let v = s.verify().map_err(|e| fail(exit::FAILED, &e))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("serialisable")
                );
            } else {
                println!(
                    "{} records, {} verified, {} problems",
                    v.records,
                    v.ok,
                    v.problems.len()
                );
                for p in &v.problems {
                    println!("  {}: {}", p.record.display(), p.error);
                }
            }
            Ok(if v.problems.is_empty() {
                exit::OK
            } else {
                exit::FAILED
            })
        }),
        CacheCommand::Gc {
            store,
            keep_runs,
            max_age,
            json,
        } => open(&store).and_then(|s| {
            let g = s
                .gc(GcPolicy { keep_runs, max_age })
                .map_err(|e| fail(exit::FAILED, &e))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&g).expect("serialisable")
                );
            } else {
                println!(
                    "removed {} records, {} files ({:.1} MB), {} stale temporary files",
                    g.records_removed,
                    g.files_removed,
                    g.bytes_freed as f64 / 1e6,
                    g.temp_files_removed
                );
            }
            Ok(exit::OK)
        }),
    };
    result.unwrap_or_else(|code| code)
}
