"""Step "store_chunks" (codegen.accel.memops): a float conversion whose result is only stored
is converted and stored in chunks of each partition's rows, each store waiting only for its
own chunk's conversion. Bits are the same with and without the step (and the CPU's); the
assembly shows the chunked stores; the modelled matmul epilogue gets shorter."""

from __future__ import annotations

import ml_dtypes
import numpy as np

import codegen.accel.target as T
import jitlang as jl
import jitlang.language as tl
from tests.codegen.accel.test_matmul_perf import _at_args, _modelled, _without, two_acc_f16


def _asm(kernel, *args, steps=None, **meta) -> list[str]:
    old = T.OPT_STEPS
    if steps is not None:
        T.OPT_STEPS = tuple(steps)
    kernel.cache.clear()
    try:
        k = kernel.warmup(*args, target="accel", **meta)
    finally:
        T.OPT_STEPS = old
        kernel.cache.clear()
    return [ln.strip() for ln in k.asm["asm"].splitlines()]


@jl.jit
def scale_cast(x_ptr, o_ptr, s, R: tl.constexpr, C: tl.constexpr, BF: tl.constexpr):
    """o = (x * s) as fp16 or bf16, [R, C] in one program (R / 128 rows per partition)."""
    offs = tl.arange(0, R)[:, None] * C + tl.arange(0, C)[None, :]
    y = tl.load(x_ptr + offs) * s
    if BF:
        tl.store(o_ptr + offs, y.to(tl.bfloat16))
    else:
        tl.store(o_ptr + offs, y.to(tl.float16))


@jl.jit
def cast_twice_used(x_ptr, o_ptr, p_ptr, R: tl.constexpr, C: tl.constexpr):
    """The conversion's result is stored and also read again: not chunked."""
    offs = tl.arange(0, R)[:, None] * C + tl.arange(0, C)[None, :]
    h = tl.load(x_ptr + offs).to(tl.float16)
    tl.store(o_ptr + offs, h)
    tl.store(p_ptr + offs, h.to(tl.float32) * 2.0)


@jl.jit
def cast_masked(x_ptr, o_ptr, n_rows, R: tl.constexpr, C: tl.constexpr):
    """A masked store: not chunked (only whole unmasked rows are)."""
    r = tl.arange(0, R)[:, None]
    offs = r * C + tl.arange(0, C)[None, :]
    tl.store(o_ptr + offs, tl.load(x_ptr + offs).to(tl.float16), mask=r < n_rows)


def _specials(shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 1e3
    flat = x.reshape(-1)
    flat[:8] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 7e4, -7e4, 1e-8]  # f16 overflow, subnormal
    flat[-3:] = [65504.0, 65520.0, 3.4e38]  # f16 max, rounds to inf, bf16 near max
    return x


def _is_conversion(ln: str) -> bool:
    return ln.startswith(("act copy", "copy")) and ln.split("[")[0].endswith(".f16")


def _stores(lines):
    return [ln for ln in lines if ln.startswith("dma.store")]


def test_chunked_conversion_keeps_every_bit():
    R, C = 512, 256  # 4 rows per partition: 4 chunks of 64 KiB (fp16)
    x = _specials((R, C))
    for bf, dt in ((False, np.float16), (True, ml_dtypes.bfloat16)):
        cpu = np.zeros((R, C), dt)
        scale_cast[(1,)](x, cpu, 1.5, R=R, C=C, BF=bf)
        outs = []
        for steps in (None, _without("store_chunks")):
            o = np.zeros((R, C), dt)
            _modelled(scale_cast, (1,), x, o, 1.5, steps=steps, R=R, C=C, BF=bf)
            outs.append(o)
        np.testing.assert_array_equal(outs[0].view(np.uint16), outs[1].view(np.uint16))
        np.testing.assert_array_equal(outs[0].view(np.uint16), cpu.view(np.uint16))
        with np.errstate(over="ignore"):
            ref = (x * np.float32(1.5)).astype(dt)
        np.testing.assert_array_equal(cpu.view(np.uint16), ref.view(np.uint16))


