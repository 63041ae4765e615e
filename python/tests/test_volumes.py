"""Volumes (z-stacks) against scipy and scikit-image on the 3-D array, both backends.

Shapes 1x1x1, 1xNxM, Nx1x1, 7x389x517 and 64x512x512: gaussian (isotropic, anisotropic,
sigma_z=0) and box within 1e-4 of the range; Otsu exact on integer data; label for
connectivity 1, 2 and 3 identical (random masks of density 0.05 to 0.95, a 3-D spiral,
one-voxel-wide 3-D snakes, all foreground, all background); measure against
regionprops_table in 3-D. Then arrays of every layout, and hyperstack files.
"""
from __future__ import annotations

import pathlib
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
import skimage.filters
import skimage.measure
import tifffile

import imflow

SHAPES = [(1, 1, 1), (1, 13, 17), (9, 1, 1), (7, 389, 517)]
BIG = (64, 512, 512)


def volume(shape: Tuple[int, ...], dtype: str, seed: int = 0) -> npt.NDArray[Any]:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return (rng.random(shape, dtype=np.float32) * 1000 - 100).astype(np.float32)
    top = np.iinfo(dtype).max
    return rng.integers(0, top, shape, endpoint=True).astype(dtype)


def close(got: npt.NDArray[Any], want: npt.NDArray[Any], basis: npt.NDArray[Any]) -> None:
    """Within 1e-4 of the data's range (of its magnitude where it has one value: f32
    rounding of a one-voxel volume's value is not 1e-4 of a zero range)."""
    span = float(np.ptp(basis)) or float(np.max(np.abs(basis))) or 1.0
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
    assert err <= 1e-4 * span, f"max error {err} of range {span}"


