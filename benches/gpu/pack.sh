#!/usr/bin/env bash
# Gathers what benches/gpu/run.sh needs on a lent GPU machine (which has no Rust
# toolchain and no network) into .gpu/, which git ignores and the device tool carries:
#
#     .gpu/bin.tar.xz   release `imflow` and `kernel_timing` (examples/), stripped
#     .gpu/*.whl        the abi3 wheel of the Python package (maturin build --release)
#     .gpu/gl/*.deb     the Vulkan loader recipe of the device tool's README
#
# then prints the pack's size and that of everything a device call sends (the working
# tree: tracked and untracked-not-ignored files, plus the pack), which must stay under
# 64 MiB. `--no-build` gathers what is already built.
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=.gpu
build=1
[[ "${1:-}" == "--no-build" ]] && build=0
mkdir -p "$pack/gl"
grep -qx '/.gpu/' .gitignore || { echo "pack.sh: .gitignore lacks /.gpu/" >&2; exit 1; }

if (( build )); then
    echo "--- release binaries"
    nice -n 5 cargo build --release --locked --bin imflow --example kernel_timing
    echo "--- the abi3 wheel"
    maturin=${MATURIN:-$(command -v maturin || echo .venv/bin/maturin)}
    py=${PYTHON:-$(command -v python3)}
    rm -f "$pack"/*.whl
    (cd python && nice -n 5 "$maturin" build --release --locked -i "$py" -o "../$pack")
fi
for f in target/release/imflow target/release/examples/kernel_timing; do
    [[ -x $f ]] || { echo "pack.sh: $f is missing (run without --no-build)" >&2; exit 1; }
done
staging=$(mktemp -d)
cp target/release/imflow target/release/examples/kernel_timing "$staging/"
strip "$staging"/*
tar -cJf "$pack/bin.tar.xz" -C "$staging" imflow kernel_timing
rm -rf "$staging" "$pack/bin"

if ! compgen -G "$pack/gl/*.deb" >/dev/null; then
    echo "--- the Vulkan loader debs (amd64)"
    o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    mkdir -p /tmp/amd64/partial
    apt-get "${o[@]}" update -qq
    (cd "$pack/gl" && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
pack_bytes=$(du -sb "$pack" | cut -f1)
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null \
    | awk '{ s += $1 } END { print s + 0 }')
total=$((pack_bytes + tree_bytes))
echo "--- $pack:"
ls -l "$pack" "$pack/gl" | sed 's/^/    /'
echo "pack: $(mib "$pack_bytes"); working tree: $(mib "$tree_bytes"); a device call sends $(mib "$total") of 64 MiB"
if (( total >= 64 * 1048576 )); then
    echo "pack.sh: over the device tool's 64 MiB" >&2
    exit 1
fi