def test_the_assembly_stores_each_chunk_over_all_partitions():
    R, C = 512, 256
    x, o = np.zeros((R, C), np.float32), np.zeros((R, C), np.float16)
    on = _asm(scale_cast, x, o, 1.5, R=R, C=C, BF=False)
    off = _asm(scale_cast, x, o, 1.5, R=R, C=C, BF=False, steps=_without("store_chunks"))
    # each chunk: one row of every partition (stride 4 rows), 256 columns, from its own quarter
    # of the converted tile, after its own conversion
    st = _stores(on)
    assert len(st) == 4, st
    assert all("hbm.f16[" in s and "(1024,128), (256,1), (1,256)]" in s for s in st), st
    assert [s.split("sb.f16[")[1].split(",")[0] for s in st] == ["0:128"] * 4
    convs = [ln for ln in on if _is_conversion(ln)]
    assert len(convs) == 4 and all("(1,256)]" in c for c in convs), convs
    # store c reads exactly the quarter conversion c wrote (the scheduler may reorder them)
    written = sorted(c.split("sb.f16[")[1].split("]")[0] for c in convs)
    assert sorted(s.split("sb.f16[")[1].split("]")[0] for s in st) == written
    assert len(set(written)) == 4
    # without the step: one conversion of the whole block, the store split over partitions
    assert len([ln for ln in off if _is_conversion(ln)]) == 1
    assert all("(1,1024)]" in s for s in _stores(off)), _stores(off)


def test_not_chunked_when_the_result_is_read_again_or_the_store_masked():
    R, C = 512, 256
    x = _specials((R, C), seed=2)
    o, p = np.zeros((R, C), np.float16), np.zeros((R, C), np.float32)
    lines = _asm(cast_twice_used, x, o, p, R=R, C=C)
    assert len([ln for ln in lines if _is_conversion(ln)]) == 1
    assert not any("(256,1), (1,256)]" in s for s in _stores(lines)), _stores(lines)
    cast_twice_used[(1,)](x, o, p, R=R, C=C, target="accel")
    with np.errstate(over="ignore"):
        h = x.astype(np.float16)
    np.testing.assert_array_equal(o.view(np.uint16), h.view(np.uint16))
    np.testing.assert_array_equal(p, h.astype(np.float32) * 2)
    o = np.zeros((R, C), np.float16)
    lines = _asm(cast_masked, x, o, 300, R=R, C=C)
    assert not any("(256,1), (1,256)]" in s for s in _stores(lines)), _stores(lines)
    cast_masked[(1,)](x, o, 300, R=R, C=C, target="accel")
    ref = np.zeros((R, C), np.float16)
    ref[:300] = h[:300]
    np.testing.assert_array_equal(o.view(np.uint16), ref.view(np.uint16))


def test_two_rows_per_partition_are_not_chunked():
    # 2 chunks modelled slower (61.8 -> 63.6 us): the step needs 4 (STORE_CHUNKS_MIN)
    aT, b, _ = _at_args(256, 1024, 4096, seed=3)
    c = np.zeros((256, 4096), np.float16)
    lines = _asm(two_acc_f16, aT, b, c, M=256, N=4096, K=1024, BM=256, BN=512, BK=256)
    assert len([ln for ln in lines if ln.startswith("act copy")]) == 2


