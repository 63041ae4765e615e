#!/usr/bin/env python3
"""The identity corpus: `imflow apply` outputs of two builds compared byte for byte, so a
refactor can show it changed nothing (the hashes in output names are the proof).

    python3 scripts/identity.py OLD_IMFLOW NEW_IMFLOW [--gpu] [--tile N]

Makes a corpus of 10 files (gray, RGB and RGBA 8-bit PNGs, a JPEG, an animated GIF, a
WebP, u16, f32 and i16 TIFFs and a 3-page u16 TIFF), runs 8 chains on each with
`--dtype same` and `--dtype f32` on the CPU backend (and the GPU with --gpu), with both
binaries, and compares the sha256 of every output. `--tile N` also runs the new binary
with IMFLOW_MAX_TILE=N (tiled) against the old one untiled. Exit 1 on any difference.
"""
import argparse
import hashlib
import io
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import tifffile
from PIL import Image

CHAINS = [
    ["gaussian:sigma=2"],
    ["gaussian:sigma_x=3,sigma_y=1"],
    ["box:size=5"],
    ["threshold:value=100"],
    ["threshold:method=otsu"],
    ["gaussian:sigma=1.5", "threshold:method=otsu"],
    ["gaussian:sigma=2,int=scipy"],
    ["box:size=3", "threshold:method=otsu", "label:connectivity=2"],
]


def corpus(d: pathlib.Path) -> list:
    rng = np.random.default_rng(2026)
    files = []

    def img(*shape):
        return rng.integers(0, 256, shape, dtype=np.uint8)

    for name, arr in [("gray.png", img(61, 83)), ("rgb.png", img(47, 59, 3)), ("rgba.png", img(40, 37, 4))]:
        Image.fromarray(arr).save(d / name)
        files.append(d / name)
    Image.fromarray(img(64, 48, 3)).save(d / "photo.jpg", quality=90)
    files.append(d / "photo.jpg")
    frames = [Image.fromarray(img(32, 40, 3)).convert("P") for _ in range(3)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=[50, 70, 90], loop=0)
    files.append(d / "anim.gif")
    Image.fromarray(img(30, 50, 3)).save(d / "lossless.webp", lossless=True)
    files.append(d / "lossless.webp")
    for name, arr in [
        ("u16.tif", rng.poisson(900, (97, 61)).astype(np.uint16)),
        ("f32.tif", (rng.random((53, 71), dtype=np.float32) * 1000 - 100).astype(np.float32)),
        ("i16.tif", rng.integers(-3000, 3000, (45, 66)).astype(np.int16)),
        ("pages.tif", rng.poisson(500, (3, 40, 52)).astype(np.uint16)),
    ]:
        tifffile.imwrite(d / name, arr)
        files.append(d / name)
    return files


def run(binary: str, src: pathlib.Path, out: pathlib.Path, chain, dtype: str, backend: str, env) -> str:
    args = [binary, "apply", str(src), str(out), "--backend", backend, "--dtype", dtype]
    for op in chain:
        args += ["--op", op]
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        # The same refusal from both builds counts as the same outcome: the message
        # names the output file, whose name differs by build.
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        return "error: " + last.replace(str(out), "OUT")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--tile", type=int)
    a = ap.parse_args()
    env = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir()))
    tiled_env = dict(env, IMFLOW_MAX_TILE=str(a.tile)) if a.tile else None
    backends = ["cpu", "gpu"] if a.gpu else ["cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "in").mkdir()
        files = corpus(tmp / "in")
        total, differ = 0, []
        for src in files:
            for k, chain in enumerate(CHAINS):
                for dtype in ["same", "f32"]:
                    ext = src.suffix if dtype == "same" and src.suffix != ".jpg" else ".tif"
                    if dtype == "same" and src.suffix in (".gif", ".webp") and "label" in chain[-1]:
                        ext = ".tif"  # labels are not 8-bit
                    for backend in backends:
                        outs = {}
                        runs = [("old", a.old, env), ("new", a.new, env)]
                        if tiled_env:
                            runs.append(("new tiled", a.new, tiled_env))
                        for who, binary, e in runs:
                            out = tmp / f"{who.replace(' ', '_')}{ext}"
                            outs[who] = run(binary, src, out, chain, dtype, backend, e)
                        total += 1
                        if len(set(outs.values())) != 1:
                            differ.append((src.name, chain, dtype, backend, outs))
        print(f"{total} outputs compared ({len(files)} files x {len(CHAINS)} chains x 2 dtypes x "
              f"{len(backends)} backends{', tiled too' if tiled_env else ''}): {len(differ)} differ")
        for d in differ[:20]:
            print("  ", d)
        return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
