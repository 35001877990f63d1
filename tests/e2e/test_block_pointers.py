"""Block pointers (`tl.make_block_ptr`, `tl.advance`, `boundary_check`, `padding_option`) and
tensor descriptors (`tl.make_tensor_descriptor`), on the CPU and the accelerator, against numpy."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError, KernelTypeError, ShapeError
from jitlang.testing import cross_check

TARGETS = ("cpu", "accel")


@jl.jit
def scale_2d(x_ptr, y_ptr, M, N, sxm, sxn, BM: tl.constexpr, BN: tl.constexpr, PAD: tl.constexpr):
    pm = tl.program_id(0)
    pn = tl.program_id(1)
    src = tl.make_block_ptr(x_ptr, (M, N), (sxm, sxn), (pm * BM, pn * BN), (BM, BN), (1, 0))
    dst = tl.make_block_ptr(y_ptr, (M + 1, N + 1), (N + 1, 1), (pm * BM, pn * BN), (BM, BN), (1, 0))
    v = tl.load(src, boundary_check=(0, 1), padding_option=PAD)
    tl.store(dst, v * 2.0, boundary_check=(0, 1))


def _scale_ref(x, pad, BM, BN):
    """y[:M+1, :N+1] as the kernel writes it: 2*x inside x, the padding in the extra row/col
    that the (M+1)x(N+1) destination allows."""
    M, N = x.shape
    y = np.zeros((M + 1, N + 1), np.float32)
    gm, gn = -(-M // BM), -(-N // BN)
    y[: min(M + 1, gm * BM), : min(N + 1, gn * BN)] = pad
    y[:M, :N] = 2 * x
    return y


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("M,N", [(37, 50), (32, 64), (1, 1)])
@pytest.mark.parametrize("pad", ["zero", "nan"])
def test_partial_blocks_pad_and_clip(target, M, N, pad):
    x = np.random.default_rng(0).standard_normal((M, N)).astype(np.float32)
    y = np.zeros((M + 1, N + 1), np.float32)
    grid = (jl.cdiv(M, 16), jl.cdiv(N, 32))
    scale_2d[grid](x, y, M, N, N, 1, BM=16, BN=32, PAD=pad, target=target)
    ref = _scale_ref(x, np.nan if pad == "nan" else 0.0, 16, 32)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("target", TARGETS)
def test_transposed_strides_read_a_column_major_view(target):
    x = np.random.default_rng(1).standard_normal((40, 24)).astype(np.float32)
    xt = np.asfortranarray(x)  # element (i, j) at i + 40*j
    y = np.zeros((41, 25), np.float32)
    scale_2d[(3, 1)](xt, y, 40, 24, 1, 40, BM=16, BN=32, PAD="zero", target=target)
    np.testing.assert_array_equal(y[:40, :24], 2 * x)


@jl.jit
def rows_checked_only(x_ptr, y_ptr, M, N: tl.constexpr, BM: tl.constexpr):
    pm = tl.program_id(0)
    src = tl.make_block_ptr(x_ptr, (M, N), (N, 1), (pm * BM, 0), (BM, N), (1, 0))
    dst = tl.make_block_ptr(y_ptr, (M, N), (N, 1), (pm * BM, 0), (BM, N), (1, 0))
    tl.store(dst, tl.load(src, boundary_check=(0,)) + 1, boundary_check=(0,))


@pytest.mark.parametrize("target", TARGETS)
def test_boundary_check_on_one_dimension(target):
    x = np.arange(13 * 16, dtype=np.int32).reshape(13, 16)
    y = np.zeros_like(x)
    rows_checked_only[(jl.cdiv(13, 8),)](x, y, 13, N=16, BM=8, target=target)
    np.testing.assert_array_equal(y, x + 1)


@jl.jit
def mm_block_ptr(
    a_ptr,
    b_ptr,
    c_ptr,
    M,
    N,
    K,
    sam,
    sak,
    sbk,
    sbn,
    scm,
    scn,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    pm = tl.program_id(0)
    pn = tl.program_id(1)
    a_bp = tl.make_block_ptr(a_ptr, (M, K), (sam, sak), (pm * BM, 0), (BM, BK), (1, 0))
    b_bp = tl.make_block_ptr(b_ptr, (K, N), (sbk, sbn), (0, pn * BN), (BK, BN), (0, 1))
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for _ in range(0, K, BK):
        a = tl.load(a_bp, boundary_check=(0, 1))
        b = tl.load(b_bp, boundary_check=(0, 1))
        acc += tl.dot(a, b)
        a_bp = tl.advance(a_bp, (0, BK))
        b_bp = tl.advance(b_bp, (BK, 0))
    c_bp = tl.make_block_ptr(c_ptr, (M, N), (scm, scn), (pm * BM, pn * BN), (BM, BN), (1, 0))
    tl.store(c_bp, acc.to(c_ptr.dtype.element_ty), boundary_check=(0, 1))


@pytest.mark.parametrize("M,N,K", [(70, 45, 100), (64, 64, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_matmul_advancing_block_pointers_in_a_loop(M, N, K, dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    c = np.zeros((M, N), np.float32)
    grid = (jl.cdiv(M, 32), jl.cdiv(N, 32))
    args = (a, b, c, M, N, K, K, 1, N, 1, N, 1)
    cross_check(mm_block_ptr, grid, *args, BM=32, BN=32, BK=32)
    ref = a.astype(np.float32) @ b.astype(np.float32)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-3)


@jl.jit
def running_sum_while(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    # a 1-D block pointer carried through a while loop and advanced under an if
    p = tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (BLOCK,), (0,))
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    i = 0
    while i < n:
        acc += tl.load(p, boundary_check=(0,))
        if i + BLOCK < n:
            p = tl.advance(p, (BLOCK,))
        else:
            p = tl.advance(p, (n,))  # past the end: the next loads read padding
        i += BLOCK
    tl.store(y_ptr + tl.arange(0, BLOCK), acc)


@pytest.mark.parametrize("target", TARGETS)
def test_block_pointer_through_while_and_if(target):
    n, B = 100, 16
    x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    y = np.zeros(B, np.float32)
    running_sum_while[(1,)](x, y, n, BLOCK=B, target=target)
    ref = np.zeros(B * 7, np.float32)
    ref[:n] = x
    np.testing.assert_allclose(y, ref.reshape(7, B).sum(0), rtol=1e-5, atol=1e-5)


@jl.jit
def block_3d(x_ptr, y_ptr, A, B, C, BA: tl.constexpr, BB: tl.constexpr, BC: tl.constexpr):
    p = tl.make_block_ptr(x_ptr, (A, B, C), (B * C, C, 1), (0, 0, 0), (BA, BB, BC), (2, 1, 0))
    q = tl.make_block_ptr(y_ptr, (A, B, C), (B * C, C, 1), (0, 0, 0), (BA, BB, BC), (2, 1, 0))
    tl.store(q, tl.load(p, boundary_check=(0, 1, 2)) - 1.0, boundary_check=(0, 1, 2))


@pytest.mark.parametrize("target", TARGETS)
def test_three_dimensional_block_pointer(target):
    x = np.random.default_rng(4).standard_normal((3, 5, 7)).astype(np.float32)
    y = np.zeros_like(x)
    block_3d[(1,)](x, y, 3, 5, 7, BA=4, BB=8, BC=8, target=target)
    np.testing.assert_array_equal(y, x - 1)


@jl.jit
def tuple_carried(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    pair = (tl.zeros((BLOCK,), dtype=tl.float32), 0)
    for i in range(0, n, BLOCK):
        s, c = pair
        pair = (s + tl.load(x_ptr + i + offs, mask=i + offs < n, other=0.0), c + 1)
    s, c = pair
    tl.store(y_ptr + offs, s / c)


@pytest.mark.parametrize("target", TARGETS)
def test_tuple_loop_carried(target):
    x = np.random.default_rng(5).standard_normal(40).astype(np.float32)
    y = np.zeros(16, np.float32)
    tuple_carried[(1,)](x, y, 40, BLOCK=16, target=target)
    ref = np.zeros(48, np.float32)
    ref[:40] = x
    np.testing.assert_allclose(y, ref.reshape(3, 16).sum(0) / 3, rtol=1e-6)


@jl.jit
def desc_shift(x_ptr, y_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    # y[i, j] = x[i - 3, j + 5], zero outside x; stores past y's end are dropped
    src = tl.make_tensor_descriptor(x_ptr, shape=[M, N], strides=[N, 1], block_shape=[BM, BN])
    dst = tl.make_tensor_descriptor(y_ptr, [M, N], [N, 1], [BM, BN])
    pm = tl.program_id(0) * BM
    pn = tl.program_id(1) * BN
    v = src.load([pm - 3, pn + 5])
    dst.store([pm, pn], v)
    w = tl.load_tensor_descriptor(src, [pm, pn])
    tl.store_tensor_descriptor(dst, [pm + M, pn], w)  # wholly outside: dropped


@pytest.mark.parametrize("target", TARGETS)
def test_tensor_descriptor_zero_fill_and_dropped_stores(target):
    M, N = 20, 30
    x = np.random.default_rng(6).standard_normal((M, N)).astype(np.float32)
    y = np.full((M, N), 7.0, np.float32)
    desc_shift[(jl.cdiv(M, 8), jl.cdiv(N, 16))](x, y, M, N, BM=8, BN=16, target=target)
    ref = np.zeros((M, N), np.float32)
    ref[3:, : N - 5] = x[: M - 3, 5:]
    np.testing.assert_array_equal(y, ref)


# -- errors -----------------------------------------------------------------------------------


@jl.jit
def err_mask_with_block_ptr(x_ptr, n):
    p = tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (16,), (0,))
    tl.load(p, mask=tl.arange(0, 16) < n)  # <- error


@jl.jit
def err_bad_order(x_ptr, n):
    tl.make_block_ptr(x_ptr, (n, n), (n, 1), (0, 0), (16, 16), (0, 0))  # <- error


@jl.jit
def err_block_shape_not_pow2(x_ptr, n):
    tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (12,), (0,))  # <- error


@jl.jit
def err_rank_mismatch(x_ptr, n):
    tl.make_block_ptr(x_ptr, (n, n), (1,), (0, 0), (16, 16), (1, 0))  # <- error


@jl.jit
def err_nan_padding_int(x_ptr, n):
    p = tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (16,), (0,))
    tl.load(p, boundary_check=(0,), padding_option="nan")  # <- error


@jl.jit
def err_store_shape(x_ptr, n):
    p = tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (16,), (0,))
    tl.store(p, tl.zeros((32,), dtype=tl.int32))  # <- error


@jl.jit
def err_advance_plain_pointer(x_ptr, n):
    tl.advance(x_ptr, (16,))  # <- error


@jl.jit
def err_bad_boundary_dim(x_ptr, n):
    p = tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (16,), (0,))
    tl.load(p, boundary_check=(1,))  # <- error


@jl.jit
def err_block_ptr_changes_shape_in_loop(x_ptr, n):
    p = tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (16,), (0,))
    for _ in range(3):  # <- error
        p = tl.make_block_ptr(x_ptr, (n,), (1,), (0,), (32,), (0,))
    tl.store(p, tl.zeros((32,), dtype=tl.int32))


@jl.jit
def err_block_base_is_block(x_ptr, n):
    tl.make_block_ptr(x_ptr + tl.arange(0, 4), (n,), (1,), (0,), (4,), (0,))  # <- error


ERRORS = [
    (err_mask_with_block_ptr, KernelTypeError, "boundary_check"),
    (err_bad_order, KernelTypeError, "permutation"),
    (err_block_shape_not_pow2, ShapeError, "powers of two"),
    (err_rank_mismatch, ShapeError, "rank"),
    (err_nan_padding_int, KernelTypeError, "nan"),
    (err_store_shape, ShapeError, "block_shape"),
    (err_advance_plain_pointer, KernelTypeError, "block pointer"),
    (err_bad_boundary_dim, KernelTypeError, "not a dimension"),
    (err_block_ptr_changes_shape_in_loop, KernelTypeError, "block_shape [16]"),
    (err_block_base_is_block, KernelTypeError, "scalar pointer"),
]


@pytest.mark.parametrize("kernel,cls,words", ERRORS, ids=[k.fn.__name__ for k, _, _ in ERRORS])
def test_errors_name_the_line(kernel, cls, words):
    x = np.zeros(64, np.int32)
    with pytest.raises(CompilationError) as info:
        kernel[(1,)](x, 64)
    e = info.value
    assert isinstance(e, cls), f"{type(e).__name__}: {e}"
    lines, start = inspect.getsourcelines(kernel.fn)
    mark = [i for i, t in enumerate(lines) if "# <- error" in t]
    assert f"{os.path.abspath(__file__)}:{start + mark[0]}:" in str(e), str(e)
    assert words in str(e), str(e)
    assert "^" in str(e)


def test_interpreter_runs_block_pointers(tmp_path):
    """The tile-IR interpreter (JITLANG_INTERPRET=1) sees only pointer blocks too."""
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import numpy as np
            from test_block_pointers import mm_block_ptr
            M, N, K = 40, 24, 50
            rng = np.random.default_rng(7)
            a = rng.standard_normal((M, K)).astype(np.float32)
            b = rng.standard_normal((K, N)).astype(np.float32)
            c = np.zeros((M, N), np.float32)
            mm_block_ptr[(2, 1)](a, b, c, M, N, K, K, 1, N, 1, N, 1, BM=32, BN=32, BK=16)
            np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
            print("ok")
            """
        )
    )
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


