"""fp8 on the accelerator (issue 12): float8e4nv and float8e5 as the machine's FP8E4/FP8E5
tiles, float8e4b8, float8e5b16 and float8e4b15 decoded and encoded with integer engine ops
(jitlang.passes.accel_fp8). Every result is compared with the CPU target byte for byte, and
with ml_dtypes / jitlang.dtypes' host conversions."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.dtypes import float32_to_fp8e4b15, fp8e4b15_to_float32
from jitlang.jit import TensorWrapper
from jitlang.passes.accel_layout import TargetLimitError

B15 = "b15"  # float8e4b15: uint8 codes seen through jl.reinterpret
FORMATS = [
    (tl.float8e4nv, ml_dtypes.float8_e4m3fn),
    (tl.float8e5, ml_dtypes.float8_e5m2),
    (tl.float8e4b8, ml_dtypes.float8_e4m3fnuz),
    (tl.float8e5b16, ml_dtypes.float8_e5m2fnuz),
    (tl.float8e4b15, B15),
]
IDS = [str(d) for d, _ in FORMATS]


def _array(codes: np.ndarray, dt, npd):
    """An fp8 kernel argument holding `codes` (uint8)."""
    return jl.reinterpret(codes, dt) if npd is B15 else codes.view(npd)


def _zeros(n, dt, npd):
    return _array(np.zeros(n, np.uint8), dt, npd)


def _codes(a) -> np.ndarray:
    return np.asarray(a.base if isinstance(a, TensorWrapper) else a).view(np.uint8)


def _on_both(kernel, grid, make_args, **meta):
    """Run kernel on cpu and accel with fresh arguments from make_args(); returns both lists."""
    out = []
    for target in ("cpu", "accel"):
        args = make_args()
        kernel[grid](*args, **meta, target=target)
        out.append(args)
    return out


def _same_bytes(a, b) -> None:
    np.testing.assert_array_equal(_codes(a).view(np.uint8), _codes(b).view(np.uint8))


@jl.jit
def convert(x_ptr, y_ptr, z_ptr, n, DT: tl.constexpr, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    y = tl.load(x_ptr + o, mask=m).to(DT)
    tl.store(y_ptr + o, y, mask=m)
    tl.store(z_ptr + o, y.to(tl.float32), mask=m)


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 1 << 13, dtype=np.uint64).astype(np.uint32).view(np.float32)
    scale = rng.choice([1e-6, 1e-4, 1e-2, 1.0, 100.0, 3e4], 1 << 13)
    dense = (rng.standard_normal(1 << 13) * scale).astype(np.float32)
    every_f16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    edge = [0, -0.0, np.inf, -np.inf, 448, 464, 480, 240, 248, 256, 57344, 61440, 1.75, 1.8125]
    edge += [1.875, 2.0, 2.0**-9, 2.0**-10, 3 * 2.0**-11, 2.0**-16, 2.0**-17, 2.0**-18]
    edge += [2.0**-18 - 2.0**-42, 2.0**-18 + 2.0**-42, 2.0**-15 * 1.5, -(2.0**-20)]
    x = np.concatenate([np.array(edge, np.float32), every_f16.astype(np.float32), bits, dense])
    return x[~np.isnan(x)]


def _host_encode(x, npd):
    return float32_to_fp8e4b15(x) if npd is B15 else x.astype(npd).view(np.uint8)


def _host_decode(codes, npd):
    return fp8e4b15_to_float32(codes) if npd is B15 else codes.view(npd).astype(np.float32)


def _ties(npd) -> np.ndarray:
    """Every midpoint between neighbouring values of the format, and the floats either side."""
    v = np.unique(_host_decode(np.arange(256, dtype=np.uint8), npd))
    v = v[np.isfinite(v)].astype(np.float64)
    mids = ((v[:-1] + v[1:]) / 2).astype(np.float32)
    top = np.float32(v[-1] + (v[-1] - v[-2]) / 2)  # halfway past the largest value
    t = np.concatenate([mids, [top, -top]])
    return np.concatenate([t, np.nextafter(t, np.float32(0)), np.nextafter(t, np.float32(np.inf))])


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_f32_to_fp8_and_back_match_cpu_and_host(dt, npd):
    x = np.concatenate([_inputs(), _ties(npd)])

    def args():
        return x, _zeros(x.size, dt, npd), np.zeros(x.size, np.float32), x.size

    cpu, acc = _on_both(convert, (jl.cdiv(x.size, 4096),), args, DT=dt, BLOCK=4096)
    _same_bytes(acc[1], cpu[1])
    np.testing.assert_array_equal(_codes(acc[1]), _host_encode(x, npd))
    np.testing.assert_array_equal(acc[2].view(np.uint32), cpu[2].view(np.uint32))
    want = _host_decode(_host_encode(x, npd), npd)
    np.testing.assert_array_equal(acc[2].view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_nan_and_inf_rules(dt, npd):
    # quiet NaNs of either sign, inf, overflow: e4nv/fnuz NaN, e5 inf, e4b15 saturates
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 1e6, -1e6, 1.0], np.float32)

    def args():
        return x, _zeros(x.size, dt, npd), np.zeros(x.size, np.float32), x.size

    cpu, acc = _on_both(convert, (1,), args, DT=dt, BLOCK=8)
    _same_bytes(acc[1], cpu[1])
    np.testing.assert_array_equal(acc[2].view(np.uint32), cpu[2].view(np.uint32))
    if npd is not B15:
        np.testing.assert_array_equal(_codes(acc[1]), x.astype(npd).view(np.uint8))


@jl.jit
def decode_and_copy(x_ptr, y_ptr, z_ptr, w_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    tl.store(y_ptr + o, x)  # a copy keeps every code (e4b15's 0x7f too)
    tl.store(z_ptr + o, x.to(tl.float32))
    tl.store(w_ptr + o, x.to(tl.uint8, bitcast=True))


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_every_code_copies_decodes_and_bitcasts_exactly(dt, npd):
    codes = np.arange(256, dtype=np.uint8)

    def args():
        return (
            _array(codes, dt, npd),
            _zeros(256, dt, npd),
            np.zeros(256, np.float32),
            np.zeros(256, np.uint8),
        )

    cpu, acc = _on_both(decode_and_copy, (1,), args, BLOCK=256)
    np.testing.assert_array_equal(_codes(acc[1]), codes)
    np.testing.assert_array_equal(acc[3], codes)
    np.testing.assert_array_equal(acc[2].view(np.uint32), cpu[2].view(np.uint32))
    want = _host_decode(codes, npd)
    same = (acc[2].view(np.uint32) == want.view(np.uint32)) | (np.isnan(acc[2]) & np.isnan(want))
    assert same.all()


@jl.jit
def arith(x_ptr, y_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    y = tl.load(y_ptr + o)
    r = x * y + x - 0.5
    tl.static_assert(r.dtype == x.dtype)
    tl.store(out_ptr + o, r)
    tl.store(out_ptr + BLOCK + o, x / y)
    tl.store(out_ptr + 2 * BLOCK + o, tl.maximum(x, -y))
    tl.store(out_ptr + 3 * BLOCK + o, tl.where(x < y, -x, tl.abs(y)))
    tl.store(out_ptr + 4 * BLOCK + o, tl.fma(x, y, y))
    tl.store(out_ptr + 5 * BLOCK + o, tl.sqrt(tl.abs(x)))


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_arithmetic_rounds_each_operation_as_the_cpu(dt, npd):
    rng = np.random.default_rng(1)
    lim = 1.5 if npd is B15 else 8.0
    x = _host_encode(rng.uniform(-lim, lim, 256).astype(np.float32), npd)
    y = _host_encode(rng.uniform(-lim, lim, 256).astype(np.float32), npd)
    x[:8] = [0x00, 0x80, 0x7F, 0xFF, 0x01, 0x81, 0x7E, 0x08]  # zeros, NaN/max, tiny
    y[:8] = [0x80, 0x00, 0x01, 0x38, 0x7F, 0x81, 0x08, 0x7E]

    def args():
        return _array(x, dt, npd), _array(y, dt, npd), _zeros(6 * 256, dt, npd)

    cpu, acc = _on_both(arith, (1,), args, BLOCK=256)
    a, c = _host_decode(_codes(acc[2]), npd), _host_decode(_codes(cpu[2]), npd)
    same = (_codes(acc[2]) == _codes(cpu[2])) | (np.isnan(a) & np.isnan(c))
    assert same.all(), np.flatnonzero(~same)[:8]
    if npd is not B15:  # ml_dtypes rounds each operation to the fp8 type too
        xs, ys = x.view(npd), y.view(npd)
        ref = (xs * ys + xs) - npd(0.5)
        got = _codes(acc[2])[:256].view(npd)
        same = (got.view(np.uint8) == ref.view(np.uint8)) | (np.isnan(got) & np.isnan(ref))
        assert same.all()


@jl.jit
def casts(x_ptr, h_ptr, b_ptr, i_ptr, o_ptr, h8_ptr, i8_ptr, DT2: tl.constexpr, N: tl.constexpr):
    o = tl.arange(0, N)
    x = tl.load(x_ptr + o)
    tl.store(h_ptr + o, x.to(tl.float16))
    tl.store(b_ptr + o, x.to(tl.bfloat16))
    tl.store(i_ptr + o, x.to(tl.int32))
    tl.store(o_ptr + o, x.to(DT2))  # another fp8 format
    tl.store(h8_ptr + o, tl.load(h_ptr + o).to(x.dtype))  # from float16
    tl.store(i8_ptr + o, (o - N // 2).to(x.dtype))  # from int32


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_casts_to_and_from_other_types(dt, npd):
    codes = np.arange(256, dtype=np.uint8)
    dt2, npd2 = FORMATS[(IDS.index(str(dt)) + 1) % len(FORMATS)]

    def args():
        return (
            _array(codes, dt, npd),
            np.zeros(256, np.float16),
            np.zeros(256, ml_dtypes.bfloat16),
            np.zeros(256, np.int32),
            _zeros(256, dt2, npd2),
            _zeros(256, dt, npd),
            _zeros(256, dt, npd),
        )

    cpu, acc = _on_both(casts, (1,), args, DT2=dt2, N=256)
    for c, a in zip(cpu[1:], acc[1:]):
        _same_bytes(a, c)
    vals = _host_decode(codes, npd)
    finite = np.isfinite(vals)
    np.testing.assert_array_equal(acc[1][finite], vals[finite].astype(np.float16))
    np.testing.assert_array_equal(acc[3][finite], vals[finite].astype(np.int32))


@jl.jit
def masked(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o, mask=o < n, other=-1.5)
    tl.store(y_ptr + o, x * 2)


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_masked_load_fills_other(dt, npd):
    x = _host_encode(np.linspace(-1, 1, 64).astype(np.float32), npd)

    def args():
        return _array(x, dt, npd), _zeros(64, dt, npd), 40

    cpu, acc = _on_both(masked, (1,), args, BLOCK=64)
    _same_bytes(acc[1], cpu[1])
    want = -3.0 if npd is not B15 else -1.75  # e4b15 saturates at 1.75
    assert (_host_decode(_codes(acc[1])[40:], npd) == want).all()


@jl.jit
def dot_kernel(
    a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr, BK: tl.constexpr
):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, BK)
    acc = tl.zeros((M, N), tl.float32)
    for k in range(0, K, BK):
        a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :])
        b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :])
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc)


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_dot_in_fp32(dt, npd):
    rng = np.random.default_rng(2)
    M, N, K = 64, 128, 256
    # small integers and halves: every product and partial sum is exact in fp32, so the sum
    # is independent of its order and both targets equal numpy exactly
    vals = rng.integers(-3, 4, (M + N) * K) / 2
    codes = _host_encode(vals.astype(np.float32), npd)
    a, b = codes[: M * K], codes[M * K :]

    def args():
        return _array(a, dt, npd), _array(b, dt, npd), np.zeros((M, N), np.float32)

    cpu, acc = _on_both(dot_kernel, (1,), args, M=M, N=N, K=K, BK=128)
    ref = _host_decode(a, npd).reshape(M, K).astype(np.float64) @ _host_decode(b, npd).reshape(K, N)
    np.testing.assert_array_equal(acc[2], ref)
    np.testing.assert_array_equal(cpu[2], ref)
    # random codes: the same sums up to order
    ra, rb = (
        rng.integers(0, 256, M * K).astype(np.uint8),
        rng.integers(0, 256, K * N).astype(np.uint8),
    )
    if npd is not B15:
        for c in (ra, rb):  # no NaN/inf codes
            c[~np.isfinite(c.view(npd).astype(np.float32))] = 0
    out = _on_both(
        dot_kernel,
        (1,),
        lambda: (_array(ra, dt, npd), _array(rb, dt, npd), np.zeros((M, N), np.float32)),
        M=M,
        N=N,
        K=K,
        BK=128,
    )
    da = np.abs(_host_decode(ra, npd).reshape(M, K).astype(np.float64))
    bound = 1e-6 * (da @ np.abs(_host_decode(rb, npd).reshape(K, N)))  # fp32 sums, any order
    assert (np.abs(out[1][2] - out[0][2]) <= bound).all()


@jl.jit
def loop_scalar_trans(x_ptr, s_ptr, y_ptr, t_ptr, N: tl.constexpr, STEPS: tl.constexpr):
    o = tl.arange(0, N)
    acc = tl.load(x_ptr + o)
    for i in range(STEPS):  # an fp8 block carried by a loop
        acc = acc * 0.75 + tl.load(x_ptr + ((o + i) % N))
    tl.store(y_ptr + o, acc)
    s = tl.load(s_ptr)  # an fp8 scalar
    tl.store(s_ptr + 1, s * 2)
    r = tl.arange(0, 16)[:, None] * 16 + tl.arange(0, 16)[None, :]
    tl.store(t_ptr + r, tl.trans(tl.load(x_ptr + r)))


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_loop_carried_scalar_and_transposed(dt, npd):
    rng = np.random.default_rng(6)
    lim = 1.5 if npd is B15 else 4.0
    x = _host_encode(rng.uniform(-lim, lim, 256).astype(np.float32), npd)
    s = _host_encode(np.array([0.75, 0], np.float32), npd)

    def args():
        return (
            _array(x, dt, npd),
            _array(s.copy(), dt, npd),
            _zeros(256, dt, npd),
            _zeros(256, dt, npd),
        )

    cpu, acc = _on_both(loop_scalar_trans, (1,), args, N=256, STEPS=5)
    for a, c in zip(acc[1:], cpu[1:]):
        _same_bytes(a, c)
    np.testing.assert_array_equal(_codes(acc[3]).reshape(16, 16), x.reshape(16, 16).T)
    # 0.75 * 2; float8e4b15's literal 2 saturates to 1.75 (1.3125 rounds away to 1.375)
    assert _host_decode(_codes(acc[1])[1:], npd)[0] == (1.375 if npd is B15 else 1.5)


@jl.jit
def reorder(x_ptr, a_ptr, b_ptr, c_ptr, N: tl.constexpr):
    o = tl.arange(0, N)
    x = tl.load(x_ptr + o)
    tl.store(a_ptr + o, tl.sort(x))
    tl.store(b_ptr + o, tl.flip(x, 0))
    f = tl.full((N,), 1.5, x.dtype)
    tl.store(c_ptr + o, tl.where(x > f, f, x))


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_sort_flip_full_where(dt, npd):
    x = _host_encode(np.random.default_rng(9).uniform(-2, 2, 64).astype(np.float32), npd)

    def args():
        return _array(x, dt, npd), _zeros(64, dt, npd), _zeros(64, dt, npd), _zeros(64, dt, npd)

    cpu, acc = _on_both(reorder, (1,), args, N=64)
    for a, c in zip(acc[1:], cpu[1:]):
        _same_bytes(a, c)
    v = _host_decode(x, npd)
    np.testing.assert_array_equal(_host_decode(_codes(acc[1]), npd), np.sort(v))
    np.testing.assert_array_equal(_codes(acc[2]), x[::-1])


def test_mixed_fp8_dot_and_a_full_pe_tile():
    """e4nv x e5 (bf16 on the PE, exact) and a 128 x 512 x 128 e4nv dot (FP8E4 operands on
    the PE as they lie, one PSUM bank): exact sums, equal to the CPU and numpy."""
    rng = np.random.default_rng(7)
    for (fa, fb), (M, N, K, BK) in (
        ((ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2), (64, 128, 256, 128)),
        ((ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fn), (128, 512, 128, 128)),
    ):
        a = (rng.integers(-3, 4, M * K) / 2).astype(fa)
        b = (rng.integers(-3, 4, K * N) / 2).astype(fb)

        def args(a=a, b=b, shape=(M, N)):
            return a, b, np.zeros(shape, np.float32)

        cpu, acc = _on_both(dot_kernel, (1,), args, M=M, N=N, K=K, BK=BK)
        ref = a.astype(np.float64).reshape(M, K) @ b.astype(np.float64).reshape(K, N)
        np.testing.assert_array_equal(acc[2], ref)
        np.testing.assert_array_equal(cpu[2], ref)


@jl.jit
def row_max(x_ptr, m_ptr, i_ptr, R: tl.constexpr, C: tl.constexpr):
    o = tl.arange(0, R)[:, None] * C + tl.arange(0, C)[None, :]
    x = tl.load(x_ptr + o)
    tl.store(m_ptr + tl.arange(0, R), tl.max(x, axis=1))
    tl.store(i_ptr + tl.arange(0, R), tl.argmin(x, axis=1))


@pytest.mark.parametrize("dt,npd", FORMATS[:4], ids=IDS[:4])
def test_max_and_argmin_rows(dt, npd):
    rng = np.random.default_rng(3)
    x = _host_encode(rng.standard_normal(16 * 64).astype(np.float32), npd)

    def args():
        return _array(x, dt, npd), _zeros(16, dt, npd), np.zeros(16, np.int32)

    cpu, acc = _on_both(row_max, (1,), args, R=16, C=64)
    _same_bytes(acc[1], cpu[1])
    np.testing.assert_array_equal(acc[2], cpu[2])
    v = _host_decode(x, npd).reshape(16, 64)
    np.testing.assert_array_equal(_host_decode(_codes(acc[1]), npd), v.max(1))
    np.testing.assert_array_equal(acc[2], v.argmin(1))


@jl.jit
def fp8_sum(x_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(out_ptr, tl.sum(tl.load(x_ptr + o), axis=0))  # <- refused


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_fp8_sums_are_refused_at_the_line(dt, npd):
    x = _zeros(16, dt, npd)
    with pytest.raises(TargetLimitError, match="rounds each step") as info:
        fp8_sum[(1,)](x, _zeros(1, dt, npd), BLOCK=16, target="accel")
    msg = str(info.value)
    assert f"{os.path.abspath(__file__)}:" in msg and "tl.sum" in msg and "^" in msg
    assert "dtype=tl.float32" in msg  # the hint, which works:


@jl.jit
def fp8_sum_f32(x_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(out_ptr, tl.sum(tl.load(x_ptr + o), axis=0, dtype=tl.float32))


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_fp8_sums_in_float32(dt, npd):
    x = _host_encode(np.random.default_rng(8).uniform(-1.5, 1.5, 128).astype(np.float32), npd)

    def args():
        return _array(x, dt, npd), np.zeros(1, np.float32)

    cpu, acc = _on_both(fp8_sum_f32, (1,), args, BLOCK=128)
    assert acc[1][0] == cpu[1][0] == np.float32(_host_decode(x, npd).astype(np.float64).sum())


def test_native_fp8_loads_are_one_byte_dma():
    """float8e4nv moves as FP8E4 tiles (a byte per element, no integer decode ops)."""
    x = np.zeros(128, ml_dtypes.float8_e4m3fn)
    k = decode_and_copy.warmup(
        x,
        x,
        np.zeros(128, np.float32),
        np.zeros(128, np.uint8),
        BLOCK=128,
        grid=(1,),
        target="accel",
    )
    asm = k.asm["asm"]
    assert "fp8e4" in asm and " and" not in asm.replace("\t", " ")
