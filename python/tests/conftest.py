import os
import pathlib
import shutil

import pytest

import imflow

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _gpu_available() -> bool:
    try:
        name, notice = imflow.device("gpu")
        return notice is None
    except imflow.Error:
        return False


GPU = _gpu_available()
if os.environ.get("IMFLOW_REQUIRE_GPU") == "1" and not GPU:
    raise RuntimeError("IMFLOW_REQUIRE_GPU=1 but no GPU adapter (install mesa-vulkan-drivers)")
if not GPU:
    print("*** SKIPPED GPU backend in the Python tests: no adapter")

BACKENDS = ["cpu", "gpu"] if GPU else ["cpu"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture(scope="session")
def imflow_cli() -> str:
    """The imflow binary `cargo test` built (or IMFLOW_BIN)."""
    for candidate in [os.environ.get("IMFLOW_BIN"), ROOT / "target/release/imflow", ROOT / "target/debug/imflow",
                      shutil.which("imflow")]:
        if candidate and pathlib.Path(candidate).exists():
            return str(candidate)
    pytest.fail("no imflow binary: run `cargo build` first or set IMFLOW_BIN")
