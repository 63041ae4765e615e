"""Filling small holes and expanding labels against scikit-image 0.26, computed in the
test, both backends, 2-D and 3-D, several seeds; and scikit-image's own test cases
(`morphology/test_misc.py`, `segmentation/test_expand_labels.py`) with their expected
arrays.

- `imflow.remove_small_holes` equals `skimage.morphology.remove_small_holes` (as 0/255):
  holes are the background's components of at most `max_size` pixels, touching the
  border or not, for connectivity 1, 2 (and 3 in volumes).
- `imflow.expand_labels` equals `skimage.segmentation.expand_labels` exactly, equally
  near labels included (scipy's feature transform's choice, which imflow ports).
"""
from __future__ import annotations

import warnings
from typing import Any, Tuple

import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
from skimage.measure import label as sk_label
from skimage.morphology import remove_small_holes as sk_remove_small_holes
from skimage.segmentation import expand_labels as sk_expand_labels

import imflow

Array = npt.NDArray[Any]

SHAPES_2D = [(1, 1), (1, 37), (29, 1), (64, 80), (97, 131)]
SHAPES_3D = [(6, 11, 13), (9, 40, 70), (2, 5, 4)]
SEEDS = [0, 1, 2]


def random_mask(shape: Tuple[int, ...], density: float, seed: int) -> Array:
    m: Array = np.random.default_rng(seed).random(shape) < density
    return m


def random_labels(shape: Tuple[int, ...], density: float, seed: int) -> Array:
    """Sparse labels 1..5: many samples equally near two labels."""
    rng = np.random.default_rng(seed)
    labels: Array = (rng.random(shape) < density) * rng.integers(1, 6, shape)
    return labels.astype(np.uint16)


def blob_labels(shape: Tuple[int, ...], seed: int) -> Array:
    """Labelled blobs (smoothed noise thresholded high), as skimage's label gives them."""
    rng = np.random.default_rng(seed)
    smooth = ndi.gaussian_filter(rng.random(shape), 2)
    labels: Array = sk_label(smooth > np.quantile(smooth, 0.85))
    return labels


# ---- remove_small_holes ---------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_remove_small_holes_2d_equals_skimage(backend: str, seed: int) -> None:
    for k, shape in enumerate(SHAPES_2D):
        for density in [0.4, 0.6, 0.8]:
            x = random_mask(shape, density, seed * 100 + k)
            for max_size in [0, 1, 4, 64]:
                for connectivity in [1, 2]:
                    got = imflow.remove_small_holes(x, max_size=max_size, connectivity=connectivity,
                                                    backend=backend)
                    want = sk_remove_small_holes(x, max_size=max_size, connectivity=connectivity)
                    assert got.dtype == np.uint8
                    np.testing.assert_array_equal(
                        got, want.astype(np.uint8) * 255,
                        err_msg=f"{shape} {density} {max_size} {connectivity}")


