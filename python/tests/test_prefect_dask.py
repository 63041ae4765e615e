"""The Prefect example flow on Dask (prefect-dask's DaskTaskRunner: 2 worker processes,
1 thread each) with its images and Prefect's result records in S3 (moto's server on
127.0.0.1): a second run on a fresh cluster, with the flow process's local Prefect
storage deleted, is all Cached and bit-equal; a deleted image object reruns exactly its
task; a cache hit downloads each image at most once."""
import collections
import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Dict, Tuple

import numpy as np
import pytest

import imflow

pytest.importorskip("prefect_dask")
pytest.importorskip("prefect_aws")
from s3server import S3Server  # noqa: E402

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "prefect_flow.py"


def run_flow(env: Dict[str, str], inputs: pathlib.Path, results: str,
             logs: pathlib.Path) -> Tuple[Dict[str, Tuple[str, str]], Dict[str, str], str]:
    # Output to files, not pipes: Dask's and Prefect's helper processes may hold a pipe
    # open a while after the flow's process has exited.
    logs.mkdir(exist_ok=True)
    n = len(list(logs.iterdir()))
    out, err = logs / f"{n}.out", logs / f"{n}.err"
    with open(out, "w") as o, open(err, "w") as e:
        code = subprocess.run([sys.executable, str(EXAMPLE), str(inputs), results, "--dask", "2", "--json"],
                              stdout=o, stderr=e, env=env, timeout=600).returncode
    stdout, stderr = out.read_text(), err.read_text()
    assert code == 0, stdout[-3000:] + stderr[-5000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    states = {r["image"]: (r["denoise"], r["threshold"]) for r in report}
    masks = {r["image"]: r["mask"] for r in report}
    return states, masks, stderr


def test_prefect_on_dask_with_results_in_s3(tmp_path: pathlib.Path) -> None:
    with S3Server() as s3:
        bucket = s3.make_bucket("prefect-results")
        results = f"s3://{bucket}/flow"
        env = dict(os.environ, **s3.env, PREFECT_HOME=str(tmp_path / "prefect"),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING")
        env.pop("PREFECT_API_URL", None)
        inputs = tmp_path / "in"
        inputs.mkdir()
        rng = np.random.default_rng(7)
        originals = {}
        for k in range(3):
            x = rng.poisson(1000, (80, 96)).astype(np.uint16)
            imflow.imwrite(inputs / f"img{k}.tif", x)
            originals[f"img{k}"] = x

        first, masks, _ = run_flow(env, inputs, results, tmp_path / "logs")
        assert set(first.values()) == {("Completed", "Completed")}, first
        # The images, TIFFs named by their content, and Prefect's records, in the bucket.
        import boto3

        client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
        images = [k for k in keys if k.endswith(".tif")]
        assert len(images) == 6, keys
        for k in images:
            data = client.get_object(Bucket=bucket, Key=k)["Body"].read()
            assert imflow.hash_bytes(data)[:16] == k.rsplit("/", 1)[1][:-4]
        prefect_records = [k for k in keys if k.startswith("flow/prefect/")]
        assert len(prefect_records) == 6, keys
        # Each mask is the direct computation's.
        for name, x in originals.items():
            want = imflow.apply(imflow.apply(x, ["gaussian:sigma=2"], dtype="float32"), ["threshold:method=otsu"])
            assert masks[name] == imflow.array_key(want)

        # Run 2: a fresh cluster, the flow process's local Prefect storage gone.
        shutil.rmtree(tmp_path / "prefect" / "storage", ignore_errors=True)
        s3.requests(reset=True)
        second, masks2, _ = run_flow(env, inputs, results, tmp_path / "logs")
        assert set(second.values()) == {("Cached", "Cached")}, second
        assert masks2 == masks, "bit-equal arrays"
        gets = collections.Counter(p for m, p in s3.requests() if m == "GET" and p.endswith(".tif"))
        assert gets and max(gets.values()) <= 1, f"each image downloaded at most once: {gets}"

        # Delete img1's denoised image: exactly that task runs again, with a warning.
        denoised = imflow.apply(originals["img1"], ["gaussian:sigma=2"], dtype="float32")
        name = imflow.hash_bytes(imflow.encode(denoised, "tif"))[:16] + ".tif"
        client.delete_object(Bucket=bucket, Key=f"flow/{name}")
        third, masks3, err = run_flow(env, inputs, results, tmp_path / "logs")
        assert third == {"img0": ("Cached", "Cached"), "img1": ("Completed", "Cached"),
                         "img2": ("Cached", "Cached")}, third
        assert masks3 == masks
        assert f"imflow result {results}/{name} is missing or altered" in err, err[-3000:]
        client.head_object(Bucket=bucket, Key=f"flow/{name}")  # put back