@pytest.mark.parametrize("shape", SHAPES + [BIG])
@pytest.mark.parametrize("sigma", [1.5, (2.0, 1.0, 0.5), (0.0, 1.5, 1.5)])
def test_gaussian_equals_scipy_in_3d(backend: str, shape: Tuple[int, int, int],
                                     sigma: Any) -> None:
    if shape == BIG and sigma != (2.0, 1.0, 0.5):
        pytest.skip("the large volume runs one sigma (its time, not its semantics)")
    for dtype in ["uint16", "float32"]:
        x = volume(shape, dtype, 1)
        got = imflow.gaussian(x, sigma, volume=True, backend=backend)
        want = ndi.gaussian_filter(x.astype(np.float32), sigma, mode="reflect", truncate=4.0)
        assert got.shape == x.shape and got.dtype == np.float32
        close(got, want, x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", [3, (5, 1, 3), 4])
def test_box_equals_scipy_in_3d(backend: str, shape: Tuple[int, int, int], size: Any) -> None:
    x = volume(shape, "uint8", 2)
    got = imflow.box(x, size, volume=True, backend=backend)
    want = ndi.uniform_filter(x.astype(np.float32), size, mode="reflect")
    close(got, want, x)


@pytest.mark.parametrize("shape", SHAPES + [BIG])
def test_otsu_is_exact_on_a_volume(backend: str, shape: Tuple[int, int, int]) -> None:
    for dtype in ["uint8", "uint16"]:
        x = volume(shape, dtype, 3)
        if x.min() == x.max():
            continue  # skimage's Otsu of one level is that level; imflow's too (below)
        t = imflow.threshold_otsu(x, volume=True, backend=backend)
        assert t == skimage.filters.threshold_otsu(x), dtype
        mask = imflow.threshold(x, "otsu", volume=True, backend=backend)
        np.testing.assert_array_equal(mask, np.where(x > t, 255, 0).astype(np.uint8))


def spiral(n: int = 24) -> npt.NDArray[np.bool_]:
    """A 3-D spiral: a helix of voxels winding up the z axis, one turn per 8 slices."""
    m = np.zeros((n, 32, 32), bool)
    for z in range(n):
        for k in range(4):
            a = 2 * np.pi * (z * 4 + k) / 32
            m[z, int(16 + 12 * np.sin(a)), int(16 + 12 * np.cos(a))] = True
    return m


def snakes() -> npt.NDArray[np.bool_]:
    """One-voxel-wide snakes that move one axis at a time (connected by faces), and
    diagonal ones (connected by edges or corners only)."""
    m = np.zeros((12, 20, 20), bool)
    z, y, x = 0, 0, 0
    for step in range(60):
        m[z, y, x] = True
        axis = step % 3
        if axis == 0:
            z = min(z + 1, 11)
        elif axis == 1:
            y = min(y + 1, 19)
        else:
            x = min(x + 1, 19)
    for k in range(10):
        m[k, 2 + k, 15 - k] = True  # corners only
        m[k, 10, 2 + k] = True if k % 2 == 0 else m[k, 10, 2 + k]
    for k in range(8):
        m[k + 2, 18 - k, 18 - k] = True  # corners only, another way round
    return m


def masks() -> List[Tuple[str, npt.NDArray[np.bool_]]]:
    rng = np.random.default_rng(7)
    out: List[Tuple[str, npt.NDArray[np.bool_]]] = []
    for density in [0.05, 0.3, 0.5, 0.95]:
        out.append((f"random {density}", rng.random((7, 61, 53)) < density))
    out += [
        ("spiral", spiral()),
        ("snakes", snakes()),
        ("all foreground", np.ones((5, 9, 11), bool)),
        ("all background", np.zeros((5, 9, 11), bool)),
        ("1x1x1", np.ones((1, 1, 1), bool)),
        ("1xNxM", rng.random((1, 31, 17)) < 0.5),
        ("Nx1x1", rng.random((19, 1, 1)) < 0.5),
    ]
    return out


@pytest.mark.parametrize("connectivity", [1, 2, 3])
def test_label_equals_scipy_in_3d(backend: str, connectivity: int) -> None:
    for what, m in masks():
        got = imflow.label(m.astype(np.uint8) * 255, connectivity=connectivity, volume=True,
                           backend=backend)
        want, _ = ndi.label(m, ndi.generate_binary_structure(3, connectivity))
        np.testing.assert_array_equal(got, want, err_msg=f"{what} c={connectivity}")
        sk = skimage.measure.label(m, connectivity=connectivity)
        np.testing.assert_array_equal(got, sk, err_msg=f"{what} c={connectivity} (skimage)")


def test_label_a_big_volume(backend: str) -> None:
    rng = np.random.default_rng(11)
    m = ndi.gaussian_filter(rng.random(BIG, dtype=np.float32), 2) > 0.5
    got = imflow.label(m.astype(np.uint8), connectivity=1, volume=True, backend=backend)
    want, n = ndi.label(m)
    assert n > 10
    np.testing.assert_array_equal(got, want)


def test_remove_small_objects_in_3d(backend: str) -> None:
    rng = np.random.default_rng(5)
    m = rng.random((9, 40, 30)) < 0.4
    for c in [1, 3]:
        got = imflow.remove_small_objects(m, min_size=6, connectivity=c, volume=True, backend=backend)
        want = skimage.morphology.remove_small_objects(m, max_size=5, connectivity=c)
        np.testing.assert_array_equal(got > 0, want, err_msg=f"c={c}")


import skimage.morphology  # noqa: E402


PROPS = ["label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
         "equivalent_diameter_area"]


def check_table(got: Dict[str, npt.NDArray[Any]], want: Dict[str, npt.NDArray[Any]]) -> None:
    assert list(got) == list(want)
    for k, w in want.items():
        g = got[k]
        assert g.dtype == w.dtype, k
        if k in ("label", "area") or k.startswith("bbox"):
            np.testing.assert_array_equal(g, w, err_msg=k)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-6, err_msg=k)


@pytest.mark.parametrize("spacing", [None, (2.0, 0.5, 0.25)])
def test_measure_equals_regionprops_table_in_3d(spacing: Any) -> None:
    rng = np.random.default_rng(9)
    m = ndi.gaussian_filter(rng.random((13, 60, 50)), 1.5) > 0.52
    labels, n = ndi.label(m)
    assert n > 3
    intensity = volume((13, 60, 50), "uint16", 4)
    got = imflow.measure(labels, intensity, spacing=spacing)
    kw: Dict[str, Any] = {} if spacing is None else {"spacing": spacing}
    want = skimage.measure.regionprops_table(labels, intensity, properties=PROPS, **kw)
    check_table(got, want)


