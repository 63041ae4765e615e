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
