"""The large-volume run of issue 21 (acceptance 3), made and checked against scipy and
scikit-image: a 512x2048x2048 u16 z-stack (4 GiB, a plain BigTIFF read with --volume)
through gaussian sigma (1, 2, 2) -> Otsu -> label (connectivity 1) -> measure under
`--memory 1GiB` on the CPU backend. A run, not a test: the reference holds the mask
(2 GiB) and the labels (8 GiB) at once.

    python3 tests/goldens/check_volume.py make big.tif          # ~4 GiB, deterministic
    imflow run --volume -i big.tif --flow tests/goldens/volume_flow.toml --out out \\
        --backend cpu --memory 1GiB --json > out/report.json
    python3 tests/goldens/check_volume.py check big.tif out/report.json out/big_objects-*.csv

`check` computes the gaussian slab by slab where that is exact (each slab with a halo
of the kernel's radius along z, so every kept voxel reads the taps the whole volume's
filter reads, in the same order), with scipy and with imflow's Python package, and
reports their largest difference (the contract: within 1e-4 of the range); then, on
imflow's filtered values, skimage's Otsu, scipy.ndimage.label and regionprops_table on
the whole; it compares the threshold (equal) and the table (area and bbox exact,
centroid and intensity columns within 1e-6 relative).
"""
import csv
import json
import sys

import numpy as np
import scipy.ndimage as ndi
import skimage.filters as skf
import skimage.measure as skm
import tifffile

import imflow

SHAPE = (512, 2048, 2048)
SIGMA = (1.0, 2.0, 2.0)
PROPS = ["label", "area", "centroid", "bbox", "intensity_mean", "intensity_min",
         "intensity_max", "equivalent_diameter_area"]


def make(path: str, shape=SHAPE, nuclei: int = 4000, seed: int = 21) -> None:
    """Nuclei (ellipsoids, 8-16 voxels across in y and x, 4-8 slices deep) on a dim
    background with noise, written page by page as a plain BigTIFF."""
    d, h, w = shape
    rng = np.random.default_rng(seed)
    centres = rng.random((nuclei, 3)) * np.array([d, h, w])
    radii = np.stack([rng.uniform(2, 4, nuclei), rng.uniform(4, 8, nuclei),
                      rng.uniform(4, 8, nuclei)], 1)
    order = np.argsort(centres[:, 0])
    centres, radii = centres[order], radii[order]

    def slab(z0: int, z1: int) -> np.ndarray:
        v = np.full((z1 - z0, h, w), 500.0, np.float32)
        near = np.nonzero((centres[:, 0] + 2 * radii[:, 0] >= z0) & (centres[:, 0] - 2 * radii[:, 0] < z1))[0]
        for k in near:
            (cz, cy, cx), (rz, ry, rx) = centres[k], radii[k]
            lo = [max(int(c - 2 * r), 0) for c, r in zip((cz, cy, cx), (rz, ry, rx))]
            hi = [min(int(c + 2 * r) + 1, n) for c, r, n in zip((cz, cy, cx), (rz, ry, rx), (d, h, w))]
            lo[0], hi[0] = max(lo[0], z0), min(hi[0], z1)
            if lo[0] >= hi[0]:
                continue
            zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
            q = ((zz - cz) / rz) ** 2 + ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
            v[lo[0] - z0:hi[0] - z0, lo[1]:hi[1], lo[2]:hi[2]] += (3000.0 / (1.0 + np.exp(6.0 * (q - 1.0)))).astype(np.float32)
        v += rng.standard_normal(v.shape, dtype=np.float32) * np.sqrt(v)
        return np.clip(v, 0, 65535).astype(np.uint16)

    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        for z0 in range(0, d, 16):
            for page in slab(z0, min(z0 + 16, d)):
                tw.write(page, contiguous=True)


def reference(path: str):
    try:
        x = tifffile.memmap(path)  # the pages were written contiguously: no 4 GiB read
    except ValueError:
        x = tifffile.imread(path)
    d = x.shape[0]
    r = int(4.0 * SIGMA[0] + 0.5)
    g = np.empty(x.shape, np.float32)
    worst_gauss = 0.0
    for z0 in range(0, d, 32):
        z1 = min(z0 + 32, d)
        a, b = max(z0 - r, 0), min(z1 + r, d)
        # A slab's own reflection at a or b never reaches its kept slices (r away), and at
        # the volume's first and last slice it is the volume's.
        slab = np.asarray(x[a:b], np.float32)
        want = ndi.gaussian_filter(slab, SIGMA, mode="reflect", truncate=4.0)[z0 - a:z1 - a]
        # imflow's own gaussian of the slab (its Python package, CPU twin): the float
        # filter is within 1e-4 of the range of scipy's, not bit-equal, and a voxel one
        # ulp off can move Otsu's float bins, so the rest of the chain is checked
        # exactly on imflow's filtered values, and the filter against scipy's here.
        got = imflow.gaussian(slab, SIGMA, volume=True, backend="cpu")[z0 - a:z1 - a]
        worst_gauss = max(worst_gauss, float(np.max(np.abs(got - want))))
        g[z0:z1] = got
    scale = float(g.max() - g.min()) or 1.0
    print(f"gaussian: imflow vs scipy, largest difference {worst_gauss:.3g} = {worst_gauss / scale:.2e} of the range")
    t = skf.threshold_otsu(g)
    mask = g > t
    del g
    labels, n = ndi.label(mask)
    del mask
    table = skm.regionprops_table(labels, np.asarray(x), properties=PROPS)
    return t, n, table


def check(path: str, report: str, table: str) -> int:
    got_t = [t for node in json.load(open(report))["nodes"] for t in node.get("thresholds", [])]
    t, n, want = reference(path)
    rows = list(csv.DictReader(open(table)))
    print(f"threshold: scipy/skimage {t}, imflow {got_t}; objects: scipy {n}, imflow {len(rows)}")
    ok = len(rows) == n and any(abs(g - t) == 0 for g in got_t)
    worst = {}
    for k, v in want.items():
        got = np.array([float(row[k]) for row in rows])
        ref = np.asarray(v, dtype=np.float64)
        if got.shape != ref.shape:
            ok = False
            continue
        err = np.abs(got - ref)
        exact = k in ("label", "area") or k.startswith("bbox")
        worst[k] = float(err.max() if exact else np.max(err / np.maximum(np.abs(ref), 1e-12)))
        ok &= worst[k] == 0 if exact else worst[k] <= 1e-6
    print("worst difference per column (exact columns absolute, others relative):", worst)
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
