"""imflow mixed with numpy and scikit-image in one script (issue 27): their dtypes
(int64 labels, numpy's default int64, big-endian arrays) go in and come back, scipy's
edge cases (sigma 0, zero-sized arrays) answer as scipy does, and errors name the
parameter in numpy's terms. References are computed here with scipy/scikit-image."""
import pathlib
import re
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import scipy.ndimage as ndi
from skimage.measure import label as sk_label
from skimage.measure import regionprops_table
from skimage.morphology import remove_small_objects as sk_remove_small_objects

import imflow

Array = npt.NDArray[Any]
rng = np.random.default_rng(27)
PROPS = ["label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
         "equivalent_diameter_area"]


def skimage_labels(shape: tuple[int, int] = (120, 160)) -> Array:
    """Labels as scikit-image hands them out (int64 from a uint8 mask)."""
    labels: Array = sk_label((rng.random(shape) < 0.45).astype(np.uint8), connectivity=1)
    assert labels.dtype == np.int64
    return labels


def test_skimage_labels_round_trip_to_pandas(backend: str) -> None:
    """skimage.measure.label -> imflow.remove_small_objects -> imflow.measure ->
    pandas.DataFrame equals scikit-image's own pipeline, dtypes included."""
    labels = skimage_labels()
    intensity = rng.integers(0, 4096, labels.shape, dtype=np.uint16)
    kept = imflow.remove_small_objects(labels, min_size=3, backend=backend)
    want_kept = sk_remove_small_objects(labels, max_size=2)  # skimage 0.26: max_size = min_size - 1
    assert kept.dtype == np.int64, "labels come back in their own dtype"
    assert np.array_equal(kept, want_kept)
    got = pd.DataFrame(imflow.measure(kept, intensity))
    want = pd.DataFrame(regionprops_table(want_kept, intensity, properties=PROPS))
    assert len(want) > 100
    pd.testing.assert_frame_equal(got, want, check_dtype=True, check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("intensity_dtype", [np.uint8, np.uint16, np.int64, np.float32, np.float64])
def test_measure_is_regionprops_table(channels: Any, intensity_dtype: Any) -> None:
    """Same keys, in the same order (a colour image's columns grouped by property, as
    skimage groups them), same dtypes, same values."""
    labels = skimage_labels((90, 70))
    shape = labels.shape if channels is None else labels.shape + (channels,)
    intensity = (rng.random(shape) * 200).astype(intensity_dtype)
    got = imflow.measure(labels, intensity)
    want = regionprops_table(labels, intensity, properties=PROPS)
    assert list(got) == list(want)
    assert {k: v.dtype for k, v in got.items()} == {k: v.dtype for k, v in want.items()}
    # imflow measures float intensities as float32; skimage's float32 means add in float32.
    rtol = 1e-6 if intensity_dtype in (np.float32, np.float64) else 1e-9
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want), check_dtype=True, rtol=rtol)


def test_int64_and_uint64_images_are_read_as_32_bit(backend: str) -> None:
    x = np.array([[1, 2], [3, 4]])  # numpy's default integer
    assert x.dtype == np.int64
    want = ndi.gaussian_filter(x.astype(np.float32), 1)
    for a in (x, x.astype(np.uint64)):
        got = imflow.gaussian(a, 1, backend=backend)
        assert got.dtype == np.float32 and np.allclose(got, want, rtol=1e-6)
    big = rng.integers(-(2**31), 2**31, (40, 50))
    same = imflow.gaussian(big, 2, dtype="same", backend=backend)
    assert same.dtype == np.int64, "dtype='same' is the caller's dtype"
    assert np.array_equal(same, imflow.gaussian(big.astype(np.int32), 2, dtype="same", backend=backend))
    assert imflow.threshold(big, 0.5, backend=backend).dtype == np.uint8
    assert np.array_equal(imflow.label(x, backend=backend), imflow.label(x.astype(np.int32), backend=backend))
    labels = imflow.label(np.eye(4, dtype=np.uint64), backend=backend)
    assert labels.dtype == np.uint32, "label's result is uint32 for every input"


def test_values_that_do_not_fit_are_named() -> None:
    x = np.zeros((3, 4), np.int64)
    x[1, 2] = 2**40
    with pytest.raises(ValueError, match=re.escape("array: value 1099511627776 at index (1, 2) does not fit")):
        imflow.gaussian(x, 1)
    u = np.zeros((2, 3), np.uint64)
    u[0, 1] = 2**32
    with pytest.raises(ValueError, match=re.escape("value 4294967296 at index (0, 1)") + ".*uint32"):
        imflow.box(u, 3)
    labels = np.zeros((5, 5), np.int64)
    labels[4, 0] = -1
    with pytest.raises(ValueError, match=re.escape("array: value -1 at index (4, 0)")):
        imflow.remove_small_objects(labels, min_size=2)
    labels[4, 0] = 2**24 + 1  # past the labels imflow carries exactly
    with pytest.raises(ValueError, match=re.escape("value 16777217 at index (4, 0)") + ".*2\\^24"):
        imflow.remove_small_objects(labels, min_size=2)
    with pytest.raises(ValueError, match="^labels: value 16777217"):
        imflow.measure(labels, np.zeros((5, 5), np.uint8))


