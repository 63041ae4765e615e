"""OME-Zarr data for the Rust tests (tests/ome_zarr.rs), written and checked with the
reference stack: zarr-python and ome-zarr-py, scipy for the expected values.

    python ngff_data.py write05 OUT.zarr   an NGFF 0.5 image: 192x192 uint16, shards of
                                           64x64 (3x3 of them), chunks 32x32, scale
                                           (0.5, 0.25) micrometer; also OUT.tif (the
                                           same pixels, for imflow's TIFF path)
    python ngff_data.py write04 OUT.zarr   an NGFF 0.4 (Zarr v2) volume: 4x40x50 uint8,
                                           scale (2, 0.5, 0.5) micrometer; also OUT.tif
    python ngff_data.py check OUT SRC SIGMA
                                           reads imflow's output OUT with ome_zarr.reader
                                           and compares it with scipy's integer gaussian
                                           of SRC's level 0; prints a JSON summary
    python ngff_data.py bad KIND OUT.zarr  a broken image (KIND: nometa, dtype, axes)

Each command prints one JSON line.
"""
from __future__ import annotations

import json
import shutil
import sys
from typing import Any, Callable, Dict

import numpy as np
import scipy.ndimage as ndi
import tifffile
import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from ome_zarr.writer import write_image

UM = "micrometer"


def write05(out: str) -> Dict[str, Any]:
    x = np.random.default_rng(1).poisson(1000, (192, 192)).astype(np.uint16)
    shutil.rmtree(out, ignore_errors=True)
    root = zarr.open_group(out, mode="w", zarr_format=3)
    write_image(
        x, root, scale_factors=[], axes="yx", scale={"y": 0.5, "x": 0.25},
        axes_units={"y": UM, "x": UM}, fmt=FormatV05(),
        storage_options={"chunks": (32, 32), "shards": (64, 64)},
    )
    tifffile.imwrite(out[: -len(".zarr")] + ".tif", x)
    return {"shape": list(x.shape), "dtype": str(x.dtype)}


def write04(out: str) -> Dict[str, Any]:
    v = np.random.default_rng(2).integers(0, 255, (4, 40, 50)).astype(np.uint8)
    shutil.rmtree(out, ignore_errors=True)
    root = zarr.open_group(out, mode="w", zarr_format=2)
    write_image(
        v, root, scale_factors=[], axes="zyx", scale={"z": 2.0, "y": 0.5, "x": 0.5},
        axes_units={"z": UM, "y": UM, "x": UM}, fmt=FormatV04(),
        storage_options={"chunks": (2, 20, 25)},
    )
    # ImageJ's hyperstack metadata says the pages are slices (a volume).
    tifffile.imwrite(out[: -len(".zarr")] + ".tif", v, imagej=True, metadata={"axes": "ZYX"})
    return {"shape": list(v.shape), "dtype": str(v.dtype)}


def level0(path: str) -> Any:
    """The first multiscale's level 0 and its metadata, as ome_zarr.reader sees them."""
    nodes = list(Reader(parse_url(path))())
    image = nodes[0]
    meta = image.metadata
    return np.asarray(image.data[0]), meta


def check(out: str, src: str, sigma: str) -> Dict[str, Any]:
    got, meta = level0(out)
    source, src_meta = level0(src)
    want = ndi.gaussian_filter(source, float(sigma))
    axes = [a["name"] if isinstance(a, dict) else a for a in meta["axes"]]
    units = [a.get("unit") for a in meta["axes"] if isinstance(a, dict)]
    scale = meta["coordinateTransformations"][0][0]["scale"]
    group = zarr.open_group(out, mode="r")
    arr: Any = group["0"]
    ome: Any = group.attrs["ome"]
    return {
        "equal": bool(got.shape == want.shape and np.array_equal(got, want)),
        "max_diff": float(np.abs(got.astype(np.float64) - want).max()),
        "dtype": str(got.dtype),
        "shape": list(got.shape),
        "axes": axes,
        "units": units,
        "scale": scale,
        "source_scale": src_meta["coordinateTransformations"][0][0]["scale"],
        "version": ome["version"],
        "zarr_format": group.metadata.zarr_format,
        "shards": list(arr.shards) if arr.shards else None,
        "chunks": list(arr.chunks),
    }


def bad(kind: str, out: str) -> Dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    if kind == "nometa":
        zarr.open_array(out + "/0", mode="w", shape=(8, 8), dtype="u2", zarr_format=3)
        return {"kind": kind}
    if kind == "dtype":
        x = np.zeros((8, 8), dtype=np.int64)
        root = zarr.open_group(out, mode="w", zarr_format=3)
        write_image(x, root, scale_factors=[], axes="yx", fmt=FormatV05())
        return {"kind": kind}
    if kind == "axes":
        x = np.zeros((8, 8), dtype=np.uint16)
        root = zarr.open_group(out, mode="w", zarr_format=3)
        write_image(x, root, scale_factors=[], axes="yx", fmt=FormatV05())
        attrs: Any = dict(root.attrs)
        attrs["ome"]["multiscales"][0]["axes"] = [{"name": "x", "type": "space"}, {"name": "y", "type": "space"}]
        root.attrs.put(attrs)
        return {"kind": kind}
    raise SystemExit(f"unknown kind {kind}")


def main() -> None:
    cmd, *args = sys.argv[1:]
    commands: Dict[str, Callable[..., Dict[str, Any]]] = {
        "write05": write05, "write04": write04, "check": check, "bad": bad,
    }
    result = commands[cmd](*args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
