"""scipy.ndimage's boundary modes on the filters that take them, against scipy (and
scikit-image's difference_of_gaussians) computed in the test, both backends: 2-D and
3-D, gray and RGB, uint8/uint16/float32, every mode one for all axes and per axis. The
median is identical (a rank picks a sample); the gaussians, box, LoG and gradient within
1e-4 of the result's range (imflow sums in f32 where scipy sums in f64; under constant
the padded part of a separable pass is cval times the weights' sum, see
src/ops/boundary.rs). Then scipy's own mode tests (ndimage/tests/test_filters.py
test_multiple_modes_*, test_extend*) with their expected values."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
import skimage.filters

import imflow

Array = npt.NDArray[Any]

MODES: list[tuple[Any, float]] = [
    ("nearest", 0.0),
    ("mirror", 0.0),
    ("wrap", 0.0),
    ("constant", 0.0),
    ("constant", 37.5),
    ("reflect", 0.0),
    ("grid-wrap", 0.0),
]


def close(got: Array, want: Array, what: str = "") -> None:
    span = float(np.ptp(want)) or 1.0
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    assert err <= 1e-4 * span, f"{what}: {err} of {span}"


def data(shape: tuple[int, ...], dtype: Any, seed: int) -> Array:
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return (rng.random(shape, dtype=np.float32) * 200 - 50).astype(np.float32)
    return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


def per_channel(f: Callable[[Array], Array], x: Array) -> Array:
    return np.stack([f(x[..., c]) for c in range(x.shape[-1])], axis=-1)


# (imflow call, scipy call) on float32 values; each takes the array, mode and cval.
FLOAT_FILTERS: dict[str, tuple[Callable[..., Array], Callable[..., Array]]] = {
    "gaussian": (
        lambda x, m, c, **k: imflow.gaussian(x, 1.5, mode=m, cval=c, **k),
        lambda x, m, c: ndi.gaussian_filter(x.astype(np.float64), 1.5, mode=m, cval=c),
    ),
    "box": (
        lambda x, m, c, **k: imflow.box(x, 4, mode=m, cval=c, **k),
        lambda x, m, c: ndi.uniform_filter(x.astype(np.float64), 4, mode=m, cval=c),
    ),
    "log": (
        lambda x, m, c, **k: imflow.gaussian_laplace(x, 1.2, mode=m, cval=c, **k),
        lambda x, m, c: ndi.gaussian_laplace(x.astype(np.float64), 1.2, mode=m, cval=c),
    ),
    "gradient": (
        lambda x, m, c, **k: imflow.gaussian_gradient_magnitude(x, 1.0, mode=m, cval=c, **k),
        lambda x, m, c: ndi.gaussian_gradient_magnitude(x.astype(np.float64), 1.0, mode=m, cval=c),
    ),
    "dog": (
        lambda x, m, c, **k: imflow.difference_of_gaussians(x, 1.0, 2.0, mode=m, cval=c, **k),
        lambda x, m, c: skimage.filters.difference_of_gaussians(
            x.astype(np.float64), 1.0, 2.0, mode=m, cval=c),
    ),
}


@pytest.mark.parametrize("name", list(FLOAT_FILTERS))
@pytest.mark.parametrize("mode,cval", MODES)
def test_float_filters_equal_scipy(name: str, mode: str, cval: float, backend: str) -> None:
    ours, theirs = FLOAT_FILTERS[name]
    for dtype in (np.uint8, np.uint16, np.float32):
        x = data((23, 31), dtype, 1)
        close(ours(x, mode, cval, backend=backend), theirs(x, mode, cval), f"{name} {dtype}")
    rgb = data((17, 14, 3), np.float32, 2)
    close(ours(rgb, mode, cval, backend=backend),
          per_channel(lambda c: theirs(c, mode, cval), rgb), f"{name} rgb")
    v = data((7, 12, 10), np.float32, 3)
    close(ours(v, mode, cval, backend=backend, volume=True), theirs(v, mode, cval), f"{name} 3-D")


@pytest.mark.parametrize("mode,cval", MODES + [("constant", 300.7), ("constant", -4.2)])
def test_median_is_identical(mode: str, cval: float, backend: str) -> None:
    # Out of a type's range, scipy casts cval to the type as C does (300.7 -> 44 in
    # uint8): imflow the same.
    for dtype in (np.uint8, np.uint16, np.float32):
        x = data((21, 26), dtype, 4)
        for size in (3, 4, (2, 5)):
            got = imflow.median(x, size, mode=mode, cval=cval, backend=backend)
            want = ndi.median_filter(x, size, mode=mode, cval=cval)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(got, want, err_msg=f"{dtype} {size}")
    rgb = data((15, 13, 3), np.uint8, 5)
    want = per_channel(lambda c: ndi.median_filter(c, 3, mode=mode, cval=cval), rgb)
    np.testing.assert_array_equal(imflow.median(rgb, 3, mode=mode, cval=cval, backend=backend), want)
    v = data((6, 11, 9), np.uint16, 6)
    np.testing.assert_array_equal(
        imflow.median(v, 3, mode=mode, cval=cval, backend=backend, volume=True),
        ndi.median_filter(v, 3, mode=mode, cval=cval))


def test_per_axis_modes_equal_scipy(backend: str) -> None:
    x = data((19, 24), np.float32, 7)
    for modes in (["reflect", "wrap"], ["constant", "nearest"], ["mirror", "constant"]):
        cval = 3.0 if "constant" in modes else 0.0
        close(imflow.gaussian(x, (1.0, 2.0), mode=modes, cval=cval, backend=backend),
              ndi.gaussian_filter(x.astype(np.float64), (1.0, 2.0), mode=modes, cval=cval), str(modes))
        close(imflow.difference_of_gaussians(x, 1.0, 2.0, mode=modes, cval=cval, backend=backend),
              skimage.filters.difference_of_gaussians(x.astype(np.float64), 1.0, 2.0, mode=modes,
                                                      cval=cval), str(modes))
        # scipy's median_filter refuses a mode per axis; so does imflow.
        with pytest.raises(ValueError, match="one mode for every axis"):
            imflow.median(x, 3, mode=modes, cval=cval, backend=backend)
    v = data((6, 9, 8), np.float32, 8)
    modes3 = ["wrap", "nearest", "mirror"]
    close(imflow.box(v, 3, mode=modes3, backend=backend, volume=True),
          ndi.uniform_filter(v.astype(np.float64), 3, mode=modes3))


def test_bad_modes_are_named() -> None:
    x = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="mode"):
        imflow.gaussian(x, 1.0, mode="edge")
    with pytest.raises(ValueError, match="cval"):
        imflow.box(x, 3, mode="wrap", cval=2.0)
    with pytest.raises(ValueError, match="mode"):
        imflow.median(x, 3, mode=["wrap", "wrap", "wrap"])
    with pytest.raises(TypeError, match="mode"):
        imflow.median(x, 3, mode=3)  # type: ignore[arg-type]


# scipy's ndimage/tests/test_filters.py, with its expected values. Its mode lists are
# per axis (reflect along rows, wrap along columns).
ARR = np.array([[1., 0., 0.], [1., 1., 0.], [0., 0., 0.]], np.float32)
MODES_RW = ["reflect", "wrap"]


def test_scipy_multiple_modes_uniform(backend: str) -> None:
    expected = np.array([[0.32, 0.40, 0.48], [0.20, 0.28, 0.32], [0.28, 0.32, 0.40]])
    np.testing.assert_almost_equal(imflow.box(ARR, 5, mode=MODES_RW, backend=backend), expected)


def test_scipy_multiple_modes_gaussian_laplace(backend: str) -> None:
    # scipy applies mode=[m0, m1] to the whole term differentiating along axis i (each
    # of its passes with m_i); imflow runs such modes pass by pass as scipy does.
    expected = np.array([[-0.28438687, 0.01559809, 0.19773499],
                         [-0.36630503, -0.20069774, 0.07483620],
                         [0.15849176, 0.18495566, 0.21934094]])
    np.testing.assert_almost_equal(
        imflow.gaussian_laplace(ARR, 1.0, mode=MODES_RW, backend=backend), expected)


def test_scipy_multiple_modes_gaussian_gradient_magnitude(backend: str) -> None:
    expected = np.array([[0.04928965, 0.09745625, 0.06405368],
                         [0.23056905, 0.14025305, 0.04550846],
                         [0.19894369, 0.14950060, 0.06796850]])
    np.testing.assert_almost_equal(
        imflow.gaussian_gradient_magnitude(ARR, 1.0, mode=MODES_RW, backend=backend), expected)


def test_per_axis_modes_of_derivatives_equal_scipy(backend: str) -> None:
    rng = np.random.default_rng(9)
    x = rng.random((23, 29), dtype=np.float32) * 50
    for modes in (["constant", "wrap"], ["nearest", "mirror"], ["mirror", "constant"]):
        cval = 4.0 if "constant" in modes else 0.0
        close(imflow.gaussian_laplace(x, 1.3, mode=modes, cval=cval, backend=backend),
              ndi.gaussian_laplace(x.astype(np.float64), 1.3, mode=modes, cval=cval), str(modes))
        close(imflow.gaussian_gradient_magnitude(x, 1.3, mode=modes, cval=cval, backend=backend),
              ndi.gaussian_gradient_magnitude(x.astype(np.float64), 1.3, mode=modes, cval=cval),
              str(modes))
        close(imflow.gaussian(x, 1.3, order=(1, 2), mode=modes, cval=cval, backend=backend),
              ndi.gaussian_filter(x.astype(np.float64), 1.3, order=(1, 2), mode=modes, cval=cval),
              str(modes))
    v = rng.random((6, 9, 8), dtype=np.float32)
    modes3 = ["wrap", "constant", "nearest"]
    close(imflow.gaussian_laplace(v, 1.0, mode=modes3, cval=2.0, backend=backend, volume=True),
          ndi.gaussian_laplace(v.astype(np.float64), 1.0, mode=modes3, cval=2.0))


def test_scipy_multiple_modes_sequentially(backend: str) -> None:
    # gaussian_filter(mode=[m0, m1]) == gaussian_filter1d along 0 with m0, then along 1
    # with m1 (and the same for uniform_filter).
    expected = ndi.gaussian_filter1d(ARR, 1, axis=0, mode="reflect")
    expected = ndi.gaussian_filter1d(expected, 1, axis=1, mode="wrap")
    close(imflow.gaussian(ARR, 1.0, mode=MODES_RW, backend=backend), expected)
    expected = ndi.uniform_filter1d(ARR, 5, axis=0, mode="reflect")
    expected = ndi.uniform_filter1d(expected, 5, axis=1, mode="wrap")
    close(imflow.box(ARR, 5, mode=MODES_RW, backend=backend), expected)


# test_extend01..04: a 1-D correlation with a one-hot kernel reads one sample a fixed
# distance away, so scipy's expected values spell out each mode's extension of
# [1, 2, 3]: extend01 gives ext[i-1], extend02 (8 taps) ext[i-4], extend03 ext[i+1],
# extend04 (9 taps) ext[i+4]. imflow has no correlate; a box and a median of 9 over the
# row read ext[i-4..i+4], which these values cover, so both are checked against the
# extension assembled from scipy's expected values.
EXTEND = {  # mode: (extend01, extend02, extend03, extend04)
    "nearest": ([1, 1, 2], [1, 1, 1], [2, 3, 3], [3, 3, 3]),
    "wrap": ([3, 1, 2], [3, 1, 2], [2, 3, 1], [2, 3, 1]),
    "reflect": ([1, 1, 2], [3, 3, 2], [2, 3, 3], [2, 1, 1]),
    "mirror": ([2, 1, 2], [1, 2, 3], [2, 3, 2], [1, 2, 3]),
    "constant": ([0, 1, 2], [0, 0, 0], [2, 3, 0], [0, 0, 0]),
}


@pytest.mark.parametrize("mode", list(EXTEND))
def test_scipy_extend(mode: str, backend: str) -> None:
    e01, e02, e03, e04 = EXTEND[mode]
    ext: dict[int, float] = {}
    for values, shift in ((e01, -1), (e02, -4), (e03, 1), (e04, 4)):
        for i, v in enumerate(values):
            assert ext.setdefault(i + shift, v) == v, "scipy's cases agree"
    assert [ext[i] for i in range(3)] == [1, 2, 3]
    windows = [[ext[j] for j in range(i - 4, i + 5)] for i in range(3)]
    row = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(imflow.box(row, (1, 9), mode=mode, backend=backend)[0],
                               [np.mean(w) for w in windows], rtol=1e-6)
    np.testing.assert_array_equal(imflow.median(row, (1, 9), mode=mode, backend=backend)[0],
                                  [np.median(w) for w in windows])
