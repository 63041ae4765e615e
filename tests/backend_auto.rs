//! `--backend auto` picks the fast backend: a hardware GPU where there is one, else the
//! CPU twins, passing a software adapter (llvmpipe) over and saying so; `--backend gpu`
//! and `WGPU_ADAPTER_NAME` still select the software adapter.

mod common;
use common::*;
use imflow::gpu::{adapters, auto_pick, AdapterSummary, GpuOptions};
use imflow::{io, SampleType};
use serde_json::Value;
use std::process::Command;

fn summary(name: &str, device_type: &str) -> AdapterSummary {
    AdapterSummary {
        name: name.into(),
        device_type: device_type.into(),
        backend: "Vulkan".into(),
        driver: String::new(),
        max_storage_buffer_binding_size: 1 << 27,
        max_buffer_size: 1 << 28,
        max_compute_workgroup_storage_size: 32 << 10,
        shader_f64: true,
        timestamp_query: true,
    }
}

#[test]
fn auto_prefers_hardware_and_passes_software_over() {
    let none = GpuOptions::default();
    let soft = summary("llvmpipe (LLVM 19.1.7, 256 bits)", "Cpu");
    let hard = summary("NVIDIA H100 80GB HBM3", "DiscreteGpu");
    let (pick, why) = auto_pick(std::slice::from_ref(&soft), &none);
    assert_eq!(pick, None);
    assert!(
        why.contains("llvmpipe") && why.contains("software"),
        "{why}"
    );
    assert_eq!(auto_pick(&[hard.clone(), soft.clone()], &none).0, Some(0));
    assert_eq!(auto_pick(&[], &none).0, None);
    let named = GpuOptions {
        adapter_name: Some("LLVMpipe".into()),
        ..GpuOptions::default()
    };
    let (pick, why) = auto_pick(&[hard, soft], &named);
    assert_eq!(pick, Some(1), "{why}");
}

fn run(backend: &str, adapter: Option<&str>) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.tif");
    io::save(&random_image(64, 48, 1, SampleType::U16, 3), &src).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_imflow"));
    c.args([
        "run",
        "-i",
        src.to_str().unwrap(),
        "--op",
        "gaussian:sigma=1",
    ])
    .args([
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--backend",
        backend,
        "--json",
    ]);
    match adapter {
        Some(a) => c.env("WGPU_ADAPTER_NAME", a),
        None => c.env_remove("WGPU_ADAPTER_NAME"),
    };
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    (serde_json::from_slice(&o.stdout).unwrap(), err)
}

/// On this machine's adapters: auto runs the twins where the best adapter is a
/// software one (and says why), `--backend gpu` runs that adapter all the same.
#[test]
fn the_cli_says_what_auto_picked() {
    let Some(ctx) = gpu("the_cli_says_what_auto_picked") else {
        return;
    };
    let list = adapters(&GpuOptions {
        adapter_name: None,
        ..GpuOptions::from_env()
    });
    let software_only = list.iter().all(|a| a.device_type == "Cpu");
    let (auto, err) = run("auto", None);
    if software_only {
        assert_eq!(auto["device"], "cpu", "{err}");
        assert!(
            err.contains("running on the CPU twins") && err.contains("software"),
            "{err}"
        );
        let (gpu, _) = run("gpu", None);
        assert_eq!(gpu["device"].as_str(), Some(ctx.adapter().name.as_str()));
        let name = ctx
            .adapter()
            .name
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let (named, _) = run("auto", Some(&name));
        assert_eq!(named["device"].as_str(), Some(ctx.adapter().name.as_str()));
    } else {
        assert_ne!(auto["device"], "cpu", "{err}");
    }
    let info = Command::new(env!("CARGO_BIN_EXE_imflow"))
        .args(["info"])
        .env_remove("WGPU_ADAPTER_NAME")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    let want = if software_only {
        "--backend auto: the CPU twins"
    } else {
        "--backend auto: the GPU"
    };
    assert!(text.contains(want), "{text}");
}
