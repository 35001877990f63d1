"""jitlang: a Triton-like JIT kernel language for Python with an LLVM backend.

import jitlang as jl
import jitlang.language as tl

@jl.jit
def add(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr): ...

add[(jl.cdiv(n, 1024),)](x, y, out, n, BLOCK=1024)
"""

from __future__ import annotations

from . import language, testing
from .autotuner import Autotuner, Config, Heuristics, autotune, heuristics
from .errors import (
    CompilationError,
    CompileTimeAssertionFailure,
    InternalCompilerError,
    OutOfResources,
    TritonError,
)
from .jit import JITFunction, TensorWrapper, jit, reinterpret


def __getattr__(name: str):
    if name in ("OutOfBoundsError", "DeviceAssertionError"):
        from runtime import cpu_driver

        return getattr(cpu_driver, name)
    if name == "InterpreterError":
        from .interpreter import InterpreterError

        return InterpreterError
    raise AttributeError(f"module 'jitlang' has no attribute {name!r}")


__version__ = "0.1.0"


def cdiv(x: int, y: int) -> int:
    """Ceiling division of integers: cdiv(10, 4) == 3."""
    return -(-x // y)


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    n = int(n)
    if n <= 1:
        return 1
    return 1 << (n - 1).bit_length()


__all__ = [
    "Autotuner",
    "CompilationError",
    "CompileTimeAssertionFailure",
    "Config",
    "Heuristics",
    "InternalCompilerError",
    "JITFunction",
    "OutOfResources",
    "TensorWrapper",
    "TritonError",
    "autotune",
    "cdiv",
    "heuristics",
    "jit",
    "language",
    "next_power_of_2",
    "reinterpret",
    "testing",
]