@pytest.mark.parametrize("seed", SEEDS)
def test_remove_small_holes_3d_equals_skimage(backend: str, seed: int) -> None:
    for k, shape in enumerate(SHAPES_3D):
        for density in [0.5, 0.7]:
            x = random_mask(shape, density, seed * 100 + k + 50)
            for max_size in [1, 5, 64]:
                for connectivity in [1, 2, 3]:
                    got = imflow.remove_small_holes(x, max_size=max_size, connectivity=connectivity,
                                                    backend=backend, volume=True)
                    want = sk_remove_small_holes(x, max_size=max_size, connectivity=connectivity)
                    np.testing.assert_array_equal(
                        got, want.astype(np.uint8) * 255,
                        err_msg=f"{shape} {density} {max_size} {connectivity}")


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "int64"])
def test_remove_small_holes_reads_integers_as_a_mask(backend: str, dtype: str) -> None:
    rng = np.random.default_rng(7)
    x = ((rng.random((40, 50)) < 0.6) * rng.integers(1, 4, (40, 50))).astype(dtype)
    got = imflow.remove_small_holes(x, max_size=3, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage: "returned as a boolean array"
        want = sk_remove_small_holes(x, max_size=3)
    np.testing.assert_array_equal(got, want.astype(np.uint8) * 255)
    # skimage's default max_size is 64; area_threshold (deprecated) is exclusive.
    np.testing.assert_array_equal(imflow.remove_small_holes(x != 0, backend=backend),
                                  sk_remove_small_holes(x != 0).astype(np.uint8) * 255)
    np.testing.assert_array_equal(
        imflow.remove_small_holes(x != 0, area_threshold=4, backend=backend),
        sk_remove_small_holes(x != 0, max_size=3).astype(np.uint8) * 255)


TEST_HOLES_IMAGE = np.array(
    [
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 1, 0, 0, 1, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 0, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 1, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    ],
    bool,
)

FILLED_1 = np.array(
    [
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    ],
    bool,
)

FILLED_2 = np.array(
    [
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 1, 0, 0, 1, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 0, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    ],
    bool,
)


def test_skimage_remove_small_holes_cases(backend: str) -> None:
    def holes(x: Array, **kw: Any) -> Array:
        out: Array = imflow.remove_small_holes(x, backend=backend, **kw) != 0
        return out

    # test_one_connectivity_holes, test_two_connectivity_holes
    np.testing.assert_array_equal(holes(TEST_HOLES_IMAGE, max_size=2), FILLED_1)
    np.testing.assert_array_equal(holes(TEST_HOLES_IMAGE, max_size=2, connectivity=2), FILLED_2)
    # test_remove_small_holes_deprecated_area_threshold
    np.testing.assert_array_equal(holes(TEST_HOLES_IMAGE, max_size=3), FILLED_1)
    np.testing.assert_array_equal(holes(TEST_HOLES_IMAGE, area_threshold=3), FILLED_1)
    with pytest.raises(ValueError, match="not both"):
        holes(TEST_HOLES_IMAGE, area_threshold=3, max_size=3)
    # test_labeled_image_holes, test_uint_image_holes: the lower object labelled 2.
    labelled = TEST_HOLES_IMAGE.astype(int)
    labelled[5:] *= 2
    np.testing.assert_array_equal(holes(labelled, max_size=2), FILLED_1)
    np.testing.assert_array_equal(holes(labelled.astype(np.uint8), max_size=2), FILLED_1)
    # test_float_input_holes: skimage raises TypeError; imflow a ValueError.
    with pytest.raises(ValueError, match="threshold first"):
        imflow.remove_small_holes(np.random.RandomState(750711557).rand(5, 5), backend=backend)


def test_remove_small_holes_runs_in_apply(backend: str) -> None:
    x = random_mask((60, 70), 0.6, 11)
    spec = "remove_small_holes:max_size=5,connectivity=2"
    assert imflow.canonical_op(spec) == spec
    got = imflow.apply(x.astype(np.uint8), [spec], backend=backend)
    want = sk_remove_small_holes(x, max_size=5, connectivity=2)
    np.testing.assert_array_equal(got, want.astype(np.uint8) * 255)


# ---- expand_labels --------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_expand_labels_2d_equals_skimage(backend: str, seed: int) -> None:
    for k, shape in enumerate(SHAPES_2D):
        for density in [0.01, 0.05, 0.3]:
            x = random_labels(shape, density, seed * 100 + k)
            for distance in [0, 1, 1.5, 3, 10]:
                got = imflow.expand_labels(x, distance, backend=backend)
                want = sk_expand_labels(x, distance)
                assert got.dtype == x.dtype
                np.testing.assert_array_equal(got, want, err_msg=f"{shape} {density} {distance}")
        x = blob_labels((90, 110), seed)
        np.testing.assert_array_equal(imflow.expand_labels(x, 4, backend=backend),
                                      sk_expand_labels(x, 4))


@pytest.mark.parametrize("seed", SEEDS)
def test_expand_labels_3d_equals_skimage(backend: str, seed: int) -> None:
    for k, shape in enumerate(SHAPES_3D):
        for density in [0.01, 0.1]:
            x = random_labels(shape, density, seed * 100 + k + 50)
            for distance in [1, 2.5, 6]:
                got = imflow.expand_labels(x, distance, backend=backend, volume=True)
                want = sk_expand_labels(x, distance)
                np.testing.assert_array_equal(got, want, err_msg=f"{shape} {density} {distance}")
    x = blob_labels((20, 40, 50), seed)
    np.testing.assert_array_equal(imflow.expand_labels(x, 3, backend=backend, volume=True),
                                  sk_expand_labels(x, 3))


def test_expand_labels_ties_are_scipys(backend: str) -> None:
    """Dense grids of labels equally spaced: most background samples lie equally near
    several labels, so every one of them is a tie that scipy's feature transform
    breaks; imflow's choice is the same."""
    x = np.zeros((41, 53), np.uint16)
    x[::4, ::4] = np.arange(1, x[::4, ::4].size + 1).reshape(x[::4, ::4].shape)
    np.testing.assert_array_equal(imflow.expand_labels(x, 3, backend=backend), sk_expand_labels(x, 3))
    v = np.zeros((9, 13, 11), np.uint16)
    v[::3, ::3, ::3] = np.arange(1, v[::3, ::3, ::3].size + 1).reshape(v[::3, ::3, ::3].shape)
    np.testing.assert_array_equal(imflow.expand_labels(v, 2, backend=backend, volume=True),
                                  sk_expand_labels(v, 2))


@pytest.mark.parametrize("spacing", [0.5, (2.0, 1.0), (1.0, 0.3)])
def test_expand_labels_spacing_2d(backend: str, spacing: Any) -> None:
    x = random_labels((50, 60), 0.02, 5)
    got = imflow.expand_labels(x, 2.5, spacing, backend=backend)
    np.testing.assert_array_equal(got, sk_expand_labels(x, 2.5, spacing=spacing))


def test_expand_labels_keeps_dtypes(backend: str) -> None:
    x = random_labels((30, 40), 0.05, 9)
    for dtype in ["uint8", "int32", "int64", "uint32"]:
        got = imflow.expand_labels(x.astype(dtype), 2, backend=backend)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, sk_expand_labels(x.astype(dtype), 2))
    m = x != 0
    got = imflow.expand_labels(m, 2, backend=backend)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, sk_expand_labels(m, 2))


