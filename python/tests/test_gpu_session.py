"""The GPU session's dry run: `benches/gpu/run.sh --small` on whatever adapter is here
(llvmpipe in CI), so the script that a lent GPU machine runs once is known to work before
one is lent. It checks the tables' rows and that every cell that must hold a figure holds
one, that CuPy's cells say `absent` when CuPy is left out, and that every flow (imflow's
CLI on both backends, the imflow package, scipy + scikit-image) found the same objects.
Nothing here asserts a time.
"""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from typing import Dict, List

import pytest

import imflow

ROOT = pathlib.Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?(x|%)?$")
SIZES = ["64²", "128²", "8x32x32"]
KERNELS = ["gaussian σ1", "gaussian σ2", "gaussian σ5", "box 5", "Otsu", "label (faces)"]
GPU_COLUMNS = ["imflow kernel ms", "imflow GiB/s", "% of peak", "imflow submit+wait ms", "scipy / imflow"]


def _gpu() -> bool:
    """As conftest decides: without an adapter (and without IMFLOW_REQUIRE_GPU=1, which
    makes the session fail instead) imflow's GPU cells must say absent."""
    try:
        return imflow.device("gpu")[1] is None
    except imflow.Error:
        return False


def _bin_dir() -> pathlib.Path:
    """The build `cargo test` just made (debug), else a release build."""
    for d in (ROOT / "target/debug", ROOT / "target/release"):
        if (d / "imflow").is_file() and (d / "examples/kernel_timing").is_file():
            return d
    pytest.skip("imflow and examples/kernel_timing are not built (cargo build --bin imflow --example kernel_timing)")


def _tables(markdown: str) -> Dict[str, List[Dict[str, str]]]:
    """Each `## title` table as a list of rows keyed by the header's cells."""
    tables: Dict[str, List[Dict[str, str]]] = {}
    title = ""
    head: List[str] = []
    for line in markdown.splitlines():
        if line.startswith("## "):
            title, head = line[3:], []
        elif line.startswith("|") and title:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not head:
                head = cells
            elif not set(cells[0]) <= set("-: "):
                tables.setdefault(title, []).append(dict(zip(head, cells)))
    return tables


def test_dry_run_tables(tmp_path: pathlib.Path) -> None:
    bin_dir = _bin_dir()
    gpu = _gpu()
    out = tmp_path / "out"
    env = dict(os.environ, PYTHON=sys.executable, IMFLOW_GPU_PACK=str(tmp_path / "no-pack"))
    r = subprocess.run(["bash", str(ROOT / "benches/gpu/run.sh"), "--small", "--without", "cupy",
                        "--bin-dir", str(bin_dir), "--out", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    md = (out / "gpu_session.md").read_text()
    assert "## Kernels on resident images" in r.stdout
    tables = _tables(md)
    assert list(tables) == ["Kernels on resident images", "Resident chain vs host round trips",
                            "The flow: gaussian → Otsu → label → measure"]

    kernels = tables["Kernels on resident images"]
    assert [(k["op"], k["size"]) for k in kernels if k["op"] in KERNELS] == [
        (op, size) for size in SIZES for op in KERNELS]
    for k in kernels:
        assert NUMBER.match(k["scipy ms"]), (k["op"], k["size"], k["scipy ms"])
        for col in GPU_COLUMNS:
            assert NUMBER.match(k[col]) if gpu else k[col] == "absent", (k["op"], k["size"], col, k[col])
        for col in ("CuPy ms", "CuPy GiB/s", "CuPy / imflow"):
            assert k[col] == "absent", (k["op"], col, k[col])
        filters = k["op"].startswith(("gaussian", "box")) and "x" not in k["size"]
        assert NUMBER.match(k["cv2 ms"]) if filters else k["cv2 ms"] == "absent", (k["op"], k["size"], k["cv2 ms"])

    chain = tables["Resident chain vs host round trips"]
    assert [c["size"] for c in chain] == ["64²", "128²"]
    for c in chain:
        assert NUMBER.match(c["scipy ms"]), c
        for col in ("imflow resident ms", "imflow kernels ms", "imflow round trips ms", "round trips / resident",
                    "scipy / imflow"):
            assert NUMBER.match(c[col]) if gpu else c[col] == "absent", (c["size"], col, c[col])
        assert c["CuPy resident ms"] == c["CuPy / imflow"] == "absent"

    flow = {f["flow"].split(" (")[0].split(":")[0]: f for f in tables["The flow: gaussian → Otsu → label → measure"]}
    expected = ["imflow run --backend gpu, cold", "imflow run --backend gpu, fully cached"] if gpu else []
    expected += ["imflow run --backend cpu, cold", "imflow run --backend cpu, fully cached",
                 "imflow Python package per file", "CuPy per file", f"scipy + skimage, {os.cpu_count()} processes"]
    assert list(flow) == expected
    absent = ["CuPy per file"] + ([] if gpu else ["imflow Python package per file"])
    for name in expected:
        if name in absent:
            assert flow[name]["best ms"] == flow[name]["objects"] == "absent"
            continue
        assert NUMBER.match(flow[name]["best ms"]) and NUMBER.match(flow[name]["vs scipy"]), flow[name]
    # The same objects, counted by each flow's own tables (scipy's regionprops_table is
    # the reference; every imflow flow must agree with it).
    counts = {flow[name]["objects"] for name in expected if name not in absent}
    assert len(counts) == 1 and int(counts.pop()) > 0, counts
    assert "objects: every flow found the same total" in md
    assert (out / "gpu_session.json").is_file()
