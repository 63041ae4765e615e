//! The commands. Each parses nothing itself (clap does) and calls the library.

pub mod apply;
pub mod cache;
pub mod run;

use crate::exit;
use imflow::gpu::{adapters, GpuOptions};

/// Prints an error and returns the exit code.
pub fn fail(code: u8, e: &dyn std::fmt::Display) -> u8 {
    eprintln!("imflow: error: {e}");
    code
}

/// `imflow info`.
pub fn info(json: bool) -> u8 {
    let list = adapters(&GpuOptions::from_env());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).expect("serialisable")
        );
        return exit::OK;
    }
    if list.is_empty() {
        println!(
            "no GPU adapter found: install a Vulkan driver (without a GPU: `apt-get install mesa-vulkan-drivers`), or use --backend cpu"
        );
    }
    for (i, a) in list.iter().enumerate() {
        let default = if i == 0 { "  <- used by default" } else { "" };
        println!(
            "{}{} ({}, {}){default}",
            if i == 0 { "* " } else { "  " },
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
    exit::OK
}

/// The values `--dtype` takes.
pub const DTYPES: [&str; 9] = ["same", "u8", "u16", "f32", "i8", "i16", "i32", "u32", "f64"];

/// The memory budget `--memory` gives (the default without it).
pub fn budget(memory: Option<&str>) -> imflow::Result<imflow::budget::Budget> {
    match memory {
        Some(m) => Ok(imflow::budget::Budget::with_memory(
            imflow::budget::parse_size(m)?,
        )),
        None => Ok(imflow::budget::Budget::default()),
    }
}

/// `same|u8|u16|f32|...` to an output type.
pub fn output_type(s: &str) -> imflow::OutputType {
    match s {
        "same" => imflow::OutputType::Same,
        t => imflow::OutputType::Exactly(t.parse().expect("clap checked the value")),
    }
}