SAMPLE1D = np.array([0, 0, 4, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0])
SAMPLE1D_EXPANDED_3 = np.array([4, 4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
EDGECASE1D = np.array([0, 0, 4, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0])
EDGECASE1D_EXPANDED_3 = np.array([4, 4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])

SAMPLE2D = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
)

SAMPLE2D_EXPANDED_3 = np.array(
    [
        [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 1, 1, 0, 0, 2, 0],
        [1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2],
        [1, 1, 1, 1, 1, 1, 0, 2, 2, 2, 2],
        [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2],
        [1, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2],
        [1, 1, 1, 1, 1, 0, 0, 2, 2, 2, 2],
        [0, 0, 1, 0, 0, 0, 0, 2, 2, 2, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0],
    ]
)

SAMPLE2D_EXPANDED_1_5 = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2],
        [1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2],
        [0, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
)

EDGECASE2D = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0],
        [0, 0, 1, 1, 0, 2, 2, 0, 0, 0, 0],
        [0, 1, 1, 1, 0, 2, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
)

EDGECASE2D_EXPANDED_4 = np.array(
    [
        [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0],
        [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2],
        [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2],
        [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0],
        [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0],
    ]
)

SAMPLE3D = np.array(
    [
        [[0, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        [[0, 0, 0, 0], [0, 3, 3, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        [[0, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 5, 0]],
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 5, 0]],
    ]
)

SAMPLE3D_EXPANDED_2 = np.array(
    [
        [[3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3], [0, 3, 5, 0]],
        [[3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3], [0, 5, 5, 5]],
        [[3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 5, 5], [5, 5, 5, 5]],
        [[3, 3, 3, 0], [3, 3, 3, 0], [3, 3, 5, 5], [5, 5, 5, 5]],
    ]
)
SAMPLE3D_EXPAND_SPACING = np.array(
    [
        [[0, 3, 0, 0], [3, 3, 3, 0], [0, 3, 0, 0], [0, 0, 0, 0]],
        [[0, 3, 3, 0], [3, 3, 3, 3], [0, 3, 3, 0], [0, 0, 0, 0]],
        [[0, 3, 0, 0], [3, 3, 3, 0], [0, 3, 5, 0], [0, 5, 5, 5]],
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 5, 0], [0, 5, 5, 5]],
    ]
)

