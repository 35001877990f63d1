"""`jitlang.autotuner`: Config, autotune (keys, pruning, hooks, conflicts, disk cache), heuristics."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.autotuner import Autotuner, AutotunerError, Config, Heuristics, autotune, heuristics
from jitlang.errors import CompilationError


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


@jl.jit
def accumulate_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """out += x: wrong after several benchmark runs unless `out` is reset or restored."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    acc = tl.load(out_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, acc + tl.load(x_ptr + offs, mask=mask), mask=mask)


@jl.jit
def even_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr):
    """out = 2 * x; unmasked when the heuristic says `n` is a multiple of BLOCK."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    if EVEN:
        tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 2)
    else:
        mask = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * 2, mask=mask)


@jl.jit
def small_block_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    tl.static_assert(BLOCK <= 128, "BLOCK too large")
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


BLOCKS = (64, 128, 256)


def grid(meta):
    return (jl.cdiv(meta["n"], meta["BLOCK"]),)


class FakeBench:
    """A `do_bench` that runs the call a few times and reports a time chosen per BLOCK."""

    def __init__(self, ms_by_block: dict[int, float], runs: int = 3) -> None:
        self.ms_by_block = ms_by_block
        self.runs = runs
        self.calls: list[int] = []
        self.current = None

    def __call__(self, fn, quantiles):
        for _ in range(self.runs):
            fn()
        block = self.current
        self.calls.append(block)
        ms = self.ms_by_block[block]
        return [ms, ms * 0.9, ms * 1.1]


def tuned(kernel, ms_by_block, **kw):
    """`kernel` autotuned over BLOCKS with a FakeBench that knows which config it times."""
    bench = FakeBench(ms_by_block)

    def hook(nargs):
        bench.current = nargs["BLOCK"]

    configs = [Config({"BLOCK": b}, num_warps=4, pre_hook=hook) for b in BLOCKS]
    return autotune(configs, key=["n"], do_bench=bench, **kw)(kernel), bench


def vectors(n, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(n).astype(dtype), rng.random(n).astype(dtype), np.zeros(n, dtype)


# -- Config ------------------------------------------------------------------------------------
def test_config_kwargs_equality_and_text():
    c = Config({"BLOCK": 128}, num_warps=8)
    assert c.all_kwargs() == {"BLOCK": 128, "num_warps": 8}
    assert Config({"BLOCK": 128}).all_kwargs() == {"BLOCK": 128}
    assert c == Config({"BLOCK": 128}, num_warps=8) and hash(c) == hash(Config({"BLOCK": 128}, 8))
    assert c != Config({"BLOCK": 128}) and c != Config({"BLOCK": 64}, num_warps=8)
    assert str(c) == "BLOCK: 128, num_warps: 8"
    assert repr(c) == "Config({'BLOCK': 128}, num_warps=8)"
    assert Config(**c.to_json()) == c


# -- autotune ----------------------------------------------------------------------------------
def test_autotune_picks_fastest_and_caches_per_key():
    kernel, bench = tuned(add_kernel, {64: 3.0, 128: 1.0, 256: 2.0})
    assert isinstance(kernel, Autotuner)
    x, y, out = vectors(1000)
    kernel[grid](x, y, out, x.size)
    np.testing.assert_array_equal(out, x + y)
    assert bench.calls == [64, 128, 256]
    assert kernel.best_config.kwargs == {"BLOCK": 128} and kernel.best_config.num_warps == 4
    assert {c.kwargs["BLOCK"]: t for c, t in kernel.configs_timings.items()} == {
        64: 3.0,
        128: 1.0,
        256: 2.0,
    }
    assert list(kernel.cache) == [(1000, "float32", "float32", "float32")]

    # same key: no benchmarking, same choice
    out[:] = 0
    kernel[grid](x, y, out, x.size)
    np.testing.assert_array_equal(out, x + y)
    assert len(bench.calls) == 3

    # a new value of the key, then new dtypes, each tune again
    bench.ms_by_block = {64: 1.0, 128: 2.0, 256: 3.0}
    x2, y2, out2 = vectors(300)
    kernel[grid](x2, y2, out2, x2.size)
    np.testing.assert_array_equal(out2, x2 + y2)
    assert kernel.best_config.kwargs == {"BLOCK": 64}
    x3, y3, out3 = vectors(1000, np.float64)
    kernel[grid](x3, y3, out3, x3.size)
    np.testing.assert_array_equal(out3, x3 + y3)
    assert len(bench.calls) == 9 and len(kernel.cache) == 3
    first_key = next(iter(kernel.cache))
    assert first_key == (1000, "float32", "float32", "float32")  # dtypes equal their names
    assert kernel.cache[first_key].kwargs == {"BLOCK": 128}


def test_autotune_with_the_real_benchmarker():
    configs = [Config({"BLOCK": b}) for b in (128, 1024)]
    kernel = autotune(configs, key=["n"], warmup=1, rep=4)(add_kernel)
    x, y, out = vectors(1 << 14)
    kernel[grid](x, y, out, x.size)
    np.testing.assert_array_equal(out, x + y)
    assert kernel.best_config in configs
    assert set(kernel.configs_timings) == set(configs)
    assert all(isinstance(t, float) and t > 0 for t in kernel.configs_timings.values())
    assert kernel.bench_time > 0


def test_grid_callable_sees_the_config_and_the_arguments():
    seen = []

    def grid_fn(meta):
        seen.append(dict(meta))
        return (jl.cdiv(meta["n"], meta["BLOCK"]),)

    kernel = autotune([Config({"BLOCK": 256})], key=["n"])(add_kernel)
    x, y, out = vectors(1000)
    kernel[grid_fn](x, y, out, n=x.size)
    assert seen[-1]["BLOCK"] == 256 and seen[-1]["n"] == 1000
    np.testing.assert_array_equal(out, x + y)


def test_reset_to_zero_keeps_an_accumulating_kernel_correct():
    x, _, out = vectors(1000)
    kernel, bench = tuned(
        accumulate_kernel, {64: 2.0, 128: 3.0, 256: 1.0}, reset_to_zero=["out_ptr"]
    )
    kernel[grid](x, out, x.size)
    assert len(bench.calls) == 3  # each config ran the kernel 3 times (and 1 more launch)
    np.testing.assert_array_equal(out, x)
    # tuned: a later launch accumulates as usual
    kernel[grid](x, out, x.size)
    np.testing.assert_array_equal(out, x + x)


def test_without_reset_the_benchmark_runs_accumulate():
    x, _, out = vectors(1000)
    kernel, bench = tuned(accumulate_kernel, {64: 2.0, 128: 3.0, 256: 1.0})
    kernel[grid](x, out, x.size)
    np.testing.assert_allclose(out, 10 * x, rtol=1e-5)  # 3 configs x 3 runs + the launch


def test_restore_value_restores_arrays_after_each_run():
    x, _, _ = vectors(1000)
    out = np.ones_like(x)
    kernel, _ = tuned(accumulate_kernel, {64: 2.0, 128: 3.0, 256: 1.0}, restore_value=["out_ptr"])
    kernel[grid](x, out, x.size)
    np.testing.assert_array_equal(out, np.float32(1) + x)


def test_user_hooks_replace_the_defaults():
    events = []
    kernel, _ = tuned(
        accumulate_kernel,
        {64: 2.0, 128: 3.0, 256: 1.0},
        reset_to_zero=["out_ptr"],
        pre_hook=lambda nargs, reset_only=False: events.append(("pre", reset_only)),
        post_hook=lambda nargs, exception: events.append(("post", exception)),
    )
    x, _, out = vectors(64)
    kernel[grid](x, out, x.size)
    assert events.count(("pre", False)) == 9 and events.count(("post", None)) == 9
    assert events[-1] == ("pre", True)  # after tuning, before the launch
    np.testing.assert_allclose(out, 10 * x, rtol=1e-5)  # the user hook did not zero `out`


def test_single_config_is_not_benchmarked():
    bench = FakeBench({})
    kernel = autotune([Config({"BLOCK": 128})], key=["n"], do_bench=bench)(add_kernel)
    x, y, out = vectors(500)
    kernel[grid](x, y, out, x.size)
    np.testing.assert_array_equal(out, x + y)
    assert bench.calls == [] and kernel.best_config.kwargs == {"BLOCK": 128}


def test_prune_top_k_benchmarks_the_best_estimates():
    estimated = []

    def perf_model(x_ptr, y_ptr, out_ptr, n, BLOCK, num_warps, **kwargs):
        estimated.append(BLOCK)
        return -BLOCK  # the model believes bigger blocks are faster

    kernel, bench = tuned(
        add_kernel,
        {64: 1.0, 128: 2.0, 256: 3.0},
        prune_configs_by={"perf_model": perf_model, "top_k": 2},
    )
    x, y, out = vectors(1000)
    kernel[grid](x, y, out, x.size)
    assert sorted(estimated) == [64, 128, 256]
    assert sorted(bench.calls) == [128, 256]
    assert kernel.best_config.kwargs == {"BLOCK": 128}
    np.testing.assert_array_equal(out, x + y)

    # a fraction; top_k == 1 leaves nothing to benchmark
    kernel, bench = tuned(
        add_kernel, {}, prune_configs_by={"perf_model": perf_model, "top_k": 0.34}
    )
    kernel[grid](x, y, out, x.size)
    assert bench.calls == [] and kernel.best_config.kwargs == {"BLOCK": 256}


def test_early_config_prune_sees_the_arguments():
    def early(configs, nargs, **kwargs):
        return [c for c in configs if c.kwargs["BLOCK"] <= nargs["n"]]

    kernel, bench = tuned(
        add_kernel, {64: 2.0, 128: 1.0, 256: 0.5}, prune_configs_by={"early_config_prune": early}
    )
    x, y, out = vectors(200)
    kernel[grid](x, y, out, x.size)
    assert bench.calls == [64, 128]
    assert kernel.best_config.kwargs == {"BLOCK": 128}
    np.testing.assert_array_equal(out, x + y)


def test_pruning_errors():
    kernel, _ = tuned(add_kernel, {}, prune_configs_by={"early_config_prune": lambda c, a, **k: []})
    x, y, out = vectors(10)
    with pytest.raises(AutotunerError, match="at least one config"):
        kernel[grid](x, y, out, x.size)
    kernel, _ = tuned(add_kernel, {}, prune_configs_by={"perf_model": lambda **k: 0, "top_k": "2"})
    with pytest.raises(TypeError, match="top_k"):
        kernel[grid](x, y, out, x.size)
    with pytest.raises(ValueError, match="unknown field"):
        tuned(add_kernel, {}, prune_configs_by={"topk": 2})


def test_a_config_that_fails_to_compile_loses():
    configs = [Config({"BLOCK": b}) for b in (128, 256)]
    kernel = autotune(configs, key=["n"], warmup=1, rep=2)(small_block_kernel)
    x, _, out = vectors(1000)
    kernel[grid](x, out, x.size)
    np.testing.assert_array_equal(out, x)
    assert kernel.best_config.kwargs == {"BLOCK": 128}
    assert kernel.configs_timings[Config({"BLOCK": 256})] == float("inf")

    only_bad = autotune([Config({"BLOCK": 256}), Config({"BLOCK": 512})], key=["n"], rep=2)(
        small_block_kernel
    )
    with pytest.raises(CompilationError, match="BLOCK too large"):
        only_bad[grid](x, out, x.size)


def test_conflicting_meta_parameters_are_an_error():
    kernel, _ = tuned(add_kernel, {64: 1.0, 128: 2.0, 256: 3.0})
    x, y, out = vectors(100)
    with pytest.raises(ValueError, match="Conflicting meta-parameters: BLOCK"):
        kernel[grid](x, y, out, x.size, BLOCK=64)
    with pytest.raises(ValueError, match="Conflicting meta-parameters: BLOCK"):
        kernel[grid](x, y, out, x.size, 64)


def test_bad_decorations_are_reported():
    with pytest.raises(TypeError, match="put @autotune above @jit"):
        autotune([Config({})], key=[])(lambda x: x)
    with pytest.raises(ValueError, match="'m', which is not a parameter"):
        autotune([Config({"BLOCK": 1})], key=["m"])(add_kernel)
    with pytest.raises(ValueError, match="config BLOCKSIZE: 1 names 'BLOCKSIZE'"):
        autotune([Config({"BLOCKSIZE": 1})], key=["n"])(add_kernel)
    with pytest.raises(ValueError, match="reset_to_zero names 'o'"):
        autotune([Config({"BLOCK": 1})], key=["n"], reset_to_zero=["o"])(add_kernel)
    with pytest.raises(TypeError, match="jitlang.Config"):
        autotune([{"BLOCK": 1}], key=["n"])(add_kernel)
    with pytest.raises(RuntimeError, match=r"launch it with add_kernel\[grid\]"):
        autotune([Config({"BLOCK": 1})], key=["n"])(add_kernel)(1, 2)


def test_print_autotuning(capsys):
    kernel, _ = tuned(add_kernel, {64: 3.0, 128: 1.0, 256: 2.0}, print_autotuning=True)
    x, y, out = vectors(100)
    kernel[grid](x, y, out, x.size)
    text = capsys.readouterr().out
    assert "Autotuning kernel add_kernel with config BLOCK: 64, num_warps: 4" in text
    assert "with key as (100, float32, float32, float32)," in text
    assert "best config selected: BLOCK: 128, num_warps: 4;" in text
    kernel[grid](x, y, out, x.size)
    assert capsys.readouterr().out == ""  # cached: nothing to report


def test_cache_results_reuses_timings_from_disk():
    from runtime.driver import get_runtime

    if get_runtime().disk_cache is None:
        pytest.skip("the disk cache is disabled (JITLANG_CACHE=0)")
    configs = [Config({"BLOCK": b}) for b in BLOCKS]
    benched = []

    def bench(fn, quantiles):
        fn()
        benched.append(1)
        return [float(len(benched) % 3 + 1)] * 3

    first = autotune(configs, key=["n"], do_bench=bench, cache_results=True)(add_kernel)
    x, y, out = vectors(777)
    first[grid](x, y, out, x.size)
    assert len(benched) == 3
    second = autotune(configs, key=["n"], do_bench=bench, cache_results=True)(add_kernel)
    second[grid](x, y, out, x.size)
    assert len(benched) == 3  # read back, not benchmarked
    assert second.best_config == first.best_config
    assert second.configs_timings == first.configs_timings
    np.testing.assert_array_equal(out, x + y)


def test_warmup_compiles_every_config():
    kernel = autotune([Config({"BLOCK": b}) for b in BLOCKS], key=["n"])(add_kernel)
    x, y, out = vectors(100)
    compiled = kernel.warmup(x, y, out, x.size, grid=(1,))
    assert len(compiled) == 3 and all("llir" in c.asm for c in compiled)


# -- heuristics --------------------------------------------------------------------------------
def test_heuristics_compute_meta_parameters():
    seen = []

    def grid_fn(meta):
        seen.append(meta["BLOCK"])
        return (jl.cdiv(meta["n"], meta["BLOCK"]),)

    kernel = heuristics({"BLOCK": lambda args: jl.next_power_of_2(args["n"])})(add_kernel)
    assert isinstance(kernel, Heuristics) and kernel.arg_names == add_kernel.arg_names
    x, y, out = vectors(300)
    kernel[grid_fn](x, y, out, x.size)
    np.testing.assert_array_equal(out, x + y)
    assert seen == [512]
    assert "llir" in kernel.warmup(x, y, out, x.size).asm


def test_later_heuristics_see_earlier_values():
    kernel = heuristics(
        {
            "BLOCK": lambda args: min(128, jl.next_power_of_2(args["n"])),
            "EVEN": lambda args: args["n"] % args["BLOCK"] == 0,
        }
    )(even_kernel)
    for n in (256, 300):
        x, _, out = vectors(n)
        kernel[grid](x, out, n)
        np.testing.assert_array_equal(out, 2 * x)
    assert {key[4] for _, key in even_kernel.cache} >= {("c", True), ("c", False)}


def test_autotune_over_heuristics():
    bench = FakeBench({64: 2.0, 128: 1.0, 256: 3.0})

    def hook(nargs):
        bench.current = nargs["BLOCK"]

    kernel = autotune(
        [Config({"BLOCK": b}, pre_hook=hook) for b in BLOCKS], key=["n"], do_bench=bench
    )(heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})(even_kernel))
    for n in (256, 320):
        x, _, out = vectors(n)
        kernel[grid](x, out, n)
        np.testing.assert_array_equal(out, 2 * x)
    assert kernel.best_config.kwargs == {"BLOCK": 128}


def test_heuristics_over_autotune():
    kernel = heuristics({"EVEN": lambda args: args["n"] % 128 == 0})(
        autotune([Config({"BLOCK": 64}), Config({"BLOCK": 128})], key=["n"], rep=2)(even_kernel)
    )
    x, _, out = vectors(256)
    kernel[grid](x, out, 256)
    np.testing.assert_array_equal(out, 2 * x)
    assert kernel.fn.best_config in kernel.fn.configs


def test_heuristics_errors():
    with pytest.raises(ValueError, match="heuristics names 'BLOK'"):
        heuristics({"BLOK": lambda a: 1})(add_kernel)
    with pytest.raises(TypeError, match="must be a function"):
        heuristics({"BLOCK": 128})(add_kernel)
    with pytest.raises(TypeError, match="put @heuristics above @jit"):
        heuristics({"BLOCK": lambda a: 1})(print)


# -- progress bar ------------------------------------------------------------------------------
def _sweep(progress=None):
    kernel, _ = tuned(add_kernel, {64: 3.0, 128: 1.0, 256: 2.0})
    kernel.progress = progress
    x, y, out = vectors(500)
    kernel[lambda m: (jl.cdiv(500, m["BLOCK"]),)](x, y, out, 500)
    np.testing.assert_array_equal(out, x + y)


def test_progress_bar_when_asked(capsys):
    _sweep(progress=True)
    err = capsys.readouterr().err
    assert "autotuning add_kernel" in err and "/3 " in err  # three configs


def test_no_progress_bar_when_nobody_watches(capsys):
    _sweep()  # pytest's captured stderr is not a terminal
    assert capsys.readouterr().err == ""
    _sweep(progress=False)
    assert capsys.readouterr().err == ""


def test_progress_bar_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _sweep()
    assert "autotuning add_kernel" in capsys.readouterr().err
