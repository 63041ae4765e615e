"""The difference of gaussians against scikit-image, the Laplacian of a gaussian and
the gradient magnitude against scipy, computed in the test, both backends:
2-D and 3-D, gray and RGB, float32 and uint16 (scaled as img_as_float scales it), within
1e-4 of the result's range (imflow's gaussians sum in f32 where scipy sums in f64)."""
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
import skimage.filters

import imflow

Array = npt.NDArray[Any]


def close(got: Array, want: Array) -> None:
    span = float(np.ptp(want)) or 1.0
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    assert err <= 1e-4 * span, f"{err} of {span}"


@pytest.mark.parametrize("low,high", [(1.0, None), (0.5, 3.0), (2.0, 2.0)])
def test_float_2d_and_rgb(low: float, high: Any, backend: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((45, 61), dtype=np.float32) * 100
    got = imflow.difference_of_gaussians(x, low, high, backend=backend)
    assert got.dtype == np.float32
    close(got, skimage.filters.difference_of_gaussians(x, low, high, mode="reflect"))
    rgb = rng.random((30, 25, 3), dtype=np.float32)
    want = skimage.filters.difference_of_gaussians(rgb, low, high, mode="reflect", channel_axis=-1)
    close(imflow.difference_of_gaussians(rgb, low, high, backend=backend), want)


def test_volume_and_integers(backend: str) -> None:
    rng = np.random.default_rng(1)
    v = rng.random((9, 20, 17), dtype=np.float32)
    close(imflow.difference_of_gaussians(v, 1.0, 2.0, volume=True, backend=backend),
          skimage.filters.difference_of_gaussians(v, 1.0, 2.0, mode="reflect"))
    u = rng.integers(0, 65535, (40, 33), endpoint=True).astype(np.uint16)
    want = skimage.filters.difference_of_gaussians(u, 1.5, mode="reflect") * 65535
    close(imflow.difference_of_gaussians(u, 1.5, backend=backend), want)


def test_errors() -> None:
    x = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="at least low"):
        imflow.difference_of_gaussians(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="low"):
        imflow.difference_of_gaussians(x, 0.0)


