"""Automatic and local thresholds against scikit-image 0.26, computed in the test, both
backends.

Each method's value is skimage's: exactly on integer data (one bin per level, as
skimage counts them) and on float data where skimage bins (256 bins) equal or within
one bin; Li and the mean on float data within a few float32 ulps (skimage sums float32
pairwise and numpy's float32 log differs by CPU; imflow sums exactly). Masks are
`x > t`. Then scikit-image's own cases from `filters/tests/test_thresholding.py`,
transcribed with their expected values.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

import numpy as np
import numpy.typing as npt
import pytest
import skimage.filters as filters
from skimage import data, util

import imflow

Array = npt.NDArray[Any]

SKIMAGE: Dict[str, Callable[..., Any]] = {
    "li": filters.threshold_li,
    "triangle": filters.threshold_triangle,
    "yen": filters.threshold_yen,
    "isodata": filters.threshold_isodata,
    "mean": filters.threshold_mean,
    "minimum": filters.threshold_minimum,
}
METHODS = list(SKIMAGE)


def bimodal(shape: tuple[int, ...], dtype: str, seed: int = 0) -> Array:
    """Blobs on a background with noise: two classes, as thresholds are meant for."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 6 * np.pi, n) for n in shape], indexing="ij")
    blobs = np.prod([np.sin(g + k) for k, g in enumerate(grids)], axis=0) > 0.2
    x = np.where(blobs, 0.7, 0.25) + rng.normal(0, 0.08, shape)
    x = np.clip(x, 0, 1)
    if dtype == "float32":
        return (x * 900 - 50).astype(np.float32)
    return (x * np.iinfo(dtype).max * 0.8).astype(dtype)


def narrow_for_minimum(method: str, x: Array) -> Array:
    """uint16 levels over a few hundred bins for `minimum`: skimage smooths a histogram of
    one bin per level up to 10000 times in a Python loop, minutes over 50000 levels."""
    if method == "minimum" and x.dtype == np.uint16:
        return (x // 200 + 1000).astype(np.uint16)
    return x


def float_bin(x: Array) -> float:
    return float(x.max() - x.min()) / 256


def check(method: str, x: Array, backend: str, volume: bool = False) -> float:
    """imflow's value equals skimage's (see assert_value); where skimage fails (minimum
    with no two peaks), imflow fails too, by name."""
    try:
        want = SKIMAGE[method](x)
    except RuntimeError:
        with pytest.raises(imflow.Error, match="two peaks"):
            imflow.threshold_value(x, method, backend=backend, volume=volume)
        return float("nan")
    got = imflow.threshold_value(x, method, backend=backend, volume=volume)
    assert_value(method, x, got, want)
    return got


def assert_value(method: str, x: Array, got: float, want: float) -> None:
    if x.dtype.kind in "iu":
        assert got == want, f"{method}: {got} != skimage's {want}"
    elif method in ("li", "mean"):
        assert got == pytest.approx(float(want), rel=2e-6, abs=1e-6 * float_bin(x) * 256)
    else:
        # skimage bins float data 256 ways; imflow's bins are numpy's, so this is equal
        # unless two bins tie to the last float32 bit.
        assert abs(got - float(want)) <= float_bin(x) * 1.0001, f"{method}: {got} vs {want}"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_value_and_mask_equal_skimage_2d(method: str, dtype: str, backend: str) -> None:
    x = narrow_for_minimum(method, bimodal((96, 80), dtype, seed=3))
    got = check(method, x, backend)
    if np.isnan(got):
        return
    mask = imflow.threshold(x, method, backend=backend)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, np.where(x > got, 255, 0).astype(np.uint8))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_value_of_a_volume_and_of_rgb(method: str, dtype: str, backend: str) -> None:
    check(method, narrow_for_minimum(method, bimodal((12, 40, 36), dtype, seed=5)), backend, volume=True)
    # One value of all channels together, as skimage computes on the array.
    check(method, narrow_for_minimum(method, bimodal((30, 28, 3), dtype, seed=6)), backend)


@pytest.mark.parametrize("method", ["li", "mean"])
def test_float_li_and_mean_follow_skimages_float32_arithmetic(method: str, backend: str) -> None:
    # A gaussian's output, the usual input of Li in a pipeline.
    x = imflow.gaussian(bimodal((128, 128), "uint16", seed=9), 2, backend="cpu")
    assert x.dtype == np.float32
    want = float(SKIMAGE[method](x))
    got = imflow.threshold_value(x, method, backend=backend)
    assert got == pytest.approx(want, rel=2e-6)
    between = np.count_nonzero((x > min(got, want)) & (x <= max(got, want)))
    mask = imflow.threshold(x, method, backend=backend) > 0
    assert np.count_nonzero(mask != (x > want)) == between <= 2


