"""Threads calling imflow at once: 1, 2 and 4 Python threads each calling
imflow.gaussian(sigma=2) on a 2048x2048 float32 array, calls per second over all
threads, per backend. The GIL is released for each call, so threads overlap on
whatever the machine has (CPU cores for the CPU twin; the device for the GPU).

    .venv/bin/python python/benches/threads.py [--calls N]
"""
import argparse
import threading
import time

import numpy as np

import imflow


def rate(backend: str, threads: int, calls: int, x: np.ndarray) -> float:
    barrier = threading.Barrier(threads + 1)

    def work():
        barrier.wait()
        for _ in range(calls):
            imflow.gaussian(x, 2, backend=backend)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in ts:
        t.join()
    return threads * calls / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=6)
    a = p.parse_args()
    x = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    for backend in ("cpu", "gpu"):
        try:
            name, notice = imflow.device(backend)
        except imflow.Error as e:
            print(f"{backend}: unavailable ({e})")
            continue
        imflow.gaussian(x, 2, backend=backend)  # warm: device, pipelines, pools
        rates = {n: rate(backend, n, a.calls, x) for n in (1, 2, 4)}
        base = rates[1]
        print(f"{backend} ({name}): " + ", ".join(
            f"{n} thread{'s' if n > 1 else ''} {r:.2f} calls/s ({r / base:.2f}x)" for n, r in rates.items()))


if __name__ == "__main__":
    main()
