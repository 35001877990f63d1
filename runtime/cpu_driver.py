"""CPU driver: turns a compiled object into a launchable kernel (ctypes entry, print/assert hooks).

Stage: runtime. Input: object code and metadata from `jitlang.compiler`; output: `CpuKernel`,
whose `launch(grid, args)` runs the grid through `runtime.launch.Launcher`.
"""

from __future__ import annotations

import ctypes
import struct
import sys
import threading

import numpy as np

from codegen.cpu.cachesize import STREAM_GLOBAL, stream_threshold
from codegen.cpu.loader import ALL_ROUNDS, ROUNDS_SUFFIX, load_shared, set_pointer_global

from .launch import Launcher, WorkerPool

PRINT_CB = ctypes.CFUNCTYPE(
    None,
    ctypes.c_int32,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int32,
    ctypes.c_double,
    ctypes.c_int64,
)
ASSERT_CB = ctypes.CFUNCTYPE(
    None, ctypes.c_int32, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64
)


BOUNDS_CB = ctypes.CFUNCTYPE(
    None,
    ctypes.c_int32,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
)


class OutOfBoundsError(IndexError):
    """A load, store or atomic reached outside its array (found by JITLANG_BOUNDS_CHECK=1)."""


class DeviceAssertionError(AssertionError):
    """A `tl.device_assert` (or `assert`) failed in at least one program."""


_HOOKS = ("jl_print_hook", "jl_assert_hook", "jl_bounds_hook", STREAM_GLOBAL)


def _load(payload: bytes, name: str, meta: dict, functions: tuple[str, ...] = ()):
    """The payload is the object, followed by the shared object linked from it when a system
    linker was there (`meta["so_size"]` bytes): dlopen that (fast, no LLVM in the process), and
    fall back to LLVM's MCJIT on the object if it cannot be loaded (a noexec temp dir, say)."""
    so_size = meta.get("so_size", 0)
    if so_size:
        try:
            return load_shared(payload[-so_size:], name, _HOOKS, functions)
        except OSError:
            pass
    from codegen.cpu.engine import load_object

    return load_object(payload[: len(payload) - so_size], name, _HOOKS, functions)


