"""`jitlang.testing`: do_bench, assert_close, perf_report/Benchmark, cross_check."""

from __future__ import annotations

import csv
import sys

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import Benchmark, Table, assert_close, cross_check, do_bench, perf_report


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


def launch_add(n: int, block: int = 256):
    rng = np.random.default_rng(n)
    x, y = rng.random((2, n), dtype=np.float32)
    out = np.empty_like(x)
    return lambda: add_kernel[(jl.cdiv(n, block),)](x, y, out, n, BLOCK=block), x, y, out


# -- do_bench ----------------------------------------------------------------------------------
def test_do_bench_times_a_kernel_in_ms():
    fn, x, y, out = launch_add(1 << 12)
    ms = do_bench(fn, warmup=1, rep=5)
    assert isinstance(ms, float) and 0 < ms < 50
    np.testing.assert_array_equal(out, x + y)


def test_do_bench_quantiles_and_return_modes():
    fn, *_ = launch_add(1 << 10)
    q = do_bench(fn, warmup=1, rep=5, quantiles=[0.2, 0.5, 0.8])
    assert isinstance(q, list) and len(q) == 3 and all(t > 0 for t in q)
    assert q[0] <= q[1] <= q[2]
    assert isinstance(do_bench(fn, warmup=1, rep=5, quantiles=[0.5]), float)
    times = do_bench(fn, warmup=1, rep=5, return_mode="all")
    assert isinstance(times, list) and len(times) >= 1 and all(t > 0 for t in times)
    # min and max come from separate runs on a noisy machine: compare each with its own run only
    for mode in ("min", "max", "mean", "median"):
        t = do_bench(fn, warmup=1, rep=5, return_mode=mode)
        assert isinstance(t, float) and t > 0
    with pytest.raises(ValueError, match="return_mode"):
        do_bench(fn, return_mode="p99")
    with pytest.raises(ValueError, match="quantiles"):
        do_bench(fn, quantiles=[50])


def test_do_bench_runs_within_its_budget():
    calls = []
    do_bench(lambda: calls.append(1), warmup=2, rep=10)
    # the estimate includes the 32 MiB flush, so a no-op runs on the order of rep / flush times
    assert 1 + 5 + 2 <= len(calls) < 2000


def test_do_bench_clears_grads():
    class Param:
        grad = "stale"

    p = Param()
    do_bench(lambda: None, warmup=1, rep=1, grad_to_none=[p])
    assert p.grad is None


# -- assert_close ------------------------------------------------------------------------------
def test_assert_close_passes_within_default_tolerances():
    x = np.linspace(-3, 3, 100, dtype=np.float32)
    assert_close(x, x * (1 + 1e-7))
    assert_close(x.astype(np.float16), (x * (1 + 4e-4)).astype(np.float16))
    bf = x.astype(ml_dtypes.bfloat16)
    assert_close(bf, x)  # bfloat16 vs its float32 source: bfloat16's tolerance
    assert_close(np.array([np.nan, np.inf, -np.inf]), np.array([np.nan, np.inf, -np.inf]))
    assert_close(np.arange(10), np.arange(10))
    assert_close(1.0, 1.0 + 1e-9)
    assert_close([1, 2, 3], np.array([1, 2, 3]))


def test_assert_close_reports_where_and_how_much():
    x = np.zeros((4, 5), dtype=np.float32)
    y = x.copy()
    y[1, 2] = 0.5
    y[3, 4] = 0.25
    with pytest.raises(AssertionError) as err:
        assert_close(y, x, err_msg="kernel vs numpy")
    msg = str(err.value)
    assert msg.startswith("kernel vs numpy\n")
    assert "Mismatched elements: 2 / 20 (10.0%)" in msg
    assert "Greatest absolute difference: 0.5 at index (1, 2)" in msg
    assert "First mismatch at index (1, 2): x=0.5 y=0.0" in msg
    assert "float32 vs float32" in msg


