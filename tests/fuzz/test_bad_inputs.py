"""Bad inputs as a table: invalid kernels and launches, the error each raises and where.

Each row is a kernel module (written to a file, so errors quote real lines) and a launch. A row
whose kernel has a line marked `# <-` must raise its error class naming that line as
`file:line:` with no compiler frames in the traceback; a launch error (wrong arguments, bad
grids, unknown targets) names the kernel's parameter or the grid instead, raised by the launcher
(`jitlang/jit.py`), not from inside the compiler. Out-of-bounds rows run with the CPU's bounds
checks on (the accelerator's emulator always checks).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import textwrap
import traceback

import pytest

from jitlang.errors import (
    CompilationError,
    ConstexprError,
    KernelTypeError,
    NameNotFoundError,
    ShapeError,
    StaticAssertionError,
    UnsupportedSyntaxError,
)
from jitlang.passes.accel_layout import TargetLimitError
from jitlang.passes.accel_memory import OutOfChipMemoryError
from runtime.cpu_driver import OutOfBoundsError

HEAD = """\
import numpy as np
import jitlang as jl
import jitlang.language as tl

X = np.arange(256, dtype=np.float32)
I = np.arange(256, dtype=np.int32)
O = np.zeros(256, np.float32)
BIG = np.zeros(1 << 21, np.float32)
"""


@dataclasses.dataclass
class Bad:
    id: str
    src: str  # the kernel(s); the error's line is marked `# <-` when it has one
    launch: str  # a call, `target` in scope
    error: type
    words: tuple[str, ...] = ()  # the message must contain these
    target: str = "cpu"
    bounds: bool = False


def _k(body: str, params: str = "x_ptr, o_ptr, n, BLOCK: tl.constexpr") -> str:
    return f"@jl.jit\ndef kernel({params}):\n" + textwrap.indent(textwrap.dedent(body), "    ")


L = "kernel[(1,)](X, O, 16, BLOCK=16, target=target)"
OFFS = "offs = tl.arange(0, BLOCK)\n"
LOAD = OFFS + "v = tl.load(x_ptr + offs)\n"

ROWS = [
    # -- syntax the language does not support ------------------------------------------------
    Bad("try", _k(LOAD + "try:  # <-\n    v = v + 1\nexcept Exception:\n    pass\n"
                  "tl.store(o_ptr + offs, v)\n"), L, UnsupportedSyntaxError),
    Bad("lambda", _k(LOAD + "f = lambda a: a  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        UnsupportedSyntaxError),
    Bad("listcomp", _k(LOAD + "w = [v for _ in range(2)]  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        UnsupportedSyntaxError),
    Bad("setlit", _k(LOAD + "w = {1, 2}  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        UnsupportedSyntaxError),
    Bad("fstring", _k(LOAD + "w = f'{n}'  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        CompilationError),
    Bad("walrus", _k(OFFS + "tl.store(o_ptr + offs, (w := tl.load(x_ptr + offs)))  # <-\n"), L,
        UnsupportedSyntaxError),
    Bad("del", _k(LOAD + "del v  # <-\ntl.store(o_ptr + offs, offs)\n"), L,
        UnsupportedSyntaxError),
    Bad("import", _k(LOAD + "import math  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        UnsupportedSyntaxError),
    Bad("nested_def", _k(LOAD + "def g(a):  # <-\n    return a\ntl.store(o_ptr + offs, v)\n"), L,
        UnsupportedSyntaxError),
    Bad("yield", _k(LOAD + "yield v  # <-\n"), L, UnsupportedSyntaxError),
    Bad("with", _k(LOAD + "with open('f'):  # <-\n    pass\ntl.store(o_ptr + offs, v)\n"), L,
        UnsupportedSyntaxError),
    Bad("dictcomp", _k(LOAD + "d = {i: v for i in range(2)}  # <-\ntl.store(o_ptr + offs, v)\n"),
        L, UnsupportedSyntaxError),
    Bad("block_slice", _k(LOAD + "tl.store(o_ptr + offs, v[1:3])  # <-\n"), L, CompilationError),
    Bad("class", _k(LOAD + "class A:  # <-\n    pass\ntl.store(o_ptr + offs, v)\n"), L,
        UnsupportedSyntaxError),
    Bad("while_else", _k(LOAD + "while n > 0:  # <-\n    n -= 1\nelse:\n    n = 0\n"
                         "tl.store(o_ptr + offs, v)\n"), L, UnsupportedSyntaxError),
    # -- names and calls ---------------------------------------------------------------------
    Bad("undefined", _k(LOAD + "tl.store(o_ptr + offs, v + nope)  # <-\n"), L,
        NameNotFoundError, ("nope",)),
    Bad("tl_unknown", _k(LOAD + "tl.store(o_ptr + offs, tl.frobnicate(v))  # <-\n"), L,
        CompilationError, ("frobnicate",)),
    Bad("python_fn", "def plain(a):\n    return a\n\n\n"
        + _k(LOAD + "tl.store(o_ptr + offs, plain(v))  # <-\n"), L, CompilationError, ("plain",)),
    Bad("global_array", _k(LOAD + "tl.store(o_ptr + offs, v + X)  # <-\n"), L, CompilationError,
        ("X",)),
    Bad("helper_arity", "@jl.jit\ndef h(a, b):\n    return a + b\n\n\n"
        + _k(LOAD + "tl.store(o_ptr + offs, h(v))  # <-\n"), L, CompilationError),
    Bad("recursion", "@jl.jit\ndef r(a):\n    return r(a)  # <-\n\n\n"
        + _k(LOAD + "tl.store(o_ptr + offs, r(v))\n"), L, CompilationError),
    Bad("load_kwarg", _k(OFFS + "tl.store(o_ptr + offs, tl.load(x_ptr + offs, maks=None))  # <-\n"),
        L, CompilationError, ("maks",)),
    Bad("program_id_axis", _k(LOAD + "p = tl.program_id(3)  # <-\ntl.store(o_ptr + offs, v)\n"),
        L, CompilationError),
    # -- type errors -------------------------------------------------------------------------
    Bad("ptr_plus_ptr", _k(LOAD + "p = x_ptr + o_ptr  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        KernelTypeError),
    Bad("invert_float", _k(LOAD + "tl.store(o_ptr + offs, ~v)  # <-\n"), L, KernelTypeError),
    Bad("and_float", _k(LOAD + "tl.store(o_ptr + offs, v & v)  # <-\n"), L, KernelTypeError),
    Bad("shift_float", _k(LOAD + "tl.store(o_ptr + offs, v << 1)  # <-\n"), L, KernelTypeError),
    Bad("floordiv_float", _k(LOAD + "tl.store(o_ptr + offs, v // 2.0)  # <-\n"), L,
        KernelTypeError),
    Bad("load_from_int", _k(LOAD + "w = tl.load(n + offs)  # <-\ntl.store(o_ptr + offs, w)\n"), L,
        KernelTypeError),
    Bad("store_to_block", _k(LOAD + "tl.store(v, v)  # <-\n"), L, KernelTypeError),
    Bad("bad_dtype", _k(LOAD + "tl.store(o_ptr + offs, v.to(tl.float99))  # <-\n"), L,
        CompilationError, ("float99",)),
    Bad("mixed_sign_div", _k(OFFS + "a = offs.to(tl.uint32)\n"
                             "tl.store(o_ptr + offs, (a // offs).to(tl.float32))  # <-\n"), L,
        KernelTypeError),
    Bad("literal_range", _k(OFFS + "a = offs.to(tl.int8)\n"
                            "tl.store(o_ptr + offs, (a + 1000).to(tl.float32))  # <-\n"), L,
        KernelTypeError),
    Bad("dot_dtypes", _k("r = tl.arange(0, 16)\n"
                         "a = tl.load(x_ptr + r[:, None] * 16 + r[None, :])\n"
                         "b = (r[:, None] * 16 + r[None, :]).to(tl.int8)\n"
                         "tl.store(o_ptr + r[:, None] * 16 + r[None, :], tl.dot(a, b))  # <-\n"),
        "kernel[(1,)](X, O, 16, BLOCK=16, target=target)", KernelTypeError),
    Bad("loop_type_change", _k(LOAD + "acc = 0\nfor i in range(n):  # <-\n"
                               "    acc = acc + 0.5\ntl.store(o_ptr + offs, v + acc)\n"), L,
        KernelTypeError, ("acc",)),
    Bad("if_type_change", _k(LOAD + "if n > 2:  # <-\n    w = v\nelse:\n    w = offs\n"
                             "tl.store(o_ptr + offs, w)\n"), L, KernelTypeError, ("w",)),
    Bad("one_branch_name", _k(LOAD + "if n > 2:\n    w = v\ntl.store(o_ptr + offs, w)  # <-\n"), L,
        CompilationError, ("w",)),
    # -- shapes ------------------------------------------------------------------------------
    Bad("broadcast", _k(LOAD + "w = v + tl.arange(0, 32)  # <-\ntl.store(o_ptr + offs, w)\n"), L,
        ShapeError),
    Bad("store_shape", _k(OFFS + "tl.store(o_ptr + tl.arange(0, 32), "
                          "tl.load(x_ptr + offs))  # <-\n"), L, ShapeError),
    Bad("reshape_size", _k(LOAD + "w = tl.reshape(v, (3, 5))  # <-\ntl.store(o_ptr + offs, v)\n"),
        L, ShapeError),
    Bad("permute_order", _k("r = tl.arange(0, 16)\nv = tl.load(x_ptr + r[:, None] * 16 + r)\n"
                            "w = tl.permute(v, (0, 0))  # <-\ntl.store(o_ptr + r, r)\n"), L,
        CompilationError),
    Bad("sum_axis", _k(LOAD + "w = tl.sum(v, axis=3)  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        CompilationError),
    Bad("dot_1d", _k(LOAD + "w = tl.dot(v, v)  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        ShapeError),
    Bad("dot_k", _k("r = tl.arange(0, 16)\nq = tl.arange(0, 32)\n"
                    "a = tl.load(x_ptr + r[:, None] * 16 + r[None, :])\n"
                    "b = tl.load(x_ptr + q[:, None] * 16 + r[None, :])\n"
                    "w = tl.dot(a, b)  # <-\ntl.store(o_ptr + r, r)\n"), L, ShapeError),
    Bad("trans_1d_dims", _k(LOAD + "w = tl.trans(v, 1, 0)  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        CompilationError),
    # -- constexpr misuse --------------------------------------------------------------------
    Bad("arange_runtime", _k("offs = tl.arange(0, n)  # <-\ntl.store(o_ptr + offs, offs)\n"), L,
        CompilationError, ("n",)),
    Bad("zeros_runtime", _k(OFFS + "z = tl.zeros((n,), tl.float32)  # <-\n"
                            "tl.store(o_ptr + offs, offs)\n"), L, CompilationError),
    Bad("arange_float", _k("offs = tl.arange(0, 16.0)  # <-\ntl.store(o_ptr + offs, offs)\n"), L,
        CompilationError),
    Bad("arange_empty", _k("offs = tl.arange(5, 3)  # <-\ntl.store(o_ptr + offs, offs)\n"), L,
        CompilationError),
    Bad("static_assert", _k(LOAD + "tl.static_assert(BLOCK > 64)  # <-\n"
                            "tl.store(o_ptr + offs, v)\n"), L, StaticAssertionError),
    Bad("static_assert_runtime", _k(LOAD + "tl.static_assert(n > 1)  # <-\n"
                                    "tl.store(o_ptr + offs, v)\n"), L, CompilationError),
    Bad("static_range_runtime", _k(LOAD + "for i in tl.static_range(n):  # <-\n    v = v + 1\n"
                                   "tl.store(o_ptr + offs, v)\n"), L, CompilationError),
    Bad("constexpr_assign_shape", _k("m = n\noffs = tl.arange(0, m)  # <-\n"
                                     "tl.store(o_ptr + offs, offs)\n"), L, CompilationError),
    Bad("constexpr_div_zero", _k(LOAD + "c = BLOCK // 0  # <-\ntl.store(o_ptr + offs, v)\n"), L,
        ConstexprError),
    # -- masks -------------------------------------------------------------------------------
    Bad("mask_shape", _k(OFFS + "m = tl.arange(0, 32) < n\n"
                         "tl.store(o_ptr + offs, tl.load(x_ptr + offs, mask=m))  # <-\n"), L,
        ShapeError),
    Bad("mask_block_scalar_ptr", _k(OFFS + "v = tl.load(x_ptr, mask=offs < n)  # <-\n"
                                    "tl.store(o_ptr + offs, offs)\n"), L, ShapeError),
    Bad("mask_pointer", _k(OFFS + "m = x_ptr + offs\n"
                           "tl.store(o_ptr + offs, tl.load(x_ptr + offs, mask=m))  # <-\n"), L,
        KernelTypeError),
    Bad("other_shape", _k(OFFS + "o = tl.zeros((32,), tl.float32)\n"
                          "v = tl.load(x_ptr + offs, mask=offs < n, other=o)  # <-\n"
                          "tl.store(o_ptr + offs, v)\n"), L, ShapeError),
    # -- launches ----------------------------------------------------------------------------
    Bad("missing_arg", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X, O, BLOCK=16, target=target)", TypeError, ("'n'",)),
    Bad("extra_arg", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X, O, 16, 3, 4, BLOCK=16, target=target)", TypeError),
    Bad("missing_constexpr", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X, O, 16, target=target)", TypeError, ("BLOCK",)),
    Bad("str_arg", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X, 'o', 16, BLOCK=16, target=target)", TypeError, ("o_ptr", "str")),
    Bad("list_arg", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)]([1.0] * 16, O, 16, BLOCK=16, target=target)", TypeError, ("x_ptr",)),
    Bad("complex_array", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X.astype(np.complex64), O, 16, BLOCK=16, target=target)", TypeError,
        ("complex64",)),
    Bad("int_too_big", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X, O, 2**70, BLOCK=16, target=target)", ValueError, ("'n'",)),
    Bad("constexpr_array", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X, O, 16, BLOCK=X, target=target)", TypeError, ("BLOCK",)),
    Bad("grid_negative", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(-1,)](X, O, 16, BLOCK=16, target=target)", ValueError, ("grid",)),
    Bad("grid_4d", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1, 1, 1, 1)](X, O, 16, BLOCK=16, target=target)", ValueError, ("grid",)),
    Bad("grid_float", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1.5,)](X, O, 16, BLOCK=16, target=target)", ValueError, ("grid",)),
    Bad("grid_callable", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[lambda meta: 'x'](X, O, 16, BLOCK=16, target=target)", ValueError, ("grid",)),
    Bad("unknown_target", _k(LOAD + "tl.store(o_ptr + offs, v)\n"),
        "kernel[(1,)](X, O, 16, BLOCK=16, target='gpu')", ValueError, ("gpu",)),
    # -- too large for the accelerator ---------------------------------------------------------
    Bad("accel_sbuf", _k("offs = tl.arange(0, 1024)[:, None] * 2048 + tl.arange(0, 2048)[None, :]\n"
                         "a = tl.load(x_ptr + offs)  # <-\nb = tl.exp(a)\nc = tl.sin(a) + b\n"
                         "tl.store(o_ptr + offs, a + b + c)\n", "x_ptr, o_ptr"),
        "kernel[(1,)](BIG, BIG, target=target)", OutOfChipMemoryError, target="accel"),
    Bad("accel_fp64", _k("offs = tl.arange(0, 16)\nv = tl.load(x_ptr + offs)  # <-\n"
                         "tl.store(o_ptr + offs, v)\n", "x_ptr, o_ptr"),
        "kernel[(1,)](X.astype(np.float64), O.astype(np.float64), target=target)",
        CompilationError, ("fp64",), target="accel"),
    Bad("accel_uint64", _k("offs = tl.arange(0, 16)\n"
                           "v = tl.load(i_ptr + offs).to(tl.uint64) * 3  # <-\n"
                           "tl.store(o_ptr + offs, v.to(tl.float32))\n", "i_ptr, o_ptr"),
        "kernel[(1,)](I, O, target=target)", TargetLimitError, ("uint64",), target="accel"),
    # -- out of bounds, with the checks on ------------------------------------------------------
    Bad("oob_load_cpu", _k("offs = tl.arange(0, 512)\nv = tl.load(x_ptr + offs)  # <-\n"
                           "tl.store(o_ptr + offs % 256, v)\n", "x_ptr, o_ptr"),
        "kernel[(1,)](X, O, target=target)", OutOfBoundsError, ("x_ptr",), bounds=True),
    Bad("oob_store_cpu", _k("offs = tl.arange(0, 512)\n"
                            "tl.store(o_ptr + offs, offs.to(tl.float32))  # <-\n", "x_ptr, o_ptr"),
        "kernel[(1,)](X, O, target=target)", OutOfBoundsError, ("o_ptr",), bounds=True),
    Bad("oob_gather_cpu", _k("offs = tl.arange(0, 16)\nidx = tl.load(i_ptr + offs) * 100\n"
                             "v = tl.load(x_ptr + idx)  # <-\ntl.store(o_ptr + offs, v)\n",
                             "x_ptr, i_ptr, o_ptr"),
        "kernel[(1,)](X, I, O, target=target)", OutOfBoundsError, ("x_ptr",), bounds=True),
    Bad("oob_negative_cpu", _k("offs = tl.arange(0, 16) - 4\nv = tl.load(x_ptr + offs)  # <-\n"
                               "tl.store(o_ptr + offs + 4, v)\n", "x_ptr, o_ptr"),
        "kernel[(1,)](X, O, target=target)", OutOfBoundsError, ("x_ptr",), bounds=True),
    Bad("oob_atomic_cpu", _k("tl.atomic_add(o_ptr + 300, 1.0)  # <-\n", "x_ptr, o_ptr"),
        "kernel[(1,)](X, O, target=target)", OutOfBoundsError, ("o_ptr",), bounds=True),
    Bad("oob_load_accel", _k("offs = tl.arange(0, 512)\nv = tl.load(x_ptr + offs)  # <-\n"
                             "tl.store(o_ptr + offs % 256, v)\n", "x_ptr, o_ptr"),
        "kernel[(1,)](X, O, target=target)", OutOfBoundsError, ("x_ptr",), target="accel"),
    Bad("oob_store_accel", _k("offs = tl.arange(0, 512)\n"
                              "tl.store(o_ptr + offs, offs.to(tl.float32))  # <-\n",
                              "x_ptr, o_ptr"),
        "kernel[(1,)](X, O, target=target)", OutOfBoundsError, ("o_ptr",), target="accel"),
    Bad("oob_grid_accel", _k("offs = tl.program_id(0) * 128 + tl.arange(0, 128)\n"
                             "tl.store(o_ptr + offs, tl.load(x_ptr + offs))  # <-\n",
                             "x_ptr, o_ptr"),
        "kernel[(3,)](X, O, target=target)", OutOfBoundsError, target="accel"),
]  # fmt: skip


def _load(tmp_path, row: Bad):
    text = HEAD + "\n\n" + row.src + "\n\ndef launch(target):\n    " + row.launch + "\n"
    path = tmp_path / f"bad_{row.id}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"bad_{row.id}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    lines = [i + 1 for i, t in enumerate(text.splitlines()) if "# <-" in t]
    return mod, path, lines


@pytest.fixture
def bounds_checked(monkeypatch):
    """The CPU runtime with JITLANG_BOUNDS_CHECK=1 for this test (a fresh compile: the kernel
    modules are new, and the check is part of the cache key)."""
    from runtime.driver import get_runtime

    rt = get_runtime()
    monkeypatch.setattr(rt, "options", dataclasses.replace(rt.options, bounds_check=True))


def test_table_is_large_enough():
    assert len(ROWS) >= 60
    assert len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(tmp_path, request, row: Bad):
    if row.bounds:
        request.getfixturevalue("bounds_checked")
    mod, path, lines = _load(tmp_path, row)
    with pytest.raises(row.error) as info:
        mod.launch(row.target)
    err = info.value
    msg = str(err)
    for w in row.words:
        assert w in msg, (w, msg)
    frames = [f.filename for f in traceback.extract_tb(err.__traceback__)]
    inside = [f for f in frames if re.search(r"jitlang/(frontend|passes)/|/codegen/|/isa/", f)]
    assert not inside, (frames, msg)
    if lines:
        assert f"{path}:{lines[0]}:" in msg, msg
    else:
        # raised while binding the launch (jitlang/jit.py) or choosing its driver (runtime/)
        assert frames and re.search(r"jitlang/jit\.py$|/runtime/\w+\.py$", frames[-1]), frames
