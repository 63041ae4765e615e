//! Parses and validates every WGSL file with naga, with no adapter needed, so a broken
//! shader fails CI even where no GPU (or lavapipe) exists. (That each kernel's host side
//! matches its shader — override constants, bindings, the size of `Params` — is checked
//! by the unit test `gpu::layout_tests`, which can see the host's private structs.)

use imflow::shaders::Shader;

fn validate(name: &str, source: &str, caps: naga::valid::Capabilities) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: parse error:\n{}", e.emit_to_string(source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: validation error:\n{}", e.emit_to_string(source)));
    assert!(!module.entry_points.is_empty(), "{name} has no entry point");
}

#[test]
fn every_shader_parses_and_validates() {
    for shader in Shader::ALL {
        for f64_available in [false, true] {
            if shader.needs_f64() && !f64_available {
                continue; // only ever compiled where the adapter has SHADER_F64
            }
            let caps = if f64_available {
                naga::valid::Capabilities::FLOAT64
            } else {
                naga::valid::Capabilities::empty()
            };
            let name = format!("{} (f64: {f64_available})", shader.file_name());
            validate(&name, &shader.compiled_source(f64_available), caps);
        }
    }
}

#[test]
fn every_shader_file_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    files.sort();
    let mut listed: Vec<&str> = Shader::ALL.iter().map(|s| s.file_name()).collect();
    listed.push("prelude.wgsl"); // compiled into every family
    listed.sort();
    assert_eq!(files, listed, "shaders/ and Shader::ALL disagree");
}