class CpuKernel:
    def __init__(self, name: str, obj: bytes, meta: dict, pool: WorkerPool) -> None:
        self.name = name
        self.meta = meta
        lockstep = bool(meta.get("lockstep"))
        rounds_name = name + ROUNDS_SUFFIX
        self.native = _load(obj, name, meta, (rounds_name,) if lockstep else ())
        argtypes = [ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_char_p]
        self.cfunc = ctypes.CFUNCTYPE(None, *argtypes)(self.native.address)
        extents = "qq" * meta.get("n_ptr", 0) if meta.get("bounds_check") else ""
        # a lockstep kernel's window of rounds follows its arguments: all rounds unless the
        # launcher splits them between threads
        self._tail = ALL_ROUNDS if lockstep else ()
        self.pack = struct.Struct(
            "<qqq"
            + "".join("d" if k == "f" else "q" for k in meta["arg_kinds"])
            + extents
            + "q" * len(self._tail)
        ).pack
        rounds = None
        if rounds_name in self.native.functions:
            addr = self.native.functions[rounds_name]
            rounds = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_char_p)(addr)
        # a lockstep kernel's call runs its programs together: one contiguous slice per thread,
        # or windows of rounds of every program where `rounds` proves that safe
        self.launcher = Launcher(
            self.cfunc, pool, pieces_per_thread=1 if lockstep else None, rounds=rounds
        )
        self.set_stream_bytes(stream_threshold())
        self._failures: list[tuple] = []
        self._fail_lock = threading.Lock()
        self._print_lock = threading.Lock()
        if meta.get("print_sites"):
            self._print_cb = PRINT_CB(self._on_print)
            set_pointer_global(
                self.native, "jl_print_hook", ctypes.cast(self._print_cb, ctypes.c_void_p).value
            )
        self._oob: list[tuple] = []
        if meta.get("bounds_sites"):
            self._bounds_cb = BOUNDS_CB(self._on_oob)
            set_pointer_global(
                self.native, "jl_bounds_hook", ctypes.cast(self._bounds_cb, ctypes.c_void_p).value
            )
        if meta.get("assert_sites"):
            self._assert_cb = ASSERT_CB(self._on_assert)
            set_pointer_global(
                self.native, "jl_assert_hook", ctypes.cast(self._assert_cb, ctypes.c_void_p).value
            )

    def set_stream_bytes(self, n: int) -> None:
        """Bytes one store (or large load) of a launch must move before its data is treated as
        not cache-resident: stores bypass the caches (codegen/cpu/stream.py) and large row loads
        prefetch programs ahead (prefetch.py). The host's threshold (half its LLC) by default."""
        set_pointer_global(self.native, STREAM_GLOBAL, max(0, n))

    def launch(self, grid: tuple[int, int, int], args: tuple) -> None:
        self.launcher(grid, self.pack(*grid, *args, *self._tail))
        if self._oob:
            self._raise_oob()
        if self._failures:
            self._raise_assertion()

    # -- hooks ------------------------------------------------------------------------------
    def _on_print(self, site, x, y, z, index, operand, f, i) -> None:
        prefix, hex_, operands, _loc = self.meta["print_sites"][site]
        head = f"pid ({x}, {y}, {z})"
        if operand < 0:
            line = f"{head} {prefix}"
        else:
            dt, shape = operands[operand]
            if shape:
                idx = np.unravel_index(index, shape)
                head += " idx (" + ", ".join(str(int(k)) for k in idx) + ")"
            if dt.startswith("fp") or dt in ("bf16",):
                val = f
                text = val.hex() if hex_ else repr(float(np.float32(val)) if dt != "fp64" else val)
            elif dt == "ptr":
                text = hex(i & (2**64 - 1))
            else:
                text = hex(i & (2**64 - 1)) if hex_ else str(i if dt != "int1" else bool(i))
                if dt.startswith("uint"):
                    text = hex(i & (2**64 - 1)) if hex_ else str(i & (2**64 - 1))
            suffix = f" (operand {operand})" if len(operands) > 1 else ""
            line = f"{head} {prefix}{suffix}{'' if prefix.endswith((' ', ':')) or not prefix else ' '}{text}"
        with self._print_lock:
            print(line, file=sys.stdout, flush=False)

    def _on_oob(self, site, x, y, z, index, addr, lo, hi) -> None:
        with self._fail_lock:
            if len(self._oob) < 16:
                self._oob.append((site, (x, y, z), index, addr & (2**64 - 1), lo, hi))

    def _raise_oob(self) -> None:
        with self._fail_lock:
            found, self._oob = self._oob, []
        site, pid, index, addr, lo, hi = found[0]
        kind, loc, name = self.meta["bounds_sites"][site]
        where = ""
        if hi > lo:
            where = f" at byte offset {addr - lo} of its {hi - lo} bytes"
        text = (
            f"{loc}: out-of-bounds {kind} through {name!r}{where}, in program {pid}, "
            f"block element {index}, address {addr:#x}"
        )
        if len(found) > 1:
            text += f" (and {len(found) - 1} more)"
        raise OutOfBoundsError(text + "; the access was skipped")

    def _on_assert(self, site, x, y, z, index) -> None:
        with self._fail_lock:
            if len(self._failures) < 16:
                self._failures.append((site, (x, y, z), index))

    def _raise_assertion(self) -> None:
        with self._fail_lock:
            failures, self._failures = self._failures, []
        site, pid, index = failures[0]
        msg, loc = self.meta["assert_sites"][site]
        text = f"{loc}: device assertion failed in program {pid}, element {index}"
        if msg:
            text += f": {msg}"
        if len(failures) > 1:
            text += f" (and {len(failures) - 1} more failures)"
        raise DeviceAssertionError(text)