@pytest.mark.parametrize("dtype", [">u2", ">i2", ">f4", ">f8", ">i4", ">u4", ">i8"])
def test_non_native_byte_order_is_read(dtype: str, backend: str) -> None:
    native = rng.integers(0, 1000, (33, 47)).astype(np.dtype(dtype).newbyteorder("="))
    swapped = native.astype(dtype)
    assert swapped.dtype.byteorder == ">"
    assert np.array_equal(imflow.gaussian(swapped, 1, backend=backend), imflow.gaussian(native, 1, backend=backend))
    same = imflow.gaussian(swapped, 1.5, dtype="same", backend=backend)
    assert same.dtype == native.dtype and same.dtype.isnative
    assert np.array_equal(imflow.threshold(swapped, 400, backend=backend), ((native > 400) * 255).astype(np.uint8))
    f = np.asfortranarray(swapped)  # swapped and in Fortran order: still one copy, still read
    assert np.array_equal(imflow.box(f, 3, backend=backend), imflow.box(native, 3, backend=backend))


def test_errors_name_the_parameter(backend: str) -> None:
    x = np.ones((6, 6), np.float32)
    cases: List[Tuple[Callable[[], object], str]] = [
        (lambda: imflow.box(x, -3, backend=backend), "^size: expected an integer >= 1, got -3$"),
        (lambda: imflow.box(x, 2**70, backend=backend), "^size: "),
        (lambda: imflow.gaussian(x, -1, backend=backend), "^sigma: must be a finite number >= 0"),
        (lambda: imflow.gaussian(x, (1, float("nan")), backend=backend),
         r"^sigma: .* on every axis \(y, x\), got NaN for x$"),
        (lambda: imflow.gaussian(x, (1, 2, 3), backend=backend),
         r"^sigma: .* one per axis \(y, x\), got \(1, 2, 3\)$"),
        (lambda: imflow.remove_small_objects(x > 0, min_size=-1, backend=backend), "^min_size: "),
        (lambda: imflow.remove_small_objects(x > 0, max_size=-1, backend=backend), "^max_size: "),
        (lambda: imflow.label(x, connectivity=-1, backend=backend), "^connectivity: "),
        (lambda: imflow.label(x, connectivity=3, backend=backend), "connectivity"),
        (lambda: imflow.threshold(x, "bogus", backend=backend),
         r"^value: expected a number or a method \('otsu', 'li', .*'local'\), got 'bogus'$"),
        (lambda: imflow.gaussian(x, 1, dtype="int64", backend=backend), "^dtype: "),
        (lambda: imflow.gaussian(x, 1, int_mode="floor", backend=backend), "^int_mode: "),
        (lambda: imflow.gaussian(x, 1, backend="tpu"), "^backend: "),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
    with pytest.raises(TypeError, match="^size: expected an integer >= 1, got 2.5$"):
        imflow.box(x, 2.5, backend=backend)  # type: ignore[arg-type]


def test_errors_speak_numpy() -> None:
    """Shapes as the caller's tuples, dtypes by numpy's names."""
    with pytest.raises(ValueError, match=re.escape("got shape (5,)")):
        imflow.gaussian(np.zeros(5, np.float32), 1)
    with pytest.raises(ValueError, match=re.escape("got shape (2, 3, 4, 5, 6)")):
        imflow.box(np.zeros((2, 3, 4, 5, 6), np.float32), 3)
    with pytest.raises(ValueError, match=re.escape("got labels (4, 5) and intensity (5, 4)")):
        imflow.measure(np.zeros((4, 5), np.int64), np.zeros((5, 4), np.uint16))
    with pytest.raises(ValueError, match="not float32 values"):
        imflow.remove_small_objects(np.ones((4, 4), np.float32), min_size=2)
    with pytest.raises(ValueError, match="untouched int32 data.*int64 array was read as int32"):
        imflow.threshold(np.ones((4, 4), np.int64), "otsu")
    with pytest.raises(TypeError, match="^array: unsupported dtype float16"):
        imflow.gaussian(np.ones((4, 4), np.float16), 1)
    with pytest.raises(TypeError, match="^array: unsupported dtype >c8"):
        imflow.gaussian(np.ones((4, 4), ">c8"), 1)


def test_sigma_order_is_scipys(backend: str) -> None:
    x = rng.uniform(0, 100, (40, 60)).astype(np.float32)
    got = imflow.gaussian(x, (1, 3), backend=backend)
    assert np.allclose(got, ndi.gaussian_filter(x, (1, 3)), atol=1e-4)
    assert not np.allclose(got, ndi.gaussian_filter(x, (3, 1)), atol=1e-2)
    assert np.allclose(imflow.gaussian(x, (0, 2), backend=backend), ndi.gaussian_filter(x, (0, 2)), atol=1e-4)
    doc = imflow.gaussian.__doc__ or ""
    stub = (pathlib.Path(imflow.__file__).parent / "_imflow.pyi").read_text()
    gaussian_stub = stub[stub.index("def gaussian("):stub.index("def box(")]
    for text in (doc, gaussian_stub):
        assert "(y, x)" in text


def test_sigma_zero_is_a_copy(backend: str) -> None:
    """scipy's test_gauss01: gaussian_filter(x, 0) is x."""
    x = rng.integers(0, 1000, (17, 23))
    for sigma in (0, 0.0, (0, 0)):
        got = imflow.gaussian(x, sigma, backend=backend)
        assert got.dtype == np.float32 and np.array_equal(got, x.astype(np.float32))
        same = imflow.gaussian(x, sigma, dtype="same", backend=backend)
        assert same.dtype == x.dtype and np.array_equal(same, ndi.gaussian_filter(x, 0))
        assert not np.shares_memory(same, x)
    f = rng.uniform(0, 1, (5, 7, 3)).astype(np.float32)
    assert np.array_equal(imflow.gaussian(f, 0, backend=backend), ndi.gaussian_filter(f, 0))
    u = x.astype(np.uint16)
    assert np.array_equal(imflow.gaussian(u, 0, int_mode="scipy", backend=backend), u)


@pytest.mark.parametrize("shape", [(0, 5), (0, 1), (5, 0), (0, 4, 4), (3, 0, 4), (0, 4, 3), (2, 4, 4, 0)])
def test_zero_sized_arrays_give_zero_sized_results(shape: tuple[int, ...], backend: str) -> None:
    for dtype in (np.float32, np.uint16, np.int64, bool):
        x = np.zeros(shape, dtype)
        cases: List[tuple[Array, Array]] = [
            (imflow.gaussian(x, 1, backend=backend), ndi.gaussian_filter(x.astype(np.float32), 1)),
            (imflow.box(x, 3, backend=backend), ndi.uniform_filter(x.astype(np.float32), 3)),
            (imflow.threshold(x, 0, backend=backend), np.zeros(shape, np.uint8)),
            (imflow.label(x, backend=backend), np.zeros(shape, np.uint32)),
        ]
        if dtype != np.float32:
            cases.append((imflow.remove_small_objects(x, min_size=2, backend=backend),
                          np.zeros(shape, np.uint8 if dtype is bool else dtype)))
            cases.append((imflow.gaussian(x, 1, dtype="same", backend=backend),
                          np.zeros(shape, np.uint8 if dtype is bool else dtype)))
        for got, want in cases:
            assert got.shape == want.shape == shape and got.dtype == want.dtype, (dtype, got.dtype, want.dtype)
    with pytest.raises(ValueError, match="not float32 values"):
        imflow.remove_small_objects(np.zeros(shape, np.float32), min_size=2, backend=backend)


def test_zero_sized_measure_and_files(tmp_path: pathlib.Path) -> None:
    table = imflow.measure(np.zeros((0, 5), np.int64), np.zeros((0, 5, 3), np.uint16))
    empty: Dict[str, Array] = regionprops_table(np.zeros((2, 5), np.int64), np.zeros((2, 5, 3), np.uint16),
                                                properties=PROPS)
    assert list(table) == list(empty)
    assert all(v.shape == (0,) and v.dtype == empty[k].dtype for k, v in table.items())
    with pytest.raises(ValueError, match=re.escape("array: shape (0, 4) holds no pixels")):
        imflow.imwrite(tmp_path / "empty.tif", np.zeros((0, 4), np.uint16))
    with pytest.raises(ValueError, match=re.escape("shape (3, 0) holds no pixels")):
        imflow.encode(np.zeros((3, 0), np.uint8), "png")
    with pytest.raises(ValueError, match=re.escape("shape (0, 3) holds no pixels")):
        imflow.threshold_otsu(np.zeros((0, 3), np.uint8))


def test_int64_files_and_flows(tmp_path: pathlib.Path) -> None:
    labels = skimage_labels((30, 40))
    path = tmp_path / "labels.tif"
    imflow.imwrite(path, labels)
    back = imflow.imread(path)
    assert back.dtype == np.int32 and np.array_equal(back, labels), "written as int32 samples"
    assert imflow.array_key(labels) == imflow.array_key(labels.astype(np.int32))
