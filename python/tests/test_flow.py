"""Cached flows from Python: files and arrays as sources, reports, hits, in-memory
outputs, measurement tables, one executor shared by threads."""
import os
import pathlib
import threading
from typing import List

import numpy as np
import scipy.ndimage as ndi

import imflow

rng = np.random.default_rng(7)


def write_inputs(folder: pathlib.Path, n: int = 3) -> List[pathlib.Path]:
    folder.mkdir()
    paths = []
    for k in range(n):
        p = folder / f"cell{k}.tif"
        imflow.imwrite(p, rng.poisson(1000, (96, 128)).astype(np.uint16))
        paths.append(p)
    return paths


def segmentation(paths: List[pathlib.Path]) -> imflow.Flow:
    flow = imflow.Flow()
    for p in paths:
        src = flow.file(p)
        mask = flow.chain(src, ["gaussian:sigma=2", "threshold:method=otsu"])
        flow.materialize(mask, f"{p.stem}_mask")
        table = flow.measure(flow.op(mask, "label"), src)
        flow.materialize(table, f"{p.stem}_objects")
    return flow


def test_a_flow_runs_then_hits(tmp_path: pathlib.Path, backend: str) -> None:
    paths = write_inputs(tmp_path / "in")
    flow = segmentation(paths)
    store = imflow.Store(tmp_path / "out")
    first = imflow.Executor(backend).run(flow, store)
    assert first.ok and {o.status for o in first.outputs} == {"computed"}
    mask = first.output("cell0_mask")
    assert mask.path is not None and mask.file_blake3 is not None
    assert mask.path.endswith(".tif") and mask.file_blake3[:16] in mask.path
    assert imflow.hash_file(mask.path) == mask.file_blake3
    table = first.output("cell0_objects")
    assert table.path is not None
    assert table.path.endswith(".csv") and table.objects == len(open(table.path).read().splitlines()) - 1
    again = imflow.Executor(backend).run(flow, store)
    assert {o.status for o in again.outputs} == {"store_hit"} and again.device is None
    assert [o.objects for o in again.outputs] == [o.objects for o in first.outputs]
    assert store.verify()[1] == len(first.outputs)


def test_arrays_in_memory_out(tmp_path: pathlib.Path, backend: str) -> None:
    x = rng.poisson(1000, (64, 80)).astype(np.uint16)
    flow = imflow.Flow()
    src = flow.array(x, "x")
    g = flow.op(src, "gaussian:sigma=1.5")
    flow.materialize(g, "g", dtype="float32", persist=False)
    labels = flow.chain(g, ["threshold:method=otsu", "label"])
    flow.materialize(flow.measure(labels, src), "objects", persist=False)
    r = imflow.Executor(backend).run(flow, imflow.Store(tmp_path / "out"))
    assert r.ok
    want = ndi.gaussian_filter(x.astype(np.float32), 1.5)
    blurred, objects = r.output("g").array, r.output("objects").table
    assert blurred is not None and objects is not None
    assert np.abs(blurred - want).max() < 1e-4 * float(x.max() - x.min())
    assert objects.startswith("label,area,")
    assert list((tmp_path / "out").glob("*.tif")) == [], "nothing persisted"


def test_a_missing_output_is_recomputed_and_bad_sources_are_reported(tmp_path: pathlib.Path,
                                                                      backend: str) -> None:
    paths = write_inputs(tmp_path / "in")
    (tmp_path / "in" / "broken.tif").write_bytes(b"II*\x00 not really")
    flow = segmentation(paths + [tmp_path / "in" / "broken.tif"])
    store = imflow.Store(tmp_path / "out")
    first = imflow.Executor(backend).run(flow, store)
    assert not first.ok and len(first.failures) == 1 and "broken.tif" in first.failures[0]["reason"]
    path = first.output("cell1_mask").path
    assert path is not None
    os.remove(path)
    again = imflow.Executor(backend).run(flow, store)
    assert again.output("cell1_mask").status == "computed"
    assert again.output("cell0_mask").status == "store_hit"


def test_one_executor_shared_by_threads(tmp_path: pathlib.Path, backend: str) -> None:
    paths = write_inputs(tmp_path / "in", n=2)
    exec_ = imflow.Executor(backend, resident_budget=0)
    reports: List[imflow.Report] = []
    errors: List[Exception] = []

    def work(k: int) -> None:
        try:
            reports.append(exec_.run(segmentation(paths), imflow.Store(tmp_path / f"out{k}")))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(reports) == 8
    hashes = {tuple(o.file_blake3 for o in r.outputs) for r in reports}
    assert len(hashes) == 1, "every thread wrote the same files"