@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_volumes_of_every_layout(backend: str, order: str) -> None:
    base = volume((10, 30, 40), "uint16", 8)
    x: npt.NDArray[Any]
    if order == "F":
        x = np.asfortranarray(base)
    elif order == "strided":
        big = np.zeros((20, 60, 80), np.uint16)
        big[::2, ::2, ::2] = base
        x = big[::2, ::2, ::2]
    else:
        x = base
    got = imflow.gaussian(x, (1, 2, 2), volume=True, backend=backend)
    want = imflow.gaussian(np.ascontiguousarray(base), (1, 2, 2), volume=True, backend=backend)
    np.testing.assert_array_equal(got, want)
    # Channels last, and frames of volumes.
    rgb = volume((6, 20, 30, 3), "uint8", 9)
    got = imflow.gaussian(rgb, 1.0, volume=True, backend=backend)
    want = np.stack([ndi.gaussian_filter(rgb[..., c].astype(np.float32), 1.0) for c in range(3)], -1)
    close(got, want, rgb)
    frames = volume((2, 5, 20, 30), "uint8", 10)
    got = imflow.gaussian(frames, (1, 1, 1), volume=True, stack=True, backend=backend)
    assert got.shape == frames.shape
    for k in range(2):
        close(got[k], ndi.gaussian_filter(frames[k].astype(np.float32), 1.0), frames[k])


def test_a_3d_array_is_a_volume_only_when_asked() -> None:
    x = volume((5, 20, 30), "uint8", 12)
    as_frames = imflow.gaussian(x, 1.0, backend="cpu")
    per_slice = np.stack([ndi.gaussian_filter(s.astype(np.float32), 1.0) for s in x])
    close(as_frames, per_slice, x)
    with pytest.raises(ValueError, match=r"sigma.*\(z, y, x\)"):
        imflow.gaussian(x, (1, 2), volume=True)
    with pytest.raises(ValueError, match=r"volume=True a 3-D \(Z, Y, X\)"):
        imflow.gaussian(np.zeros((2, 3, 4, 5, 6), np.uint8), 1, volume=True)


def hyperstack(tmp: pathlib.Path) -> Tuple[npt.NDArray[Any], pathlib.Path, pathlib.Path]:
    """An ImageJ hyperstack (T=3, Z=30, C=2) and an OME-TIFF of the same content."""
    data = volume((3, 30, 2, 24, 32), "uint16", 13)
    ij = tmp / "hyper.tif"
    tifffile.imwrite(ij, data, imagej=True, resolution=(1 / 0.2, 1 / 0.2),
                     metadata={"axes": "TZCYX", "spacing": 0.5, "unit": "um"})
    ome = tmp / "hyper.ome.tif"
    tifffile.imwrite(ome, data, ome=True, metadata={
        "axes": "TZCYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2, "PhysicalSizeZ": 0.5})
    return data, ij, ome


def test_hyperstacks_read_as_volumes(tmp_path: pathlib.Path) -> None:
    data, ij, ome = hyperstack(tmp_path)
    # (T, Z, C, Y, X) -> imflow's (T, Z, Y, X, C).
    want = np.moveaxis(data, 2, -1)
    for path in [ij, ome]:
        got = imflow.imread(path)
        np.testing.assert_array_equal(got, want, err_msg=path.name)
        vs = imflow.voxel_size(path)
        assert vs is not None
        (z, y, x), unit = vs
        assert (z, round(y, 6), round(x, 6), unit) == (0.5, 0.2, 0.2, "\u00b5m"), path.name


def test_volume_outputs_open_as_volumes(tmp_path: pathlib.Path, imflow_cli: str) -> None:
    import subprocess
    _, ij, _ = hyperstack(tmp_path)
    out = tmp_path / "out"
    subprocess.run([imflow_cli, "run", "-i", str(ij), "--out", str(out), "--backend", "cpu",
                    "--op", "gaussian:sigma_z=1,sigma_y=2,sigma_x=2"], check=True)
    [written] = list(out.glob("*.tif"))
    with tifffile.TiffFile(written) as f:
        meta = f.imagej_metadata
        assert meta is not None
        assert (meta["slices"], meta["channels"], meta["frames"]) == (30, 2, 3)
        assert meta["spacing"] == 0.5
        assert f.series[0].axes == "TZCYX"
    got = imflow.imread(written)
    src = imflow.imread(ij)
    want = np.stack([ndi.gaussian_filter(src[t, ..., c].astype(np.float32), (1, 2, 2))
                     for t in range(3) for c in range(2)]).reshape(3, 2, 30, 24, 32)
    close(np.moveaxis(got, -1, 1), want, src)