SAMPLE_EDGECASE_BEHAVIOUR = np.array([[0, 1, 0, 0], [2, 0, 0, 0], [0, 3, 0, 0]])


@pytest.mark.parametrize(
    "input_array, expected_output, expand_distance, spacing",
    [
        (SAMPLE1D, SAMPLE1D_EXPANDED_3, 3, 1),
        (SAMPLE2D, SAMPLE2D_EXPANDED_3, 3, 1),
        (SAMPLE2D, SAMPLE2D_EXPANDED_1_5, 1.5, 1),
        (EDGECASE1D, EDGECASE1D_EXPANDED_3, 3, 1),
        (EDGECASE2D, EDGECASE2D_EXPANDED_4, 4, 1),
        (SAMPLE3D, SAMPLE3D_EXPANDED_2, 2, 1),
        (SAMPLE3D, SAMPLE3D_EXPAND_SPACING, 1, [2, 1, 1]),
    ],
)
def test_skimage_expand_labels_cases(backend: str, input_array: Array, expected_output: Array,
                                     expand_distance: float, spacing: Any) -> None:
    """scikit-image's test_expand_labels; a 1-D array runs as one row."""
    x = input_array.reshape(1, -1) if input_array.ndim == 1 else input_array
    got = imflow.expand_labels(x, expand_distance, spacing, backend=backend, volume=x.ndim == 3)
    np.testing.assert_array_equal(got.reshape(expected_output.shape), expected_output)


def test_skimage_edge_case_behaviour(backend: str) -> None:
    """scikit-image's test_edge_case_behaviour: the transposed image expands otherwise,
    and each equals skimage's."""
    x = SAMPLE_EDGECASE_BEHAVIOUR
    expanded = imflow.expand_labels(x, 1, backend=backend)
    expanded_t = imflow.expand_labels(np.ascontiguousarray(x.T), 1, backend=backend)
    assert not np.all(expanded == expanded_t.T)
    np.testing.assert_array_equal(expanded, sk_expand_labels(x, 1))
    np.testing.assert_array_equal(expanded_t, sk_expand_labels(x.T, 1))


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("distance", range(6))
def test_skimage_binary_blobs(backend: str, ndim: int, distance: int) -> None:
    """scikit-image's test_binary_blobs invariants, and equality with skimage."""
    from skimage import data

    img = data.binary_blobs(length=64 if ndim == 2 else 32, blob_size_fraction=0.05, n_dim=ndim,
                            rng=distance)
    labels = sk_label(img)
    expanded = imflow.expand_labels(labels, distance=distance, backend=backend, volume=ndim == 3)
    original_mask = labels != 0
    np.testing.assert_array_equal(labels[original_mask], expanded[original_mask])
    expanded_only_mask = (expanded - labels).astype(bool)
    distance_map = ndi.distance_transform_edt(~original_mask)
    assert np.all(distance_map[expanded_only_mask] <= distance)
    assert np.all(distance_map[~expanded.astype(bool)] > distance)
    np.testing.assert_array_equal(expanded, sk_expand_labels(labels, distance))


def test_expand_labels_refuses_bad_parameters() -> None:
    x = random_labels((10, 10), 0.1, 1)
    with pytest.raises(ValueError, match="distance"):
        imflow.expand_labels(x, -1)
    with pytest.raises(ValueError, match="spacing"):
        imflow.expand_labels(x, 1, 0)
