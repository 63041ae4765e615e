"""Functions on numpy arrays against scipy and scikit-image computed here."""
import pathlib
from typing import Any, Callable, List, Tuple

import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.measure import label as sk_label
from skimage.measure import regionprops_table
from skimage.morphology import remove_small_objects

import imflow

rng = np.random.default_rng(2026)


Array = npt.NDArray[Any]


def images() -> List[Tuple[str, Array]]:
    """u8/u16/f32, gray/RGB/RGBA, C-ordered, Fortran-ordered, strided, and (for the
    wider types) C-ordered at an odd address, which cannot be borrowed as a slice."""
    out: List[Tuple[str, Array]] = []
    for dtype in (np.uint8, np.uint16, np.float32):
        for channels in (None, 3, 4):
            shape = (61, 83) if channels is None else (61, 83, channels)
            x: Array
            if dtype == np.float32:
                x = rng.uniform(-50, 1000, shape).astype(dtype)
            else:
                x = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)  # type: ignore[type-var]
            out.append((f"{np.dtype(dtype).name}-{channels or 1}-C", x))
            out.append((f"{np.dtype(dtype).name}-{channels or 1}-F", np.asfortranarray(x)))
            big = np.zeros((122, 166) + x.shape[2:], dtype)
            big[::2, ::2] = x
            out.append((f"{np.dtype(dtype).name}-{channels or 1}-strided", big[::2, ::2]))
            if dtype != np.uint8:
                odd = np.frombuffer(b"\0" + x.tobytes(), dtype, count=x.size, offset=1)
                assert not odd.flags.aligned
                out.append((f"{np.dtype(dtype).name}-{channels or 1}-misaligned",
                            odd.reshape(x.shape)))
    return out


IMAGES = images()


def per_channel(f: Callable[[Array], Array], x: Array) -> Array:
    if x.ndim == 2:
        return f(x)
    return np.stack([f(x[..., c]) for c in range(x.shape[2])], axis=2)


@pytest.mark.parametrize("name,x", IMAGES, ids=[n for n, _ in IMAGES])
def test_gaussian_and_box_match_scipy(name: str, x: Array, backend: str) -> None:
    tol = 1e-4 * float(x.max() - x.min())
    for sigma in (1, 2.5):
        want = per_channel(lambda p: ndi.gaussian_filter(p.astype(np.float32), sigma), x)
        got = imflow.gaussian(x, sigma, backend=backend)
        assert got.shape == x.shape and got.dtype == np.float32
        assert np.abs(got - want).max() <= tol, name
    want = per_channel(lambda p: ndi.uniform_filter(p.astype(np.float32), 5), x)
    got = imflow.box(x, 5, backend=backend)
    assert np.abs(got - want).max() <= tol, name


@pytest.mark.filterwarnings("ignore:threshold_otsu is expected")
@pytest.mark.parametrize("name,x", IMAGES, ids=[n for n, _ in IMAGES])
def test_otsu_and_masks_are_exact(name: str, x: Array, backend: str) -> None:
    t = threshold_otsu(x)
    mask = imflow.threshold(x, "otsu", backend=backend)
    assert mask.dtype == np.uint8 and mask.shape == x.shape
    if x.dtype != np.float32:  # integer data: skimage's bins are imflow's, exactly
        assert imflow.threshold_otsu(x, backend=backend) == float(t)
        assert np.array_equal(mask, ((x > t) * 255).astype(np.uint8)), name
    fixed = imflow.threshold(x, 100.5, backend=backend)
    assert np.array_equal(fixed, ((x > 100.5) * 255).astype(np.uint8)), name


def test_float_otsu_is_exact_where_numpy_sees_the_same_input(backend: str) -> None:
    x = rng.uniform(0, 1, (200, 300)).astype(np.float32)
    t = threshold_otsu(x)
    got = imflow.threshold_otsu(x, backend=backend)
    bin_width = float(x.max() - x.min()) / 256
    assert abs(got - t) <= bin_width


