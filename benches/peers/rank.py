#!/usr/bin/env python3
"""imflow's rank filters (median, grey erosion) against scipy, scikit-image and OpenCV on
the same arrays, in one run.

    python3 benches/peers/rank.py [--quick]      # with .venv's python (scipy, skimage, cv2)

2-D: a 4096x4096 image (uniform noise over all levels) in uint8 and uint16: median 3, 5
and 9 with scipy.ndimage.median_filter and cv2.medianBlur (OpenCV takes uint16 only for
sizes 3 and 5); erosion with disk(5) and disk(15) with skimage.morphology.erosion and
cv2.erode (the disk as its kernel, BORDER_REFLECT = scipy's 'reflect'). 3-D: a
128x512x512 uint16 volume, median 3 with scipy and erosion with ball(3) with skimage.
imflow: the CPU twin on f32 planes already in memory (examples/kernel_timing.rs, every
core). Best of N wall times; ratios from this run (peer time / imflow time: above 1,
imflow is faster). scipy and scikit-image run on one core, OpenCV on every core.
"""
import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

import cv2
import numpy as np
import scipy
import scipy.ndimage as ndi
import skimage
import skimage.morphology as morph

ROOT = pathlib.Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="1024x1024 and 32x256x256")
args = ap.parse_args()
N = 1024 if args.quick else 4096
D, H, W = (32, 256, 256) if args.quick else (128, 512, 512)

subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "kernel_timing"], cwd=ROOT, check=True)
TIMING = ROOT / "target/release/examples/kernel_timing"
ENV = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir()))


def imflow_ms(op: str, size: str, dtype: str, reps: int = 3) -> float:
    r = subprocess.run([str(TIMING), op, size, dtype, "cpu", str(reps)],
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


def ratio(peer: float, mine: float) -> str:
    return f"{peer / mine:.2f}x"


rng = np.random.default_rng(0)
print(f"{os.cpu_count()} cores; scipy {scipy.__version__}, scikit-image {skimage.__version__}, "
      f"OpenCV {cv2.__version__}\n")
print(f"| {N}x{N} | imflow CPU twin | scipy / skimage | ratio | OpenCV | ratio |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for dtype in ["uint8", "uint16"]:
    x = rng.integers(0, np.iinfo(dtype).max, (N, N), endpoint=True).astype(dtype)
    short = "u8" if dtype == "uint8" else "u16"
    for k in [3, 5, 9]:
        mine = imflow_ms(f"median:size={k}", str(N), short)
        peer = best_ms(lambda: ndi.median_filter(x, k), 1)
        cv = "-"
        cv_ratio = "-"
        if dtype == "uint8" or k <= 5:
            c = best_ms(lambda: cv2.medianBlur(x, k), 5)
            cv, cv_ratio = f"{c:.1f} ms", ratio(c, mine)
        print(f"| median {k}, {dtype} | {mine:.1f} ms | {peer:.0f} ms (scipy) | {ratio(peer, mine)} | {cv} | {cv_ratio} |",
              flush=True)
    for r in [5, 15]:
        fp = morph.disk(r)
        mine = imflow_ms(f"erode:footprint=disk,radius={r}", str(N), short)
        peer = best_ms(lambda: morph.erosion(x, fp), 1)
        c = best_ms(lambda: cv2.erode(x, fp, borderType=cv2.BORDER_REFLECT), 5)
        print(f"| erosion disk({r}), {dtype} | {mine:.1f} ms | {peer:.0f} ms (skimage) | {ratio(peer, mine)} "
              f"| {c:.1f} ms | {ratio(c, mine)} |", flush=True)

print(f"\n| {D}x{H}x{W} uint16 | imflow CPU twin | scipy / skimage | ratio |")
print("| --- | ---: | ---: | ---: |")
v = rng.integers(0, 65535, (D, H, W), endpoint=True).astype(np.uint16)
size = f"{D}x{H}x{W}"
mine = imflow_ms("median:size=3", size, "u16", 2)
peer = best_ms(lambda: ndi.median_filter(v, 3), 1)
print(f"| median 3 | {mine:.0f} ms | {peer:.0f} ms (scipy) | {ratio(peer, mine)} |", flush=True)
mine = imflow_ms("erode:footprint=ball,radius=3", size, "u16", 2)
peer = best_ms(lambda: morph.erosion(v, morph.ball(3)), 1)
print(f"| erosion ball(3) | {mine:.0f} ms | {peer:.0f} ms (skimage) | {ratio(peer, mine)} |", flush=True)
