"""Labelling a 4096x4096 random mask of density 0.5 (about a million components):
imflow's GPU kernels and CPU twin against scipy.ndimage.label and OpenCV's
connectedComponents, 4-connectivity, in one run, best of N. imflow's figures include
its Python call (the mask copied in, the labels handed out); the kernel alone is in
`cargo bench -- objects/`.

    .venv/bin/python python/benches/labels.py [--repeat N]
"""
import argparse
import time

import cv2
import numpy as np
import scipy.ndimage as ndi

import imflow


def best(f, repeat):
    f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--side", type=int, default=4096)
    a = p.parse_args()
    m = np.random.default_rng(0).random((a.side, a.side)) < 0.5
    m8 = m.astype(np.uint8)
    want = ndi.label(m)[0]
    rows = {
        "scipy.ndimage.label": lambda: ndi.label(m),
        "cv2.connectedComponents": lambda: cv2.connectedComponents(m8, connectivity=4, ltype=cv2.CV_32S),
        "imflow cpu": lambda: imflow.label(m8, backend="cpu"),
    }
    gpu, notice = imflow.device("gpu") if imflow.device("auto")[1] is None else (None, None)
    if gpu:
        rows[f"imflow gpu ({gpu})"] = lambda: imflow.label(m8, backend="gpu")
    for name in [n for n in rows if n.startswith("imflow")]:
        backend = name.split()[1]
        assert np.array_equal(imflow.label(m8, backend=backend), want), name
    times = {name: best(f, a.repeat) for name, f in rows.items()}
    base = times["scipy.ndimage.label"]
    print(f"{a.side}x{a.side} mask, density 0.5, {want.max()} components; best of {a.repeat}")
    for name, t in times.items():
        print(f"  {name:45s} {t * 1e3:9.1f} ms  {base / t:6.2f}x scipy")


if __name__ == "__main__":
    main()
