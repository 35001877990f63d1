"""Root causes found by running Triton's own language tests against jitlang (issue 12), one test
each: `jitlang.reinterpret` (Triton's `triton.reinterpret`), tuple and NamedTuple kernel arguments,
`tl.dtype(name)` with Triton's type lists, and integer `/` of mixed signedness rejected as Triton does."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import KernelTypeError

TARGETS = ("cpu", "accel")


@jl.jit
def copy_kernel(x_ptr, y_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.load(x_ptr + o) >> 28)


@pytest.mark.parametrize("target", TARGETS)
def test_reinterpret_reads_the_same_memory_as_another_dtype(target):
    x = np.array([-1, 5, -(2**31), 2**31 - 1] * 4, dtype=np.int32)
    y = np.zeros_like(x)
    # as int32: arithmetic shift; reinterpreted as uint32: logical shift of the same bits
    copy_kernel[(1,)](jl.reinterpret(x, tl.uint32), jl.reinterpret(y, tl.uint32), 16, target=target)
    np.testing.assert_array_equal(y.view(np.uint32), x.view(np.uint32) >> 28)
    copy_kernel[(1,)](x, y, 16, target=target)
    np.testing.assert_array_equal(y, x >> 28)


def test_reinterpret_of_torch_tensors_and_width_check():
    torch = pytest.importorskip("torch")
    x = torch.tensor([-1, 2, -3, 4] * 4, dtype=torch.int32)
    y = torch.zeros_like(x)
    w = jl.reinterpret(x, tl.uint32)
    assert w.base is x and w.dtype == tl.uint32 and w.stride(0) == 1 and w.numel() == 16
    copy_kernel[(1,)](w, jl.reinterpret(y, tl.uint32), 16)
    np.testing.assert_array_equal(y.numpy().view(np.uint32), x.numpy().view(np.uint32) >> 28)
    with pytest.raises(TypeError, match="16 bits wide but the elements are 32 bits"):
        jl.reinterpret(x, tl.float16)


def test_dtype_from_name_and_type_lists():
    names = tl.dtype.SINT_TYPES + tl.dtype.UINT_TYPES + tl.dtype.STANDARD_FP_TYPES
    got = [tl.dtype(n) for n in names]
    assert got == [
        tl.int8,
        tl.int16,
        tl.int32,
        tl.int64,
        tl.int1,
        tl.uint8,
        tl.uint16,
        tl.uint32,
        tl.uint64,
        tl.float16,
        tl.bfloat16,
        tl.float32,
        tl.float64,
    ]
    assert tl.dtype("float32") == tl.float32
    with pytest.raises(ValueError, match="no element type 'int128'"):
        tl.dtype("int128")


@jl.jit
def zeros_of(out_ptr, dt: tl.constexpr):
    tl.store(out_ptr + tl.arange(0, 4), tl.zeros((4,), dt) + 1)


@pytest.mark.parametrize("target", TARGETS)
def test_dtype_object_from_name_in_a_kernel(target):
    out = np.zeros(4, np.int16)
    zeros_of[(1,)](out, tl.dtype("int16"), target=target)
    np.testing.assert_array_equal(out, 1)


@jl.jit
def div_kernel(x_ptr, y_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(out_ptr + o, tl.load(x_ptr + o) / tl.load(y_ptr + o))


def test_true_division_of_mixed_signedness_is_rejected():
    x = np.arange(1, 9, dtype=np.int8)
    y = np.arange(1, 9, dtype=np.uint8)
    out = np.zeros(8, np.float32)
    with pytest.raises(
        KernelTypeError, match="Cannot use .* because they have different signedness"
    ):
        div_kernel[(1,)](x, y, out, 8)
    div_kernel[(1,)](x, x, out, 8)  # same signedness: fp32 division
    np.testing.assert_array_equal(out, 1.0)


class Strided(NamedTuple):
    ptr: object
    n: int
    scale: float


class Closure(NamedTuple):
    fn: object
    captured: tuple


@jl.jit
def twice(x, k):
    return x * k


@jl.jit
def tuple_args(ptrs, view, closure, opts, BLOCK: tl.constexpr):
    src, dst = ptrs
    o = tl.arange(0, BLOCK)
    tl.static_assert(opts[1] is None)
    m = o < view.n
    x = tl.load(src + o, mask=m, other=0.0)
    y = closure.fn(x, *closure.captured) * view.scale + opts[0]
    out = Strided(ptr=dst, n=view.n, scale=0.0)  # a NamedTuple built in the kernel
    tl.store(out.ptr + o, y, mask=o < out.n)


@pytest.mark.parametrize("target", TARGETS)
def test_tuple_and_namedtuple_arguments(target):
    x = np.arange(16, dtype=np.float32)
    y = np.full(16, -1.0, np.float32)
    args = ((x, y), Strided(None, 10, 0.5), Closure(twice, (3.0,)), (tl.constexpr(2.0), None))
    tuple_args[(1,)](*args, 16, target=target)
    np.testing.assert_array_equal(y[:10], x[:10] * 3.0 * 0.5 + 2.0)
    np.testing.assert_array_equal(y[10:], -1.0)
    # n and scale are run-time tuple elements; opts[0] is now a run-time float, not a constexpr
    tuple_args[(1,)](
        (x, y), Strided(None, 16, 1.0), Closure(twice, (1.0,)), (2.0, None), 16, target=target
    )
    np.testing.assert_array_equal(y, x + 2.0)


@jl.jit
def block_ptr_dtype(src_ptr, dst_ptr, N, BLOCK: tl.constexpr):
    bp = tl.make_block_ptr(src_ptr, (N,), (1,), (0,), (BLOCK,), (0,))
    tl.static_assert(bp.dtype.element_ty == tl.block_type(tl.float16, [BLOCK]))
    v = tl.load(bp, boundary_check=(0,), padding_option="zero")
    tl.store(dst_ptr + tl.arange(0, BLOCK), (v * 2).to(bp.dtype.element_ty))


@pytest.mark.parametrize("target", TARGETS)
def test_block_pointer_dtype_is_a_pointer_to_a_block(target):
    src = np.arange(12, dtype=np.float16)
    dst = np.full(16, -1, np.float32)
    block_ptr_dtype[(1,)](src, dst, 12, 16, target=target)
    np.testing.assert_array_equal(dst, np.r_[np.arange(12) * 2, np.zeros(4)])
