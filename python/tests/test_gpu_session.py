"""The GPU session's dry run: `benches/gpu/run.sh --small` on whatever adapter is here
(llvmpipe in CI), so the script that a lent GPU machine runs once is known to work before
one is lent. It checks the tables' rows and that every cell that must hold a figure holds
one, that a peer left out (CuPy, OpenCV) gives `absent` cells, and that every flow
(imflow's CLI on both backends, the imflow package, CuPy, scipy + scikit-image) wrote the
same object tables as scipy + scikit-image. CuPy needs CUDA, so its code paths run on
benches/gpu/standin, numpy under CuPy's names. Nothing here asserts a time.
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


@pytest.mark.parametrize("peer", ["no-cupy", "standin-cupy"])
def test_dry_run_tables(tmp_path: pathlib.Path, peer: str) -> None:
    """no-cupy: the dry run as BENCHMARKS.md gives it (`--without cupy`). standin-cupy:
    CuPy's columns from the numpy stand-in, OpenCV's left out instead."""
    bin_dir = _bin_dir()
    gpu = _gpu()
    cupy = peer == "standin-cupy"
    out = tmp_path / "out"
    env = dict(os.environ, PYTHON=sys.executable, IMFLOW_GPU_PACK=str(tmp_path / "no-pack"))
    if cupy:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "benches/gpu/standin")] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    r = subprocess.run(["bash", str(ROOT / "benches/gpu/run.sh"), "--small", "--without", "cv2" if cupy else "cupy",
                        "--bin-dir", str(bin_dir), "--out", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    md = (out / "gpu_session.md").read_text()
    assert "## Kernels on resident images" in r.stdout
    assert ("cupy: cupy numpy stand-in" in md) == cupy
    tables = _tables(md)
    assert list(tables) == ["Kernels on resident images", "Resident chain vs host round trips",
                            "The flow: gaussian → Otsu → label → measure"]

    def check(cell: str, present: bool, where: object) -> None:
        assert NUMBER.match(cell) if present else cell == "absent", (where, cell)

    kernels = tables["Kernels on resident images"]
    assert [(k["op"], k["size"]) for k in kernels if k["op"] in KERNELS] == [
        (op, size) for size in SIZES for op in KERNELS]
    for k in kernels:
        where = (k["op"], k["size"])
        check(k["scipy ms"], True, where)
        for col in GPU_COLUMNS:
            check(k[col], gpu, (where, col))
        check(k["CuPy ms"], cupy, where)
        check(k["CuPy GiB/s"], cupy, where)
        check(k["CuPy / imflow"], cupy and gpu, where)
        filters = k["op"].startswith(("gaussian", "box")) and "x" not in k["size"]
        check(k["cv2 ms"], filters and not cupy, where)

    chain = tables["Resident chain vs host round trips"]
    assert [c["size"] for c in chain] == ["64²", "128²"]
    for c in chain:
        check(c["scipy ms"], True, c)
        for col in ("imflow resident ms", "imflow kernels ms", "imflow round trips ms", "round trips / resident",
                    "scipy / imflow"):
            check(c[col], gpu, (c["size"], col))
        for col in ("CuPy resident ms", "CuPy round trips ms", "CuPy trips / resident"):
            check(c[col], cupy, (c["size"], col))

    flow = {f["flow"].split(" (")[0].split(":")[0]: f for f in tables["The flow: gaussian → Otsu → label → measure"]}
    expected = ["imflow run --backend gpu, cold", "imflow run --backend gpu, fully cached"] if gpu else []
    expected += ["imflow run --backend cpu, cold", "imflow run --backend cpu, fully cached",
                 "imflow Python package per file", "CuPy per file", f"scipy + skimage, {os.cpu_count()} processes"]
    assert list(flow) == expected
    absent = ([] if cupy else ["CuPy per file"]) + ([] if gpu else ["imflow Python package per file"])
    for name in expected:
        row = flow[name]
        if name in absent:
            assert row["best ms"] == row["objects"] == row["table = scipy's"] == "absent", row
            continue
        check(row["best ms"], True, row)
        check(row["vs scipy"], True, row)
        # Every flow's CSVs hold scipy + skimage's regionprops_table values, file by file.
        assert row["table = scipy's"] == ("reference" if name.startswith("scipy") else "yes"), row
    counts = {flow[name]["objects"] for name in expected if name not in absent}
    assert len(counts) == 1 and int(counts.pop()) > 0, counts
    assert "objects: every flow found the same total" in md
    assert (out / "gpu_session.json").is_file()