def test_assert_close_tolerances():
    x = np.ones(8, dtype=np.float32)
    with pytest.raises(AssertionError, match="atol=1e-05, rtol=1.3e-06"):
        assert_close(x * 1.001, x)
    assert_close(x * 1.001, x, rtol=1e-2)
    assert_close(x + 0.005, x, atol=1e-2, rtol=0)
    assert_close(x + 0.005, x, atol=lambda dtype: 1e-2 if dtype == np.float32 else 0.0)
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 3"):
        assert_close(np.array([1, 2, 3]), np.array([1, 2, 4]))
    big = np.array([2**62 + 1], dtype=np.int64)
    with pytest.raises(AssertionError):
        assert_close(big, big - 1)  # exact for integers beyond float64's 53 bits
    with pytest.raises(AssertionError, match="NaN|nan"):
        assert_close(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(AssertionError, match="Shapes differ"):
        assert_close(np.zeros(3), np.zeros(4))


# -- perf_report -------------------------------------------------------------------------------
def make_report(name="vector-add", lines=("jitlang", "numpy")):
    return Benchmark(
        x_names=["size"],
        x_vals=[2**10, 2**12],
        x_log=True,
        line_arg="provider",
        line_vals=list(lines),
        line_names=[s.capitalize() for s in lines],
        styles=[("blue", "-"), ("green", "--")],
        ylabel="GB/s",
        plot_name=name,
        args={"block": 256},
    )


@perf_report(make_report())
def bench_add(size, provider, block):
    fn, x, y, out = launch_add(size, block)
    if provider == "numpy":
        fn = lambda: np.add(x, y, out=out)  # noqa: E731
    ms, lo, hi = do_bench(fn, warmup=1, rep=2, quantiles=[0.5, 0.2, 0.8])
    gbps = lambda t: 3 * x.nbytes * 1e-9 / (t * 1e-3)  # noqa: E731
    return gbps(ms), gbps(hi), gbps(lo)


def test_perf_report_writes_png_csv_and_prints(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # the plain-text path, pandas or not
    table = bench_add.run(print_data=True, save_path=tmp_path / "out", return_df=True)
    out = capsys.readouterr().out
    assert out.startswith("vector-add:\n")
    header = out.splitlines()[1].split()
    assert header == ["size", "Jitlang", "Numpy"]
    assert len(out.splitlines()) == 4
    png = tmp_path / "out" / "vector-add.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "out" / "vector-add.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["size", "Jitlang", "Numpy"]
    assert [r[0] for r in rows[1:]] == ["1024", "4096"]
    assert all(float(v) > 0 for r in rows[1:] for v in r[1:])
    assert "vector-add.png" in (tmp_path / "out" / "results.html").read_text()
    assert isinstance(table, Table) and table["size"] == [1024, 4096]


def test_perf_report_numbers_several_benchmarks_and_errors(tmp_path, capsys):
    calls = []

    @perf_report([make_report("a", ("x",)), make_report("b", ("x", "y"))])
    def f(size, provider, block, scale=1):
        calls.append((size, provider))
        return float(size * scale)

    assert f.run() is None
    assert capsys.readouterr().out == "" and len(calls) == 6
    tables = f.run(return_df=True, scale=2, diff_col=True)
    assert list(tables[0]["X"]) == [2048.0, 8192.0]
    assert list(tables[0]["Diff"]) == [1024.0, 4096.0]  # Triton's: for one line, line - x
    assert list(tables[1].columns) == ["size", "X", "Y"]
    assert not list(tmp_path.iterdir())

    @perf_report(make_report("bad", ("x",)))
    def g(size, provider, block):
        return (1.0, 2.0)

    with pytest.raises(ValueError, match="returned 2 values"):
        g.run()
    with pytest.raises(ValueError, match="line_names"):
        Benchmark(["n"], [1], "p", [1, 2], ["one"], "p", {})


# -- cross_check -------------------------------------------------------------------------------
def test_cross_check_runs_each_target_on_copies():
    x = np.arange(100, dtype=np.float32)
    out = np.zeros_like(x)
    cross_check(add_kernel, (1,), x, x, out, x.size, targets=("cpu", "cpu"), BLOCK=128)
    np.testing.assert_array_equal(out, 2 * x)


# -- profile: numeric and timing-only ---------------------------------------------------------
@jl.jit
def _mm_kernel(a_ptr, b_ptr, c_ptr, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    n = tl.num_programs(1) * BN
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, K, BK):
        a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :])
        b = tl.load(b_ptr + (k + rk)[:, None] * n + rn[None, :])
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + rm[:, None] * n + rn[None, :], acc)


