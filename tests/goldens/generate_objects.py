#!/usr/bin/env python3
"""Goldens for labelling, removing small objects and measuring (tests/objects.rs).

Masks are made from a counter-based hash (splitmix64 of the pixel index), which the
Rust test computes the same way, so a 4096x4096 mask needs no file: only the blake3 of
scipy's / skimage's label image (u32, little-endian) is kept, with the object count.

  label connectivity=1  = scipy.ndimage.label(mask)[0]
  label connectivity=2  = skimage.measure.label(mask, connectivity=2)
  remove_small_objects  = skimage.morphology.remove_small_objects(mask, max_size=..)
  measure               = skimage.measure.regionprops_table(labels, intensity, ...)

Run from anywhere:  python3 tests/goldens/generate_objects.py  (writes objects.json and
the spiral and snake masks as PNG).
"""
import json
import pathlib

import blake3
import numpy as np
import scipy
import scipy.ndimage as ndi
import skimage
import tifffile
from PIL import Image
from skimage.filters import threshold_otsu
from skimage.measure import label as sk_label
from skimage.measure import regionprops_table
from skimage.morphology import remove_small_objects

HERE = pathlib.Path(__file__).resolve().parent
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix(index, seed):
    """splitmix64 of seed * 2^32 + index, as tests/objects.rs computes it."""
    with np.errstate(over="ignore"):
        z = (np.uint64(seed) << np.uint64(32)) + index.astype(np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def mask(h, w, density, seed):
    cut = np.uint64(int(density * 2**32))
    return (splitmix(np.arange(h * w), seed) >> np.uint64(32) < cut).reshape(h, w)


def digest(labels):
    return blake3.blake3(np.ascontiguousarray(labels.astype("<u4")).tobytes()).hexdigest()


def labels_of(m, connectivity):
    return ndi.label(m)[0] if connectivity == 1 else sk_label(m, connectivity=2)


cases = []


def add(name, m, source):
    for c in (1, 2):
        lab = labels_of(m, c)
        cases.append(dict(name=name, source=source, connectivity=c, count=int(lab.max()), blake3=digest(lab)))


seed = 1
for h, w in [(1, 1), (1, 37), (41, 1), (389, 517), (4096, 4096)]:
    for d in (0.05, 0.3, 0.5, 0.7, 0.95):
        if (h, w) == (4096, 4096) and d != 0.5:
            continue
        add(f"random_{h}x{w}_d{d}", mask(h, w, d, seed), dict(height=h, width=w, density=d, seed=seed))
        seed += 1

# A spiral and a one-pixel-wide snake spanning the image: long objects, the case that
# makes iterative labellers slow. Stored as PNG (0/255).
y, x = np.mgrid[0:300, 0:300]
r, th = np.hypot(y - 150, x - 150), np.arctan2(y - 150, x - 150)
spiral = np.mod(r - 6 * th, 38) < 4
snake = np.zeros((64, 200), bool)
snake[::4, :] = True
for i in range(0, 64, 8):
    snake[i:i + 5, 199] = True
for i in range(4, 64, 8):
    snake[i:i + 5, 0] = True
for name, m in [("spiral", spiral), ("snake", snake)]:
    Image.fromarray(m.astype(np.uint8) * 255).save(HERE / f"objects_{name}.png")
    add(name, m, dict(file=f"objects_{name}.png"))
for name, m in [("all_foreground", np.ones((50, 60), bool)), ("all_background", np.zeros((50, 60), bool))]:
    add(name, m, dict(height=50, width=60, density=1.0 if m.any() else 0.0, seed=0))

# Removing small objects (skimage 0.26: max_size removes objects of at most that many
# pixels; min_size, deprecated there, those smaller than it).
removed = []
for d, max_size, c in [(0.3, 4, 1), (0.5, 9, 2), (0.7, 30, 1)]:
    m = mask(389, 517, d, 100 + c)
    out = remove_small_objects(m, max_size=max_size, connectivity=c)
    removed.append(dict(height=389, width=517, density=d, seed=100 + c, spec=f"remove_small_objects:max_size={max_size},connectivity={c}",
                        blake3=digest(out.astype(np.uint32) * 255), kept=int(out.sum())))

# Measuring: the nuclei image's objects (gaussian 2, Otsu, label), and random labels
# on a random u16 intensity image.
PROPS = ["label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max", "equivalent_diameter_area"]
nuclei = tifffile.imread(HERE / "nuclei_u16.tif")
g = ndi.gaussian_filter(nuclei.astype(np.float32), 2)
nuclei_labels = ndi.label(g > threshold_otsu(g))[0]
rand_labels = sk_label(mask(150, 200, 0.4, 7), connectivity=2)
rand_intensity = (splitmix(np.arange(150 * 200), 8) >> np.uint64(48)).astype(np.uint16).reshape(150, 200)
tables = []
for name, lab, inten, src in [
    ("nuclei", nuclei_labels, nuclei, dict(file="nuclei_u16.tif", ops=["gaussian:sigma=2", "threshold:method=otsu", "label"])),
    ("random", rand_labels, rand_intensity, dict(labels=dict(height=150, width=200, density=0.4, seed=7, connectivity=2),
                                                 intensity=dict(seed=8, shift=48))),
]:
    t = regionprops_table(lab, inten, properties=PROPS)
    tables.append(dict(name=name, source=src, columns=list(t.keys()),
                       rows=[[float(t[k][i]) for k in t] for i in range(len(t["label"]))]))

out = dict(generator="tests/goldens/generate_objects.py",
           versions=dict(numpy=np.__version__, scipy=scipy.__version__, skimage=skimage.__version__),
           labels=cases, remove_small=removed, measure=tables)
(HERE / "objects.json").write_text(json.dumps(out, indent=1) + "\n")
print(f"{len(cases)} label cases, {len(removed)} removal cases, {len(tables)} tables")
