#!/usr/bin/env python3
"""imflow's CPU labeller against OpenCV, cc3d and scipy on the same masks, in one run
(issue 21's labelling bench).

    pip install -r benches/peers/requirements.txt     # once (or use .venv + cc3d)
    python3 benches/peers/labels.py [--quick]

2-D: a 4096x4096 random mask of density 0.5, connectivity 1 and 2 (OpenCV's 4 and 8):
`cv2.connectedComponents` (its default algorithm, every thread OpenCV takes) and
`scipy.ndimage.label`. 3-D: a 256x512x512 random mask of density 0.3, connectivity 1 and
3 (6 and 26 neighbours): `cc3d.connected_components` (PyPI connected-components-3d) and
scipy. imflow's twin is timed by examples/kernel_timing.rs on f32 planes already in
memory, its output (labels as f32) dropped inside the timing, as the peers' outputs are.
Best of N wall times; ratios from this run. Prints one markdown table.
"""
import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

from importlib import metadata

import numpy as np
import scipy.ndimage as ndi

ROOT = pathlib.Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="1024x1024 and 64x256x256")
args = ap.parse_args()
S2 = 1024 if args.quick else 4096
S3 = (64, 256, 256) if args.quick else (256, 512, 512)

subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "kernel_timing"], cwd=ROOT, check=True)
TIMING = ROOT / "target/release/examples/kernel_timing"
ENV = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir()))

try:
    import cv2
except ImportError:
    cv2 = None
try:
    import cc3d
except ImportError:
    cc3d = None


def imflow_ms(op: str, size: str, density: float, reps: int = 5) -> float:
    r = subprocess.run([str(TIMING), op, size, f"mask{density}", "cpu", str(reps)],
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


def cell(ms):
    return "absent" if ms is None else f"{ms:.1f} ms"


def ratio(a, b):
    return "–" if a is None else f"{a / b:.2f}x"


rng = np.random.default_rng(0)
print(f"{os.cpu_count()} cores; OpenCV {cv2.__version__ if cv2 else 'absent'} "
      f"({cv2.getNumThreads() if cv2 else 0} threads), cc3d {metadata.version('connected-components-3d') if cc3d else 'absent'}\n")
print("| mask | connectivity | imflow CPU twin | OpenCV / cc3d | scipy.ndimage.label | peer ÷ imflow | scipy ÷ imflow |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
m2 = (rng.random((S2, S2)) < 0.5).astype(np.uint8)
for c, cv_c in [(1, 4), (2, 8)]:
    mine = imflow_ms(f"label:connectivity={c}", str(S2), 0.5)
    peer = best_ms(lambda: cv2.connectedComponents(m2, connectivity=cv_c, ltype=cv2.CV_32S), 5) if cv2 else None
    sp = best_ms(lambda: ndi.label(m2, ndi.generate_binary_structure(2, c)), 2)
    print(f"| {S2}² density 0.5 | {c} | {mine:.1f} ms | OpenCV {cell(peer)} | {sp:.1f} ms | "
          f"{ratio(peer, mine)} | {sp / mine:.1f}x |", flush=True)
d, h, w = S3
m3 = (rng.random(S3) < 0.3).astype(np.uint8)
for c, cc in [(1, 6), (3, 26)]:
    mine = imflow_ms(f"label:connectivity={c}", f"{d}x{h}x{w}", 0.3, 3)
    peer = best_ms(lambda: cc3d.connected_components(m3, connectivity=cc), 3) if cc3d else None
    sp = best_ms(lambda: ndi.label(m3, ndi.generate_binary_structure(3, c)), 1)
    print(f"| {d}x{h}x{w} density 0.3 | {c} | {mine:.1f} ms | cc3d {cell(peer)} | {sp:.1f} ms | "
          f"{ratio(peer, mine)} | {sp / mine:.1f}x |", flush=True)
