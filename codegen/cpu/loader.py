"""Loading compiled CPU kernels: shared objects through the system linker and `dlopen`.

Stage: codegen/cpu back end, used by the runtime. Input: the relocatable object the LLVM driver
emits; output: a shared object (cacheable bytes) and, from it, a `NativeKernel` with the entry
address. A shared object loads with `ctypes` in well under a millisecond and needs neither
llvmlite nor LLVM in the process, so a script whose kernels are in the disk cache starts without
importing LLVM at all. Without a system linker (`ld`/`cc`), `link_shared` returns None and the
runtime loads the object with LLVM's MCJIT instead (`engine.load_object`).

This module must stay light: no llvmlite import.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field

# A lockstep kernel's entry reads a window of rounds [k0, k1) from the two argument slots after
# its parameters (codegen/cpu/lockstep.py); this window runs them all.
ALL_ROUNDS = (0, (1 << 63) - 1)
# ... and has a second entry, `i64 <name>__rounds(ptr args)` (codegen/cpu/roundsplit.py).
ROUNDS_SUFFIX = "__rounds"


@dataclass
class NativeKernel:
    engine: object  # keeps the code alive (a ctypes.CDLL or an MCJIT engine)
    address: int
    globals: dict[str, int]
    functions: dict[str, int] = field(default_factory=dict)  # other entries asked for, if there


def _linker() -> list[str] | None:
    import shutil

    ld = shutil.which("ld")
    if ld:
        return [ld, "-shared"]
    cc = shutil.which("cc") or shutil.which("gcc")
    return [cc, "-shared"] if cc else None


def link_shared(obj: bytes) -> bytes | None:
    """The object linked into a shared object (libm for the odd math call), or None when no
    linker is available or it fails."""
    import subprocess
    import tempfile

    cmd = _linker()
    if cmd is None:
        return None
    with tempfile.TemporaryDirectory(prefix="jitlang-ld-") as d:
        src, out = os.path.join(d, "k.o"), os.path.join(d, "k.so")
        with open(src, "wb") as f:
            f.write(obj)
        try:
            r = subprocess.run(
                [*cmd, "-o", out, src, "-lm"], capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if r.returncode != 0 or not os.path.exists(out):
            return None
        with open(out, "rb") as f:
            return f.read()


def load_shared(
    so: bytes, entry: str, globals_: tuple[str, ...] = (), functions: tuple[str, ...] = ()
) -> NativeKernel:
    """dlopen a shared object given as bytes, from a private temporary file removed once loaded
    (the mapping stays valid). Every load has its own file name: the dynamic loader returns the
    library already loaded under a name, so reused names (/proc/self/fd/N) would alias kernels."""
    import tempfile

    fd, path = tempfile.mkstemp(prefix="jitlang-", suffix=".so")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(so)
        lib = ctypes.CDLL(path, mode=os.RTLD_LOCAL | os.RTLD_NOW)
    finally:
        os.unlink(path)
    try:
        addr = ctypes.cast(getattr(lib, entry), ctypes.c_void_p).value
    except AttributeError:
        raise RuntimeError(f"entry point {entry!r} missing from the compiled object") from None
    gaddrs = {}
    for g in globals_:
        try:
            gaddrs[g] = ctypes.addressof(ctypes.c_void_p.in_dll(lib, g))
        except ValueError:
            pass
    faddrs = {}
    for f in functions:
        try:
            faddrs[f] = ctypes.cast(lib[f], ctypes.c_void_p).value
        except AttributeError:
            pass
    return NativeKernel(lib, addr, gaddrs, faddrs)


def set_pointer_global(kernel: NativeKernel, name: str, value: int) -> None:
    addr = kernel.globals.get(name)
    if addr:
        ctypes.c_void_p.from_address(addr).value = value
