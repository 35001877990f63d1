"""Engine instruction semantics against numpy: DMA, tensor, activation, vector and GpSimd."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from isa.engines import philox, uniform_of_u32
from isa.runner import run
from isa.table import ActFn, TensorOp
from tests.isa.kernels import tile_run

BF16 = ml_dtypes.bfloat16
RNG = np.random.default_rng(0)


def rand(shape, dt=np.float32, lo=-3.0, hi=3.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32).astype(dt)


# --- DMA -------------------------------------------------------------------------------------


def test_dma_load_bounds_fill_and_transpose():
    x = np.arange(12 * 20, dtype=np.float32).reshape(12, 20)
    out = np.zeros((16, 24), np.float32)
    outT = np.zeros((20, 12), np.float32)
    run(
        """
        arg r1, 0
        arg r2, 1
        arg r3, 2
        li r4, 12
        li r5, 20
        dma.load 0, sb.f32[0:16, 0, (1,24)], hbm.f32[r1+0, (20,16,r4), (1,24,r5)], -1.0
        dma.store 1, hbm.f32[r2+0, (24,16), (1,24)], sb.f32[0:16, 0, (1,24)]
        dma.load 2, sb.f32[0:20, 128, (1,12)], hbm.f32[r1+0, (1,20), (20,12)], 0.0
        dma.store 3, hbm.f32[r3+0, (12,20), (1,12)], sb.f32[0:20, 128, (1,12)]
        halt""",
        [x, out, outT],
    )
    ref = np.full((16, 24), -1.0, np.float32)
    ref[:12, :20] = x
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(outT, x.T)


def test_dma_limit_masks_flat_tail_and_casts():
    n = 1000
    x = rand(n)
    out = np.full(1024 + 64, 9.0, BF16)
    run(
        """
        arg r1, 0
        arg r2, 1
        arg r3, 2
        shli r4, r3, 2
        add r4, r4, r1
        shli r5, r3, 1
        add r5, r5, r2
        dma.load 0, sb.bf16[0:8, 0, (1,128)], hbm.f32[r1+0, (128,8), (1,128), limit=r4], 5.0
        dma.store 1, hbm.bf16[r2+0, (128,8), (1,128), limit=r5], sb.bf16[0:8, 0, (1,128)]
        halt""",
        [x, out, n],
    )
    np.testing.assert_array_equal(out[:n], x.astype(BF16))
    assert np.all(out[n:].astype(np.float32) == 9.0)


def test_dma_copy_gather_scatter():
    table = rand((50, 8))
    idx = np.array([[3], [49], [-1], [50], [0], [7], [7], [20]], np.int32)
    got = np.zeros((8, 8), np.float32)
    scat = np.zeros((50, 8), np.float32)
    run(
        """
        arg r1, 0
        arg r2, 1
        arg r3, 2
        arg r4, 3
        dma.load 0, sb.i32[0:8, 0, (1,1)], hbm.i32[r2+0, (1,8), (1,1)], 0.0
        dma.gather 1, sb.f32[0:8, 64, (1,8)], hbm.f32[r1+0, (8,50), (1,8)], sb.i32[0:8, 0, (1,1)], -2.0
        dma.copy 2, sb.f32[0:8, 256, (1,8)], sb.f32[0:8, 64, (1,8)]
        dma.store 3, hbm.f32[r3+0, (8,8), (1,8)], sb.f32[0:8, 256, (1,8)]
        dma.scatter 4, hbm.f32[r4+0, (8,50), (1,8)], sb.f32[0:8, 256, (1,8)], sb.i32[0:8, 0, (1,1)]
        halt""",
        [table, idx, got, scat],
    )
    ref = np.where(((idx >= 0) & (idx < 50)), table[np.clip(idx[:, 0], 0, 49)].T, -2.0).T
    ref = np.array([table[i] if 0 <= i < 50 else np.full(8, -2.0) for i in idx[:, 0]])
    np.testing.assert_array_equal(got, ref.astype(np.float32))
    expect = np.zeros((50, 8), np.float32)
    for row, i in zip(ref, idx[:, 0], strict=True):
        if 0 <= i < 50:
            expect[i] = row
    np.testing.assert_array_equal(scat, expect)


def test_element_gather_like_triton_pointer_load():
    x = rand(100)
    offs = RNG.integers(0, 100, (4, 16)).astype(np.int32)
    got = np.zeros((4, 16), np.float32)
    run(
        """
        arg r1, 0
        arg r2, 1
        arg r3, 2
        dma.load 0, sb.i32[0:4, 0, (1,16)], hbm.i32[r2+0, (16,4), (1,16)], 0.0
        dma.gather 1, sb.f32[0:4, 64, (1,16)], hbm.f32[r1+0, (1,100)], sb.i32[0:4, 0, (1,16)], 0.0
        dma.store 2, hbm.f32[r3+0, (16,4), (1,16)], sb.f32[0:4, 64, (1,16)]
        halt""",
        [x, offs, got],
    )
    np.testing.assert_array_equal(got, x[offs])


def test_atomic_add_with_aliasing_returns_old_values():
    acc = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    vals = rand((4, 4))
    old = np.zeros((4, 4), np.float32)
    run(
        """
        arg r1, 0
        arg r2, 1
        arg r3, 2
        dma.load 0, sb.f32[0:4, 0, (1,4)], hbm.f32[r2+0, (4,4), (1,4)], 0.0
        atomic add, 0, hbm.f32[r1+0, (0,4), (1,4)], sb.f32[0:4, 0, (1,4)], sb.f32[0:4, 64, (1,4)]
        dma.store 1, hbm.f32[r3+0, (4,4), (1,4)], sb.f32[0:4, 64, (1,4)]
        halt""",
        [acc, vals, old],
    )
    start = np.array([1, 2, 3, 4], np.float32)
    np.testing.assert_allclose(acc, start + vals.sum(0), rtol=1e-6)
    expect_old = start + np.cumsum(vals, 0) - vals  # row p sees rows 0..p-1 (issue order)
    np.testing.assert_allclose(old, expect_old, rtol=1e-6)


@pytest.mark.parametrize(
    "op,ref",
    [
        ("max", np.maximum),
        ("min", np.minimum),
        ("xchg", lambda a, b: b),
        ("and", np.bitwise_and),
        ("or", np.bitwise_or),
        ("xor", np.bitwise_xor),
    ],
)
def test_atomic_int_ops_masked(op, ref):
    m = RNG.integers(-50, 50, 8).astype(np.int32)
    iv = RNG.integers(-50, 50, (1, 8)).astype(np.int32)
    old = np.full((1, 8), 99, np.int32)
    before = m.copy()
    run(
        f"""
        arg r1, 0
        arg r2, 1
        arg r3, 2
        li r4, 6
        dma.load 0, sb.i32[0:1, 0, (1,8)], hbm.i32[r2+0, (1,8)], 0.0
        atomic {op}, 3, hbm.i32[r1+0, (1,8,r4)], sb.i32[0:1, 0, (1,8)], sb.i32[0:1, 64, (1,8)]
        dma.store 1, hbm.i32[r3+0, (1,8)], sb.i32[0:1, 64, (1,8)]
        halt""",
        [m, iv, old],
    )
    np.testing.assert_array_equal(m[:6], ref(before[:6], iv[0, :6]))
    np.testing.assert_array_equal(m[6:], before[6:])
    np.testing.assert_array_equal(old[0], np.concatenate([before[:6], [0, 0]]))


# --- tensor engine ---------------------------------------------------------------------------


@pytest.mark.parametrize("dt", [BF16, np.float32, np.float16, ml_dtypes.float8_e4m3fn])
def test_matmul_set_and_accumulate(dt):
    a1, b1 = rand((128, 64), dt), rand((128, 512), dt)
    a2, b2 = rand((32, 64), dt), rand((32, 512), dt)
    name = {BF16: "bf16", np.float32: "f32", np.float16: "f16"}.get(dt, "fp8e4")
    c = np.zeros((64, 512), np.float32)
    run(
        f"""
        arg r1, 0
        arg r2, 1
        arg r3, 2
        arg r4, 3
        arg r5, 4
        dma.load 0, sb.{name}[0:128, 0, (1,64)], hbm.{name}[r1+0, (64,128), (1,64)], 0.0
        dma.load 1, sb.{name}[0:128, 4096, (1,512)], hbm.{name}[r2+0, (512,128), (1,512)], 0.0
        dma.load 2, sb.{name}[0:32, 8192, (1,64)], hbm.{name}[r3+0, (64,32), (1,64)], 0.0
        dma.load 3, sb.{name}[0:32, 12288, (1,512)], hbm.{name}[r4+0, (512,32), (1,512)], 0.0
        matmul set, ps.f32[0:64, 2048, (1,512)], sb.{name}[0:128, 0, (1,64)], sb.{name}[0:128, 4096, (1,512)]
        matmul acc, ps.f32[0:64, 2048, (1,512)], sb.{name}[0:32, 8192, (1,64)], sb.{name}[0:32, 12288, (1,512)]
        act copy, sb.f32[0:64, 16384, (1,512)], ps.f32[0:64, 2048, (1,512)], 0.0, 1.0, _, add
        dma.store 4, hbm.f32[r5+0, (512,64), (1,512)], sb.f32[0:64, 16384, (1,512)]
        halt""",
        [a1, b1, a2, b2, c],
    )
    f = np.float32
    ref = a1.astype(f).T @ b1.astype(f) + a2.astype(f).T @ b2.astype(f)
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-3)


def test_pe_transpose():
    x = rand((96, 40))
    out = tile_run(
        "transpose ps.f32[0:40, 0, (1,96)], {x}\ncopy {y}, ps.f32[0:40, 0, (1,96)]",
        {"x": x},
        {"y": ((40, 96), np.float32)},
    )
    np.testing.assert_array_equal(out["y"], x.T)


# --- activation ------------------------------------------------------------------------------

_ACT_REF = {
    ActFn.COPY: lambda x: x,
    ActFn.EXP: np.exp,
    ActFn.LOG: np.log,
    ActFn.TANH: np.tanh,
    ActFn.SIGMOID: lambda x: 1 / (1 + np.exp(-x)),
    ActFn.GELU: lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ActFn.RELU: lambda x: np.maximum(x, 0),
    ActFn.SQRT: np.sqrt,
    ActFn.RSQRT: lambda x: 1 / np.sqrt(x),
    ActFn.SQUARE: np.square,
    ActFn.ABS: np.abs,
    ActFn.SIN: np.sin,
    ActFn.COS: np.cos,
    ActFn.RECIPROCAL: lambda x: 1 / x,
    ActFn.SILU: lambda x: x / (1 + np.exp(-x)),
    ActFn.SOFTPLUS: lambda x: np.log1p(np.exp(x)),
    ActFn.SIGN: np.sign,
    ActFn.ERF: np.vectorize(math.erf),
    ActFn.NEG: np.negative,
}


@pytest.mark.parametrize("fn", list(ActFn), ids=lambda f: f.name.lower())
def test_activation(fn):
    x = rand((64, 96), lo=0.1, hi=3.0)
    bias = rand((64, 1), lo=0.0, hi=0.5)
    out = tile_run(
        f"act {fn.name.lower()}, {{y}}, {{x}}, {{b}}, 0.75, {{s}}, add",
        {"x": x, "b": bias},
        {"y": ((64, 96), np.float32), "s": ((64, 1), np.float32)},
    )
    ref = _ACT_REF[fn](x.astype(np.float64) * 0.75 + bias).astype(np.float32)
    np.testing.assert_allclose(out["y"], ref, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(out["s"][:, 0], ref.sum(1), rtol=1e-5)


def test_activation_register_scale_and_group_reduce():
    x = rand((32, 64))
    scale_bits = int(np.array([2.5], np.float32).view(np.uint32)[0])
    out = tile_run(
        f"li r40, {scale_bits}\nact copy, {{y}}, {{x}}, -1.0, r40, {{m}}, max",
        {"x": x},
        {"y": ((32, 64), BF16), "m": ((32, 4), np.float32)},
    )
    ref = x * np.float32(2.5) - 1
    np.testing.assert_array_equal(out["y"], ref.astype(BF16))
    np.testing.assert_array_equal(out["m"], ref.reshape(32, 4, 16).max(2))


# --- vector engine ---------------------------------------------------------------------------

_TT_REF = {
    TensorOp.ADD: np.add,
    TensorOp.SUB: np.subtract,
    TensorOp.MUL: np.multiply,
    TensorOp.DIV: np.divide,
    TensorOp.MAX: np.maximum,
    TensorOp.MIN: np.minimum,
    TensorOp.POW: np.power,
    TensorOp.MOD: np.fmod,
    TensorOp.EQ: np.equal,
    TensorOp.NE: np.not_equal,
    TensorOp.LT: np.less,
    TensorOp.LE: np.less_equal,
    TensorOp.GT: np.greater,
    TensorOp.GE: np.greater_equal,
    TensorOp.RSUB: lambda a, b: b - a,
    TensorOp.RDIV: lambda a, b: b / a,
    TensorOp.ABSDIFF: lambda a, b: np.abs(a - b),
}
_INT_REF = {
    TensorOp.AND: np.bitwise_and,
    TensorOp.OR: np.bitwise_or,
    TensorOp.XOR: np.bitwise_xor,
    TensorOp.SHL: lambda a, b: np.left_shift(a, b & 63),
    TensorOp.SHR: lambda a, b: a >> (b & 63),
    TensorOp.ADD: np.add,
    TensorOp.MUL: np.multiply,
    TensorOp.MAX: np.maximum,
    TensorOp.DIV: lambda a, b: np.where(b == 0, -1, np.trunc(a / np.where(b == 0, 1, b))),
    TensorOp.MOD: lambda a, b: np.where(b == 0, a, np.fmod(a, np.where(b == 0, 1, b))),
}


@pytest.mark.parametrize("op", list(_TT_REF), ids=lambda o: o.name.lower())
def test_tensor_tensor_and_scalar_float(op):
    a, b = rand((16, 48), lo=0.5, hi=2.0), rand((16, 48), lo=0.5, hi=2.0)
    col = rand((16, 1), lo=0.5, hi=2.0)
    n = op.name.lower()
    out = tile_run(
        f"tt {n}, {{c}}, {{a}}, {{b}}\nts {n}, {{d}}, {{a}}, 1.25\nts {n}, {{e}}, {{a}}, {{col}}",
        {"a": a, "b": b, "col": col},
        {"c": ((16, 48), np.float32), "d": ((16, 48), np.float32), "e": ((16, 48), np.float32)},
    )
    f64 = np.float64
    ref = _TT_REF[op]
    np.testing.assert_array_equal(out["c"], ref(a.astype(f64), b.astype(f64)).astype(np.float32))
    np.testing.assert_array_equal(out["d"], ref(a.astype(f64), 1.25).astype(np.float32))
    np.testing.assert_array_equal(out["e"], ref(a.astype(f64), col.astype(f64)).astype(np.float32))


@pytest.mark.parametrize("op", list(_INT_REF), ids=lambda o: o.name.lower())
def test_tensor_tensor_and_scalar_int(op):
    a = RNG.integers(-1000, 1000, (8, 32)).astype(np.int32)
    b = RNG.integers(-5, 20, (8, 32)).astype(np.int32)
    n = op.name.lower()
    col = RNG.integers(1, 9, (8, 1)).astype(np.int32)
    out = tile_run(
        f"tt {n}, {{c}}, {{a}}, {{b}}\nts {n}, {{d}}, {{a}}, 3.0\nts {n}, {{e}}, {{a}}, {{col}}",
        {"a": a, "b": b, "col": col},
        {"c": ((8, 32), np.int32), "d": ((8, 32), np.int32), "e": ((8, 32), np.int32)},
    )
    a64 = a.astype(np.int64)
    ref = _INT_REF[op]
    np.testing.assert_array_equal(out["c"], ref(a64, b.astype(np.int64)).astype(np.int32))
    np.testing.assert_array_equal(out["d"], ref(a64, np.int64(3)).astype(np.int32))
    np.testing.assert_array_equal(out["e"], ref(a64, col.astype(np.int64)).astype(np.int32))


def test_select_copy_casts_memset_iota():
    a, b = rand((8, 16), lo=-300, hi=300), rand((8, 16))
    mask = (RNG.random((8, 16)) < 0.5).astype(np.uint8)
    out = tile_run(
        """
        select {s}, {m}, {a}, {b}
        copy {i}, {a}
        copy {h}, {a}
        copy {q}, {a}
        copy {u}, {a}
        ts mul, {w}, {a}, 1000.0
        memset {z}, -2.5
        iota {io}, r0, 7, 3
        piota {pi}, r0, -4, 10
        """,
        {"a": a, "b": b, "m": mask},
        {
            "s": ((8, 16), np.float32),
            "i": ((8, 16), np.int32),
            "h": ((8, 16), BF16),
            "q": ((8, 16), ml_dtypes.float8_e5m2),
            "u": ((8, 16), np.int8),
            "w": ((8, 16), np.int16),
            "z": ((8, 16), np.float16),
            "io": ((8, 16), np.int32),
            "pi": ((8, 16), np.float32),
        },
    )
    np.testing.assert_array_equal(out["s"], np.where(mask != 0, a, b))
    np.testing.assert_array_equal(out["i"], np.trunc(a).astype(np.int32))
    np.testing.assert_array_equal(out["h"], a.astype(BF16))
    np.testing.assert_array_equal(out["q"], a.astype(ml_dtypes.float8_e5m2))
    np.testing.assert_array_equal(out["u"], np.clip(np.trunc(a), -128, 127).astype(np.int8))
    np.testing.assert_array_equal(
        out["w"], np.clip(np.trunc(a.astype(np.float64) * 1000), -(2**15), 2**15 - 1)
    )
    assert np.all(out["z"] == -2.5)
    np.testing.assert_array_equal(out["io"], np.broadcast_to(7 + 3 * np.arange(16), (8, 16)))
    np.testing.assert_array_equal(
        out["pi"], np.broadcast_to(-4 + 10 * np.arange(8)[:, None], (8, 16))
    )


@pytest.mark.parametrize(
    "op,ref", [("add", np.sum), ("max", np.max), ("min", np.min), ("mul", np.prod)]
)
def test_reduce_groups_and_partitions(op, ref):
    x = rand((32, 64), lo=0.5, hi=1.5)
    out = tile_run(
        f"reduce {op}, {{r}}, {{x}}\nreduce {op}, {{g}}, {{x}}\npreduce {op}, {{p}}, {{x}}",
        {"x": x},
        {"r": ((32, 1), np.float32), "g": ((32, 8), np.float32), "p": ((4, 64), np.float32)},
    )
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(out["r"][:, 0], ref(x64, axis=1), rtol=1e-6)
    np.testing.assert_allclose(out["g"], ref(x64.reshape(32, 8, 8), axis=2), rtol=1e-6)
    np.testing.assert_allclose(out["p"], np.broadcast_to(ref(x64, axis=0), (4, 64)), rtol=1e-6)


def test_transpose32_and_pbcast():
    x = rand((64, 96))
    row = rand((1, 96))
    out = tile_run(
        "transpose32 {t}, {x}\npbcast {b}, {row}",
        {"x": x, "row": row},
        {"t": ((64, 96), np.float32), "b": ((128, 96), np.float32)},
    )
    ref = x.reshape(2, 32, 3, 32).transpose(0, 3, 2, 1).reshape(64, 96)
    np.testing.assert_array_equal(out["t"], ref)
    np.testing.assert_array_equal(out["b"], np.broadcast_to(row, (128, 96)))


# --- GpSimd random numbers -------------------------------------------------------------------


def _philox_ref(seed: int, c0: int) -> int:
    """Scalar Philox 4x32-10 (Random123), counter (c0, 0, 0, 0), key = seed."""
    m32 = 0xFFFFFFFF
    c = [c0 & m32, 0, 0, 0]
    k = [seed & m32, (seed >> 32) & m32]
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k[0]) & m32, p1 & m32, ((p0 >> 32) ^ c[3] ^ k[1]) & m32, p0 & m32]
        k = [(k[0] + 0x9E3779B9) & m32, (k[1] + 0xBB67AE85) & m32]
    return c[0]


def test_rand_philox():
    offs = np.arange(64, dtype=np.int32).reshape(4, 16) * 7919
    seed = 0x1234_5678_9ABC
    out = tile_run(
        f"li r50, {seed}\nrand u32, {{u}}, r50, {{o}}\nrand uniform, {{f}}, r50, {{o}}",
        {"o": offs},
        {"u": ((4, 16), np.uint32), "f": ((4, 16), np.float32)},
    )
    ref = np.array([_philox_ref(seed, int(c)) for c in offs.reshape(-1)], np.uint32)
    np.testing.assert_array_equal(out["u"].reshape(-1), ref)
    np.testing.assert_array_equal(philox(seed, offs.reshape(-1)), ref)
    f = out["f"]
    np.testing.assert_array_equal(f, uniform_of_u32(out["u"]))
    assert f.min() >= 0 and f.max() < 1 and len(np.unique(f)) == f.size


def test_data_section_reaches_hbm():
    out = np.zeros(4, np.float32)
    run(
        """
        .arg out
        .data table f32 1.5, -2.0, 3.25, 8.0
        arg r1, out
        data r2, table
        dma.load 0, sb.f32[0:1, 0, (1,4)], hbm.f32[r2+0, (1,4)], 0.0
        dma.store 1, hbm.f32[r1+0, (1,4)], sb.f32[0:1, 0, (1,4)]
        halt""",
        [out],
    )
    np.testing.assert_array_equal(out, [1.5, -2.0, 3.25, 8.0])


def test_atomic_cas_like_a_lock():
    lock = np.array([0, 1, 5, 0], np.int32)
    want = np.array([[0, 0, 5, 9]], np.int32)
    new = np.array([[1, 1, 7, 1]], np.int32)
    old = np.zeros((1, 4), np.int32)
    run(
        """
        arg r1, 0
        arg r2, 1
        arg r3, 2
        arg r4, 3
        dma.load 0, sb.i32[0:1, 0, (1,4)], hbm.i32[r2+0, (1,4)], 0.0
        dma.load 0, sb.i32[0:1, 64, (1,4)], hbm.i32[r3+0, (1,4)], 0.0
        cas 1, hbm.i32[r1+0, (1,4)], sb.i32[0:1, 0, (1,4)], sb.i32[0:1, 64, (1,4)], sb.i32[0:1, 128, (1,4)]
        dma.store 2, hbm.i32[r4+0, (1,4)], sb.i32[0:1, 128, (1,4)]
        halt""",
        [lock, want, new, old],
    )
    np.testing.assert_array_equal(lock, [1, 1, 7, 0])
    np.testing.assert_array_equal(old[0], [0, 1, 5, 0])
    counter = np.zeros(1, np.int32)  # 4 CAS on one address: only the first (0 -> 1) succeeds
    olds = np.zeros((1, 4), np.int32)
    run(
        """
        arg r1, 0
        arg r2, 1
        memset sb.i32[0:1, 0, (1,4)], 0.0
        memset sb.i32[0:1, 64, (1,4)], 1.0
        cas 0, hbm.i32[r1+0, (0,4)], sb.i32[0:1, 0, (1,4)], sb.i32[0:1, 64, (1,4)], sb.i32[0:1, 128, (1,4)]
        dma.store 2, hbm.i32[r2+0, (1,4)], sb.i32[0:1, 128, (1,4)]
        halt""",
        [counter, olds],
    )
    assert counter[0] == 1 and olds[0].tolist() == [0, 1, 1, 1]
