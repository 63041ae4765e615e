"""Inputs are borrowed, not copied: a C-ordered array is read where it lies, so a call
on it peaks lower than the same call on a Fortran-ordered array of the same values,
which must be copied into C order first. Peak resident memory of a child process
(deterministic, unlike timing; Linux's VmHWM); the difference is the size of the copy."""
import json
import subprocess
import sys
from typing import Any, Dict

import pytest

CHILD = """
import json, sys
import numpy as np
import imflow
order = sys.argv[1]
x = np.ones((4096, 4096), dtype=np.float32, order=order)   # 64 MiB
x[::7, ::5] = 3.0
y = imflow.gaussian(x, 1.0, backend="cpu")
assert y.shape == x.shape and y.dtype == np.float32
# VmHWM is this program's own peak: getrusage's ru_maxrss would carry the parent's
# (pytest's) peak over through fork and exec.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_kib": int(hwm.split()[1]), "check": float(y[100, 100])}))
"""


def peak(order: str) -> Dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, order], capture_output=True, text=True, check=True
    )
    result: Dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_a_c_ordered_input_is_not_copied() -> None:
    c, f = peak("C"), peak("F")
    assert c["check"] == f["check"]  # the same values, either way
    copy_mib = (f["peak_kib"] - c["peak_kib"]) / 1024
    # The Fortran-ordered input costs one 64 MiB copy; the C-ordered one none.
    assert 48 <= copy_mib <= 80, (c, f)
