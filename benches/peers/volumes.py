#!/usr/bin/env python3
"""imflow's 3-D kernels against scipy.ndimage on the same volume, in one run.

    pip install -r benches/peers/requirements.txt     # once (or use .venv)
    python3 benches/peers/volumes.py [--quick]

A 128x1024x1024 float32 volume (uniform noise): gaussian sigma 2 (isotropic, in 3-D),
gaussian sigma (1, 2, 2), box 3; scipy.ndimage (single-threaded, as it is) on the numpy
array, imflow's CPU twin on f32 planes already in memory (examples/kernel_timing.rs,
every core) and, where asked, the GPU kernel. Best of N wall times; ratios from this
run. Prints one markdown table (BENCHMARKS.md holds it).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import scipy.ndimage as ndi

ROOT = pathlib.Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="a 32x256x256 volume")
ap.add_argument("--gpu", action="store_true", help="also time the GPU kernel")
args = ap.parse_args()
D, H, W = (32, 256, 256) if args.quick else (128, 1024, 1024)

subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "kernel_timing"], cwd=ROOT, check=True)
TIMING = ROOT / "target/release/examples/kernel_timing"
ENV = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir()))


def imflow_ms(op: str, backend: str, reps: int) -> float:
    r = subprocess.run([str(TIMING), op, f"{D}x{H}x{W}", "f32", backend, str(reps)],
                       capture_output=True, text=True, env=ENV, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["best_ms"]


def best_ms(f, reps: int) -> float:
    f()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e3)
    return min(t)


x = np.random.default_rng(0).random((D, H, W), dtype=np.float32)
cases = [
    ("gaussian sigma 2", "gaussian:sigma=2", lambda: ndi.gaussian_filter(x, 2.0)),
    ("gaussian sigma (1, 2, 2)", "gaussian:sigma_z=1,sigma_y=2,sigma_x=2",
     lambda: ndi.gaussian_filter(x, (1.0, 2.0, 2.0))),
    ("box 3", "box:size=3", lambda: ndi.uniform_filter(x, 3)),
]
reps_py = 1 if not args.quick else 3
print(f"{D}x{H}x{W} float32, {os.cpu_count()} cores, scipy {scipy.__version__}\n")
head = "| op | scipy.ndimage | imflow CPU twin | ratio |"
if args.gpu:
    head += " imflow GPU kernel |"
print(head)
print("|" + " --- |" * (5 if args.gpu else 4))
for name, spec, f in cases:
    s = best_ms(f, reps_py)
    c = imflow_ms(spec, "cpu", 3)
    row = f"| {name} | {s:.0f} ms | {c:.0f} ms | {s / c:.1f}x |"
    if args.gpu:
        row += f" {imflow_ms(spec, 'gpu', 3):.0f} ms |"
    print(row, flush=True)
