"""The typed surface: `mypy --strict` accepts the package and these tests against the
stubs (imflow/_imflow.pyi), as it would a user's typed code (config: python/pyproject.toml's
[tool.mypy]). Skipped where mypy is not installed; python/requirements-dev.txt has it,
so scripts/test and CI run it."""
import pathlib
import subprocess
import sys

import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]


def test_mypy_strict_accepts_the_tests_and_the_package() -> None:
    pytest.importorskip("mypy")
    p = subprocess.run([sys.executable, "-m", "mypy", "--strict"], cwd=PYTHON_DIR, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout[-5000:] + p.stderr[-2000:]
    assert "Success: no issues found" in p.stdout
