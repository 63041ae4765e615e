"""The Prefect 3 example flow, run for real against Prefect's local ephemeral API: the
second run computes nothing, a deleted result file reruns exactly its task (with a
warning, no crash), an edited input reruns only its own tasks."""
import json
import os
import pathlib
import subprocess
import sys
from typing import Dict, Tuple

import numpy as np

import imflow

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "prefect_flow.py"


def run_flow(env: Dict[str, str], inputs: pathlib.Path,
             results: pathlib.Path) -> Tuple[Dict[str, Tuple[str, str]], str]:
    p = subprocess.run([sys.executable, str(EXAMPLE), str(inputs), str(results), "--json"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    states = {r["image"]: (r["denoise"], r["threshold"]) for r in json.loads(p.stdout.strip().splitlines()[-1])}
    return states, p.stderr


def test_prefect_flow_caches_by_content(tmp_path: pathlib.Path) -> None:
    # Prefect's local ephemeral API, in a home of the test's own.
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING")
    env.pop("PREFECT_API_URL", None)
    inputs, results = tmp_path / "in", tmp_path / "results"
    inputs.mkdir()
    rng = np.random.default_rng(3)
    for k in range(3):
        imflow.imwrite(inputs / f"img{k}.tif", rng.poisson(1000, (96, 96)).astype(np.uint16))

    first, _ = run_flow(env, inputs, results)
    assert set(first.values()) == {("Completed", "Completed")}
    files = sorted(results.glob("*.tif"))
    assert len(files) == 6
    for f in files:  # named by their content
        assert imflow.hash_file(f)[:16] == f.stem

    second, _ = run_flow(env, inputs, results)
    assert set(second.values()) == {("Cached", "Cached")}, second

    # Delete img1's denoised result: exactly that task runs again, with a warning; its
    # output is the same array, so the threshold task still hits.
    denoised = imflow.apply(imflow.imread(inputs / "img1.tif"), ["gaussian:sigma=2"], dtype="float32")
    target = results / (imflow.hash_bytes(imflow.encode(denoised, "tif"))[:16] + ".tif")
    assert target.exists()
    target.unlink()
    third, err = run_flow(env, inputs, results)
    assert third == {"img0": ("Cached", "Cached"), "img1": ("Completed", "Cached"), "img2": ("Cached", "Cached")}
    assert f"imflow result {target} is missing" in err
    assert target.exists()

    # Edit img2's bytes at the same path: only img2's tasks run.
    imflow.imwrite(inputs / "img2.tif", rng.poisson(1000, (96, 96)).astype(np.uint16))
    fourth, _ = run_flow(env, inputs, results)
    assert fourth == {"img0": ("Cached", "Cached"), "img1": ("Cached", "Cached"), "img2": ("Completed", "Completed")}
