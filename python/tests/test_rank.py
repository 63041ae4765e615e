"""Rank filters against scipy and scikit-image, computed in the test, both backends.

The median equals `scipy.ndimage.median_filter` (odd, even and per-axis sizes, 2-D and
3-D, u8/u16/f32, RGB per channel); each morphology op equals scikit-image 0.26's for
disk, square and cross footprints of radius/size 1-15 in 2-D, and ball, cube, cross and
disk-per-slice footprints in 3-D. Then the peers' own test cases, transcribed with their
expected values: scipy `ndimage/tests/test_filters.py` (test_rank01/02/04/08) and
scikit-image `morphology/tests/test_gray.py` (test_float, test_uint16, the asymmetric
footprints, the 3-D fallbacks and the ndimage equivalence).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
import skimage.morphology as morph
from skimage.util import img_as_uint

import imflow

Array = npt.NDArray[Any]

SKIMAGE: Dict[str, Callable[..., Array]] = {
    "erosion": morph.erosion,
    "dilation": morph.dilation,
    "opening": morph.opening,
    "closing": morph.closing,
    "white_tophat": morph.white_tophat,
    "black_tophat": morph.black_tophat,
}


def image(shape: Tuple[int, ...], dtype: str, seed: int = 0) -> Array:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return (rng.random(shape, dtype=np.float32) * 1000 - 100).astype(np.float32)
    top = np.iinfo(dtype).max
    return rng.integers(0, top, shape, endpoint=True).astype(dtype)


def cross(radius: int, ndim: int) -> Array:
    """Arms of `radius` along every axis through the centre."""
    n = 2 * radius + 1
    fp = np.zeros((n,) * ndim, np.uint8)
    for axis in range(ndim):
        index = [radius] * ndim
        index[axis] = slice(None)  # type: ignore[call-overload]
        fp[tuple(index)] = 1
    return fp


def footprint(kind: str, n: int, ndim: int) -> Array:
    fp: Array
    if kind == "disk":
        fp = morph.disk(n)
    elif kind == "ball":
        fp = morph.ball(n)
    elif kind == "square":
        fp = morph.footprint_rectangle((n, n))
    elif kind == "cube":
        fp = morph.footprint_rectangle((n, n, n))
    else:
        fp = cross(n, ndim)
    return fp[None] if fp.ndim < ndim else fp


def call(name: str, x: Array, kind: str, n: int, backend: str, **kw: Any) -> Array:
    extent = {"size": n} if kind in ("square", "cube") else {"radius": n}
    out: Array = getattr(imflow, name)(x, kind, backend=backend, **extent, **kw)
    return out


# --- median -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_median_equals_scipy_2d(dtype: str, backend: str) -> None:
    x = image((37, 53), dtype, 1)
    sizes: List[Union[int, Sequence[int]]] = [1, 2, 3, 4, 5, 7, 9, (3, 5), (4, 1), (1, 6)]
    for size in sizes:
        got = imflow.median(x, size, backend=backend)
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, ndi.median_filter(x, size), err_msg=f"size {size}")


def test_median_rgb_is_per_channel(backend: str) -> None:
    x = image((29, 31, 3), "uint8", 2)
    np.testing.assert_array_equal(imflow.median(x, 5, backend=backend), ndi.median_filter(x, (5, 5, 1)))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_median_equals_scipy_3d(dtype: str, backend: str) -> None:
    x = image((9, 21, 17), dtype, 3)
    sizes: List[Union[int, Sequence[int]]] = [3, 2, (1, 3, 3), (3, 1, 5), (5, 3, 3)]
    for size in sizes:
        got = imflow.median(x, size, volume=True, backend=backend)
        np.testing.assert_array_equal(got, ndi.median_filter(x, size), err_msg=f"size {size}")


def test_median_edges_and_ties(backend: str) -> None:
    # Windows larger than the image reflect more than once; plateaus tie everywhere.
    for x in [image((3, 2), "uint16", 4), np.full((6, 5), 7, np.uint8), image((1, 40), "float32", 5)]:
        for size in [3, 5, 8]:
            np.testing.assert_array_equal(imflow.median(x, size, backend=backend), ndi.median_filter(x, size))


def test_median_limits() -> None:
    with pytest.raises(ValueError, match="exceeds the limit of 729"):
        imflow.median(np.zeros((40, 40), np.uint8), 29)
    with pytest.raises(ValueError, match="size"):
        imflow.median(np.zeros((40, 40), np.uint8), 0)


def test_scipy_rank_cases(backend: str) -> None:
    # scipy ndimage/tests/test_filters.py, 1-D arrays as one row.
    a = np.array([[1, 2, 3, 4, 5]], np.float32)
    np.testing.assert_array_equal(imflow.median(a, (1, 2), backend=backend), a)  # test_rank01
    np.testing.assert_array_equal(imflow.median(a, (1, 3), backend=backend), a)  # test_rank02
    b = np.array([[3, 2, 5, 1, 4]], np.float32)
    np.testing.assert_array_equal(imflow.median(b, (1, 3), backend=backend), [[3, 3, 2, 4, 4]])  # test_rank04
    c = np.array([[3, 2, 5, 1, 4], [5, 8, 3, 7, 1], [5, 6, 9, 3, 5]], np.float32)
    want = [[3, 3, 2, 4, 4], [5, 5, 5, 4, 4], [5, 6, 7, 5, 5]]
    np.testing.assert_array_equal(imflow.median(c, (2, 3), backend=backend), want)  # test_rank08


# --- morphology ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SKIMAGE))
@pytest.mark.parametrize("kind", ["disk", "square", "cross"])
def test_morphology_equals_skimage_2d_every_radius(name: str, kind: str, backend: str) -> None:
    x = image((41, 47), "uint8", 6)
    for n in range(1, 16):
        want = SKIMAGE[name](x, footprint(kind, n, 2))
        got = call(name, x, kind, n, backend)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want, err_msg=f"{name} {kind} {n}")


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
@pytest.mark.parametrize("name", list(SKIMAGE))
def test_morphology_other_dtypes(dtype: str, name: str, backend: str) -> None:
    x = image((33, 40), dtype, 7)
    for kind, n in [("disk", 1), ("disk", 6), ("square", 2), ("square", 5), ("cross", 3)]:
        want = SKIMAGE[name](x, footprint(kind, n, 2))
        np.testing.assert_array_equal(call(name, x, kind, n, backend), want, err_msg=f"{name} {kind} {n}")


def test_morphology_rgb_is_per_channel(backend: str) -> None:
    x = image((25, 27, 3), "uint16", 8)
    for name, f in SKIMAGE.items():
        want = np.stack([f(x[..., c], morph.disk(2)) for c in range(3)], axis=-1)
        np.testing.assert_array_equal(call(name, x, "disk", 2, backend), want, err_msg=name)


@pytest.mark.parametrize("name", list(SKIMAGE))
def test_morphology_equals_skimage_3d(name: str, backend: str) -> None:
    for dtype in ["uint8", "float32"]:
        x = image((10, 19, 23), dtype, 9)
        for kind, n in [("ball", 1), ("ball", 2), ("ball", 4), ("cube", 2), ("cube", 3), ("cross", 2), ("disk", 3),
                        ("square", 4)]:
            want = SKIMAGE[name](x, footprint(kind, n, 3))
            got = call(name, x, kind, n, backend, volume=True)
            np.testing.assert_array_equal(got, want, err_msg=f"{name} {dtype} {kind} {n}")


def test_masks_open_and_close_like_skimage(backend: str) -> None:
    rng = np.random.default_rng(10)
    mask = rng.random((64, 64)) > 0.6
    u8 = mask.astype(np.uint8) * 255
    for name in ["opening", "closing", "white_tophat"]:
        want = SKIMAGE[name](mask, morph.disk(3))
        got = call(name, mask, "disk", 3, backend)
        assert got.dtype == bool
        np.testing.assert_array_equal(got, want, err_msg=name)
        np.testing.assert_array_equal(call(name, u8, "disk", 3, backend), want.astype(np.uint8) * 255)


def test_footprint_errors() -> None:
    x = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="unknown footprint `hexagon`"):
        imflow.erosion(x, "hexagon", 2)
    with pytest.raises(ValueError, match="radius"):
        imflow.dilation(x, "disk")
    with pytest.raises(ValueError, match="size"):
        imflow.opening(x, "square", radius=3)


# scikit-image morphology/tests/test_gray.py: the float image and its results with the
# default footprint (the cross of radius 1).
IM = np.array([[0.55, 0.72, 0.6, 0.54, 0.42], [0.65, 0.44, 0.89, 0.96, 0.38], [0.79, 0.53, 0.57, 0.93, 0.07],
               [0.09, 0.02, 0.83, 0.78, 0.87], [0.98, 0.8, 0.46, 0.78, 0.12]])
ERODED = np.array([[0.55, 0.44, 0.54, 0.42, 0.38], [0.44, 0.44, 0.44, 0.38, 0.07], [0.09, 0.02, 0.53, 0.07, 0.07],
                   [0.02, 0.02, 0.02, 0.78, 0.07], [0.09, 0.02, 0.46, 0.12, 0.12]])
DILATED = np.array([[0.72, 0.72, 0.89, 0.96, 0.54], [0.79, 0.89, 0.96, 0.96, 0.96], [0.79, 0.79, 0.93, 0.96, 0.93],
                    [0.98, 0.83, 0.83, 0.93, 0.87], [0.98, 0.98, 0.83, 0.78, 0.87]])
OPENED = np.array([[0.55, 0.55, 0.54, 0.54, 0.42], [0.55, 0.44, 0.54, 0.44, 0.38], [0.44, 0.53, 0.53, 0.78, 0.07],
                   [0.09, 0.02, 0.78, 0.78, 0.78], [0.09, 0.46, 0.46, 0.78, 0.12]])
CLOSED = np.array([[0.72, 0.72, 0.72, 0.54, 0.54], [0.72, 0.72, 0.89, 0.96, 0.54], [0.79, 0.79, 0.79, 0.93, 0.87],
                   [0.79, 0.79, 0.83, 0.78, 0.87], [0.98, 0.83, 0.78, 0.78, 0.78]])


def test_skimage_float(backend: str) -> None:
    x = IM.astype(np.float32)
    for name, want in [("erosion", ERODED), ("dilation", DILATED), ("opening", OPENED), ("closing", CLOSED)]:
        np.testing.assert_array_equal(call(name, x, "cross", 1, backend), want.astype(np.float32), err_msg=name)


def test_skimage_uint16(backend: str) -> None:
    im16 = img_as_uint(IM)
    for name, want in [("erosion", ERODED), ("dilation", DILATED), ("opening", OPENED), ("closing", CLOSED)]:
        np.testing.assert_array_equal(call(name, im16, "cross", 1, backend), img_as_uint(want), err_msg=name)


def test_skimage_asymmetric_footprints(backend: str) -> None:
    black = 255 * np.ones((6, 6), dtype=np.uint8)
    black[2, 2] = 0
    white = 255 - black

    def f(name: str, x: Array) -> Array:
        return call(name, x, "square", 2, backend)

    np.testing.assert_array_equal(f("erosion", black), 255 - f("dilation", white))
    np.testing.assert_array_equal(f("opening", black), black)
    np.testing.assert_array_equal(f("closing", white), white)
    assert np.all(f("opening", white) == 0)
    assert np.all(f("closing", black) == 255)
    np.testing.assert_array_equal(f("white_tophat", white), white)
    np.testing.assert_array_equal(f("black_tophat", black), white)
    assert np.all(f("white_tophat", black) == 0)
    assert np.all(f("black_tophat", white) == 0)


def test_skimage_default_footprint_image(backend: str) -> None:
    image_ = np.zeros((13, 10), np.uint8)
    image_[2:11, 2:8] = 1
    image_[5:8, 5:7] = 0
    for name, f in SKIMAGE.items():
        np.testing.assert_array_equal(call(name, image_, "cross", 1, backend), f(image_, morph.diamond(1)),
                                      err_msg=name)


def test_skimage_3d_fallbacks(backend: str) -> None:
    cube = np.zeros((7, 7, 7), bool)
    cube[2:-2, 2:-2, 2:-2] = 1
    want = np.zeros((7, 7, 7), bool)
    want[2:5, 2:5, 2:5] = ndi.generate_binary_structure(3, 1)
    got = call("opening", cube, "cross", 1, backend, volume=True)
    np.testing.assert_array_equal(got, want)  # test_3d_fallback_default_footprint
    for name in ["closing", "opening"]:  # test_3d_fallback_cube_footprint
        got = call(name, cube, "cube", 3, backend, volume=True)
        np.testing.assert_array_equal(got, cube, err_msg=name)
    blob = np.zeros((7, 7, 7), dtype=bool)
    blob[2, 2:4, 2:4] = 1
    blob[3, 2:5, 2:5] = 1
    blob[4, 3:5, 3:5] = 1
    s = ndi.generate_binary_structure(3, 1)
    want_w = ndi.white_tophat(blob.view(np.uint8), footprint=s)
    got = call("white_tophat", blob, "cross", 1, backend, volume=True)
    np.testing.assert_array_equal(got, want_w.astype(bool))
    want_b = ndi.black_tophat((~blob).view(np.uint8), footprint=s)
    got = call("black_tophat", ~blob, "cross", 1, backend, volume=True)
    np.testing.assert_array_equal(got, want_b.astype(bool))


def test_skimage_2d_ndimage_equivalence(backend: str) -> None:
    x = np.zeros((9, 9), np.uint8)
    x[2:-2, 2:-2] = 128
    x[3:-3, 3:-3] = 196
    x[4, 4] = 255
    s = ndi.generate_binary_structure(2, 1)
    np.testing.assert_array_equal(call("opening", x, "cross", 1, backend), ndi.grey_opening(x, footprint=s))
    np.testing.assert_array_equal(call("closing", x, "cross", 1, backend), ndi.grey_closing(x, footprint=s))


def test_apply_and_canonical_specs() -> None:
    x = image((20, 24), "uint16", 11)
    np.testing.assert_array_equal(imflow.apply(x, ["erode:footprint=disk,radius=2"]), morph.erosion(x, morph.disk(2)))
    assert imflow.canonical_op("erode:radius=2") == "erode:footprint=disk,radius=2"
    assert imflow.canonical_op("median:size=3") == "median:size=3"
