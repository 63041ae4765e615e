#!/usr/bin/env python3
"""One-image calls from Python at the kernels' speed (issue 25): each call against the
CPU twin's kernel time on planes already in memory and against the OpenCV call that does
the same work, in one run.

    scripts/python-env                 # a release build of the package into .venv
    .venv/bin/python python/benches/calls.py [--quick] [--repeat N]

Columns: the twin's kernel (examples/kernel_timing: the op on f32 planes in memory, its
output dropped in the timing), `Processor::run` from Rust (the same example's `run`
mode: the image in, the result image out, as the Python call does without Python), the
Python call (`backend="cpu"`), its ratio to the kernel plus the output's first touch
(the time to fault in and fill a fresh output array of the call's dtype with every
core, measured here with numpy's `np.ones`, one core: a generous allowance is
conservative only if it is small, so it is printed), and OpenCV. Best of N wall times.
"""
import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

import numpy as np

import imflow

try:
    import cv2
except ImportError:
    cv2 = None

ROOT = pathlib.Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="2048² only")
ap.add_argument("--repeat", type=int, default=7)
ap.add_argument("--only", default="", help="rows whose call and image contain this (e.g. 'RGB')")
ap.add_argument("--timing", default=str(ROOT / "target/release/examples/kernel_timing"),
                help="the kernel_timing example (built with cargo build --release --example kernel_timing)")
args = ap.parse_args()
ENV = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir()))


def rust_ms(op: str, size: str, dtype: str, mode: str) -> float:
    r = subprocess.run([args.timing, op, size, dtype, mode, str(args.repeat)], capture_output=True,
                       text=True, env=ENV, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["best_ms"]


def best_ms(f) -> float:
    f()
    t = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e3)
    return min(t)


def image(side: int, dtype: str, channels: int) -> np.ndarray:
    rng = np.random.default_rng(25)
    shape = (side, side) if channels == 1 else (side, side, channels)
    if dtype == "f32":
        return rng.random(shape, dtype=np.float32)
    hi = 255 if dtype == "u8" else 65535
    return rng.integers(0, hi + 1, shape).astype(np.uint8 if dtype == "u8" else np.uint16)


def cv_border():
    return cv2.BORDER_REFLECT  # scipy's 'reflect' (d c b a | a b c d)


# (name, kernel_timing op, Python call, OpenCV call, the output dtype of the Python call;
# None: the input's)
CASES = [
    ("gaussian sigma 2", "gaussian:sigma=2", lambda a: imflow.gaussian(a, 2, backend="cpu"),
     lambda a: cv2.GaussianBlur(a.astype(np.float32, copy=False), (17, 17), 2, borderType=cv_border()),
     np.float32),
    ("box 5", "box:size=5", lambda a: imflow.box(a, 5, backend="cpu"),
     lambda a: cv2.blur(a.astype(np.float32, copy=False), (5, 5), borderType=cv_border()), np.float32),
    ("Otsu mask", "threshold:method=otsu", lambda a: imflow.threshold(a, "otsu", backend="cpu"),
     lambda a: cv2.threshold(a, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1] if a.dtype == np.uint8 and a.ndim == 2 else None,
     np.uint8),
    # cv2.medianBlur pads by replicating the edge, which for a 3x3 window is scipy's
    # reflect (d c b a | a b c d: pixel -1 is pixel 0).
    ("median 3", "median:size=3", lambda a: imflow.median(a, 3, backend="cpu"),
     lambda a: cv2.medianBlur(a, 3), None),
    ("label", "label:connectivity=1", lambda a: imflow.label(a > 0, backend="cpu"),
     lambda a: cv2.connectedComponents((a > 0).view(np.uint8), connectivity=4, ltype=cv2.CV_32S)[1] if a.ndim == 2 else None,
     np.uint32),
]

sides = [2048] if args.quick else [2048, 4096]
print(f"{os.cpu_count()} cores, imflow {imflow.__version__ if hasattr(imflow, '__version__') else ''}, "
      f"OpenCV {cv2.__version__ if cv2 else 'absent'}, best of {args.repeat}\n")
print("| call | image | twin kernel | Processor::run | first touch | Python call | call ÷ (kernel + touch) | OpenCV | call ÷ OpenCV |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, op, call, cv, out_dtype in CASES:
    for side in sides:
        for dtype, channels in [("u8", 1), ("u16", 1), ("f32", 1), ("u8", 3)]:
            if name == "label" and channels == 3:
                continue
            label = f"{side}² {dtype}" + (" RGB" if channels == 3 else "")
            if args.only and args.only not in f"{name} {label}":
                continue
            a = image(side, dtype, channels)
            if name == "label":
                a = (a > np.asarray(a).max() / 2).astype(a.dtype)
            size = f"{side}" + (f"c{channels}" if channels > 1 else "")
            kdtype = "mask0.5" if name == "label" else dtype
            kernel = rust_ms(op, size, kdtype, "cpu")
            run = rust_ms(op, size, kdtype, "run")
            touch = best_ms(lambda: np.ones(a.shape, out_dtype or a.dtype))
            py = best_ms(lambda: call(a))
            ocv = None
            if cv2 is not None and cv(a) is not None:
                ocv = best_ms(lambda: cv(a))
            ratio = py / (kernel + touch)
            print(f"| {name} | {label} | {kernel:.1f} ms | {run:.1f} ms | {touch:.1f} ms | {py:.1f} ms | {ratio:.2f} | "
                  + (f"{ocv:.1f} ms | {py / ocv:.2f} |" if ocv else "– | – |"), flush=True)
