#!/usr/bin/env python3
"""Shows that `imflow apply` gives what scipy + scikit-image give.

Runs `imflow apply IN OUT --op gaussian:sigma=2 --op threshold:method=otsu` on a u16
TIFF and compares the mask with scipy.ndimage.gaussian_filter (float32, reflect,
truncate 4) followed by skimage.filters.threshold_otsu and `> t`.

    python3 tests/goldens/check_apply.py [IMAGE.tif] [--backend cpu|gpu|auto]

Defaults to tests/goldens/nuclei_u16.tif. Builds imflow with cargo (release) first.
Requirements: tests/goldens/requirements.txt
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import scipy.ndimage as ndi
import tifffile
from skimage.filters import threshold_otsu

ROOT = pathlib.Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("image", nargs="?", default=str(ROOT / "tests/goldens/nuclei_u16.tif"))
ap.add_argument("--backend", default="auto")
args = ap.parse_args()

subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
x = tifffile.imread(args.image)
with tempfile.TemporaryDirectory() as d:
    out = pathlib.Path(d) / "mask.tif"
    run = subprocess.run([str(ROOT / "target/release/imflow"), "apply", args.image, str(out),
                          "--op", "gaussian:sigma=2", "--op", "threshold:method=otsu",
                          "--backend", args.backend], capture_output=True, text=True)
    print(run.stderr.strip())
    if run.returncode != 0:
        sys.exit(run.returncode)
    got = tifffile.imread(out)

g = ndi.gaussian_filter(x.astype(np.float32), 2, mode="reflect", truncate=4.0)
t = threshold_otsu(g)
want = ((g > t) * 255).astype(np.uint8)
differ = int((got != want).sum())
print(f"scipy+skimage threshold {t!r}; mask {got.shape} {got.dtype}; pixels that differ: {differ} of {want.size}")
sys.exit(1 if differ else 0)
