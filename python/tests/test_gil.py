"""The GIL is released while imflow works: shown by ordering, not timing. imflow reads
from a named pipe that only another Python thread writes; were the GIL held during the
read, that thread could never run and the read would never end (the test would time
out instead of passing)."""
import faulthandler
import os
import pathlib
import threading

import numpy as np
import pytest

import imflow


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("call", ["imread", "hash_file"])
def test_another_thread_runs_while_imflow_works(tmp_path: pathlib.Path, call: str) -> None:
    image = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64)
    data = imflow.encode(image, "tif")
    fifo = tmp_path / "image.tif"
    os.mkfifo(fifo)
    events: list[str] = []
    entered = threading.Event()

    def writer() -> None:
        entered.wait()  # the main thread is about to call imflow
        events.append("writer ran")
        with open(fifo, "wb") as f:  # blocks until imflow opens the pipe to read
            f.write(data)

    # Were the GIL held, the read would never end: fail with tracebacks, do not hang.
    faulthandler.dump_traceback_later(120, exit=True)
    t = threading.Thread(target=writer)
    t.start()
    entered.set()
    result = getattr(imflow, call)(fifo)
    events.append("imflow returned")
    t.join(timeout=60)
    faulthandler.cancel_dump_traceback_later()
    assert events == ["writer ran", "imflow returned"]
    if call == "imread":
        assert np.array_equal(result, image)
    else:
        assert result == imflow.hash_bytes(data)