def test_backends_agree_bit_for_bit() -> None:
    if "gpu" not in [b for b in ("cpu", "gpu") if imflow.device(b)[1] is None]:
        pytest.skip("no GPU adapter")
    for dtype in ["uint8", "uint16", "float32"]:
        x = bimodal((70, 90), dtype, seed=11)
        for method in METHODS:
            try:
                cpu = imflow.threshold_value(x, method, backend="cpu")
            except imflow.Error as e:
                with pytest.raises(imflow.Error, match=str(e)[:20]):
                    imflow.threshold_value(x, method, backend="gpu")
                continue
            assert cpu == imflow.threshold_value(x, method, backend="gpu"), (method, dtype)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("block,offset", [(3, 0.0), (11, 2.5), (51, -1.0)])
def test_local_equals_skimage(dtype: str, block: int, offset: float, backend: str) -> None:
    x = bimodal((64, 72), dtype, seed=block)
    want = x > filters.threshold_local(x, block, method="gaussian", offset=offset)
    got = imflow.threshold(x, "local", block=block, offset=offset, backend=backend) > 0
    # skimage blurs integer data in float64, imflow in float32 (as every gaussian here):
    # only samples within float32 rounding of their local mean may differ.
    local = filters.threshold_local(x, block, method="gaussian", offset=offset)
    close = np.abs(x.astype(np.float64) - local) <= 1e-4 * float(np.ptp(x))
    assert np.array_equal(got[~close], want[~close])
    assert np.count_nonzero(got != want) <= np.count_nonzero(close)


def test_local_3d_and_rgb(backend: str) -> None:
    vol = bimodal((10, 30, 34), "float32", seed=2)
    want = vol > filters.threshold_local(vol, 7, method="gaussian")
    got = imflow.threshold(vol, "local", block=7, backend=backend, volume=True) > 0
    assert np.count_nonzero(got != want) <= vol.size * 1e-4
    rgb = bimodal((30, 28, 3), "float32", seed=3)
    # Colour images: each channel on its own (skimage's would blur across channels).
    got = imflow.threshold(rgb, "local", block=5, backend=backend) > 0
    for c in range(3):
        want = rgb[..., c] > filters.threshold_local(rgb[..., c], 5, method="gaussian")
        assert np.count_nonzero(got[..., c] != want) <= rgb[..., c].size * 1e-4


def test_bad_parameters_are_named() -> None:
    x = bimodal((20, 20), "uint8")
    with pytest.raises(ValueError, match="block"):
        imflow.threshold(x, "local", block=4)
    with pytest.raises(ValueError, match="block"):
        imflow.threshold(x, "local")
    with pytest.raises(ValueError, match="a method .*got 'bogus'"):
        imflow.threshold(x, "bogus")
    with pytest.raises(ValueError, match="block"):
        imflow.threshold(x, "li", block=3)


# --- scikit-image's filters/tests/test_thresholding.py, transcribed ---------------------


def value_on(backend: str) -> Callable[[Array, str], float]:
    def value(x: Array, method: str) -> float:
        return imflow.threshold_value(x, method, backend=backend)

    return value


SIMPLE = np.array(
    [
        [0, 0, 1, 3, 5],
        [0, 1, 4, 3, 4],
        [1, 2, 5, 4, 1],
        [2, 4, 5, 2, 1],
        [4, 5, 1, 0, 0],
    ],
    dtype=np.int16,  # skimage's is int64, which imflow reads as int32, refused by methods
)


def test_simple_image(backend: str) -> None:
    v = value_on(backend)
    with pytest.raises(imflow.Error, match="two peaks"):
        v(SIMPLE, "minimum")
    assert 2 < v(SIMPLE, "li") < 3
    assert 0 < v(SIMPLE - 2, "li") < 1
    assert 2 < v(SIMPLE.astype(np.float32), "li") < 3
    assert v(np.ones((10, 10), np.float32), "li") == 1.0
    assert v(SIMPLE, "yen") == 2
    assert v(SIMPLE - 2, "yen") == 0
    assert 2 <= v(SIMPLE.astype(np.float32), "yen") < 3
    assert v(np.arange(256, dtype=np.uint16).reshape(16, 16), "yen") == 127
    binary = np.zeros([2, 256], dtype=np.uint8)
    binary[0] = 255
    assert v(binary, "yen") < 1
    assert v(np.zeros((5, 5), np.uint8), "yen") == 0
    assert v(np.full((5, 5), 255, np.uint8), "yen") == 255
    assert v(SIMPLE, "isodata") == 2
    assert v(np.zeros((5, 5), np.uint8), "isodata") == 0
    assert -63.8 < v(np.linspace(-127, 0, 256, dtype=np.float32).reshape(16, 16), "isodata") < -63.6
    img = np.zeros((2, 6), np.float32)
    img[:, 2:4] = 1
    img[:, 4:] = 2
    assert v(img, "mean") == 1.0


