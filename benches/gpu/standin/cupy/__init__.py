"""numpy as CuPy, for session.py's tests (see ../README.md)."""
import time as _time

import numpy as _np
from numpy import (arange, bincount, broadcast_to, empty_like, float32, float64, histogram,  # noqa: F401
                   maximum, ones, sqrt)

__version__ = "numpy stand-in (tests only)"


def asarray(a, dtype=None):
    return _np.asarray(a, dtype=dtype)


def asnumpy(a):
    return _np.asarray(a)


class _Runtime:
    @staticmethod
    def getDeviceCount():
        return 1


class _Device:
    def synchronize(self):
        pass


class _Event:
    def __init__(self):
        self.t = 0.0

    def record(self):
        self.t = _time.perf_counter()

    def synchronize(self):
        pass


def _elapsed(start, end):
    return (end.t - start.t) * 1e3


class _Cuda:
    runtime = _Runtime()
    Device = _Device
    Event = _Event
    get_elapsed_time = staticmethod(_elapsed)


cuda = _Cuda()


class _Pool:
    def free_all_blocks(self):
        pass


def get_default_memory_pool():
    return _Pool()