# -- host-side tensor descriptors (triton.tools.tensor_descriptor) -----------------------------
from jitlang.tools.tensor_descriptor import TensorDescriptor  # noqa: E402


@jl.jit
def desc_arg_scale(in_desc, out_desc, BM: tl.constexpr, BN: tl.constexpr):
    pm = tl.program_id(0) * BM
    pn = tl.program_id(1) * BN
    out_desc.store([pm, pn], in_desc.load([pm, pn]) * 2)


@pytest.mark.parametrize("target", TARGETS)
def test_host_tensor_descriptor_arguments(target):
    M, N = 37, 100
    x = np.random.default_rng(8).standard_normal((M, N)).astype(np.float32)
    view = x[:, ::2]  # strides (100, 2) elements: the descriptor carries them
    y = np.zeros((M, N // 2), np.float32)
    grid = (jl.cdiv(M, 16), jl.cdiv(N // 2, 32))
    src = TensorDescriptor.from_tensor(view, [16, 32])
    assert src.strides == [100, 2]
    desc_arg_scale[grid](
        src, TensorDescriptor.from_tensor(y, [16, 32]), BM=16, BN=32, target=target
    )
    np.testing.assert_array_equal(y, 2 * view)


def test_host_tensor_descriptor_with_torch():
    torch = pytest.importorskip("torch")
    x = torch.arange(20 * 24, dtype=torch.float32).reshape(20, 24)
    y = torch.zeros(20, 24)
    desc_arg_scale[(2, 1)](
        TensorDescriptor.from_tensor(x, [16, 32]),
        TensorDescriptor.from_tensor(y, [16, 32]),
        BM=16,
        BN=32,
    )
    assert torch.equal(y, 2 * x)


def test_host_tensor_descriptor_validation():
    x = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="same length"):
        TensorDescriptor(x, [4, 4], [4], [4, 4])
    with pytest.raises(ValueError, match="powers of two"):
        TensorDescriptor.from_tensor(x, [3, 4])
