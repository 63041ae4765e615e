"""Runs `imflow run` on a large u16 TIFF (default 20000x20000, 800 MB) with gaussian
sigma=2 then Otsu under a memory budget, and checks what it wrote against scipy and
scikit-image:

- the Otsu threshold imflow used equals
  skimage.filters.threshold_otsu(scipy.ndimage.gaussian_filter(x.astype(np.float32), 2));
- the mask differs from `smoothed > t` only where scipy's smoothed value lies within a
  rounding step of t (imflow's f32 filter and scipy's f64-accumulated one differ in the
  last bits);
- the peak resident memory of the imflow process (from /usr/bin/time -v).

A run, not a test: it takes minutes and several GB for the reference computation.

    python3 tests/goldens/check_large.py --imflow target/release/imflow --backend cpu \\
        --memory 1GiB [--side 20000] [--work /tmp/imflow-large]

The input has exact extremes (a zero background, saturated plateaus), so the 256 float
bins over [min, max] are the same for both filters.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np


def make_input(path: Path, side: int) -> None:
    """Deterministic nuclei on a zero background, some saturated, with Poisson-like
    noise inside them; written uncompressed (one strip), as tifffile does by default."""
    import tifffile

    if path.exists():
        return
    rng = np.random.default_rng(20000)
    img = np.zeros((side, side), np.float32)
    saturated = np.zeros((side, side), bool)
    n = max(8, (side * side) // 400_000)
    for k in range(n):
        cy, cx = rng.uniform(0, side, 2)
        r = rng.uniform(8, 40)
        y0, y1 = int(max(0, cy - 3 * r)), int(min(side, cy + 3 * r))
        x0, x1 = int(max(0, cx - 3 * r)), int(min(side, cx + 3 * r))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        blob = 6000 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img[y0:y1, x0:x1] = np.maximum(img[y0:y1, x0:x1], blob)
        if k % 7 == 0:  # a saturated core, as a detector clips it: the exact maximum
            saturated[y0:y1, x0:x1] |= blob > 2000
    noise = rng.normal(0, 1, img.shape).astype(np.float32)
    img = np.where(img > 1, img + np.sqrt(img) * noise, 0)
    img[saturated] = 65535
    tifffile.imwrite(path, np.clip(img, 0, 65535).astype(np.uint16))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imflow", default="target/release/imflow")
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--memory", default="1GiB", help="a size, or `default` for imflow's own")
    ap.add_argument("--side", type=int, default=20000)
    ap.add_argument("--work", default="/tmp/imflow-large")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"nuclei_{args.side}.tif"
    make_input(src, args.side)
    out = work / f"out-{args.backend}"
    cmd = ["/usr/bin/time", "-v", args.imflow, "run", "-i", str(src), "--op", "gaussian:sigma=2",
           "--op", "threshold:method=otsu", "--out", str(out), "--backend", args.backend,
           "--refresh", "--json"]
    if args.memory != "default":
        cmd += ["--memory", args.memory]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        return 1
    report = json.loads(p.stdout)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    t_imflow = next(n["thresholds"][0] for n in report["nodes"] if n.get("thresholds"))
    mask_path = report["outputs"][0]["path"]
    print(f"imflow {args.backend}: wall {wall}, peak RSS {rss_kb / 1024 / 1024:.2f} GiB, "
          f"device {report['device']}, threshold {t_imflow!r}, mask {mask_path}")

    import scipy.ndimage as ndi
    import tifffile
    from skimage.filters import threshold_otsu

    x = tifffile.imread(src).astype(np.float32)
    smoothed = ndi.gaussian_filter(x, 2)
    del x
    t_ref = float(threshold_otsu(smoothed))
    print(f"scipy+skimage threshold {t_ref!r}; equal: {t_ref == t_imflow}")
    mask = tifffile.imread(mask_path)
    ref = smoothed > np.float32(t_ref)
    differ = mask.astype(bool) != ref
    near = np.abs(smoothed - np.float32(t_ref)) <= 1e-3 * max(1.0, abs(t_ref))
    print(f"mask pixels differing from scipy's: {int(differ.sum())} of {mask.size}, "
          f"all within 1e-3 of the threshold: {bool(np.all(near[differ]))}")
    ok = t_ref == t_imflow and bool(np.all(near[differ]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