def test_sample_images(backend: str) -> None:
    v = value_on(backend)
    camera = util.img_as_ubyte(data.camera())
    coins = util.img_as_ubyte(data.coins())
    moon = util.img_as_ubyte(data.moon())
    astronaut = util.img_as_ubyte(data.astronaut())
    assert 78 < v(camera, "li") < 79
    assert 94 < v(coins, "li") < 95
    assert 94 / 255 < v(util.img_as_float32(data.coins()), "li") < 95 / 255
    assert 64 < v(astronaut, "li") < 65
    assert 145 < v(camera, "yen") < 147
    assert 109 < v(coins, "yen") < 111
    assert 0.43 < v(util.img_as_float32(data.coins()), "yen") < 0.44
    assert v(camera, "isodata") == 102
    assert v(coins, "isodata") == 107
    assert v(moon, "isodata") == 86
    assert v(moon.astype(np.int16) - 100, "isodata") == -14
    assert -14 < v(moon.astype(np.float32) - 100, "isodata") < -13
    assert v(camera, "minimum") == 85
    assert v(astronaut, "minimum") == 114
    synthetic = np.arange(25 * 25, dtype=np.uint8).reshape((25, 25))
    synthetic[0:9, :] = 50
    synthetic[14:25, :] = 250
    assert v(synthetic, "minimum") == 95
    with pytest.raises(imflow.Error, match="two peaks"):
        v(np.zeros((16, 16), dtype=np.uint8), "minimum")
    for dtype in [np.uint8, np.int16, np.float32]:
        assert v(np.zeros((10, 10), dtype=dtype), "triangle") == 0
        assert v(np.ones((10, 10), dtype=dtype), "triangle") == 1
        assert v(np.full((10, 10), 2, dtype=dtype), "triangle") == 2
    assert v(np.invert(data.text()), "triangle") == 151
    assert v(data.text(), "triangle") == 104
    assert v(data.coins(), "triangle") == 80
    assert v(np.invert(data.coins()), "triangle") == 175


def test_li_edge_cases(backend: str) -> None:
    v = value_on(backend)
    # test_li_inf_image, test_li_inf_minus_inf, test_li_constant_image_with_nan
    assert v(np.array([[np.inf, np.nan]], np.float32), "li") == np.inf
    assert v(np.array([[np.inf, -np.inf]], np.float32), "li") == 0
    assert v(np.array([[8, 8, 8, 8, np.nan]], np.float32), "li") == 8
    with pytest.raises(imflow.Error, match="finite|NaN"):
        v(np.full((5, 5), np.nan, np.float32), "li")  # skimage: NaN; imflow refuses it
    # test_li_pathological: every one finite.
    for image in [
        [0, 0, 1, 0, 0, 1, 0, 1],
        [0, 0, 0.1, 0, 0, 0.1, 0, 0.1],
        [0, 0, 0.1, 0, 0, 0.1, 0.01, 0.1],
        [0, 0, 1, 0, 0, 1, 0.5, 1],
        [1, 1],
        [1, 2],
        [0, 254, 255],
        [0, 1, 255],
        [0.1, 0.8, 0.9],
    ]:
        x = np.array([image], dtype=np.float32)
        got = v(x, "li")
        assert np.isfinite(got)
        assert got == pytest.approx(float(filters.threshold_li(x)), rel=1e-6)


@pytest.mark.parametrize("ndim", [2, 3])
def test_threshold_local_gaussian(ndim: int, backend: str) -> None:
    ref = np.array(
        [
            [False, False, False, False, True],
            [False, False, True, False, True],
            [False, False, True, True, False],
            [False, True, True, False, False],
            [True, True, False, False, False],
        ]
    )
    image = SIMPLE.astype(np.uint8)
    if ndim == 3:
        image = np.stack((image,) * 5, axis=-1)
        ref = np.stack((ref,) * 5, axis=-1)
    got = imflow.threshold(image, "local", block=3, backend=backend, volume=ndim == 3) > 0
    np.testing.assert_array_equal(got, ref)
