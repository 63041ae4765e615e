"""Writes a deterministic corpus of every input kind imflow reads, for comparing the
output files of two builds (see run.sh). Not part of the test suite: a refactor's proof
that outputs stayed byte-identical (the hashes in the output names)."""
import sys
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20261130)


def blobs(h, w, dtype, hi):
    y, x = np.mgrid[0:h, 0:w]
    img = np.full((h, w), hi * 0.08)
    for _ in range(12):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 12)
        img += hi * 0.6 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    img += rng.normal(0, hi * 0.03, img.shape)
    return np.clip(img, 0, hi).astype(dtype)


tifffile.imwrite(out / "u16_gray.tif", blobs(301, 257, np.uint16, 4000))
tifffile.imwrite(out / "u8_gray.tif", blobs(64, 97, np.uint8, 255))
tifffile.imwrite(out / "f32_gray.tif", blobs(120, 77, np.float32, 1.0))
tifffile.imwrite(out / "u16_pages.tif", np.stack([blobs(90, 70, np.uint16, 60000) for _ in range(3)]), photometric="minisblack", metadata=None)
# Planar RGB (PlanarConfiguration=2), as tifffile writes a (3, H, W) array by default.
tifffile.imwrite(out / "u16_planar.tif", np.stack([blobs(30, 20, np.uint16, 9000) for _ in range(3)]))
tifffile.imwrite(out / "u16_rgb.tif", np.stack([blobs(50, 40, np.uint16, 9000) for _ in range(3)], -1), photometric="rgb")
Image.fromarray(np.stack([blobs(81, 63, np.uint8, 255) for _ in range(3)], -1)).save(out / "rgb.png")
Image.fromarray(np.stack([blobs(40, 44, np.uint8, 255) for _ in range(4)], -1)).save(out / "rgba.png")
Image.fromarray(np.stack([blobs(48, 64, np.uint8, 255) for _ in range(3)], -1)).save(out / "photo.jpg", quality=90)
frames = [Image.fromarray(np.stack([blobs(32, 40, np.uint8, 255) for _ in range(3)], -1)) for _ in range(5)]
frames[0].save(out / "anim.gif", save_all=True, append_images=frames[1:], duration=[40, 60, 80, 100, 120], loop=2)
