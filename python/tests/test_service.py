"""The FastAPI example service on loopback: concurrent requests answered like
`imflow apply`, clear statuses for bad input, and /health answered while a blur is
still running (shown by the order of events, not by timing)."""
import importlib.util
import pathlib
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import numpy as np
import pytest
import uvicorn

import imflow

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load_service() -> ModuleType:
    spec = importlib.util.spec_from_file_location("imflow_service", EXAMPLES / "service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server() -> Iterator[Tuple[Any, str]]:
    service = load_service()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(service.app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield service, url
    srv.should_exit = True
    t.join(timeout=10)


def images(tmp_path: pathlib.Path) -> Dict[str, pathlib.Path]:
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    frames = rng.integers(0, 256, (4, 40, 50, 4), dtype=np.uint8)
    frames[..., 3] = 255
    out: Dict[str, pathlib.Path] = {}
    for name, array, fmt in [("photo.png", rgb, "png"), ("photo.jpg", rgb, "jpg"), ("anim.gif", frames, "gif")]:
        p = tmp_path / name
        p.write_bytes(imflow.encode(array, fmt))
        out[name] = p
    return out


def test_concurrent_requests_answer_as_the_cli_does(server: Tuple[Any, str], tmp_path: pathlib.Path,
                                                    imflow_cli: str) -> None:
    _, url = server
    inputs = images(tmp_path)
    want: Dict[str, bytes] = {}
    for name, path in inputs.items():
        out = tmp_path / f"cli-{name}"
        subprocess.run([imflow_cli, "apply", str(path), str(out), "--op", "gaussian:sigma=3"], check=True,
                       capture_output=True)
        want[name] = out.read_bytes()
    names = list(inputs) * 11  # 33 requests
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(lambda n: (n, client.post(url + "/blur?sigma=3", content=inputs[n].read_bytes())),
                                names[:32]))
    assert len(replies) == 32
    for name, r in replies:
        assert r.status_code == 200, r.text
        assert r.content == want[name], name
    gif = imflow.decode(next(r for n, r in replies if n == "anim.gif").content)
    assert gif.shape[0] == 4, "an animated GIF keeps its frames"


def test_bad_input_gets_clear_statuses(server: Tuple[Any, str], tmp_path: pathlib.Path) -> None:
    service, url = server
    png = imflow.encode(np.zeros((64, 64), np.uint8), "png")
    r = httpx.post(url + "/blur", content=png[: len(png) // 2])
    assert r.status_code == 400 and "decode" in r.json()["detail"]
    r = httpx.post(url + "/blur", content=b"hello, this is text")
    assert r.status_code == 415
    limit = service.MAX_PIXELS
    service.MAX_PIXELS = 64 * 63
    try:
        r = httpx.post(url + "/blur", content=png)
        assert r.status_code == 413 and "4096 pixels" in r.json()["detail"]
    finally:
        service.MAX_PIXELS = limit
    assert httpx.post(url + "/blur?sigma=-1", content=png).status_code == 422


def test_health_answers_while_a_blur_runs(server: Tuple[Any, str]) -> None:
    service, url = server
    events: List[str] = []
    started, health_done = threading.Event(), threading.Event()

    def hook() -> None:
        events.append("blur started")
        started.set()
        health_done.wait(60)  # the blur stays in progress until /health has answered

    service.app.state.before_compute = hook
    big = imflow.encode(np.random.default_rng(0).integers(0, 256, (1024, 1024), dtype=np.uint8), "png")
    try:
        with ThreadPoolExecutor(1) as pool:
            blur = pool.submit(lambda: httpx.post(url + "/blur?sigma=4", content=big, timeout=120))
            assert started.wait(60)
            r = httpx.get(url + "/health", timeout=30)
            events.append("health answered")
            assert r.status_code == 200
            health_done.set()
            assert blur.result().status_code == 200
            events.append("blur answered")
    finally:
        service.app.state.before_compute = None
    assert events == ["blur started", "health answered", "blur answered"]
