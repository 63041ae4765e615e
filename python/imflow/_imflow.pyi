"""Type stubs of imflow's native module (python/src/*.rs).

Arrays: (H, W), (H, W, C) for C in 1, 3, 4, or stacks (N, H, W[, C]) (`stack=` forces
either reading of a 3-D array). Volumes (z-stacks) with `volume=True`: a 3-D array is
one volume (Z, Y, X), a 4-D one (Z, Y, X, C), and with `stack=True` (N, Z, Y, X[, C])
frames of volumes; ops then work in 3-D, as scipy's on the 3-D array. Without
`volume=True` a 3-D array is never a volume (it is colour or frames, as above). Accepted dtypes: bool, uint8, uint16, uint32, uint64,
int8, int16, int32, int64, float32 and float64, in either byte order (a non-native one
is read through one byte-swapping copy). int64/uint64 are read as int32/uint32 (labels:
as uint32 up to 2^24), every value checked; a result whose type follows the input's
comes back in the input's dtype. Zero-sized arrays give zero-sized results. Per-axis
parameters are in the array's axis order, as scipy's: `sigma=(y, x)`, or with
`volume=True` `sigma=(z, y, x)`. The README's
Python section has the table of result dtypes.
"""
from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Error(Exception): ...
class DecodeError(Error): ...
class UnsupportedFormatError(Error): ...
class TooLargeError(Error): ...

_Backend = str  # "auto" | "gpu" | "cpu"
_Path = Union[str, "PathLike[str]"]
_Array = npt.NDArray[Any]
# One number for every axis, or one per axis in the array's order: (y, x), or (z, y, x)
# with volume=True.
_PerAxis = Union[float, Sequence[float]]
# scipy.ndimage's boundary modes: "reflect" (the default, d c b a | a b c d | d c b a),
# "nearest", "mirror", "wrap", "constant" (with cval); scipy's "grid-mirror",
# "grid-constant" and "grid-wrap" name the same. One for every axis, or one per axis
# in the array's order, (y, x) or (z, y, x) with volume=True, as scipy's mode=[...];
# None is reflect.
# "wrap" needs the whole frame at once: a frame the memory budget cuts into tiles
# refuses it.
_Mode = Union[str, Sequence[str]]