def test_scipy_integer_mode_is_bit_identical(backend: str) -> None:
    x = rng.poisson(1000, (97, 131)).astype(np.uint16)
    got = imflow.gaussian(x, 2, int_mode="scipy", backend=backend)
    assert got.dtype == np.uint16
    assert np.array_equal(got, ndi.gaussian_filter(x, 2))
    assert np.array_equal(imflow.box(x, 4, int_mode="scipy", backend=backend), ndi.uniform_filter(x, 4))


def test_apply_chains_and_stacks(backend: str) -> None:
    stack = rng.poisson(1000, (3, 64, 80)).astype(np.uint16)
    out = imflow.apply(stack, ["gaussian:sigma=2", "threshold:method=otsu"], backend=backend)
    assert out.shape == stack.shape and out.dtype == np.uint8
    for k in range(3):
        g = ndi.gaussian_filter(stack[k].astype(np.float32), 2)
        assert np.mean(out[k] != (g > threshold_otsu(g)) * 255) < 1e-3
    same = imflow.apply(stack[0], "gaussian:sigma=2", backend=backend)
    assert same.dtype == np.uint16, "dtype='same' keeps the source's type"


@pytest.mark.parametrize("connectivity", [1, 2])
def test_label_matches_scipy_and_skimage(connectivity: int, backend: str) -> None:
    for density in (0.05, 0.5, 0.95):
        m = rng.random((389, 517)) < density
        want = ndi.label(m)[0] if connectivity == 1 else sk_label(m, connectivity=2)
        got = imflow.label(m, connectivity=connectivity, backend=backend)
        assert got.dtype == np.uint32
        assert np.array_equal(got, want)


def test_label_4096_squared(backend: str) -> None:
    m = rng.random((4096, 4096)) < 0.5
    assert np.array_equal(imflow.label(m, backend=backend), ndi.label(m)[0])


def test_remove_small_objects_matches_skimage(backend: str) -> None:
    m = rng.random((200, 300)) < 0.4
    want = remove_small_objects(m, max_size=5, connectivity=2)
    got = imflow.remove_small_objects(m, max_size=5, connectivity=2, backend=backend)
    assert np.array_equal(got > 0, want)


def test_measure_matches_regionprops() -> None:
    labels = sk_label(rng.random((150, 200)) < 0.4, connectivity=2).astype(np.int32)
    intensity = rng.integers(0, 65535, (150, 200), dtype=np.uint16)
    props = ["label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
             "equivalent_diameter_area"]
    want = regionprops_table(labels, intensity, properties=props)
    got = imflow.measure(labels, intensity)
    assert list(got) == list(want)
    for k in want:
        if k.startswith("centroid") or k in ("intensity_mean", "equivalent_diameter_area"):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6)
        else:
            np.testing.assert_array_equal(got[k], want[k])


def test_errors_name_the_problem() -> None:
    x = np.zeros((10, 10), np.uint16)
    with pytest.raises(ValueError, match="sigma"):
        imflow.gaussian(x, -1)
    with pytest.raises(ValueError, match="unknown op"):
        imflow.apply(x, ["sobel:size=3"])
    with pytest.raises(TypeError, match="unsupported dtype complex64"):
        imflow.gaussian(np.zeros((4, 4), np.complex64), 1)
    with pytest.raises(TypeError, match="numpy array"):
        imflow.gaussian([[1, 2], [3, 4]], 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        imflow.gaussian(np.zeros(5, np.float32), 1)
    with pytest.raises(imflow.DecodeError):
        imflow.decode(imflow.encode(np.ones((20, 20), np.uint16))[:60])
    assert issubclass(imflow.DecodeError, imflow.Error)


def test_files_round_trip(tmp_path: pathlib.Path) -> None:
    for dtype in (np.uint8, np.uint16, np.int16, np.uint32, np.float32, np.float64):
        x = rng.integers(0, 200, (17, 23)).astype(dtype)
        p = tmp_path / f"x-{np.dtype(dtype).name}.tif"
        imflow.imwrite(p, x)
        back = imflow.imread(p)
        assert back.dtype == x.dtype and np.array_equal(back, x)
        assert imflow.hash_file(p) == imflow.hash_bytes(p.read_bytes())
    assert np.array_equal(imflow.decode(imflow.encode(x, "tif")), x)
