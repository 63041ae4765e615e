"""Requests per second of the imflow blur service against what such services do today:
PIL's GaussianBlur run in a ProcessPoolExecutor through a plain module-level function
(the usual fix for the PicklingError). Same machine, same images, same concurrency, one
run; both servers on loopback with uvicorn.

    .venv/bin/python python/benches/service.py [--requests N] [--concurrency C]

The images: a 1024x768 RGB PNG and a 512x512 RGB JPEG, blurred with sigma 3 (PIL's
radius is its standard deviation too). The outputs differ in their numerics (PIL
approximates the gaussian with box passes); the work per request is comparable.
"""
from __future__ import annotations

import argparse
import io
import os
import pathlib
import socket
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI, Request, Response
from PIL import Image, ImageFilter

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import service as imflow_service  # noqa: E402

import imflow  # noqa: E402


def pil_blur(data: bytes, sigma: float) -> bytes:
    """Module level, so a process pool can pickle it by reference."""
    img = Image.open(io.BytesIO(data))
    fmt = img.format
    out = io.BytesIO()
    img.filter(ImageFilter.GaussianBlur(sigma)).save(out, format=fmt)
    return out.getvalue()


def pil_app(pool: ProcessPoolExecutor) -> FastAPI:
    import asyncio

    app = FastAPI()

    @app.post("/blur")
    async def blur(request: Request, sigma: float = 2.0) -> Response:
        data = await request.body()
        out = await asyncio.get_running_loop().run_in_executor(pool, pil_blur, data, sigma)
        return Response(out)

    return app


def serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, t


def load(url: str, bodies: list[bytes], requests: int, concurrency: int) -> float:
    with httpx.Client(timeout=300) as client, ThreadPoolExecutor(concurrency) as pool:
        def one(k):
            r = client.post(url + "/blur?sigma=3", content=bodies[k % len(bodies)])
            assert r.status_code == 200, r.text
        list(pool.map(one, range(concurrency)))  # warm up
        start = time.perf_counter()
        list(pool.map(one, range(requests)))
        return requests / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=8)
    a = p.parse_args()
    rng = np.random.default_rng(1)
    png = imflow.encode(rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8), "png")
    jpg = imflow.encode(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), "jpg")
    bodies = [png, jpg]
    workers = os.cpu_count() or 2
    results = {}
    for backend in ("auto", "cpu", "gpu"):
        try:
            device = imflow.device(backend)[0]
        except imflow.Error:
            continue  # no GPU adapter at all
        imflow_service.BACKEND = backend
        url, server, t = serve(imflow_service.app)
        default = " (the default)" if backend == "auto" else ""
        name = f"imflow service, {backend}{default}: {device} (thread pool)"
        results[name] = load(url, bodies, a.requests, a.concurrency)
        server.should_exit = True
        t.join()
    with ProcessPoolExecutor(workers) as pool:
        url, server, t = serve(pil_app(pool))
        results[f"PIL in a ProcessPoolExecutor ({workers} workers)"] = load(url, bodies, a.requests, a.concurrency)
        server.should_exit = True
        t.join()
    base = list(results.values())[-1]
    print(f"{a.requests} requests, {a.concurrency} concurrent, PNG 1024x768 + JPEG 512x512 RGB, sigma 3")
    for name, rps in results.items():
        print(f"  {name:60s} {rps:7.2f} req/s  {rps / base:5.2f}x")


if __name__ == "__main__":
    main()
