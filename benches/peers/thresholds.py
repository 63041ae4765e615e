#!/usr/bin/env python3
"""imflow's automatic thresholds (the value and the mask `x > t`) against scikit-image on
the same kind of arrays, in one run.

    python3 benches/peers/thresholds.py [--quick]     # with .venv's python (skimage)

A 4096x4096 image of uniform noise (kernel_timing's synthetic input: uint8 over all
levels, uint16 from 500, float32 in [0, 1), every float32 value nearly distinct, the
worst case for Li on float data), each method as `x > skimage.filters.threshold_<m>(x)`
against `threshold:method=<m>` on imflow's CPU twin (examples/kernel_timing.rs, every
core, f32 planes already in memory), and the local threshold (block 51) against
`x > threshold_local(x, 51)`. Best of N wall times; ratios from this run (skimage time
/ imflow time: above 1, imflow is faster). scikit-image runs on one core.
"""
import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

import numpy as np
import skimage
import skimage.filters as filters

ROOT = pathlib.Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="1024x1024")
args = ap.parse_args()
N = 1024 if args.quick else 4096

subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "kernel_timing"], cwd=ROOT, check=True)
TIMING = ROOT / "target/release/examples/kernel_timing"
ENV = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir()))


def imflow_ms(op: str, dtype: str, reps: int = 3) -> float:
    r = subprocess.run([str(TIMING), op, str(N), dtype, "cpu", str(reps)],
                       capture_output=True, text=True, env=ENV, check=True)
    return float(json.loads(r.stdout.strip().splitlines()[-1])["best_ms"])


def best_ms(f, reps: int) -> float:
    f()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e3)
    return min(t)


rng = np.random.default_rng(0)
inputs = {
    "u8": rng.integers(0, 255, (N, N), endpoint=True).astype(np.uint8),
    "u16": rng.integers(500, 65535, (N, N), endpoint=True).astype(np.uint16),
    "f32": rng.random((N, N), dtype=np.float32),
}
print(f"{os.cpu_count()} cores; scikit-image {skimage.__version__}, numpy {np.__version__}\n")
print(f"| {N}x{N} | imflow CPU twin | skimage | ratio |")
print("| --- | ---: | ---: | ---: |")
for method in ["li", "triangle", "yen", "isodata", "mean", "minimum", "otsu"]:
    f = getattr(filters, f"threshold_{method}")
    for dtype, x in inputs.items():
        if method == "minimum" and dtype == "u16":
            # skimage smooths a 65536-bin histogram up to 10000 times in a Python loop
            print(f"| {method}, {dtype} | - | not timed (minutes in skimage's Python loop) | - |")
            continue
        try:
            peer = best_ms(lambda: x > f(x), 1)
        except RuntimeError as e:  # minimum on noise: no two peaks
            print(f"| {method}, {dtype} | - | {e} | - |", flush=True)
            continue
        mine = imflow_ms(f"threshold:method={method}", dtype)
        print(f"| {method}, {dtype} | {mine:.1f} ms | {peer:.0f} ms | {peer / mine:.1f}x |", flush=True)
for dtype, x in inputs.items():
    peer = best_ms(lambda: x > filters.threshold_local(x, 51), 1)
    mine = imflow_ms("threshold:method=local,block=51", dtype)
    print(f"| local, block 51, {dtype} | {mine:.1f} ms | {peer:.0f} ms | {peer / mine:.1f}x |", flush=True)