def apply(array: _Array, ops: Union[str, Sequence[str]], *, dtype: Optional[str] = None,
          backend: _Backend = "auto", stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """Ops in order (CLI specs) on an array, one upload and one download per frame.
    Result dtype: `dtype`, or with dtype=None the input's (a mask stays uint8, labels
    uint32; an int64 input gives int64 where the result's type follows the input's)."""
def gaussian(array: _Array, sigma: _PerAxis, *, order: Optional[Union[int, Sequence[int]]] = None,
             truncate: float = 4.0, mode: Optional[_Mode] = None,
             cval: float = 0.0, int_mode: Optional[str] = None,
             dtype: Optional[str] = "float32", backend: _Backend = "auto",
             stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """scipy.ndimage.gaussian_filter(x, sigma, order, mode=mode, cval=cval, truncate) per
    channel (`order`: the derivative's, one for every axis or one per axis, at most 8;
    `mode`: see _Mode).
    `sigma`: one number, or (y, x) = (rows, columns), scipy's order; with volume=True
    (z, y, x), and sigma_z=0 filters each slice on its own; 0 on every axis is the
    identity (a copy in `dtype`). Result: float32; dtype='same' (or
    int_mode='scipy') the input's dtype (bool: uint8)."""
def box(array: _Array, size: Union[int, Sequence[int]], *, mode: Optional[_Mode] = None,
        cval: float = 0.0, int_mode: Optional[str] = None,
        dtype: Optional[str] = "float32", backend: _Backend = "auto",
        stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """scipy.ndimage.uniform_filter(x, size, mode=mode, cval=cval) per channel: `size` one
    integer for every axis, or (y, x), or with volume=True (z, y, x). Result: float32; dtype='same' (or int_mode='scipy') the input's."""
def difference_of_gaussians(array: _Array, low_sigma: float, high_sigma: Optional[float] = None, *,
                            truncate: float = 4.0, mode: Optional[_Mode] = None, cval: float = 0.0,
                            backend: _Backend = "auto", stack: Optional[bool] = None,
                            volume: bool = False) -> _Array:
    """gaussian_filter(x, low_sigma) - gaussian_filter(x, high_sigma) per channel, float32 =
    skimage.filters.difference_of_gaussians(x, low_sigma, high_sigma, mode=mode, cval=cval,
    truncate) on float input (scikit-image's default mode is 'nearest'; this one's is
    'reflect', as it always was); high_sigma defaults to 1.6 * low_sigma, as scikit-image's.
    scikit-image first scales integer input to [0, 1] (img_as_float); this keeps the
    data's units, so on integer data its result is scikit-image's times the dtype's max."""
def gaussian_gradient_magnitude(array: _Array, sigma: float, *, truncate: float = 4.0,
                                mode: Optional[_Mode] = None, cval: float = 0.0, backend: _Backend = "auto",
                                stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """scipy.ndimage.gaussian_gradient_magnitude(x, sigma, mode, cval, truncate) per
    channel, float32 (within 1e-4 of the range of scipy's on float32 input); isotropic,
    in 3-D with volume=True."""
def gaussian_laplace(array: _Array, sigma: float, *, truncate: float = 4.0, mode: Optional[_Mode] = None,
                     cval: float = 0.0, backend: _Backend = "auto",
                     stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """scipy.ndimage.gaussian_laplace(x, sigma, mode, cval, truncate) per channel,
    float32 (within 1e-4 of the range of scipy's on float32 input); isotropic, in 3-D
    with volume=True."""
def median(array: _Array, size: Union[int, Sequence[int]], *, mode: Optional[_Mode] = None,
           cval: float = 0.0, backend: _Backend = "auto",
           stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """scipy.ndimage.median_filter(x, size, mode=mode, cval=cval) per channel: `size` one
    integer for every axis, or (y, x), or with volume=True (z, y, x); an even size takes
    the upper median, as scipy. At most 729 samples a window (27x27, 9x9x9). Result: the
    input's dtype."""
def erosion(array: _Array, footprint: str = "disk", radius: Optional[int] = None,
            size: Optional[int] = None, *, backend: _Backend = "auto",
            stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """skimage.morphology.erosion(x, footprint) per channel (mode='reflect'). `footprint`:
    'disk', 'ball' or 'cross' with `radius` (disk(r), ball(r), arms of r along each
    axis), or 'square' or 'cube' with `size` (footprint_rectangle; an even side reaches
    one further after the centre, as scikit-image pads it). A 2-D footprint on a volume
    acts on each slice. Result: the input's dtype (bool for a bool mask, as scikit-image)."""
def dilation(array: _Array, footprint: str = "disk", radius: Optional[int] = None,
             size: Optional[int] = None, *, backend: _Backend = "auto",
             stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """skimage.morphology.dilation(x, footprint); footprints as in `erosion`."""
def opening(array: _Array, footprint: str = "disk", radius: Optional[int] = None,
            size: Optional[int] = None, *, backend: _Backend = "auto",
            stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """skimage.morphology.opening(x, footprint): erosion, then dilation by the mirrored
    footprint; footprints as in `erosion`."""
def closing(array: _Array, footprint: str = "disk", radius: Optional[int] = None,
            size: Optional[int] = None, *, backend: _Backend = "auto",
            stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """skimage.morphology.closing(x, footprint): dilation, then erosion by the mirrored
    footprint; footprints as in `erosion`."""
def white_tophat(array: _Array, footprint: str = "disk", radius: Optional[int] = None,
                 size: Optional[int] = None, *, backend: _Backend = "auto",
                 stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """skimage.morphology.white_tophat(x, footprint): x minus its opening."""
def black_tophat(array: _Array, footprint: str = "disk", radius: Optional[int] = None,
                 size: Optional[int] = None, *, backend: _Backend = "auto",
                 stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """skimage.morphology.black_tophat(x, footprint): the closing of x minus x."""
def distance(array: _Array, sampling: Optional[Union[float, Sequence[float]]] = None, *,
             backend: _Backend = "auto", stack: Optional[bool] = None,
             volume: bool = False) -> _Array:
    """scipy.ndimage.distance_transform_edt(x != 0, sampling) as float32: each nonzero
    sample's Euclidean distance to the nearest zero. `sampling` one number, or one per
    axis ((y, x), or (z, y, x) with volume=True). With one sampling for every axis the
    result equals np.float32 of scipy's float64 result exactly; per-axis sampling within
    1e-6 relative. An array without zeros measures, as scipy's does, to a stand-in zero
    one step before the first axis."""
def fill_holes(array: _Array, *, backend: _Backend = "auto", stack: Optional[bool] = None,
               volume: bool = False) -> _Array:
    """scipy.ndimage.binary_fill_holes(x != 0) as a uint8 mask of 0/255: background not
    connected to the border through face neighbours is filled (background touching the
    outside only diagonally is a hole)."""
def clear_border(array: _Array, *, backend: _Backend = "auto", stack: Optional[bool] = None,
                 volume: bool = False) -> _Array:
    """skimage.segmentation.clear_border(labels): objects (connected samples of equal
    nonzero value, full connectivity) that touch the border set to 0. Result: the
    input's dtype (bool for a bool mask)."""
def remove_small_holes(array: _Array, *, max_size: Optional[int] = None,
                       connectivity: Optional[int] = None, area_threshold: Optional[int] = None,
                       backend: _Backend = "auto", stack: Optional[bool] = None,
                       volume: bool = False) -> _Array:
    """skimage.morphology.remove_small_holes(x != 0, max_size=max_size,
    connectivity=connectivity) as a uint8 mask of 0/255: holes (components of the
    background, touching the border or not) of at most max_size pixels (skimage's
    default 64) are filled; connectivity 1 (skimage's default), 2, or 3 (volumes). The
    deprecated area_threshold (holes smaller than it) may stand in for max_size."""
def expand_labels(label_image: _Array, distance: float = 1.0,
                  spacing: Optional[Union[float, Sequence[float]]] = None, *,
                  backend: _Backend = "auto", stack: Optional[bool] = None,
                  volume: bool = False) -> _Array:
    """skimage.segmentation.expand_labels(label_image, distance): every zero sample
    within Euclidean distance `distance` of a label takes the nearest label, equally
    near labels as scipy's feature transform (which skimage uses) picks them. `spacing`
    one number, or one per axis ((y, x), or (z, y, x) with volume=True). Result: the
    input's dtype (bool for a bool mask)."""
def threshold(array: _Array, value: Union[float, str], *, block: Optional[int] = None,
              offset: float = 0.0, backend: _Backend = "auto",
              stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """`x > value` as a uint8 mask of 0/255 (any input dtype). value may name a method:
    'otsu', 'li', 'triangle', 'yen', 'isodata', 'mean', 'minimum' use
    skimage.filters.threshold_<method> per frame (of a volume: all of it); 'local' is
    x > skimage.filters.threshold_local(x, block, method='gaussian', offset=offset)."""
def threshold_otsu(array: _Array, *, backend: _Backend = "auto", volume: bool = False) -> float:
    """skimage.filters.threshold_otsu(x) of one image (all channels together), or of a
    volume with volume=True (one histogram of every voxel)."""
def threshold_value(array: _Array, method: str, *, backend: _Backend = "auto",
                    volume: bool = False) -> float:
    """skimage.filters.threshold_<method>(x) of one image (all channels together) or of
    a volume (volume=True): method is 'otsu', 'li', 'triangle', 'yen', 'isodata', 'mean'
    or 'minimum'."""
def label(array: _Array, *, connectivity: int = 1, backend: _Backend = "auto",
          stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """Connected components of a mask (nonzero is foreground), numbered as
    scipy.ndimage.label(x, generate_binary_structure(ndim, connectivity)) =
    skimage.measure.label(x, connectivity=connectivity): 1 faces, 2 and edges, 3 and
    corners (volumes; in 2-D the same as 2). In (z, y, x) raster order of each
    component's first voxel. Result: uint32 for every input dtype."""
def remove_small_objects(array: _Array, *, min_size: Optional[int] = None, max_size: Optional[int] = None,
                         connectivity: int = 1, backend: _Backend = "auto",
                         stack: Optional[bool] = None, volume: bool = False) -> _Array:
    """skimage.morphology.remove_small_objects. A uint8/int8/bool mask gives a uint8
    0/255 mask; labels (wider integers) keep their dtype (int64 stays int64)."""
def measure(labels: _Array, intensity: _Array, *, spacing: Optional[_PerAxis] = None) -> Dict[str, _Array]:
    """skimage.measure.regionprops_table(labels, intensity, properties=['label',
    'area', 'centroid', 'bbox', 'intensity_mean', 'intensity_min', 'intensity_max',
    'equivalent_diameter_area'], spacing=spacing): the same keys in the same order,
    label and bbox-* int64, the rest float64. labels (H, W), or (Z, Y, X) for a volume;
    intensity of the same shape, or with a trailing channel axis. Axis order of
    centroid-* and bbox-*: numpy's, (row, column) or (z, y, x), as skimage. With
    `spacing` (numpy's axis order) area, centroid and equivalent_diameter_area are in
    physical units, as skimage's."""
def device(backend: _Backend = "auto") -> Tuple[str, Optional[str]]: ...

def imread(path: _Path, *, volume: bool = False) -> _Array:
    """Every frame of a file: (H, W[, C]), or (N, H, W[, C]) for several pages. An
    ImageJ hyperstack or OME-TIFF with slices is a volume (Z, Y, X[, C]) (several time
    points: (T, Z, Y, X[, C])); with volume=True a plain multi-page TIFF's pages are one
    volume."""
def voxel_size(path: _Path) -> Optional[Tuple[Tuple[float, float, float], str]]:
    """The voxel size a file records, ((z, y, x), unit), or None."""
def imwrite(path: _Path, array: _Array, *, stack: Optional[bool] = None, volume: bool = False,
            voxel_size: Optional[Tuple[float, float, float]] = None, unit: str = "\u00b5m") -> None:
    """Writes an array as its extension's format. int64/uint64 are written as
    int32/uint32 samples; an array with no pixels is a ValueError. A volume
    (volume=True) is written as an ImageJ hyperstack, with its voxel size (z, y, x)
    where given (Fiji and napari open it as a volume with the right aspect)."""
def encode(array: _Array, format: str = "tif", *, stack: Optional[bool] = None,
           volume: bool = False) -> bytes: ...
def decode(data: bytes) -> _Array: ...
def apply_bytes(data: bytes, ops: Sequence[str], *, format: Optional[str] = None,
                max_pixels: Optional[int] = None, backend: _Backend = "auto") -> Tuple[bytes, str]: ...
def hash_file(path: _Path) -> str: ...
def hash_bytes(data: bytes) -> str: ...
def array_key(array: _Array) -> str: ...
def canonical_op(spec: str) -> str: ...
def op_version(spec: str) -> str: ...

class Flow:
    def __init__(self) -> None: ...
    def file(self, path: _Path, *, volume: bool = False) -> int: ...
    def array(self, array: _Array, name: str, *, volume: bool = False) -> int: ...
    def op(self, node_: int, spec: str) -> int: ...
    def chain(self, node_: int, specs: List[str]) -> int: ...
    def measure(self, labels: int, intensity: int) -> int: ...
    def materialize(self, node_: int, name: str, *, dtype: Optional[str] = None, format: Optional[str] = None,
                    persist: bool = True) -> None: ...
    def __len__(self) -> int: ...

class Store:
    def __init__(self, out: _Path, store: Optional[_Path] = None) -> None: ...
    @property
    def out_dir(self) -> str: ...
    @property
    def remote(self) -> bool: ...
    def put(self, name: str, data: bytes) -> str: ...
    def check(self, name: str, size: int, blake3: str) -> None: ...
    def read(self, name: str, blake3: str) -> bytes: ...
    def verify(self) -> Tuple[int, int, List[str]]: ...

class Executor:
    def __init__(self, backend: _Backend = "auto", *, resident_budget: Optional[int] = None) -> None: ...
    @property
    def device(self) -> Optional[str]: ...
    def run(self, flow: Flow, store: Store, *, refresh: bool = False, jobs: int = 0,
            memory: Optional[str] = None) -> Tuple[str, Dict[str, _Array], Dict[str, str]]: ...
