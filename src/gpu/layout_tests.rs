//! Every kernel's host side against its WGSL, with naga and no adapter: the override
//! constants the host sets are exactly the ones the shader declares, the bindings the
//! entry point uses are exactly the host's storage layout (with the same access), and
//! the uniform `Params` struct, where read, has the host struct's size. A shader edited without its host
//! (or the reverse) fails here, in CI, even where no GPU exists.

use super::pipelines::{Access, Kernel};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use std::collections::{BTreeMap, BTreeSet};

fn parse(kernel: Kernel) -> (naga::Module, naga::valid::ModuleInfo) {
    let f64 = kernel.shader().needs_f64();
    let source = kernel.shader().compiled_source(f64);
    let module = naga::front::wgsl::parse_str(&source)
        .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
    let caps = if f64 {
        Capabilities::FLOAT64
    } else {
        Capabilities::empty()
    };
    let info = Validator::new(ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
    (module, info)
}

#[test]
fn kernels_match_their_wgsl() {
    for kernel in Kernel::ALL {
        let (module, info) = parse(kernel);
        let declared: BTreeSet<&str> = module
            .overrides
            .iter()
            .filter_map(|(_, o)| o.name.as_deref())
            .collect();
        let given: BTreeSet<&str> = kernel.constants().iter().map(|(n, _)| *n).collect();
        assert_eq!(declared, given, "{kernel:?}: override constants");

        let constants: naga::back::PipelineConstants = kernel
            .constants()
            .iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        let (module, info) = naga::back::pipeline_constants::process_overrides(
            &module,
            &info,
            Some((naga::ShaderStage::Compute, kernel.entry_point())),
            &constants,
        )
        .unwrap_or_else(|e| panic!("{kernel:?}: overrides: {e}"));
        let (index, _) = module
            .entry_points
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == kernel.entry_point())
            .unwrap_or_else(|| panic!("{kernel:?}: no entry point {}", kernel.entry_point()));
        let uses = info.get_entry_point(index);

        let mut used = BTreeMap::new();
        for (handle, var) in module.global_variables.iter() {
            let Some(binding) = &var.binding else {
                continue;
            };
            if uses[handle].is_empty() {
                continue;
            }
            assert_eq!(binding.group, 0, "{kernel:?}");
            let what = match var.space {
                naga::AddressSpace::Uniform => {
                    let size = module.types[var.ty].inner.size(module.to_ctx());
                    assert_eq!(
                        size as usize,
                        kernel.params_size(),
                        "{kernel:?}: WGSL Params is {size} bytes, the host's {}",
                        kernel.params_size()
                    );
                    "uniform"
                }
                naga::AddressSpace::Storage { access }
                    if access.contains(naga::StorageAccess::STORE) =>
                {
                    "read_write"
                }
                naga::AddressSpace::Storage { .. } => "read",
                other => panic!("{kernel:?}: binding {} in {other:?}", binding.binding),
            };
            used.insert(binding.binding, what);
        }
        // Every layout has the uniform at binding 0; a kernel may leave it unread (the
        // Otsu scans read only their storage buffers).
        let mut host = BTreeMap::new();
        if used.contains_key(&0) {
            host.insert(0, "uniform");
        }
        for &(binding, access) in kernel.storage() {
            host.insert(
                binding,
                match access {
                    Access::Read => "read",
                    Access::ReadWrite => "read_write",
                },
            );
        }
        assert_eq!(
            used, host,
            "{kernel:?}: bindings used by the shader vs the host's layout"
        );
    }
}

/// Constants that are numerics, not sizes, stay `const` in WGSL: check them too.
#[test]
fn float_bins_agree() {
    let (module, _) = parse(Kernel::OtsuScanFloat);
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some("FLOAT_BINS"))
        .expect("FLOAT_BINS");
    let naga::Expression::Literal(naga::Literal::U32(v)) = module.global_expressions[c.init] else {
        panic!("FLOAT_BINS is not a u32 literal");
    };
    assert_eq!(v as usize, crate::cpu::threshold::FLOAT_BINS);
}