def test_profile_timing_only_matches_numeric_and_computes_nothing():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((256, 256)).astype(ml_dtypes.bfloat16)
    c = np.full((256, 256), 7.0, np.float32)
    meta = dict(BM=128, BN=128, BK=128)
    num = jl.testing.profile(_mm_kernel, (2, 2), a, b, c, 256, **meta)
    np.testing.assert_allclose(c, a.astype(np.float32) @ b.astype(np.float32), rtol=1e-3, atol=1e-2)
    c[...] = 7.0
    tim = jl.testing.profile(_mm_kernel, (2, 2), a, b, c, 256, timing_only=True, **meta)
    assert np.all(c == 7.0)  # nothing computed, nothing copied back
    s_num, s_tim = num.summary(), tim.summary()
    assert (s_num["mode"], s_tim["mode"]) == ("numeric", "timing-only")
    assert s_tim["time_ns"] == s_num["time_ns"] and s_tim["instructions"] == s_num["instructions"]
    assert s_tim["engines"]["PE"]["instructions"] >= 8
    assert "(timing-only emulation)" in tim.format()
    # the flag does not stick to the compiled kernel
    _mm_kernel[(2, 2)](a, b, c, 256, target="accel", **meta)
    assert not np.all(c == 7.0)


@jl.jit
def _data_loop_kernel(n_ptr, out_ptr, BLOCK: tl.constexpr):
    n = tl.load(n_ptr)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for _ in range(n):
        acc += 1.0
    tl.store(out_ptr + tl.arange(0, BLOCK), acc)


def test_profile_timing_only_refuses_control_flow_on_loaded_data():
    n = np.array([3], np.int32)
    out = np.zeros(128, np.float32)
    prof = jl.testing.profile(_data_loop_kernel, (1,), n, out, BLOCK=128)
    assert prof.summary()["mode"] == "numeric" and np.all(out == 3.0)
    with pytest.raises(Exception, match=r"test_testing\.py:\d+:\d+: .*timing-only") as e:
        jl.testing.profile(_data_loop_kernel, (1,), n, out, BLOCK=128, timing_only=True)
    assert "Traceback" not in str(e.value)


def test_compare_generations_side_by_side():
    a = np.ones((256, 256), ml_dtypes.bfloat16)
    c = np.zeros((256, 256), np.float32)
    comp = jl.testing.compare_generations(
        _mm_kernel, (2, 2), a, a, c, 256, timing_only=True, BM=128, BN=128, BK=128
    )
    s = comp.summary()
    assert list(s) == ["nc-v2", "nc-v3"]
    v2, v3 = s["nc-v2"], s["nc-v3"]
    assert v2["speedup"] == 1.0 and v3["speedup"] == pytest.approx(v2["time_ns"] / v3["time_ns"])
    assert v2["time_ns"] != v3["time_ns"]  # other clocks, bandwidths and core counts
    assert (v2["cores_used"], v3["cores_used"]) == (2, 4)  # 4 programs over 2 and 8 cores
    for row in (v2, v3):
        assert row["bound"] in ("compute", "memory") and row["mode"] == "timing-only"
        assert set(row["utilization"]) == {"PE", "ACT", "DVE", "POOL", "DMA"}
        assert 0 < row["utilization"]["PE"] <= 1
    text = comp.format()
    assert "nc-v2" in text and "nc-v3" in text and "PE util" in text and "bound" in text
    assert not c.any()
    with pytest.raises(ValueError, match="at least one"):
        jl.testing.compare_generations(_mm_kernel, (1,), a, a, c, 256, configs=())
