"""The classic microscopy flow as a Prefect 3 flow, with imflow doing the work: list a
folder of TIFFs; per image, denoise with a gaussian, then threshold (Otsu).

    python python/examples/prefect_flow.py INPUT_DIR RESULTS [--dask N] [--json]

RESULTS is a folder or an object store URL (`s3://bucket/prefix`). Images go there as
TIFFs named by their content (imflow.prefect's ImageResult); tasks are cached by the
content of their inputs (IMFLOW_CACHE), so a second run computes nothing, an edited image
reruns only its own tasks, and a deleted result reruns exactly the task that made it.

With a URL, Prefect's own result records go to the same bucket too (`<prefix>/prefect/`,
an S3Bucket block from prefect-aws), so any machine can tell a task is cached: a fresh
Dask cluster, or a flow process whose local Prefect storage is gone. Credentials and
endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and
AWS_ENDPOINT_URL (for MinIO or a test server), read by imflow and boto3 alike.

`--dask N` runs the tasks on a local Dask cluster of N worker processes with one thread
each (prefect-dask's DaskTaskRunner); give `address=` to DaskTaskRunner for an existing
cluster. With --json the last line printed is each task run's name and final state, and
the blake3 of each mask, for tests and dashboards.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
from prefect import flow, task

import imflow
from imflow.prefect import IMFLOW_CACHE, ImageResult


def result_storage(results: str) -> Optional[Any]:
    """An S3Bucket block for Prefect's result records beside the images, for an
    s3:// RESULTS; None (Prefect's default, local storage) for a folder."""
    if not results.startswith("s3://"):
        return None
    from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket

    bucket, _, prefix = results[len("s3://"):].partition("/")
    credentials = AwsCredentials(
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_client_parameters=AwsClientParameters(endpoint_url=os.environ.get("AWS_ENDPOINT_URL")),
    )
    block = S3Bucket(bucket_name=bucket, bucket_folder=f"{prefix}/prefect".lstrip("/"), credentials=credentials)
    # Prefect wants result storage saved server-side (workers load it by reference).
    block.save(f"imflow-{imflow.hash_bytes(results.encode())[:12]}", overwrite=True)
    return block


def tasks(results: str):
    """The two tasks, their images in the imflow store at `results`."""
    options: Dict[str, Any] = dict(cache_policy=IMFLOW_CACHE, persist_result=True,
                                   result_serializer=ImageResult(store=results))
    storage = result_storage(results)
    if storage is not None:
        options["result_storage"] = storage

    @task(name="denoise", **options)
    def denoise(path: str, op: str = "gaussian:sigma=2") -> np.ndarray:
        return imflow.apply(imflow.imread(path), [op], dtype="float32")

    @task(name="threshold", **options)
    def segment(image: np.ndarray, op: str = "threshold:method=otsu") -> np.ndarray:
        return imflow.apply(image, [op])

    return denoise, segment


@flow(name="imflow-microscopy")
def microscopy(input_dir: str, results: str):
    denoise, segment = tasks(results)
    runs = []
    for path in sorted(Path(input_dir).glob("*.tif")):
        d = denoise.submit(str(path))
        m = segment.submit(d)
        runs.append((path.stem, d, m))
    report = []
    for stem, d, m in runs:
        mask = m.result()
        d.wait()
        report.append(dict(image=stem, denoise=d.state.name, threshold=m.state.name,
                           mask=imflow.array_key(np.ascontiguousarray(mask))))
    return report


def main(argv: list) -> None:
    args = [a for a in argv if a != "--json"]
    workers = 0
    if "--dask" in args:
        i = args.index("--dask")
        workers = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    run = microscopy
    if workers:
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(cluster_kwargs=dict(n_workers=workers, threads_per_worker=1, processes=True))
        run = microscopy.with_options(task_runner=runner)
    report = run(args[0], args[1])
    for r in report:
        print(f"{r['image']}: denoise {r['denoise']}, threshold {r['threshold']}")
    if "--json" in argv:
        print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
