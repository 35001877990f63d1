"""Errors of block operations and inlined helpers point at the kernel's source line."""

from __future__ import annotations

import inspect
import traceback

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError, ShapeError


def _line_of(fn, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn.fn)
    for i, text in enumerate(lines):
        if marker in text:
            return start + i
    raise AssertionError(marker)


def _compile_error(kernel, *args, **kw) -> CompilationError:
    with pytest.raises(CompilationError) as info:
        kernel[(1,)](*args, **kw)
    err = info.value
    frames = [f.filename for f in traceback.extract_tb(err.__traceback__)]
    assert not [f for f in frames if "jitlang/frontend/" in f or "/codegen/" in f], frames
    return err


X = np.zeros(256, np.float32)


@jl.jit
def bad_sort(x_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(x_ptr + tl.arange(0, N), tl.sort(x))  # <- sort


@jl.jit
def bad_split(x_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    a, b = tl.split(x)  # <- split
    tl.store(x_ptr, a + b)


@jl.jit
def bad_dot_shapes(x_ptr, N: tl.constexpr):
    a = tl.load(x_ptr + tl.arange(0, N)[:, None] * N + tl.arange(0, N)[None, :])
    b = tl.load(x_ptr + tl.arange(0, 2 * N)[:, None] * N + tl.arange(0, N)[None, :])
    tl.store(x_ptr + tl.arange(0, N)[:, None] + tl.arange(0, N)[None, :], tl.dot(a, b))  # <- dot


@jl.jit
def bad_dot_dtypes(x_ptr, i_ptr, N: tl.constexpr):
    r = tl.arange(0, N)
    a = tl.load(x_ptr + r[:, None] * N + r[None, :])
    b = tl.load(i_ptr + r[:, None] * N + r[None, :])
    c = tl.dot(a, b)  # <- dot
    tl.store(x_ptr + r[:, None] * N + r[None, :], c)


@jl.jit
def bad_reshape(x_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(x_ptr + tl.arange(0, N), tl.reshape(x, (3, 5)))  # <- reshape


@jl.jit
def bad_axis(x_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(x_ptr, tl.sum(x, axis=2))  # <- axis


@jl.jit
def bad_squeeze(x_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(x_ptr + tl.arange(0, N), tl.squeeze(x, 0))  # <- squeeze


def _not_jit(a, b):
    return a + b


@jl.jit
def bad_combine(x_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(x_ptr, tl.reduce(x, 0, _not_jit))  # <- combine


@jl.jit
def bad_atomic(x_ptr):
    tl.atomic_or(x_ptr, 1.0)  # <- atomic


@jl.jit
def deep_helper(x):
    return tl.exp(x)  # <- inner


@jl.jit
def mid_helper(x):
    return deep_helper(x) + 1  # <- middle


@jl.jit
def chained(o_ptr):
    tl.store(o_ptr, mid_helper(tl.program_id(0)))  # <- outer


CASES = [
    (bad_sort, (X,), {"N": 12}, ShapeError, "power-of-two", "# <- sort"),
    (bad_split, (X,), {"N": 16}, ShapeError, "last dimension of size 2", "# <- split"),
    (bad_dot_shapes, (X,), {"N": 8}, ShapeError, "do not agree", "# <- dot"),
    (
        bad_dot_dtypes,
        (X, np.zeros(64, np.int8)),
        {"N": 8},
        CompilationError,
        "both be floats",
        "# <- dot",
    ),
    (bad_reshape, (X,), {"N": 16}, ShapeError, "cannot reshape", "# <- reshape"),
    (bad_axis, (X,), {"N": 16}, ShapeError, "axis 2 is out of range", "# <- axis"),
    (bad_squeeze, (X,), {"N": 16}, ShapeError, "cannot squeeze", "# <- squeeze"),
    (
        bad_combine,
        (X,),
        {"N": 16},
        CompilationError,
        "combine_fn must be a @jit function",
        "# <- combine",
    ),
    (bad_atomic, (np.zeros(4, np.float32),), {}, CompilationError, "needs integers", "# <- atomic"),
]


@pytest.mark.parametrize(
    "kernel,args,kw,cls,words,marker", CASES, ids=[c[0].fn.__name__ for c in CASES]
)
def test_block_op_errors_point_at_the_line(kernel, args, kw, cls, words, marker):
    err = _compile_error(kernel, *args, **kw)
    assert isinstance(err, cls), type(err)
    text = str(err)
    assert words in text, text
    line = _line_of(kernel, marker)
    assert f"{inspect.getsourcefile(kernel.fn)}:{line}:" in text, text
    assert marker in text and "^" in text


def test_helper_errors_show_the_call_chain():
    err = _compile_error(chained, np.zeros(1, np.float32))
    text = str(err)
    file = inspect.getsourcefile(chained.fn)
    inner = _line_of(deep_helper, "# <- inner")
    middle = _line_of(mid_helper, "# <- middle")
    outer = _line_of(chained, "# <- outer")
    assert text.startswith(f"{file}:{inner}:"), text
    assert text.index(f"called from {file}:{middle}:") < text.index(f"called from {file}:{outer}:")
    assert "# <- middle" in text and "# <- outer" in text