def test_the_matmul_epilogue_stores_while_the_last_k_step_runs():
    # two [512, 512] fp32 accumulators in SBUF per program, 4 programs over 2 cores: each
    # accumulator's rows are converted and stored chunk by chunk as the last adds finish
    aT, b, _ = _at_args(512, 1024, 4096, seed=4)
    meta = dict(M=512, N=4096, K=1024, BM=512, BN=512, BK=256)
    c = np.zeros((512, 4096), np.float16)
    off = _modelled(two_acc_f16, (4,), aT, b, c, steps=_without("store_chunks"), **meta)
    c_off = c.copy()
    c[...] = 0
    on = _modelled(two_acc_f16, (4,), aT, b, c, **meta)
    np.testing.assert_array_equal(c.view(np.uint16), c_off.view(np.uint16))
    c_cpu = np.zeros_like(c)
    two_acc_f16[(4,)](aT, b, c_cpu, **meta)
    np.testing.assert_allclose(c.astype(np.float32), c_cpu.astype(np.float32), rtol=1e-3, atol=1e-3)
    assert on["engines"]["ACT"]["instructions"] == 4 * 2 * 4
    # measured 83.7 -> 82.6 us (bench_accel 4096^3 bf16 blocked nc-v2: 924.3 -> 914.9 us)
    assert on["time_ns"] < off["time_ns"] - 0.5e3, (off["time_ns"], on["time_ns"])


@jl.jit
def cast_in_loop(x_ptr, o_ptr, s, nb, R: tl.constexpr, C: tl.constexpr):
    """One [R, C] block per iteration (a run-time count: the loop stays a loop), converted and
    stored inside the loop: not chunked."""
    offs = tl.arange(0, R)[:, None] * C + tl.arange(0, C)[None, :]
    for i in range(nb):
        y = tl.load(x_ptr + i * R * C + offs) * s
        tl.store(o_ptr + i * R * C + offs, y.to(tl.float16))


def test_not_chunked_inside_a_loop():
    # the next iteration's loads take the bandwidth while the chunks wait for their conversions,
    # and its accumulators wait for the last chunk: NKI step 4 with fp32 accumulators (the output
    # blocks in a loop)
    # modelled 7.78 ms unchunked, 8.08 ms chunked in the loop
    NB, R, C = 3, 512, 256
    x = _specials((NB * R, C), seed=5)
    o = np.zeros((NB * R, C), np.float16)
    lines = _asm(cast_in_loop, x, o, 1.5, NB, R=R, C=C)
    # (the loop body may be unrolled: each copy converts its whole block at once)
    convs = [ln for ln in lines if _is_conversion(ln)]
    assert convs and all("(1,1024)]" in c for c in convs), convs
    assert not any("(256,1), (1,256)]" in s for s in _stores(lines)), _stores(lines)
    cast_in_loop[(1,)](x, o, 1.5, NB, R=R, C=C, target="accel")
    cpu = np.zeros_like(o)
    cast_in_loop[(1,)](x, cpu, 1.5, NB, R=R, C=C)
    with np.errstate(over="ignore"):
        ref = (x * np.float32(1.5)).astype(np.float16)
    np.testing.assert_array_equal(o.view(np.uint16), ref.view(np.uint16))
    np.testing.assert_array_equal(cpu.view(np.uint16), ref.view(np.uint16))


def test_nki_step4_keeps_its_unchunked_time():
    # benchmarks/nki_matmul_steps.py step 4 with fp32 accumulators at the published shape
    # (timing only, nc-v2): its converting stores are in the loop over output blocks, so the
    # step leaves them whole (7.78 ms; chunked they made it 8.08 ms)
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "nki_matmul_steps.py"
    spec = importlib.util.spec_from_file_location("nki_matmul_steps", path)
    nki = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nki)
    m, k, n = 4096, 8192, 8192
    kernel, meta = nki.step4_fp32_launch(m, k, n)
    lhsT = np.zeros((k, m), ml_dtypes.bfloat16)
    rhs = np.zeros((k, n), ml_dtypes.bfloat16)
    out = np.zeros((m, n), ml_dtypes.bfloat16)
    times = [
        _modelled(kernel, (1,), lhsT, rhs, out, steps=steps, timing_only=True, **meta)["time_ns"]
        for steps in (None, _without("store_chunks"))
    ]
    assert times[0] == times[1] and times[0] < 7.9e6, times
