"""A FastAPI service that blurs images: POST the image's bytes (PNG, JPEG, WebP, BMP,
TIFF, animated GIF), get the blurred image back in the same format; an animated GIF
keeps its frames, delays and loop count.

    uvicorn --app-dir python/examples service:app --port 8000
    curl --data-binary @cat.gif 'http://127.0.0.1:8000/blur?sigma=3' -o blurred.gif

imflow runs in FastAPI's thread pool with the GIL released, on one processor shared by
every request (one GPU device): no process pool, nothing pickled, so the usual
`PicklingError` of moving image work to a `ProcessPoolExecutor` cannot happen. Broken
images get 400 with the reason, bytes that are no image 415, images over MAX_PIXELS
(header checked before decoding) 413.
"""
from __future__ import annotations

import os
from typing import Callable, Optional

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

import imflow

MAX_PIXELS = int(os.environ.get("IMFLOW_MAX_PIXELS", str(40_000_000)))
# 'auto' (a hardware GPU when there is one, else the CPU twins: a software adapter such
# as llvmpipe is passed over, the twins being far faster on the same cores), 'gpu' (any
# adapter, llvmpipe included) or 'cpu'.
BACKEND = os.environ.get("IMFLOW_BACKEND", "auto")
MEDIA = {"tif": "image/tiff", "png": "image/png", "jpg": "image/jpeg", "gif": "image/gif",
         "webp": "image/webp", "bmp": "image/bmp"}

app = FastAPI(title="imflow blur service")
# Called in the worker thread just before the computation (tests hook it to order
# events); None in production.
app.state.before_compute: Optional[Callable[[], None]] = None


def blur_bytes(data: bytes, sigma: float) -> tuple[bytes, str]:
    hook = app.state.before_compute
    if hook is not None:
        hook()
    return imflow.apply_bytes(data, [f"gaussian:sigma={sigma}"], max_pixels=MAX_PIXELS, backend=BACKEND)


@app.post("/blur")
async def blur(request: Request, sigma: float = Query(2.0, gt=0, le=100)) -> Response:
    data = await request.body()
    try:
        out, fmt = await run_in_threadpool(blur_bytes, data, sigma)
    except imflow.UnsupportedFormatError as e:
        raise HTTPException(415, str(e)) from e
    except imflow.TooLargeError as e:
        raise HTTPException(413, str(e)) from e
    except (imflow.DecodeError, ValueError) as e:
        raise HTTPException(400, str(e)) from e
    return Response(out, media_type=MEDIA[fmt])


@app.get("/health")
async def health() -> dict:
    return {"ok": True, "device": imflow.device(BACKEND)[0]}
