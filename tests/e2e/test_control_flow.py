"""End to end: if/else, loops, helpers, 2-D grids and memory access patterns against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl

BLOCK = 32


# --------------------------------------------------------------------------------------------
# if / else
# --------------------------------------------------------------------------------------------


@jl.jit
def _if_scalar(x_ptr, out_ptr, n, flag, BLOCK: tl.constexpr, STATIC: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    if STATIC:
        y = x * 10
    else:
        y = x - 10
    if flag > 0:
        y = y + 1
    elif flag < -5:
        y = y + 2
    else:
        y = y + 3
    tl.store(out_ptr + offs, y, mask=mask)


@pytest.mark.parametrize("static", [True, False])
@pytest.mark.parametrize("flag", [1, 7, -10, 0, -1])
def test_if_scalar(flag, static):
    n = 100
    x = np.arange(n, dtype=np.int32)
    out = np.zeros(n, np.int32)
    _if_scalar[(jl.cdiv(n, BLOCK),)](x, out, n, flag, BLOCK=BLOCK, STATIC=static)
    base = x * 10 if static else x - 10
    add = 1 if flag > 0 else (2 if flag < -5 else 3)
    np.testing.assert_array_equal(out, base + add)


def test_static_if_compiles_one_branch():
    x = np.zeros(4, np.int32)
    k = _if_scalar.warmup(x, x, 4, 3, BLOCK=BLOCK, STATIC=True)
    ir = k.asm["tile"]
    assert "constant 10 :" in ir
    assert "binary sub" not in ir, ir


@jl.jit
def _if_block(x_ptr, out_ptr, n, flag, BLOCK: tl.constexpr, FORM: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    if FORM == 0:
        y = x * 2 if flag > 0 else x + 1
    elif FORM == 1:
        if flag > 0:
            y = x * 2
        else:
            y = x + 1
    elif FORM == 2:
        y = x
        if flag > 0:
            y = y * 2
        else:
            y = y + 1
    else:
        y = x + 1
        if flag > 0:
            y = x * 2  # no else: the value is merged with the one from before the if
    tl.store(out_ptr + offs, y, mask=mask)


@pytest.mark.parametrize("form", [0, 1, 2, 3])
@pytest.mark.parametrize("flag", [3, -3])
def test_if_block_value(form, flag):
    n = 70
    x = np.arange(n, dtype=np.float32) - 20
    out = np.zeros(n, np.float32)
    _if_block[(jl.cdiv(n, BLOCK),)](x, out, n, flag, BLOCK=BLOCK, FORM=form)
    np.testing.assert_array_equal(out, x * 2 if flag > 0 else x + 1)


@jl.jit
def _ternary_scalar(out_ptr, a_ptr):
    pid = tl.program_id(0)
    v = tl.load(a_ptr + pid)
    r = v * 3 if v % 2 == 0 else -v
    tl.store(out_ptr + pid, r)


def test_ternary_on_loaded_scalar():
    a = np.arange(-5, 6, dtype=np.int64)
    out = np.zeros_like(a)
    _ternary_scalar[(a.size,)](out, a)
    np.testing.assert_array_equal(out, np.where(a % 2 == 0, a * 3, -a))


# --------------------------------------------------------------------------------------------
# loops
# --------------------------------------------------------------------------------------------


@jl.jit
def _loops(x_ptr, out_ptr, k, FORM: tl.constexpr):
    pid = tl.program_id(0)
    if FORM == "sum":
        acc = 0.0
        for i in range(k):
            acc += tl.load(x_ptr + pid * k + i)
    elif FORM == "neg_step":
        acc = 0.0
        for i in range(k - 1, -1, -1):
            acc = acc * 2 + tl.load(x_ptr + pid * k + i)
    elif FORM == "start_step":
        acc = 0.0
        for i in range(1, k, 3):
            acc += tl.load(x_ptr + pid * k + i)
    elif FORM == "while":
        acc = 0.0
        i = 0
        while i < k:
            acc += tl.load(x_ptr + pid * k + i)
            i += 2
    elif FORM == "nested":
        acc = 0.0
        for i in range(k):
            for j in range(i):
                acc += tl.load(x_ptr + pid * k + j) * i
    elif FORM == "tl_range":
        acc = 0.0
        for i in tl.range(0, k, 1):
            acc += tl.load(x_ptr + pid * k + i)
    else:  # static_range
        acc = 0.0
        for i in tl.static_range(4):
            acc += tl.load(x_ptr + pid * k + i) * (i + 1)
    tl.store(out_ptr + pid, acc)


def _ref_loops(form, x):
    out = []
    for row in x:
        k = len(row)
        if form in ("sum", "tl_range"):
            out.append(row.sum())
        elif form == "neg_step":
            acc = 0.0
            for i in range(k - 1, -1, -1):
                acc = acc * 2 + row[i]
            out.append(acc)
        elif form == "start_step":
            out.append(row[1:k:3].sum())
        elif form == "while":
            out.append(row[::2].sum())
        elif form == "nested":
            out.append(sum(row[j] * i for i in range(k) for j in range(i)))
        else:
            out.append(sum(row[i] * (i + 1) for i in range(4)))
    return np.array(out, np.float32)


@pytest.mark.parametrize("k", [0, 1, 7])
@pytest.mark.parametrize(
    "form", ["sum", "neg_step", "start_step", "while", "nested", "tl_range", "static_range"]
)
def test_scalar_loops(form, k):
    rows = 5
    if form == "static_range" and k < 4:
        return
    x = np.random.default_rng(0).integers(-5, 5, (rows, k)).astype(np.float32)
    out = np.full(rows, -99, np.float32)
    _loops[(rows,)](x, out, k, FORM=form)
    np.testing.assert_allclose(out, _ref_loops(form, x), rtol=1e-6)


def test_static_range_unrolls():
    x = np.zeros(8, np.float32)
    ir = _loops.warmup(x, x, 4, FORM="static_range").asm["tile"]
    assert "for" not in ir.split("{", 1)[1].replace("format", ""), ir


@jl.jit
def _block_acc(x_ptr, out_ptr, k, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    acc = tl.zeros((BLOCK,), tl.float32)
    mx = tl.full((BLOCK,), float("-inf"), tl.float32)
    for i in range(k):
        v = tl.load(x_ptr + i * n + offs, mask=mask, other=0.0)
        acc += v
        mx = tl.maximum(mx, v)
    tl.store(out_ptr + offs, acc, mask=mask)
    tl.store(out_ptr + n + offs, mx, mask=mask)


@pytest.mark.parametrize("n", [BLOCK, 100])
@pytest.mark.parametrize("k", [1, 5])
def test_block_loop_carried(k, n):
    x = np.random.default_rng(1).standard_normal((k, n)).astype(np.float32)
    out = np.zeros(2 * n, np.float32)
    _block_acc[(jl.cdiv(n, BLOCK),)](x, out, k, n, BLOCK=BLOCK)
    np.testing.assert_allclose(out[:n], x.sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out[n:], x.max(0))


@jl.jit
def _while_block(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    steps = 0
    total = tl.sum(x, axis=0)
    while total > 1:
        x = x // 2
        total = tl.sum(x, axis=0)
        steps += 1
    tl.store(out_ptr + offs, x + steps)


def test_while_with_block_state():
    x = np.arange(16, dtype=np.int32) * 9
    out = np.zeros(16, np.int32)
    _while_block[(1,)](x, out, BLOCK=16)
    ref, steps = x.copy(), 0
    while ref.sum() > 1:
        ref //= 2
        steps += 1
    np.testing.assert_array_equal(out, ref + steps)


# --------------------------------------------------------------------------------------------
# @jit helpers
# --------------------------------------------------------------------------------------------


@jl.jit
def _square(x):
    return x * x


@jl.jit
def _divmod(x, d):
    return x // d, x % d


@jl.jit
def _sign(x):
    if x > 0:
        return 1
    return -1


@jl.jit
def _clip_block(x, lo, HI: tl.constexpr):
    y = tl.maximum(x, lo)
    return tl.minimum(y, HI)


@jl.jit
def _nested_helper(x):
    return _square(x) + _square(x + 1)


@jl.jit
def _helpers(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    q, r = _divmod(x, 7)
    s = _sign(pid - 1)
    y = _square(q) + r * s + _clip_block(x, -3, 5) + _nested_helper(x)
    tl.store(out_ptr + offs, y, mask=mask)


@pytest.mark.parametrize("n", [BLOCK, 100])
def test_helpers(n):
    x = np.arange(n, dtype=np.int32) - 50
    out = np.zeros(n, np.int32)
    _helpers[(jl.cdiv(n, BLOCK),)](x, out, n, BLOCK=BLOCK)
    q = np.trunc(x / 7).astype(np.int32)
    r = x - q * 7
    s = np.where(np.arange(n) // BLOCK - 1 > 0, 1, -1)
    ref = q * q + r * s + np.clip(x, -3, 5) + x * x + (x + 1) * (x + 1)
    np.testing.assert_array_equal(out, ref)


# --------------------------------------------------------------------------------------------
# memory access patterns and grids
# --------------------------------------------------------------------------------------------


@jl.jit
def _gather(x_ptr, out_ptr, n, STRIDE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(x_ptr + offs * STRIDE, mask=mask, other=-1.0)
    tl.store(out_ptr + offs, v)  # unmasked: the tail gets `other`


@pytest.mark.parametrize("stride", [2, 3])
def test_strided_load_and_other(stride):
    n = 50
    x = np.arange(n * stride, dtype=np.float32)
    nprog = jl.cdiv(n, BLOCK)
    out = np.zeros(nprog * BLOCK, np.float32)
    _gather[(nprog,)](x, out, n, STRIDE=stride, BLOCK=BLOCK)
    np.testing.assert_array_equal(out[:n], x[::stride][:n])
    np.testing.assert_array_equal(out[n:], -1.0)


@jl.jit
def _scatter_reverse(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + (n - 1 - offs), tl.load(x_ptr + offs, mask=mask), mask=mask)


def test_scatter_store():
    n = 77
    x = np.arange(n, dtype=np.int16)
    out = np.zeros(n, np.int16)
    _scatter_reverse[(jl.cdiv(n, BLOCK),)](x, out, n, BLOCK=BLOCK)
    np.testing.assert_array_equal(out, x[::-1])


@jl.jit
def _scalar_mem(x_ptr, out_ptr):
    pid = tl.program_id(0)
    v = tl.load(x_ptr + pid)
    first = tl.load(x_ptr)
    tl.store(out_ptr + pid, v * 2 + first)


def test_scalar_loads_stores():
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6], np.int64)
    out = np.zeros_like(x)
    _scalar_mem[(x.size,)](x, out)
    np.testing.assert_array_equal(out, x * 2 + x[0])


@jl.jit
def _grid2d(x_ptr, out_ptr, rows, cols, BLOCK: tl.constexpr):
    r = tl.program_id(0)
    cb = tl.program_id(1)
    offs = cb * BLOCK + tl.arange(0, BLOCK)
    mask = offs < cols
    v = tl.load(x_ptr + r * cols + offs, mask=mask)
    v = v + r * 1000 + cb * 100 + tl.num_programs(0) * 10 + tl.num_programs(1)
    tl.store(out_ptr + r * cols + offs, v, mask=mask)


def test_2d_grid():
    rows, cols = 5, 70
    x = np.zeros((rows, cols), np.int32)
    out = np.zeros_like(x)
    grid = (rows, jl.cdiv(cols, BLOCK))
    _grid2d[grid](x, out, rows, cols, BLOCK=BLOCK)
    cb = np.arange(cols) // BLOCK
    ref = np.arange(rows)[:, None] * 1000 + cb[None, :] * 100 + rows * 10 + grid[1]
    np.testing.assert_array_equal(out, ref)


@jl.jit
def _grid3d(out_ptr):
    x = tl.program_id(0)
    y = tl.program_id(1)
    z = tl.program_id(2)
    nx = tl.num_programs(0)
    ny = tl.num_programs(1)
    tl.store(out_ptr + (z * ny + y) * nx + x, x * 100 + y * 10 + z)


def test_3d_grid():
    out = np.full((4, 3, 2), -1, np.int32)  # [z, y, x]
    _grid3d[(2, 3, 4)](out)
    z, y, x = np.meshgrid(np.arange(4), np.arange(3), np.arange(2), indexing="ij")
    np.testing.assert_array_equal(out, x * 100 + y * 10 + z)


@jl.jit
def _int64_offsets(x_ptr, out_ptr, base, BLOCK: tl.constexpr):
    offs = base + tl.arange(0, BLOCK).to(tl.int64)
    tl.store(out_ptr + tl.arange(0, BLOCK), tl.load(x_ptr + offs))


def test_int64_pointer_offsets():
    x = np.arange(100, dtype=np.float32)
    out = np.zeros(16, np.float32)
    _int64_offsets[(1,)](x, out, np.int64(40), BLOCK=16)
    np.testing.assert_array_equal(out, x[40:56])
    ir = _int64_offsets.warmup(x, out, np.int64(40), BLOCK=16).asm["tile"]
    assert "%base: int64" in ir, ir


# --------------------------------------------------------------------------------------------
# 2-D tiles, loops with runtime bounds/steps, control flow inside loops
# --------------------------------------------------------------------------------------------


@jl.jit
def _tile2d(x_ptr, out_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    ptrs = x_ptr + rm[:, None] * N + rn[None, :]
    v = tl.load(ptrs, mask=mask, other=0.0)
    v = v * 2 + rm[:, None] - rn[None, :]
    tl.store(out_ptr + rm[:, None] * N + rn[None, :], v, mask=mask)


@pytest.mark.parametrize("m, n", [(16, 16), (37, 29)])
def test_2d_tiles_with_broadcast_masks(m, n):
    x = np.random.default_rng(2).standard_normal((m, n)).astype(np.float32)
    out = np.zeros_like(x)
    _tile2d[(jl.cdiv(m, 16), jl.cdiv(n, 8))](x, out, m, n, BM=16, BN=8)
    rm = np.arange(m, dtype=np.float32)[:, None]
    rn = np.arange(n, dtype=np.float32)[None, :]
    np.testing.assert_array_equal(out, x * 2 + rm - rn)


@jl.jit
def _runtime_range(x_ptr, out_ptr, lo, hi, step):
    acc = 0
    cnt = 0
    for i in range(lo, hi, step):
        acc += tl.load(x_ptr + i)
        cnt += 1
    tl.store(out_ptr, acc)
    tl.store(out_ptr + 1, cnt)


@pytest.mark.parametrize(
    "lo, hi, step",
    [(0, 10, 3), (9, -1, -2), (5, 5, 1), (7, 2, 1), (2, 7, -1), (0, 10, 20), (10, 0, -3)],
)
def test_runtime_range_bounds_and_steps(lo, hi, step):
    x = np.arange(20, dtype=np.int32) * 3 + 1
    out = np.zeros(2, np.int32)
    _runtime_range[(1,)](x, out, lo, hi, step)
    idx = list(range(lo, hi, step))
    np.testing.assert_array_equal(out, [x[idx].sum() if idx else 0, len(idx)])


@jl.jit
def _if_in_loop(x_ptr, out_ptr, k, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK,), tl.int32)
    for i in range(k):
        v = tl.load(x_ptr + i * BLOCK + offs)
        if i % 2 == 0:
            acc = acc + v
        else:
            acc = acc - v
        j = 0
        while j < i:
            acc = acc + 1
            j += 1
    tl.store(out_ptr + offs, acc)


def test_if_and_while_inside_for():
    k, b = 5, 16
    x = np.arange(k * b, dtype=np.int32).reshape(k, b)
    out = np.zeros(b, np.int32)
    _if_in_loop[(1,)](x, out, k, BLOCK=b)
    ref = sum(x[i] if i % 2 == 0 else -x[i] for i in range(k)) + sum(range(k))
    np.testing.assert_array_equal(out, ref)


@jl.jit
def _loop_helper(p, k):
    if k < 0:
        return -2.0
    s = 0.0
    for i in range(k):
        s += tl.load(p + i)
    if s > 100.0:
        return s * 0 - 1.0
    return s


@jl.jit
def _calls_loop_helper(x_ptr, out_ptr, k):
    pid = tl.program_id(0)
    tl.store(out_ptr + pid, _loop_helper(x_ptr + pid * k, k))


def test_helper_with_loop_and_early_returns():
    k = 6
    x = np.array([[1, 2, 3, 4, 5, 6], [50, 60, 1, 1, 1, 1], [0, 0, 0, 0, 0, 101]], np.float32)
    out = np.zeros(3, np.float32)
    _calls_loop_helper[(3,)](x, out, k)
    np.testing.assert_array_equal(out, [21.0, -1.0, -1.0])
    _calls_loop_helper[(3,)](x, out, -1)
    np.testing.assert_array_equal(out, [-2.0, -2.0, -2.0])


@jl.jit
def _swap_carried(out_ptr, k):
    a = 0
    b = 1
    for _i in range(k):
        a, b = b, a + b
    tl.store(out_ptr, a)
    tl.store(out_ptr + 1, b)


@pytest.mark.parametrize("k", [0, 1, 10])
def test_tuple_swap_loop_carried(k):
    out = np.zeros(2, np.int32)
    _swap_carried[(1,)](out, k)
    a, b = 0, 1
    for _ in range(k):
        a, b = b, a + b
    np.testing.assert_array_equal(out, [a, b])


@jl.jit
def _scalar_masks(x_ptr, out_ptr, n, v, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    s = tl.load(x_ptr + pid, mask=pid < n, other=-1.0)
    tl.store(out_ptr + pid, s * 2, mask=pid < n - 1)
    offs = tl.arange(0, BLOCK)
    f = tl.full((BLOCK,), v, tl.float32)
    w = tl.where(pid % 2 == 0, f, offs.to(tl.float32))
    tl.store(out_ptr + 100 + pid * BLOCK + offs, w)
    z = tl.zeros_like(w, dtype=tl.int32) + tl.cast(s, tl.int32)
    tl.store(out_ptr + 200 + pid * BLOCK + offs, z.to(tl.float32))


def test_scalar_masks_runtime_full_and_scalar_where():
    x = np.arange(10, dtype=np.float32) + 1
    out = np.zeros(300, np.float32)
    _scalar_masks[(4,)](x, out, 3, 2.5, BLOCK=8)
    np.testing.assert_array_equal(out[:5], [2, 4, 0, 0, 0])
    w = np.where((np.arange(4) % 2 == 0)[:, None], 2.5, np.arange(8)[None, :])
    np.testing.assert_array_equal(out[100:132].reshape(4, 8), w)
    np.testing.assert_array_equal(
        out[200:232].reshape(4, 8), np.repeat([[1], [2], [3], [-1]], 8, 1)
    )


@jl.jit
def _strided_masked(x_ptr, out_ptr, n, stride, off, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    v = tl.load(x_ptr + off + offs * stride, mask=m, other=-7.0)
    tl.store(out_ptr + offs, v, mask=m)


@pytest.mark.parametrize("n", [1, 16, 17, 64, 65, 128])
def test_specializations_of_sizes_strides_offsets_alignment(n):
    # ints divisible by 16 and aligned arrays specialize differently; every variant must agree
    for stride in [0, 1, 16, 3]:
        for off in [0, 16, 1]:
            x = np.arange(n * max(stride, 1) + off + 1, dtype=np.float32)
            for base in (x, x[1:]):
                out = np.zeros(n, np.float32)
                _strided_masked[(jl.cdiv(n, 64),)](base, out, n, stride, off, BLOCK=64)
                ref = base[off + np.arange(n) * stride]
                np.testing.assert_array_equal(out, ref, err_msg=f"{n=} {stride=} {off=}")


@jl.jit
def _bool_mask_fp16_acc(x_ptr, m_ptr, out_ptr, n, k_iters, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    inb = offs < n
    m = tl.load(m_ptr + offs, mask=inb, other=False)
    acc = tl.zeros((BLOCK,), tl.float16)
    for _i in range(k_iters):
        acc += tl.load(x_ptr + offs, mask=inb & m, other=0.0)
    tl.store(out_ptr + offs, acc, mask=m & inb)


def test_bool_array_as_mask_and_fp16_loop_carried():
    n = 100
    x = (np.arange(n) / 8).astype(np.float16)
    m = np.arange(n) % 3 == 0
    out = np.full(n, -1, np.float16)
    _bool_mask_fp16_acc[(2,)](x, m, out, n, 3, BLOCK=64)
    np.testing.assert_array_equal(out, np.where(m, (x + x) + x, -1).astype(np.float16))


@jl.jit
def _scale_bias(v, SCALE: tl.constexpr = 2, bias=1):
    v = v * SCALE + bias  # rebinding a parameter must not leak into the caller
    return v


@jl.jit
def _countdown(v, n):
    if n > 0:
        return _countdown(v, n - 1) + 1  # recursion on a compile-time count unrolls
    return v


@jl.jit
def _helper_features(x_ptr, out_ptr):
    x = tl.load(x_ptr)
    i = tl.program_id(0) + 3
    y = x
    z = _scale_bias(y, bias=5)
    tl.store(out_ptr, _square(x) + _square(i))  # one helper, int and float specializations
    tl.store(out_ptr + 1, y * 1000 + z + _scale_bias(x, SCALE=3))
    tl.store(out_ptr + 2, _countdown(x, 3))


def test_helper_defaults_keywords_and_specializations():
    x = np.array([2.0], np.float32)
    out = np.zeros(3, np.float32)
    _helper_features[(1,)](x, out)
    np.testing.assert_array_equal(out, [4 + 9, 2000 + 9 + 7, 5])


@jl.jit
def _misc_flow(x_ptr, out_ptr, n, FORM: tl.constexpr):
    offs = tl.arange(0, 4)
    x = tl.load(x_ptr + offs)
    if FORM == "static_range_step":
        for i in tl.static_range(1, 8, 3):
            x += i
    elif FORM == "tl_range_stages":
        for i in tl.range(0, n, 2, num_stages=2):
            x += i
    elif FORM == "builtin_min":
        x = min(x, 2.0) + min(n, 3)
    elif FORM == "builtin_max":
        x = max(x, 2.0) + max(n, 3)
    elif FORM == "mixed_cond":
        x = x + (1 if n > 2 and FORM == "mixed_cond" else 2)
    else:
        for i in range(n):
            x += i.to(tl.float32)
    tl.store(out_ptr + offs, x)


@pytest.mark.parametrize(
    "form, expected",
    [
        ("static_range_step", [12, 13, 14, 15]),
        ("tl_range_stages", [6, 7, 8, 9]),
        ("builtin_min", [3, 4, 5, 5]),
        ("builtin_max", [7, 7, 7, 8]),
        ("mixed_cond", [1, 2, 3, 4]),
        ("int64_trip_count", [10, 11, 12, 13]),
    ],
)
def test_misc_control_flow(form, expected):
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, np.float32)
    n = np.int64(5) if form == "int64_trip_count" else 5
    _misc_flow[(1,)](x, out, n, FORM=form)
    np.testing.assert_array_equal(out, expected)


@jl.jit
def _asserts(x_ptr, n, FORM: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, 4))
    if FORM == 0:
        assert n > 100, "n too small"
    else:
        tl.device_assert(x < 2, "x too big")


@pytest.mark.parametrize("form, words", [(0, "n too small"), (1, "x too big")])
def test_device_assertions(form, words):
    from runtime.cpu_driver import DeviceAssertionError

    x = np.arange(4, dtype=np.float32)
    with pytest.raises(DeviceAssertionError, match=words) as info:
        _asserts[(1,)](x, 5, FORM=form)
    assert "test_control_flow.py" in str(info.value)
    _asserts[(1,)](x * 0, 500, FORM=form)  # passing assertions: no error


@jl.jit
def _store_broadcast(x_ptr, out_ptr, FORM: tl.constexpr):
    offs = tl.arange(0, 8)
    if FORM == 0:
        tl.store(out_ptr + offs, 1.5)  # a literal broadcast over the pointer block
    elif FORM == 1:
        s = tl.load(x_ptr + 2)
        tl.store(out_ptr + offs, s, mask=offs < 5)  # a scalar tensor broadcast, masked
    else:
        tl.store(out_ptr + offs, tl.load(x_ptr + offs).to(tl.int32))  # int into fp32: cast


@pytest.mark.parametrize(
    "form, expected",
    [(0, [1.5] * 8), (1, [2.5] * 5 + [0] * 3), (2, list(range(8)))],
)
def test_store_broadcasts_and_casts_values(form, expected):
    x = np.arange(8, dtype=np.float32) + 0.5
    out = np.zeros(8, np.float32)
    _store_broadcast[(1,)](x, out, FORM=form)
    np.testing.assert_array_equal(out, expected)


@jl.jit
def _list_walk(x_ptr, out_ptr):
    # data-dependent while: a pointer and a counter carried, the condition from a load
    p = x_ptr
    cnt = 0
    v = tl.load(p)
    while v >= 0:
        p = x_ptr + v
        v = tl.load(p)
        cnt += 1
    tl.store(out_ptr, cnt)


def test_data_dependent_while_with_pointer_carry():
    x = np.array([3, -1, 0, 5, 2, 1], np.int32)  # 0 -> 3 -> 5 -> 1 (stop)
    out = np.zeros(1, np.int32)
    _list_walk[(1,)](x, out)
    assert out[0] == 3
