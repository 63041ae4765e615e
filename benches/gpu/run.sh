#!/usr/bin/env bash
# The GPU session: imflow's kernels, a resident chain and the TIFF flow against CuPy and
# scipy, in one command on a lent GPU machine (BENCHMARKS.md, "GPU session"), from what
# benches/gpu/pack.sh gathered into .gpu/ (no Rust toolchain there), or from
# target/release or target/debug where no pack exists (the dry run here):
#
#     benches/gpu/run.sh                 # full sizes; tables to stdout and $OUT
#     benches/gpu/run.sh --small         # the dry run: tiny sizes, llvmpipe will do
#
# Arguments go to benches/gpu/session.py (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=${IMFLOW_GPU_PACK:-.gpu}
py=${PYTHON:-python3}

# 1. The Vulkan loader, as the device tool's README does it, only where there is none.
#    (dpkg -x into / is that README's recipe for these packages alone.)
if ! ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1' >/dev/null; then
    if compgen -G "$pack/gl/*.deb" >/dev/null; then
        echo "--- no Vulkan loader: unpacking $pack/gl/*.deb" >&2
        for f in "$pack"/gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    else
        echo "--- no Vulkan loader and no $pack/gl/*.deb: imflow will find no adapter" >&2
    fi
fi

# 2. The binaries: the pack's (compressed or not), else this checkout's build.
bin_dir=
if [[ -f "$pack/bin.tar.xz" ]]; then
    bin_dir=$(mktemp -d /tmp/imflow-bin.XXXXXX)
    tar -xJf "$pack/bin.tar.xz" -C "$bin_dir"
elif [[ -x "$pack/bin/imflow" ]]; then
    bin_dir=$pack/bin
fi
imflow_bin=
for d in "$bin_dir" target/release target/debug; do
    if [[ -n "$d" && -x "$d/imflow" ]]; then imflow_bin=$d/imflow; break; fi
done
if [[ -z "$imflow_bin" ]]; then
    echo "run.sh: no imflow binary (run benches/gpu/pack.sh, or cargo build)" >&2
    exit 1
fi

# 3. The Python package from the pack's abi3 wheel, where Python has none.
if compgen -G "$pack/*.whl" >/dev/null && ! "$py" -c 'import imflow' 2>/dev/null; then
    site=/tmp/imflow-site
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$pack"/*.whl
    export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi

# 4. NVIDIA's Vulkan driver manifest, where the loader alone finds no hardware adapter
#    (the device README's fallback).
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
hardware() {
    "$imflow_bin" info --json 2>/dev/null | "$py" -c \
        'import json, sys; sys.exit(0 if any(a.get("device_type") != "Cpu" for a in json.load(sys.stdin)) else 1)'
}
nv=/usr/local/nvidia/share
if ! hardware && [[ -f $nv/vulkan/icd.d/nvidia_icd.json ]]; then
    echo "--- no hardware adapter: trying $nv/vulkan/icd.d/nvidia_icd.json" >&2
    export VK_DRIVER_FILES=$nv/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=$nv/glvnd/egl_vendor.d/10_nvidia.json
fi
"$imflow_bin" info >&2 || true

# A full run must measure a GPU: no adapter is an error, as in CI (IMFLOW_REQUIRE_GPU).
if [[ " $* " != *" --small "* ]]; then
    export IMFLOW_REQUIRE_GPU=${IMFLOW_REQUIRE_GPU:-1}
fi
export PYTHONUNBUFFERED=1
exec "$py" benches/gpu/session.py ${bin_dir:+--bin-dir "$bin_dir"} "$@"
