"""Triton's type objects jitlang exposes: tl.void, tl.slice, tl.constexpr_type,
tl.tensor_descriptor, tl.const and const pointer types, in host code and inside kernels (on the
CPU and the accelerator), and the located errors for what Triton refuses."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError
from jitlang.tools.tensor_descriptor import TensorDescriptor

TARGETS = ["cpu", "accel"]


def test_host_side_type_objects():
    assert tl.dtype("void") is tl.void and isinstance(tl.void, tl.dtype)
    assert str(tl.void) == "void" and tl.void.primitive_bitwidth == 0 and tl.void.is_void()
    assert tl.void != tl.float32 and tl.float32 != tl.void and tl.void == tl.void
    assert not tl.void.is_floating() and not tl.void.is_int() and not tl.void.is_fp32()
    assert "void" in tl.dtype.OTHER_TYPES and tl.dtype.is_dtype("void")
    with pytest.raises(TypeError):
        tl.pointer_type(tl.void)

    p = tl.pointer_type(tl.float16, const=True)
    assert p.is_const() and str(p) == "const_pointer<fp16>" and p.is_ptr()
    assert p != tl.pointer_type(tl.float16) and p == tl.pointer_type(tl.float16, const=True)
    assert not tl.pointer_type(tl.int32).is_const() and not tl.int32.is_const()
    assert tl.pi32_t == tl.pointer_type(tl.int32)

    assert tl.constexpr(8).type == tl.constexpr_type(8) != tl.constexpr_type(9)
    assert repr(tl.constexpr_type(8)) == "constexpr_type[8]"
    assert hash(tl.constexpr_type(3)) == hash(tl.constexpr_type(3))

    s = tl.slice(None, 4, None)
    assert isinstance(s, tl.slice) and isinstance(slice(1, 2), tl.slice)
    assert s.stop == 4 and s.type == tl.slice_type() and s == slice(None, 4, None)
    assert not isinstance(3, tl.slice)

    assert not isinstance(np.zeros(4), tl.tensor_descriptor)


@jl.jit
def introspect(x_ptr: tl.const, o_ptr, desc, N: tl.constexpr):
    offs = tl.arange(0, N)
    tl.static_assert(x_ptr.dtype == tl.pointer_type(tl.float32, const=True))
    tl.static_assert(x_ptr.dtype.is_const() and not o_ptr.dtype.is_const())
    tl.static_assert((x_ptr + offs).dtype.is_const())  # pointers computed from it are const
    tl.static_assert(isinstance(N.type, tl.constexpr_type) and N.type == tl.constexpr_type(N))
    tl.static_assert(tl.void != x_ptr.dtype.element_ty)
    tl.static_assert(isinstance(desc, tl.tensor_descriptor))
    tl.static_assert(not isinstance(x_ptr, tl.tensor_descriptor))
    own = tl.make_tensor_descriptor(o_ptr, [N], [1], [N])
    tl.static_assert(isinstance(own, tl.tensor_descriptor))
    full = tl.slice(None, None, None)
    tl.static_assert(isinstance(full, tl.slice))
    x = tl.load(x_ptr + offs)
    col = x[full, None]  # a tl.slice indexes like `:`
    p = x_ptr
    for _ in range(2):  # loop-carried const pointer: loads are fine
        p = p + 1
    y = tl.sum(col, axis=1) + tl.load(p) + desc.load([0])
    own.store([0], y)


@pytest.mark.parametrize("target", TARGETS)
def test_kernels_see_the_type_objects(target):
    x = np.arange(16, dtype=np.float32)
    d = np.full(16, 100, np.float32)
    o = np.zeros(16, np.float32)
    introspect[(1,)](x, o, TensorDescriptor.from_tensor(d, [16]), 16, target=target)
    np.testing.assert_array_equal(o, x + 2 + 100)


def _compile_error(src_body: str, tmp_path, *args):
    import importlib
    import sys
    import textwrap

    path = tmp_path / "tobj_kernel.py"
    path.write_text(
        "import jitlang as jl\nimport jitlang.language as tl\n\n\n@jl.jit\n"
        + textwrap.dedent(src_body)
    )
    sys.path.insert(0, str(tmp_path))
    try:
        mod = importlib.import_module("tobj_kernel")
        with pytest.raises(CompilationError) as e:
            mod.k[(1,)](*args)
        return str(e.value)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tobj_kernel", None)


STORES = [
    "tl.store(x_ptr + tl.arange(0, 8), 1.0)",
    "(x_ptr + tl.arange(0, 8)).store(1.0)",
    "tl.atomic_add(x_ptr + tl.arange(0, 8), 1.0)",
    "tl.atomic_xchg(x_ptr, 1.0)",
    "tl.atomic_cas(x_ptr, 1.0, 2.0)",
    "tl.atomic_store(x_ptr, 1.0)",
    "tl.store(tl.make_block_ptr(x_ptr, [8], [1], [0], [8], [0]), tl.zeros([8], tl.float32))",
    "tl.make_tensor_descriptor(x_ptr, [8], [1], [8]).store([0], tl.zeros([8], tl.float32))",
    "tl.store(tl.where(True, x_ptr, x_ptr) + 1, 1.0)",
]


@pytest.mark.parametrize("stmt", STORES)
def test_writes_through_const_pointers_fail_at_the_line(stmt, tmp_path):
    msg = _compile_error(
        f"""
        def k(x_ptr: tl.const):
            v = 1
            {stmt}
        """,
        tmp_path,
        np.zeros(8, np.float32),
    )
    assert "cannot store to a constant pointer" in msg
    assert "tobj_kernel.py:9:" in msg and "^" in msg, msg


def test_const_survives_loops_and_ifs(tmp_path):
    msg = _compile_error(
        """
        def k(x_ptr: "tl.const", flag):
            p = x_ptr
            for i in range(3):
                if flag > 0:
                    p = p + i
            tl.store(p, 1.0)
        """,
        tmp_path,
        np.zeros(8, np.float32),
        1,
    )
    assert "cannot store to a constant pointer" in msg and "tobj_kernel.py:12:" in msg


@pytest.mark.parametrize("stmt", ["tl.zeros([8], dtype=tl.void)", "tl.arange(0, 8).to(tl.void)"])
def test_nothing_is_made_of_void(stmt, tmp_path):
    msg = _compile_error(
        f"""
        def k(x_ptr):
            y = {stmt}
            tl.store(x_ptr + tl.arange(0, 8), y)
        """,
        tmp_path,
        np.zeros(8, np.float32),
    )
    assert "tl.void" in msg and "tobj_kernel.py:8:" in msg


def test_blocks_take_only_full_tl_slices(tmp_path):
    msg = _compile_error(
        """
        def k(x_ptr):
            y = tl.arange(0, 8)[tl.slice(0, 4, None)]
            tl.store(x_ptr + tl.arange(0, 8), y)
        """,
        tmp_path,
        np.zeros(8, np.int32),
    )
    assert "unsupported tensor index: 0:4" in msg
