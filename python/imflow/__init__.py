"""imflow: GPU image transforms (WGSL compute kernels on wgpu) with scipy and
scikit-image semantics, on numpy arrays, and cached flows whose results are ordinary
files named by their content.

    >>> import numpy as np, imflow
    >>> x = np.random.default_rng(0).poisson(1000, (512, 512)).astype(np.uint16)
    >>> g = imflow.gaussian(x, 2)                      # scipy.ndimage.gaussian_filter(x.astype(float32), 2)
    >>> mask = imflow.threshold(g, "otsu")             # g > skimage.filters.threshold_otsu(g), 0/255
    >>> same = imflow.apply(x, ["gaussian:sigma=2", "threshold:method=otsu"])  # one upload

Volumes (z-stacks) are (Z, Y, X[, C]) arrays with `volume=True`: ops then work in 3-D,
as scipy's on the 3-D array (`imflow.gaussian(v, (1, 2, 2), volume=True)`).

Every call releases the GIL for its computation; `backend` is 'auto' (the GPU when an
adapter exists, else the CPU twins), 'gpu' or 'cpu'.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _imflow
from ._imflow import (  # noqa: F401 (re-exported)
    DecodeError,
    Error,
    Flow,
    Store,
    TooLargeError,
    UnsupportedFormatError,
    __version__,
    apply,
    apply_bytes,
    array_key,
    black_tophat,
    box,
    canonical_op,
    clear_border,
    closing,
    decode,
    device,
    difference_of_gaussians,
    dilation,
    distance,
    encode,
    expand_labels,
    erosion,
    fill_holes,
    gaussian,
    gaussian_gradient_magnitude,
    gaussian_laplace,
    hash_bytes,
    hash_file,
    imread,
    imwrite,
    label,
    measure,
    median,
    op_version,
    opening,
    remove_small_holes,
    remove_small_objects,
    threshold,
    threshold_otsu,
    threshold_value,
    voxel_size,
    white_tophat,
)

__all__ = [
    "DecodeError", "Error", "Executor", "Flow", "Output", "Report", "Store", "TooLargeError", "__version__",
    "UnsupportedFormatError", "apply", "apply_bytes", "array_key", "box", "canonical_op",
    "decode", "device", "encode", "gaussian", "hash_bytes", "hash_file", "imread", "imwrite",
    "label", "measure", "op_version", "remove_small_objects", "threshold", "threshold_otsu",
    "threshold_value", "voxel_size", "median", "erosion", "dilation", "opening", "closing", "white_tophat",
    "black_tophat", "difference_of_gaussians", "gaussian_laplace", "gaussian_gradient_magnitude",
    "distance", "fill_holes", "clear_border", "remove_small_holes", "expand_labels",
]


@dataclass
class Output:
    """One materialized output of a run."""

    name: str
    status: str  # "computed", "store_hit", "resident_hit" or "failed"
    path: Optional[str] = None
    file_blake3: Optional[str] = None
    output_key: Optional[str] = None
    source: Optional[str] = None
    objects: Optional[int] = None
    error: Optional[str] = None
    array: Optional[np.ndarray] = None  # outputs materialized with persist=False
    table: Optional[str] = None  # measurement tables with persist=False, as CSV


@dataclass
class Report:
    """What a run did: `outputs` in the order the flow marked them, `failures` with
    their reasons, and the full document (the CLI's `--json`) in `json`."""

    ok: bool
    device: Optional[str]
    wall_ms: float
    outputs: List[Output]
    failures: List[Dict[str, Any]]
    warnings: List[str]
    json: str = field(repr=False)

    def output(self, name: str) -> Output:
        for o in self.outputs:
            if o.name == name:
                return o
        raise KeyError(name)


class Executor:
    """Runs flows against a store, caching results; holds the GPU device and keeps
    recent results resident. Share one per process, across threads: `run` releases the
    GIL for the whole run."""

    def __init__(self, backend: str = "auto", *, resident_budget: Optional[int] = None):
        self._inner = _imflow.Executor(backend, resident_budget=resident_budget)

    @property
    def device(self) -> Optional[str]:
        return self._inner.device

    def run(self, flow: Flow, store: Store, *, refresh: bool = False, jobs: int = 0,
            memory: Optional[str] = None) -> Report:
        text, arrays, tables = self._inner.run(flow, store, refresh=refresh, jobs=jobs, memory=memory)
        doc = json.loads(text)
        outputs = [
            Output(
                name=o["name"], status=o["status"], path=o.get("path"), file_blake3=o.get("file_blake3"),
                output_key=o.get("output_key"), source=o.get("source"), objects=o.get("objects"),
                error=o.get("error"), array=arrays.get(o["name"]), table=tables.get(o["name"]),
            )
            for o in doc["outputs"]
        ]
        return Report(ok=not doc["failures"], device=doc["device"], wall_ms=doc["wall_ms"], outputs=outputs,
                      failures=doc["failures"], warnings=doc["warnings"], json=text)
