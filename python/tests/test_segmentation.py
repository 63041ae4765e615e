"""The distance transform, filling holes and clearing the border against scipy and
scikit-image, computed in the test, both backends, 2-D and 3-D, uint8/uint16/bool masks.

- `imflow.distance` equals `np.float32(scipy.ndimage.distance_transform_edt(x != 0))`
  exactly (one sampling for every axis), and with per-axis sampling within 1e-6
  relative; an array without zeros measures to scipy's stand-in, as scipy does.
- `imflow.fill_holes` equals `scipy.ndimage.binary_fill_holes` (as 0/255).
- `imflow.clear_border` equals `skimage.segmentation.clear_border` on masks and labels.
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
from skimage.measure import label as sk_label
from skimage.segmentation import clear_border as sk_clear_border

import imflow

Array = npt.NDArray[Any]

SHAPES_2D = [(1, 1), (1, 37), (29, 1), (64, 80), (97, 131)]
# A volume of one slice is a 2-D image to imflow (Z = 1), so it is measured, filled and
# cleared as one; scipy's and skimage's calls on a (1, H, W) array differ (its z faces
# are border, and scipy's stand-in feature for a mask without zeros lies along z).
SHAPES_3D = [(6, 11, 13), (9, 40, 70), (2, 5, 4)]
DENSITIES = [0.05, 0.5, 0.95]


def mask(shape: Tuple[int, ...], density: float, dtype: str, seed: int) -> Array:
    m = np.random.default_rng(seed).random(shape) < density
    if dtype == "bool":
        return m
    return (m * (255 if dtype == "uint8" else 1000)).astype(dtype)


def blobs(shape: Tuple[int, ...], seed: int) -> Array:
    """Blobby objects with holes: smoothed noise thresholded, then speckled."""
    rng = np.random.default_rng(seed)
    smooth = ndi.gaussian_filter(rng.random(shape), 2)
    m: Array = (smooth > np.median(smooth)) & (rng.random(shape) > 0.1)
    return m


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "bool"])
def test_distance_2d_equals_float32_of_scipy(backend: str, dtype: str) -> None:
    for k, shape in enumerate(SHAPES_2D):
        for density in DENSITIES:
            x = mask(shape, density, dtype, k)
            got = imflow.distance(x, backend=backend)
            want = np.float32(ndi.distance_transform_edt(x != 0))
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, want, err_msg=f"{shape} {density}")
            # One sampling for every axis: the exact distances, scaled.
            got = imflow.distance(x, 0.5, backend=backend)
            want64 = ndi.distance_transform_edt(x != 0, sampling=0.5)
            np.testing.assert_allclose(got, want64, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", ["uint8", "bool"])
def test_distance_3d_equals_float32_of_scipy(backend: str, dtype: str) -> None:
    for k, shape in enumerate(SHAPES_3D):
        for density in DENSITIES:
            x = mask(shape, density, dtype, 10 + k)
            got = imflow.distance(x, backend=backend, volume=True)
            want = np.float32(ndi.distance_transform_edt(x != 0))
            np.testing.assert_array_equal(got, want, err_msg=f"{shape} {density}")


def test_distance_anisotropic_within_1e6(backend: str) -> None:
    x = blobs((120, 90), 1)
    got = imflow.distance(x, (2.0, 0.7), backend=backend)
    want = ndi.distance_transform_edt(x, sampling=(2.0, 0.7))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    v = blobs((12, 40, 50), 2)
    got = imflow.distance(v, (3.0, 1.0, 0.5), backend=backend, volume=True)
    want = ndi.distance_transform_edt(v, sampling=(3.0, 1.0, 0.5))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def test_distance_without_background_is_scipys(backend: str) -> None:
    for shape, volume in [((3, 4), False), ((1, 5), False), ((2, 3, 4), True)]:
        x = np.ones(shape, np.uint8)
        got = imflow.distance(x, backend=backend, volume=volume)
        np.testing.assert_array_equal(got, np.float32(ndi.distance_transform_edt(x)))


def test_distance_large_mask(backend: str) -> None:
    # Distances past 2^12 (squared past f32's exact integers).
    x = np.ones((9, 4500), np.uint8)
    x[0, 0] = 0
    x[8, 2000] = 0
    got = imflow.distance(x, backend=backend)
    np.testing.assert_array_equal(got, np.float32(ndi.distance_transform_edt(x)))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "bool"])
def test_fill_holes_equals_scipy(backend: str, dtype: str) -> None:
    for k, shape in enumerate(SHAPES_2D):
        for density in DENSITIES:
            x = mask(shape, density, dtype, 20 + k)
            got = imflow.fill_holes(x, backend=backend)
            assert got.dtype == np.uint8
            want = ndi.binary_fill_holes(x)
            np.testing.assert_array_equal(got, want.astype(np.uint8) * 255, err_msg=f"{shape} {density}")
    x = blobs((100, 120), 3)
    np.testing.assert_array_equal(imflow.fill_holes(x, backend=backend) != 0, ndi.binary_fill_holes(x))
    for k, vshape in enumerate(SHAPES_3D):
        x = mask(vshape, 0.7, "uint8", 30 + k)
        got = imflow.fill_holes(x, backend=backend, volume=True)
        np.testing.assert_array_equal(got != 0, ndi.binary_fill_holes(x), err_msg=f"{vshape}")
    v = blobs((10, 30, 40), 4)
    np.testing.assert_array_equal(imflow.fill_holes(v, backend=backend, volume=True) != 0,
                                  ndi.binary_fill_holes(v))


def test_fill_holes_diagonal_gap_is_a_hole(backend: str) -> None:
    # Background that touches the outside only diagonally is a hole (cross structure).
    x = np.array([[0, 1, 0, 0],
                  [1, 0, 1, 0],
                  [0, 1, 1, 0],
                  [0, 0, 0, 0]], bool)
    got = imflow.fill_holes(x, backend=backend)
    np.testing.assert_array_equal(got != 0, ndi.binary_fill_holes(x))
    assert got[1, 1] == 255


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "bool"])
def test_clear_border_equals_skimage_on_masks(backend: str, dtype: str) -> None:
    for k, shape in enumerate(SHAPES_2D):
        for density in DENSITIES:
            x = mask(shape, density, dtype, 40 + k)
            got = imflow.clear_border(x, backend=backend)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(got, sk_clear_border(x), err_msg=f"{shape} {density}")
    for k, vshape in enumerate(SHAPES_3D):
        x = mask(vshape, 0.4, dtype, 50 + k)
        got = imflow.clear_border(x, backend=backend, volume=True)
        np.testing.assert_array_equal(got, sk_clear_border(x), err_msg=f"{vshape}")


def test_clear_border_equals_skimage_on_labels(backend: str) -> None:
    x = blobs((100, 120), 5)
    labels = sk_label(x, connectivity=1)  # int64, touching labels of different values
    got = imflow.clear_border(labels, backend=backend)
    assert got.dtype == labels.dtype
    np.testing.assert_array_equal(got, sk_clear_border(labels))
    rng = np.random.default_rng(6)
    levels = rng.integers(0, 4, (40, 50)).astype(np.uint16)  # many touching values
    np.testing.assert_array_equal(imflow.clear_border(levels, backend=backend), sk_clear_border(levels))
    v = sk_label(blobs((10, 30, 40), 7)).astype(np.uint16)
    np.testing.assert_array_equal(imflow.clear_border(v, backend=backend, volume=True), sk_clear_border(v))


def test_ops_round_trip_and_run_in_apply(backend: str) -> None:
    assert imflow.canonical_op("distance") == "distance:sampling=1"
    assert imflow.canonical_op("distance:sampling_y=1,sampling_x=0.5") == \
        "distance:sampling_z=1,sampling_y=1,sampling_x=0.5"
    x = blobs((64, 64), 8)
    got = imflow.apply(x.astype(np.uint8) * 255, ["fill_holes", "distance"], dtype="float32", backend=backend)
    np.testing.assert_array_equal(got, np.float32(ndi.distance_transform_edt(ndi.binary_fill_holes(x))))
