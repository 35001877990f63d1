"""Argument inspection on the launch hot path: data pointers of numpy arrays in ~0.1 µs.

`array_address(a)` reads `PyArrayObject.data` straight from the object header (offset 16 on
64-bit CPython, stable across numpy 1.x and 2.x). The trick is verified against
`__array_interface__` when this module loads; where it does not hold (another interpreter or
layout), the portable, slower path is used.
"""

from __future__ import annotations

import ctypes
import struct

import numpy as np


def _portable_address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _make_fast():
    if struct.calcsize("P") != 8:
        return None
    try:
        mem = memoryview((ctypes.c_char * (1 << 47)).from_address(0)).cast("B")
    except (ValueError, TypeError, OverflowError, MemoryError):
        return None
    unpack = struct.Struct("Q").unpack_from

    def fast(a: np.ndarray) -> int:
        return unpack(mem, id(a) + 16)[0]

    probes = [np.zeros(7, np.float32), np.arange(10, dtype=np.int64)[3:], np.empty((3, 4))[:, 1]]
    for p in probes:
        if fast(p) != _portable_address(p):
            return None
    return fast


array_address = _make_fast() or _portable_address
