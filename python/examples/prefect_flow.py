"""The classic microscopy flow as a Prefect 3 flow, with imflow doing the work: list a
folder of TIFFs; per image, denoise with a gaussian, then threshold (Otsu).

    python python/examples/prefect_flow.py INPUT_DIR RESULTS_DIR [--json]

Results are image files named by their content in RESULTS_DIR (imflow.prefect's
ImageResult); tasks are cached by the content of their inputs (IMFLOW_CACHE), so a
second run computes nothing, an edited image reruns only its own tasks, and a deleted
result file reruns exactly the task that made it. With --json the last line printed
is each task run's name and final state, for tests and dashboards.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from prefect import flow, task

import imflow
from imflow.prefect import IMFLOW_CACHE, ImageResult


def tasks(results: Path):
    """The two tasks, writing their images under `results` (Prefect keeps its small
    result records in its own storage: PREFECT_LOCAL_STORAGE_PATH, by default
    ~/.prefect/storage)."""
    options = dict(cache_policy=IMFLOW_CACHE, persist_result=True,
                   result_serializer=ImageResult(folder=str(results)))

    @task(name="denoise", **options)
    def denoise(path: str, op: str = "gaussian:sigma=2") -> np.ndarray:
        return imflow.apply(imflow.imread(path), [op], dtype="float32")

    @task(name="threshold", **options)
    def segment(image: np.ndarray, op: str = "threshold:method=otsu") -> np.ndarray:
        return imflow.apply(image, [op])

    return denoise, segment


@flow(name="imflow-microscopy")
def microscopy(input_dir: str, results_dir: str):
    denoise, segment = tasks(Path(results_dir))
    runs = []
    for path in sorted(Path(input_dir).glob("*.tif")):
        d = denoise.submit(str(path))
        m = segment.submit(d)
        runs.append((path.stem, d, m))
    report = []
    for stem, d, m in runs:
        m.result()
        report.append(dict(image=stem, denoise=d.state.name, threshold=m.state.name))
    return report


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--json"]
    if len(args) != 2:
        sys.exit(__doc__)
    report = microscopy(args[0], args[1])
    for r in report:
        print(f"{r['image']}: denoise {r['denoise']}, threshold {r['threshold']}")
    if "--json" in sys.argv:
        print(json.dumps(report))
