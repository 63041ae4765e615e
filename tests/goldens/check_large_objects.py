"""Checks a measure table imflow wrote for a large frame (measured band by band, since
the frame was tiled or streamed) against scikit-image on the whole frame:
gaussian sigma 2 -> Otsu -> scipy.ndimage.label -> regionprops_table. Prints the
worst relative difference per column. A run, not a test: the reference needs several
GB for a 20000x20000 frame.

    imflow run -i big.tif --flow flow.toml --out out --backend cpu --memory 1GiB
    python3 tests/goldens/check_large_objects.py big.tif out/big_objects-*.csv

with flow.toml:

    [nodes.labels]
    from = "input"
    ops = ["gaussian:sigma=2", "threshold:method=otsu", "label"]

    [nodes.objects]
    from = ["labels", "input"]
    op = "measure"
    output = "objects"
"""
import csv
import sys

import numpy as np
import scipy.ndimage as ndi
import skimage.filters as skf
import skimage.measure as skm
import tifffile


def main(image: str, table: str) -> int:
    x = tifffile.imread(image)
    g = ndi.gaussian_filter(x.astype(np.float32), 2)
    t = skf.threshold_otsu(g)
    labels, n = ndi.label(g > t)
    del g
    props = ["label", "area", "centroid", "bbox", "intensity_mean", "intensity_min",
             "intensity_max", "equivalent_diameter_area"]
    want = skm.regionprops_table(labels, x, properties=props)
    rows = list(csv.DictReader(open(table)))
    print(f"objects: scipy {n}, imflow {len(rows)}; threshold {t}")
    if len(rows) != n:
        return 1
    worst = {}
    for k, v in want.items():
        got = np.array([float(r[k]) for r in rows])
        ref = np.asarray(v, dtype=np.float64)
        worst[k] = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12)))
    print("worst relative difference per column:", worst)
    return 0 if max(worst.values()) <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
