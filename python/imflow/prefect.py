"""imflow for Prefect 3: image results written as ordinary files named by their content,
and a cache policy keyed by content, not paths.

    from prefect import flow, task
    from imflow.prefect import ImageResult, IMFLOW_CACHE

    @task(cache_policy=IMFLOW_CACHE, result_serializer=ImageResult(store="s3://lab/results"),
          persist_result=True)
    def denoise(path: str, op: str = "gaussian:sigma=2"):
        return imflow.apply(imflow.imread(path), [op], dtype="float32")

`ImageResult(store=URL_OR_PATH)` puts each array into an imflow store (`s3://bucket/prefix`
with imflow's `s3` feature, which the wheel has, or a local folder), so a task that ran
on one machine (a Dask or Ray worker, a retry elsewhere) is a cache hit on every other.
Credentials and endpoint come from the usual AWS variables (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL). Prefect checks that a cached result
exists by loading its record; for that check imflow only asks the store for the object's
size and checksum (one HEAD request, no download), and the array is downloaded once, with
its hash verified, when Prefect reads the result for the task's caller. A missing or
altered object raises `ResultFileError`, logged as a warning, and Prefect runs the task
again. `ImageResult(folder=...)` is the older local-only form, each load re-hashing its
file.

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
import sys
import tempfile
import threading
from types import FrameType
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional

import numpy as np
from prefect.cache_policies import CachePolicy
from prefect.serializers import Serializer

import imflow

log = logging.getLogger("imflow.prefect")


class ResultFileError(imflow.Error):
    """A result file that is missing or does not hash to its recorded value."""


_STORES: Dict[str, "imflow.Store"] = {}
_STORES_LOCK = threading.Lock()


def _store(where: str) -> "imflow.Store":
    """One imflow store per location and process (it holds the object store's client)."""
    with _STORES_LOCK:
        if where not in _STORES:
            _STORES[where] = imflow.Store(where)
        return _STORES[where]


def _checking_existence() -> bool:
    """Whether Prefect's ResultStore is only checking that a record exists (it loads the
    record and throws the value away): then a cheap check of the object is enough."""
    frame: Optional[FrameType] = sys._getframe(2)
    for _ in range(12):
        if frame is None:
            return False
        if frame.f_code.co_name in ("_exists", "_aexists") and "self" in frame.f_locals \
                and type(frame.f_locals["self"]).__name__ == "ResultStore":
            return True
        frame = frame.f_back
    return False


@dataclass(frozen=True)
class StoredImage:
    """What a cheap existence check of a result returns (Prefect discards it)."""

    url: str
    blake3: str
    dtype: str
    shape: List[int]


class ImageResult(Serializer):
    """Prefect result serializer for numpy arrays: the array as a content-named image
    file in an imflow store (`store=`, a URL or a path) or a local folder (`folder=`),
    the result record a JSON reference to it."""

    type: Literal["imflow/image"] = "imflow/image"
    folder: str = "imflow-results"
    store: Optional[str] = None
    format: Literal["tif", "png"] = "tif"

    def dumps(self, obj: Any) -> bytes:
        array = np.asarray(obj)
        data = imflow.encode(array, self.format, stack=False)
        digest = imflow.hash_bytes(data)
        if self.store is not None:
            name = f"{digest[:16]}.{self.format}"
            url = _store(self.store).put(name, data)
            ref: Dict[str, Any] = dict(store=self.store, name=name, url=url, blake3=digest, size=len(data),
                                       dtype=str(array.dtype), shape=list(array.shape), format=self.format)
            return json.dumps(ref).encode()
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

    def loads(self, blob: bytes) -> Any:
        ref = json.loads(blob)
        if "store" in ref:
            return self._load_stored(ref)
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

    def _load_stored(self, ref: Dict[str, Any]) -> Any:
        store = _store(ref["store"])
        if _checking_existence():
            try:
                store.check(ref["name"], ref["size"], ref["blake3"])
            except imflow.Error as e:
                log.warning("imflow result %s is missing or altered: computing it again (%s)", ref["url"], e)
                raise ResultFileError(f"{ref['url']}: {e}") from e
            return StoredImage(ref["url"], ref["blake3"], ref["dtype"], ref["shape"])
        try:
            data = store.read(ref["name"], ref["blake3"])  # verified against the hash
        except imflow.Error as e:
            log.warning("imflow result %s is missing or altered: computing it again (%s)", ref["url"], e)
            raise ResultFileError(f"{ref['url']}: {e}") from e
        array = imflow.decode(data)
        if str(array.dtype) != ref["dtype"] or list(array.shape) != ref["shape"]:
            raise ResultFileError(
                f"{ref['url']}: holds {array.dtype} {list(array.shape)}, the record says {ref['dtype']} {ref['shape']}"
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

__all__ = ["IMFLOW_CACHE", "ImageResult", "ImflowCache", "ResultFileError", "StoredImage"]
