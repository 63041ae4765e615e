#!/usr/bin/env python3
"""The 3x3 median from Python against OpenCV's `medianBlur(a, 3)` (issue 26, acceptance 4):
u8 and u16, gray and RGB, 2048² and 4096², best of 7 wall times each, after checking
that both give the same array (for a 3x3 window OpenCV's replicated border is scipy's
reflect).

    scripts/python-env                 # a release build of the package into .venv
    .venv/bin/python python/benches/median3.py
"""
import os
import time

import cv2
import numpy as np

import imflow


def best_ms(f, n: int = 7) -> float:
    f()
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e3)
    return min(t)


rng = np.random.default_rng(25)
print(f"{os.cpu_count()} cores, OpenCV {cv2.__version__}; ratio = OpenCV time / imflow time\n")
print("| image | imflow.median(a, 3) | cv2.medianBlur(a, 3) | ratio |")
print("| --- | ---: | ---: | ---: |")
for side in (2048, 4096):
    for dtype, channels in (("u8", 1), ("u16", 1), ("u8", 3)):
        shape = (side, side) if channels == 1 else (side, side, channels)
        hi = 255 if dtype == "u8" else 65535
        a = rng.integers(0, hi + 1, shape).astype(np.uint8 if dtype == "u8" else np.uint16)
        assert (imflow.median(a, 3, backend="cpu") == cv2.medianBlur(a, 3)).all()
        ours = best_ms(lambda: imflow.median(a, 3, backend="cpu"))
        theirs = best_ms(lambda: cv2.medianBlur(a, 3))
        label = f"{side}² {dtype}" + (" RGB" if channels == 3 else "")
        print(f"| {label} | {ours:.1f} ms | {theirs:.1f} ms | {theirs / ours:.2f}x |", flush=True)
