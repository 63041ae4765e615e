"""imflow for Prefect 3: image results written as ordinary files named by their content,
and a cache policy keyed by content, not paths.

    from prefect import flow, task
    from imflow.prefect import ImageResult, IMFLOW_CACHE

    @task(cache_policy=IMFLOW_CACHE, result_serializer=ImageResult(folder="results"),
          persist_result=True)
    def denoise(path: str, op: str = "gaussian:sigma=2"):
        return imflow.apply(imflow.imread(path), [op], dtype="float32")

`ImageResult` writes each array as a TIFF (or PNG) named `<blake3[:16]>.<ext>` in its
folder, which Fiji and napari open, and hands Prefect only a small JSON reference
(path, blake3, dtype, shape): text, as Prefect's JSON result records need. Loading
re-hashes the file: a missing or altered file raises `ResultFileError` naming it, which
Prefect takes as "no cached result", so the task runs again (with a warning logged)
instead of returning wrong data.

`IMFLOW_CACHE` keys a task by the blake3 of each file input's bytes (a path string
naming an existing file; its name does not count, so a renamed file hits and an edited
one misses), the imflow key of each array input, the canonical form and version
(shader source, CPU twin) of each imflow op spec among the inputs, other inputs by
value, and the task's own name and imflow's version.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Literal, Optional

import numpy as np
from prefect.cache_policies import CachePolicy
from prefect.serializers import Serializer

import imflow

log = logging.getLogger("imflow.prefect")


class ResultFileError(imflow.Error):
    """A result file that is missing or does not hash to its recorded value."""


class ImageResult(Serializer):
    """Prefect result serializer for numpy arrays: the array as a content-named image
    file, the result record a JSON reference to it."""

    type: Literal["imflow/image"] = "imflow/image"
    folder: str = "imflow-results"
    format: Literal["tif", "png"] = "tif"

    def dumps(self, obj: Any) -> bytes:
        array = np.asarray(obj)
        data = imflow.encode(array, self.format, stack=False)
        digest = imflow.hash_bytes(data)
        folder = Path(self.folder).absolute()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{digest[:16]}.{self.format}"
        if not (path.exists() and imflow.hash_file(path) == digest):
            # Atomic: a temporary file in the folder, then a rename.
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".imflow-tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        ref = dict(path=str(path), blake3=digest, dtype=str(array.dtype), shape=list(array.shape),
                   format=self.format)
        return json.dumps(ref).encode()

    def loads(self, blob: bytes) -> np.ndarray:
        ref = json.loads(blob)
        path = Path(ref["path"])
        if not path.exists():
            log.warning("imflow result %s is missing: computing it again", path)
            raise ResultFileError(f"{path}: result file missing")
        if imflow.hash_file(path) != ref["blake3"]:
            log.warning("imflow result %s does not match its hash: computing it again", path)
            raise ResultFileError(f"{path}: contents do not match the recorded blake3 {ref['blake3']}")
        array = imflow.imread(path)
        if str(array.dtype) != ref["dtype"] or list(array.shape) != ref["shape"]:
            raise ResultFileError(
                f"{path}: holds {array.dtype} {list(array.shape)}, the record says {ref['dtype']} {ref['shape']}"
            )
        return array


def _key_of(value: Any) -> Any:
    """One input's contribution to the key: content for files and arrays, canonical
    form and version for imflow op specs, the value itself otherwise."""
    if isinstance(value, np.ndarray):
        return ["array", imflow.array_key(value)]
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if os.path.isfile(text):
            return ["file", imflow.hash_file(text)]
        try:
            return ["op", imflow.canonical_op(text), imflow.op_version(text)]
        except ValueError:
            return ["str", text]
    if isinstance(value, (list, tuple)):
        return ["seq", [_key_of(v) for v in value]]
    if isinstance(value, dict):
        return ["map", {str(k): _key_of(v) for k, v in sorted(value.items())}]
    return ["value", repr(value)]


@dataclass
class ImflowCache(CachePolicy):
    """A cache policy keyed by the content of a task's inputs (see the module's doc)."""

    def compute_key(self, task_ctx: Any, inputs: Dict[str, Any], flow_parameters: Dict[str, Any],
                    **kwargs: Any) -> Optional[str]:
        task_name = getattr(getattr(task_ctx, "task", None), "name", "")
        parts = ["imflow-cache/1", imflow.__version__, task_name,
                 {name: _key_of(v) for name, v in sorted(inputs.items())}]
        return imflow.hash_bytes(json.dumps(parts, sort_keys=True).encode())


IMFLOW_CACHE = ImflowCache()

__all__ = ["IMFLOW_CACHE", "ImageResult", "ImflowCache", "ResultFileError"]
