//! The commands. Each parses nothing itself (clap does) and calls the library.

pub mod apply;
pub mod cache;
pub mod gather;
pub mod run;
#[cfg(feature = "ome-zarr")]
pub mod zarr;

use crate::exit;
use imflow::gpu::{adapters, auto_pick, GpuOptions};

/// Prints an error and returns the exit code.
pub fn fail(code: u8, e: &dyn std::fmt::Display) -> u8 {
    eprintln!("imflow: error: {e}");
    code
}

/// `imflow info`.
pub fn info(json: bool) -> u8 {
    let options = GpuOptions::from_env();
    let list = adapters(&options);
    let (picked, why) = auto_pick(&list, &options);
    if json {
        // The adapters, each saying whether `--backend auto` uses it.
        let mut value = serde_json::to_value(&list).expect("serialisable");
        for (i, a) in value.as_array_mut().expect("a list").iter_mut().enumerate() {
            a["auto"] = serde_json::Value::Bool(Some(i) == picked);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("serialisable")
        );
        return exit::OK;
    }
    if list.is_empty() {
        println!(
            "no GPU adapter found: install a Vulkan driver (without a GPU: `apt-get install mesa-vulkan-drivers`), or use --backend cpu"
        );
    }
    for (i, a) in list.iter().enumerate() {
        let default = if Some(i) == picked {
            "  <- used by --backend auto"
        } else if i == 0 {
            "  <- used by --backend gpu"
        } else {
            ""
        };
        println!(
            "{}{} ({}, {}){default}",
            if Some(i) == picked { "* " } else { "  " },
            a.name,
            a.device_type,
            a.backend
        );
        println!("    driver: {}", a.driver);
        println!(
            "    max storage binding: {} MiB, max buffer: {} MiB, workgroup memory: {} KiB",
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_compute_workgroup_storage_size >> 10
        );
        println!(
            "    shader f64: {}, timestamp queries: {}",
            a.shader_f64, a.timestamp_query
        );
    }
    println!("CPU backend: {} threads", rayon::current_num_threads());
    match picked {
        Some(_) => println!("--backend auto: the GPU, {why}"),
        None => println!("--backend auto: the CPU twins ({why})"),
    }
    exit::OK
}

/// The values `--dtype` takes.
pub const DTYPES: [&str; 9] = ["same", "u8", "u16", "f32", "i8", "i16", "i32", "u32", "f64"];

/// The memory budget `--memory` gives (the default without it).
pub fn budget(memory: Option<&str>) -> imflow::Result<imflow::budget::Budget> {
    let budget = match memory {
        Some(m) => imflow::budget::Budget::with_memory(imflow::budget::parse_size(m)?),
        None => imflow::budget::Budget::default(),
    };
    crate::retain_freed_at_most(budget.memory / 8);
    Ok(budget)
}

/// `same|u8|u16|f32|...` to an output type.
pub fn output_type(s: &str) -> imflow::OutputType {
    match s {
        "same" => imflow::OutputType::Same,
        t => imflow::OutputType::Exactly(t.parse().expect("clap checked the value")),
    }
}