@pytest.mark.parametrize("sigma,truncate", [(1.0, 4.0), (2.5, 4.0), (0.7, 3.0)])
def test_laplace_equals_scipy(sigma: float, truncate: float, backend: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.random((50, 43), dtype=np.float32) * 100
    got = imflow.gaussian_laplace(x, sigma, truncate=truncate, backend=backend)
    assert got.dtype == np.float32
    close(got, ndi.gaussian_laplace(x, sigma, truncate=truncate))
    u = rng.integers(0, 255, (31, 40), endpoint=True).astype(np.uint8)
    close(imflow.gaussian_laplace(u, sigma, backend=backend),
          ndi.gaussian_laplace(u.astype(np.float32), sigma))
    rgb = rng.random((20, 22, 3), dtype=np.float32)
    want = np.stack([ndi.gaussian_laplace(rgb[..., c], sigma) for c in range(3)], axis=-1)
    close(imflow.gaussian_laplace(rgb, sigma, backend=backend), want)
    v = rng.random((8, 19, 21), dtype=np.float32)
    close(imflow.gaussian_laplace(v, sigma, volume=True, backend=backend), ndi.gaussian_laplace(v, sigma))
    with pytest.raises(ValueError, match="sigma"):
        imflow.gaussian_laplace(x, -1.0)


@pytest.mark.parametrize("sigma,truncate", [(1.0, 4.0), (2.5, 4.0), (0.7, 3.0)])
def test_gradient_magnitude_equals_scipy(sigma: float, truncate: float, backend: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.random((50, 43), dtype=np.float32) * 100
    got = imflow.gaussian_gradient_magnitude(x, sigma, truncate=truncate, backend=backend)
    assert got.dtype == np.float32
    close(got, ndi.gaussian_gradient_magnitude(x, sigma, truncate=truncate))
    u = rng.integers(0, 65535, (31, 40), endpoint=True).astype(np.uint16)
    close(imflow.gaussian_gradient_magnitude(u, sigma, backend=backend),
          ndi.gaussian_gradient_magnitude(u.astype(np.float32), sigma))
    rgb = rng.random((20, 22, 3), dtype=np.float32)
    want = np.stack([ndi.gaussian_gradient_magnitude(rgb[..., c], sigma) for c in range(3)], axis=-1)
    close(imflow.gaussian_gradient_magnitude(rgb, sigma, backend=backend), want)
    v = rng.random((8, 19, 21), dtype=np.float32)
    close(imflow.gaussian_gradient_magnitude(v, sigma, volume=True, backend=backend),
          ndi.gaussian_gradient_magnitude(v, sigma))


@pytest.mark.parametrize("order", [0, 1, 2, 3, (0, 1), (2, 1), (1, 3)])
def test_gaussian_order_equals_scipy(order: Any, backend: str) -> None:
    # scipy.ndimage.gaussian_filter(x, sigma, order): derivatives of the gaussian, per
    # axis in the array's order.
    rng = np.random.default_rng(4)
    x = rng.random((37, 42), dtype=np.float32) * 100
    for sigma in (1.5, (1.0, 2.5)):
        got = imflow.gaussian(x, sigma, order=order, backend=backend)
        assert got.dtype == np.float32
        close(got, ndi.gaussian_filter(x.astype(np.float64), sigma, order=order))
    rgb = rng.random((20, 17, 3), dtype=np.float32)
    want = np.stack([ndi.gaussian_filter(rgb[..., c].astype(np.float64), 1.2, order=order)
                     for c in range(3)], axis=-1)
    close(imflow.gaussian(rgb, 1.2, order=order, backend=backend), want)
    v = rng.random((7, 15, 13), dtype=np.float32)
    vorder = order if isinstance(order, int) else (1, *order)
    close(imflow.gaussian(v, 1.0, order=vorder, volume=True, backend=backend),
          ndi.gaussian_filter(v.astype(np.float64), 1.0, order=vorder))
    close(imflow.gaussian(x, 1.5, order=order, mode="nearest", backend=backend),
          ndi.gaussian_filter(x.astype(np.float64), 1.5, order=order, mode="nearest"))


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_scipy_gaussian_kernel1d(order: int, backend: str) -> None:
    # scipy's test_gaussian_kernel1d: _gaussian_kernel1d(2, order, 10) against its
    # closed forms. A row of 21 with one 1 in the middle filtered along x (truncate 5:
    # radius 10, no tap past the edge) gives that kernel back.
    radius, sigma = 10, 2.0
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi_x = np.exp(-0.5 * x * x / sigma2)
    phi_x /= phi_x.sum()
    expected = {
        0: phi_x,
        1: -phi_x * x / sigma2,
        2: phi_x * (x * x / sigma2 - 1) / sigma2,
        3: phi_x * (3 - x * x / sigma2) * x / (sigma2 * sigma2),
    }[order]
    row = np.zeros((1, 2 * radius + 1), np.float32)
    row[0, radius] = 1
    got = imflow.gaussian(row, (0.0, sigma), order=(0, order), truncate=5.0, backend=backend)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_scipy_orders_gauss(backend: str) -> None:
    # scipy's test_orders_gauss: a zero array stays 0 at any order; a negative order is
    # refused.
    z = np.zeros((1, 1), np.float32)
    np.testing.assert_array_equal(imflow.gaussian(z, 1.0, order=0, backend=backend), [[0.0]])
    np.testing.assert_array_equal(imflow.gaussian(z, 1.0, order=3, backend=backend), [[0.0]])
    with pytest.raises(ValueError, match="order"):
        imflow.gaussian(z, 1.0, order=-1)
    with pytest.raises(ValueError, match="order"):
        imflow.gaussian(z, 1.0, order=9)
