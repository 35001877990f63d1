"""Compile errors: the right class, pointing at the right line of the kernel, without compiler frames.

Every kernel below marks its offending line with `# <- error`; the test finds that line through
`inspect.getsourcelines`, so editing this file never breaks the expected line numbers.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import traceback

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import (
    CompilationError,
    KernelTypeError,
    NameNotFoundError,
    ShapeError,
    StaticAssertionError,
    UnsupportedSyntaxError,
)

HERE = os.path.abspath(__file__)
MARK = "# <- error"


def _error_line(kernel) -> tuple[int, str]:
    lines, start = inspect.getsourcelines(kernel.fn)
    hits = [i for i, text in enumerate(lines) if MARK in text]
    assert len(hits) == 1, "mark exactly one line"
    text = lines[hits[0]]
    return start + hits[0], text.split("#")[0].strip()


def _compile_error(kernel, *args, **kwargs) -> pytest.ExceptionInfo:
    x = np.zeros(128, np.float32)
    args = args or (x, x, 128)
    with pytest.raises(CompilationError) as info:
        kernel[(1,)](*args, **kwargs)
    return info


def _check(info: pytest.ExceptionInfo, kernel, cls=CompilationError, words=()):
    e = info.value
    msg = str(e)
    line, src = _error_line(kernel)
    assert isinstance(e, cls), f"{type(e).__name__} is not a {cls.__name__}: {msg}"
    m = re.search(re.escape(HERE) + r":(\d+):(\d+)", msg)
    assert m, f"no absolute {HERE}:line:col in:\n{msg}"
    assert int(m.group(1)) == line, f"expected line {line} ({src!r}), got:\n{msg}"
    col = int(m.group(2)) - 1  # printed 1-based, like compilers do
    text_lines = msg.splitlines()
    src_idx = [i for i, t in enumerate(text_lines) if t.strip().startswith(src)]
    assert src_idx, f"source line {src!r} missing from:\n{msg}"
    caret = text_lines[src_idx[0] + 1]
    assert caret.strip() == "^", f"no caret line under the source in:\n{msg}"
    # the caret sits under column `col` of the source line as printed
    indent = len(text_lines[src_idx[0]]) - len(text_lines[src_idx[0]].lstrip())
    raw = inspect.getsourcelines(kernel.fn)[0][line - inspect.getsourcelines(kernel.fn)[1]]
    raw_indent = len(raw) - len(raw.lstrip())
    assert caret.index("^") - indent == col - raw_indent, msg
    # the words must be in the message or hint, not just in the quoted source line
    prose = "\n".join(t for i, t in enumerate(text_lines) if i not in (src_idx[0], src_idx[0] + 1))
    for w in words:
        assert w.lower() in prose.lower(), f"{w!r} not in:\n{msg}"
    # no compiler internals: neither in the traceback nor chained
    frames = [f.filename for f in traceback.extract_tb(e.__traceback__)]
    internal = [f for f in frames if re.search(r"jitlang/(frontend|passes)|codegen/", f)]
    assert not internal, f"compiler frames in traceback: {internal}"
    # the bare message chained under it, as Triton does, with no traceback of its own
    assert e.__cause__ is None or (
        e.__cause__.__traceback__ is None and str(e.__cause__) == e.message
    )
    assert e.__suppress_context__ or e.__context__ is None
    assert "Traceback" not in msg


# --------------------------------------------------------------------------------------------
# unsupported syntax
# --------------------------------------------------------------------------------------------


@jl.jit
def _try(x_ptr, out_ptr, n):
    try:  # <- error
        tl.store(out_ptr, tl.load(x_ptr))
    except Exception:
        pass


@jl.jit
def _lambda(x_ptr, out_ptr, n):
    f = lambda v: v + 1  # noqa: E731  # <- error
    tl.store(out_ptr, f(tl.load(x_ptr)))


@jl.jit
def _listcomp(x_ptr, out_ptr, n):
    vals = [tl.load(x_ptr + i) for i in range(4)]  # <- error
    tl.store(out_ptr, vals[0])


@jl.jit
def _break(x_ptr, out_ptr, n):
    acc = 0.0
    for i in range(n):
        acc += tl.load(x_ptr + i)
        if acc > 10:
            break  # <- error
    tl.store(out_ptr, acc)


@jl.jit
def _return_in_loop_helper(p, k):
    s = 0.0
    for i in range(k):
        s += tl.load(p + i)
        if s > 1.0:
            return s  # <- error
    return s


@jl.jit
def _return_in_loop(x_ptr, out_ptr, n):
    tl.store(out_ptr, _return_in_loop_helper(x_ptr, n))


def test_return_inside_loop():
    info = _compile_error(_return_in_loop)
    _check(info, _return_in_loop_helper, UnsupportedSyntaxError)


@jl.jit
def _continue(x_ptr, out_ptr, n):
    acc = 0.0
    for i in range(n):
        if i == 2:
            continue  # <- error
        acc += tl.load(x_ptr + i)
    tl.store(out_ptr, acc)


def test_continue():
    _check(_compile_error(_continue), _continue, UnsupportedSyntaxError)


@jl.jit
def _with(x_ptr, out_ptr, n):
    with open("f"):  # <- error
        tl.store(out_ptr, tl.load(x_ptr))


@jl.jit
def _global_stmt(x_ptr, out_ptr, n):
    global HERE  # <- error
    tl.store(out_ptr, tl.load(x_ptr))


@jl.jit
def _dict_literal(x_ptr, out_ptr, n):
    d = {"a": 1}  # <- error
    tl.store(out_ptr, tl.load(x_ptr) + d["a"])


@pytest.mark.parametrize(
    "kernel", [_try, _lambda, _listcomp, _break, _with, _global_stmt, _dict_literal]
)
def test_unsupported_syntax(kernel):
    _check(_compile_error(kernel), kernel, UnsupportedSyntaxError)


# --------------------------------------------------------------------------------------------
# names and calls
# --------------------------------------------------------------------------------------------


@jl.jit
def _undefined(x_ptr, out_ptr, n):
    v = tl.load(x_ptr)
    tl.store(out_ptr, v + undefined_thing)  # noqa: F821  # <- error


@jl.jit
def _undefined_tl(x_ptr, out_ptr, n):
    tl.store(out_ptr, tl.no_such_function(tl.load(x_ptr)))  # <- error


def _plain_python(v):
    return v + 1


@jl.jit
def _call_non_jit(x_ptr, out_ptr, n):
    v = tl.load(x_ptr + tl.arange(0, 16))
    tl.store(out_ptr + tl.arange(0, 16), _plain_python(v))  # <- error


@jl.jit
def _call_math(x_ptr, out_ptr, n):
    v = tl.load(x_ptr + tl.arange(0, 16))
    tl.store(out_ptr + tl.arange(0, 16), math.exp(v))  # <- error


def test_undefined_name():
    info = _compile_error(_undefined)
    _check(info, _undefined, NameNotFoundError, words=["undefined_thing"])


def test_undefined_tl_function():
    _check(_compile_error(_undefined_tl), _undefined_tl, words=["no_such_function"])


@pytest.mark.parametrize("kernel, word", [(_call_non_jit, "_plain_python"), (_call_math, "exp")])
def test_calling_non_jit_function(kernel, word):
    _check(_compile_error(kernel), kernel, words=[word])


@jl.jit
def _arange_one_arg(x_ptr, out_ptr, n):
    offs = tl.arange(16)  # <- error
    tl.store(out_ptr + offs, tl.load(x_ptr + offs))


@jl.jit
def _load_no_args(x_ptr, out_ptr, n):
    tl.store(out_ptr, tl.load())  # <- error


@jl.jit
def _where_two_args(x_ptr, out_ptr, n):
    v = tl.load(x_ptr)
    tl.store(out_ptr, tl.where(v > 0, v))  # <- error


@jl.jit
def _exp_two_args(x_ptr, out_ptr, n):
    v = tl.load(x_ptr)
    tl.store(out_ptr, tl.exp(v, v))  # <- error


@jl.jit
def _unknown_kwarg(x_ptr, out_ptr, n):
    tl.store(out_ptr, tl.load(x_ptr, maks=None))  # <- error


@jl.jit
def _helper_two(a, b):
    return a + b


@jl.jit
def _helper_wrong_count(x_ptr, out_ptr, n):
    tl.store(out_ptr, _helper_two(tl.load(x_ptr)))  # <- error


@pytest.mark.parametrize(
    "kernel",
    [
        _arange_one_arg,
        _load_no_args,
        _where_two_args,
        _exp_two_args,
        _unknown_kwarg,
        _helper_wrong_count,
    ],
)
def test_wrong_argument_count(kernel):
    _check(_compile_error(kernel), kernel)


# --------------------------------------------------------------------------------------------
# type errors
# --------------------------------------------------------------------------------------------


@jl.jit
def _ptr_plus_ptr(x_ptr, out_ptr, n):
    p = x_ptr + out_ptr  # <- error
    tl.store(out_ptr, tl.load(p))


@jl.jit
def _invert_float(x_ptr, out_ptr, n):
    v = tl.load(x_ptr + tl.arange(0, 16))
    tl.store(out_ptr + tl.arange(0, 16), ~v)  # <- error


@jl.jit
def _exp_int(x_ptr, out_ptr, n):
    v = tl.arange(0, 16)
    tl.store(out_ptr + v, tl.exp(v))  # <- error


@jl.jit
def _floordiv_float(x_ptr, out_ptr, n):
    v = tl.load(x_ptr + tl.arange(0, 16))
    tl.store(out_ptr + tl.arange(0, 16), v // 2.0)  # <- error


@jl.jit
def _mod_mixed_sign(x_ptr, out_ptr, n):
    v = tl.arange(0, 16)
    u = v.to(tl.uint32)
    tl.store(out_ptr + v, (v % u).to(tl.float32))  # <- error


@jl.jit
def _shift_float(x_ptr, out_ptr, n):
    v = tl.load(x_ptr + tl.arange(0, 16))
    tl.store(out_ptr + tl.arange(0, 16), v << 1)  # <- error


@jl.jit
def _if_block_cond(x_ptr, out_ptr, n):
    v = tl.load(x_ptr + tl.arange(0, 16))
    if v > 0:  # <- error
        v = v + 1
    tl.store(out_ptr + tl.arange(0, 16), v)


@jl.jit
def _while_block_cond(x_ptr, out_ptr, n):
    v = tl.load(x_ptr + tl.arange(0, 16))
    while v < 10:  # <- error
        v = v + 1
    tl.store(out_ptr + tl.arange(0, 16), v)


@jl.jit
def _store_to_non_pointer(x_ptr, out_ptr, n):
    tl.store(n, tl.load(x_ptr))  # <- error


@jl.jit
def _load_float_ptr(x_ptr, out_ptr, n):
    v = tl.load(x_ptr)
    tl.store(out_ptr, tl.load(v))  # <- error


@jl.jit
def _mul_pointer(x_ptr, out_ptr, n):
    tl.store(out_ptr, tl.load(x_ptr * 2))  # <- error


@jl.jit
def _ptr_plus_float(x_ptr, out_ptr, n):
    tl.store(out_ptr, tl.load(x_ptr + 1.5))  # <- error


@pytest.mark.parametrize(
    "kernel",
    [
        _ptr_plus_ptr,
        _invert_float,
        _exp_int,
        _floordiv_float,
        _mod_mixed_sign,
        _shift_float,
        _if_block_cond,
        _while_block_cond,
        _store_to_non_pointer,
        _load_float_ptr,
        _mul_pointer,
        _ptr_plus_float,
    ],
)
def test_type_errors(kernel):
    _check(_compile_error(kernel), kernel, KernelTypeError)


# --------------------------------------------------------------------------------------------
# shapes, constexprs, loops, returns
# --------------------------------------------------------------------------------------------


@jl.jit
def _shape_mismatch(x_ptr, out_ptr, n):
    a = tl.load(x_ptr + tl.arange(0, 128))
    b = tl.load(x_ptr + tl.arange(0, 64))
    tl.store(out_ptr + tl.arange(0, 128), a + b)  # <- error


@jl.jit
def _store_shape_mismatch(x_ptr, out_ptr, n):
    a = tl.load(x_ptr + tl.arange(0, 64))
    tl.store(out_ptr + tl.arange(0, 128), a)  # <- error


def test_shape_mismatch():
    _check(_compile_error(_shape_mismatch), _shape_mismatch, ShapeError, words=["128", "64"])


def test_store_shape_mismatch():
    _check(_compile_error(_store_shape_mismatch), _store_shape_mismatch, ShapeError)


@jl.jit
def _arange_runtime(x_ptr, out_ptr, n):
    offs = tl.arange(0, n)  # <- error
    tl.store(out_ptr + offs, tl.load(x_ptr + offs))


@jl.jit
def _zeros_runtime_shape(x_ptr, out_ptr, n):
    z = tl.zeros((n,), tl.float32)  # <- error
    tl.store(out_ptr, z)


@pytest.mark.parametrize("kernel", [_arange_runtime, _zeros_runtime_shape])
def test_non_constant_or_bad_shapes(kernel):
    _check(_compile_error(kernel), kernel)


@jl.jit
def _static_assert_fails(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    tl.static_assert(BLOCK >= 64, "BLOCK must be at least 64")  # <- error
    tl.store(out_ptr, tl.load(x_ptr))


@jl.jit
def _static_assert_runtime(x_ptr, out_ptr, n):
    tl.static_assert(n > 0)  # <- error
    tl.store(out_ptr, tl.load(x_ptr))


def test_static_assert_fails():
    x = np.zeros(4, np.float32)
    info = _compile_error(_static_assert_fails, x, x, 4, BLOCK=16)
    _check(info, _static_assert_fails, StaticAssertionError, words=["BLOCK must be at least 64"])
    # the same kernel compiles for a BLOCK the assertion accepts
    _static_assert_fails[(1,)](x, x, 4, BLOCK=64)


def test_static_assert_on_runtime_value():
    _check(_compile_error(_static_assert_runtime), _static_assert_runtime)


@jl.jit
def _loop_carried_type_change(x_ptr, out_ptr, n):
    acc = 0
    for i in range(n):  # <- error (the loop whose carried 'acc' changes type, as Triton reports)
        acc += tl.load(x_ptr + i * 16 + tl.arange(0, 16))
    tl.store(out_ptr + tl.arange(0, 16), acc)


@jl.jit
def _loop_carried_dtype_change(x_ptr, out_ptr, n):
    acc = 0
    for i in range(n):  # <- error
        acc += tl.load(x_ptr + i)
    tl.store(out_ptr, acc)


@jl.jit
def _if_branches_disagree(x_ptr, out_ptr, n):
    v = tl.load(x_ptr)
    if n > 3:  # <- error
        y = tl.load(x_ptr + tl.arange(0, 16))
    else:
        y = v
    tl.store(out_ptr + tl.arange(0, 16), y)


@pytest.mark.parametrize(
    "kernel", [_loop_carried_type_change, _loop_carried_dtype_change, _if_branches_disagree]
)
def test_control_flow_type_changes(kernel):
    _check(_compile_error(kernel), kernel)


@jl.jit
def _assign_to_constexpr_param(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    BLOCK = n  # <- error
    tl.store(out_ptr + tl.arange(0, BLOCK), tl.load(x_ptr + tl.arange(0, BLOCK)))


def test_assign_runtime_value_then_use_as_shape():
    x = np.zeros(16, np.float32)
    info = _compile_error(_assign_to_constexpr_param, x, x, 16, BLOCK=16)
    line, _ = _error_line(_assign_to_constexpr_param)
    msg = str(info.value)
    assert HERE in msg
    # either the assignment or the arange using it is acceptable as the point of error
    m = re.search(re.escape(HERE) + r":(\d+):", msg)
    assert int(m.group(1)) in (line, line + 1), msg


# --------------------------------------------------------------------------------------------
# errors in helpers, and the kernel stays usable
# --------------------------------------------------------------------------------------------


@jl.jit
def _bad_helper(v):
    return v // 2.5  # <- error


@jl.jit
def _calls_bad_helper(x_ptr, out_ptr, n):
    tl.store(out_ptr, _bad_helper(tl.load(x_ptr)))


def test_error_in_helper_points_into_the_helper():
    info = _compile_error(_calls_bad_helper)
    _check(info, _bad_helper, KernelTypeError)


def test_error_is_raised_again_and_other_specializations_work():
    x = np.zeros(4, np.float32)
    for _ in range(2):
        info = _compile_error(_static_assert_fails, x, x, 4, BLOCK=32)
        _check(info, _static_assert_fails, StaticAssertionError)
    _static_assert_fails[(1,)](x, x, 4, BLOCK=128)


@jl.jit
def _literal_out_of_range(x_ptr, out_ptr, n):
    v = tl.arange(0, 16).to(tl.int8)
    tl.store(out_ptr + tl.arange(0, 16), (v + 300).to(tl.float32))  # <- error


@jl.jit
def _literal_too_big_for_int32(x_ptr, out_ptr, n):
    v = tl.arange(0, 16)
    tl.store(out_ptr + v, (v * 2**40).to(tl.float32))  # <- error


@pytest.mark.parametrize("kernel", [_literal_out_of_range, _literal_too_big_for_int32])
def test_literal_out_of_range_for_block_type(kernel):
    _check(_compile_error(kernel), kernel, KernelTypeError, words=["out of range"])


def test_kernel_usable_after_compile_errors_of_other_kernels():
    x = np.arange(16, dtype=np.float32)
    out = np.zeros(16, np.float32)
    for kernel in (_shape_mismatch, _undefined, _try):
        with pytest.raises(CompilationError):
            kernel[(1,)](x, out, 16)

    @jl.jit
    def fine(x_ptr, out_ptr, n):
        offs = tl.arange(0, 16)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs) + 1)

    fine[(1,)](x, out, 16)
    np.testing.assert_array_equal(out, x + 1)


@jl.jit
def _recursive(v, n):
    if n > 0:
        return _recursive(v, n - 1) + 1  # <- error
    return v


@jl.jit
def _calls_recursive(x_ptr, out_ptr, n):
    tl.store(out_ptr, _recursive(tl.load(x_ptr), n))


def test_unbounded_recursion_is_a_compile_error():
    _check(_compile_error(_calls_recursive), _recursive, CompilationError, words=["recursion"])


@jl.jit
def _returns_differ(v):
    if v > 0:  # <- error
        return 1
    return 2.5


@jl.jit
def _calls_returns_differ(x_ptr, out_ptr, n):
    tl.store(out_ptr, _returns_differ(tl.load(x_ptr)))


def test_helper_returns_differ_in_type():
    _check(_compile_error(_calls_returns_differ), _returns_differ, KernelTypeError)


@jl.jit
def _nested_def(x_ptr, out_ptr, n):
    def inner(v):  # <- error
        return v

    tl.store(out_ptr, inner(tl.load(x_ptr)))


def test_nested_function_definition():
    _check(_compile_error(_nested_def), _nested_def, UnsupportedSyntaxError)


@jl.jit
def _defined_in_one_branch(x_ptr, out_ptr, n):
    if n > 2:
        y = n * 2
    tl.store(out_ptr, y)  # <- error


@jl.jit
def _defined_in_loop_body(x_ptr, out_ptr, n):
    for i in range(n):
        z = i * 3
    tl.store(out_ptr, z)  # <- error


@pytest.mark.parametrize("kernel", [_defined_in_one_branch, _defined_in_loop_body])
def test_name_defined_only_on_some_paths(kernel):
    x = np.zeros(4, np.int32)
    info = _compile_error(kernel, x, x, 4)
    _check(info, kernel, NameNotFoundError)
