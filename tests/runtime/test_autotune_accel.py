"""`jl.autotune` on the accelerator: configs ranked by modelled time, deterministically, swept
on an executor (a process pool here), modelled times cached on disk per kernel, key, config
and machine generation."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.autotuner import Autotuner, Config


@jl.jit
def _add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr, UNUSED: tl.constexpr = 0):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + tl.load(y_ptr + offs, mask=mask), mask=mask)


@jl.jit
def _small_block_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    tl.static_assert(BLOCK <= 256, "BLOCK too large")
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * 2.0, mask=mask)


@jl.jit
def _data_loop_kernel(n_ptr, out_ptr, BLOCK: tl.constexpr):
    """A loop bound read from memory: timing-only emulation cannot time it."""
    count = tl.load(n_ptr)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for _ in range(count):
        acc += 1.0
    tl.store(out_ptr + tl.arange(0, BLOCK), acc)


BLOCKS = (128, 512, 2048)


def _skip_if_sources_changed():
    """Worker processes run the sources as they are now and hand their tasks back when this
    process loaded other ones (a checkout edited while the tests run): nothing to test then."""
    from jitlang.autotune_accel import code_versions

    if code_versions(loaded=False) != code_versions():
        pytest.skip("jitlang's sources changed since this test session started")


def _grid(meta):
    return (jl.cdiv(meta["n"], meta["BLOCK"]),)


def _tuner(fn=_add_kernel, configs=None, key=("n",), **kw) -> Autotuner:
    configs = configs or [Config({"BLOCK": b}) for b in BLOCKS]
    return jl.autotune(configs=configs, key=list(key), **kw)(fn)


def _inputs(n: int):
    rng = np.random.default_rng(n)
    x, y = rng.random((2, n), dtype=np.float32)
    return x, y, np.zeros_like(x)


def _modelled_ms(n: int, config: Config, machine: str = "nc-v2") -> float:
    x, y, out = _inputs(n)
    meta = config.all_kwargs()
    prof = jl.testing.profile(
        _add_kernel, _grid({"n": n, **meta}), x, y, out, n, config=machine, timing_only=True, **meta
    )
    return prof.time_ns / 1e6


def test_configs_ranked_by_modelled_time():
    n = 40_000
    tuner = _tuner(executor="inline")
    x, y, out = _inputs(n)
    kernel = tuner[_grid](x, y, out, n, target="accel")
    np.testing.assert_allclose(out, x + y)
    assert tuner.tuned_on == "model:nc-v2"
    want = {c: _modelled_ms(n, c) for c in tuner.configs}
    assert tuner.configs_timings == want  # the model's time of each config, exactly
    assert len(set(want.values())) == len(want)  # the configs differ on the model
    assert tuner.best_config == min(want, key=want.get)
    assert kernel.target == "accel"
    # a CPU launch of the same kernel is tuned by wall time, under its own key
    tuner.do_bench = lambda fn, quantiles: fn() or 1.0
    out[...] = 0
    tuner[_grid](x, y, out, n)
    np.testing.assert_allclose(out, x + y)
    assert tuner.tuned_on == "wall time"


def test_ties_go_to_the_earlier_config_and_runs_repeat():
    n = 40_960
    # UNUSED changes nothing in the code: equal modelled times, the first config wins
    a, b = Config({"BLOCK": 512, "UNUSED": 1}), Config({"BLOCK": 512, "UNUSED": 2})
    runs = []
    for order in ([a, b], [b, a], [a, b]):
        tuner = _tuner(configs=order, executor="inline")
        x, y, out = _inputs(n)
        tuner[_grid](x, y, out, n, target="accel")
        np.testing.assert_allclose(out, x + y)
        assert tuner.configs_timings[a] == tuner.configs_timings[b]
        assert tuner.best_config is order[0]
        runs.append(tuner.configs_timings)
    assert runs[0] == runs[1] == runs[2]


def test_num_stages_is_a_knob():
    n = 42_000
    configs = [Config({"BLOCK": 512}, num_stages=s) for s in (1, 2, 3)]
    tuner = _tuner(configs=configs, executor="inline")
    x, y, out = _inputs(n)
    kernel = tuner[_grid](x, y, out, n, target="accel")
    np.testing.assert_allclose(out, x + y)
    # each config compiled with its own num_stages, and the launch ran the chosen one
    targets = {t for t, _key in _add_kernel.cache}
    assert {"accel@nc-v2:stages=1", "accel@nc-v2:stages=2", "accel@nc-v2:stages=3"} <= targets
    assert kernel.metadata["num_stages"] == tuner.best_config.num_stages
    assert set(tuner.configs_timings) == set(configs)
    best = min(tuner.configs_timings.values())
    assert tuner.best_config == next(c for c in configs if tuner.configs_timings[c] == best)


@pytest.mark.slow  # worker processes start (import, first compile: ~2 s each)
def test_sweep_on_a_process_pool_matches_inline_and_is_cached_on_disk():
    _skip_if_sources_changed()
    n = 43_000
    x, y, out = _inputs(n)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:  # another process is the point
        tuner = _tuner(executor=pool)
        tuner[_grid](x, y, out, n, target="accel")
    np.testing.assert_allclose(out, x + y)
    assert tuner.sweep_stats == {"disk": 0, "task": 3, "here": 0, "numeric": 0}
    assert tuner.configs_timings == {c: _modelled_ms(n, c) for c in tuner.configs}
    # a new tuner (a new process, as far as it knows) reads every config's time from disk
    again = _tuner(executor="inline")
    again[_grid](x, y, out, n, target="accel")
    assert again.sweep_stats == {"disk": 3, "task": 0, "here": 0, "numeric": 0}
    assert again.configs_timings == tuner.configs_timings
    assert again.best_config == tuner.best_config
    named = _tuner(executor="inline")  # naming the default machine: the same entries
    named[_grid](x, y, out, n, target="accel", config="nc-v2")
    assert named.sweep_stats["disk"] == 3 and named.configs_timings == tuner.configs_timings
    # other generation, other key: other entries
    on_v3 = _tuner(executor="inline")
    on_v3[_grid](x, y, out, n, target="accel", config="nc-v3")
    assert on_v3.sweep_stats["disk"] == 0 and on_v3.tuned_on == "model:nc-v3"
    assert on_v3.configs_timings == {c: _modelled_ms(n, c, "nc-v3") for c in on_v3.configs}
    assert on_v3.configs_timings != tuner.configs_timings
    x2, y2, out2 = _inputs(n + 64)
    other_key = _tuner(executor="inline")
    other_key[_grid](x2, y2, out2, n + 64, target="accel")
    assert other_key.sweep_stats["disk"] == 0
    # one tuner keeps one choice per (key, machine)
    assert len(on_v3.cache) == 1
    on_v3[_grid](x, y, out, n, target="accel")
    assert len(on_v3.cache) == 2 and on_v3.tuned_on == "model:nc-v2"


@pytest.mark.slow  # worker processes start (import, first compile: ~2 s each)
def test_default_executor_is_a_local_process_pool():
    _skip_if_sources_changed()
    n = 44_000
    tuner = _tuner()
    assert tuner.executor == "process"
    x, y, out = _inputs(n)
    tuner[_grid](x, y, out, n, target="accel")
    np.testing.assert_allclose(out, x + y)
    assert tuner.sweep_stats == {"disk": 0, "task": 3, "here": 0, "numeric": 0}
    assert tuner.configs_timings == {c: _modelled_ms(n, c) for c in tuner.configs}
    # the pool outlives the sweep: the next key's sweep reuses its started workers
    from runtime.config import get_options

    pool = tuner._pool
    assert (pool is not None) == (get_options().num_threads >= 2)
    x2, y2, out2 = _inputs(n + 128)
    tuner[_grid](x2, y2, out2, n + 128, target="accel")
    np.testing.assert_allclose(out2, x2 + y2)
    assert tuner.sweep_stats["task"] == 3 and tuner._pool is pool
    tuner.close()
    assert tuner._pool is None


def test_rejected_configs_lose_and_a_pool_reports_them():
    n = 45_000
    configs = [Config({"BLOCK": b}) for b in (128, 256, 1024)]
    x = np.arange(n, dtype=np.float32)
    out = np.zeros_like(x)
    with ThreadPoolExecutor(2) as pool:  # any Executor: threads too
        tuner = _tuner(_small_block_kernel, configs, executor=pool)
        tuner[_grid](x, out, n, target="accel")
    np.testing.assert_allclose(out, 2 * x)
    t = tuner.configs_timings
    assert t[configs[2]] == float("inf") and max(t[configs[0]], t[configs[1]]) < float("inf")
    assert tuner.best_config == min(configs[:2], key=t.get)  # the fastest that compiles


def test_kernels_that_cannot_be_shipped_are_timed_here():
    @jl.jit
    def local_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + 1.0, mask=mask)

    n = 46_000
    x = np.arange(n, dtype=np.float32)
    out = np.zeros_like(x)
    tuner = _tuner(local_kernel, executor="process")
    tuner[_grid](x, out, n, target="accel")
    np.testing.assert_allclose(out, x + 1)
    assert tuner.sweep_stats == {"disk": 0, "task": 0, "here": 3, "numeric": 0}
    assert tuner.best_config == min(tuner.configs_timings, key=tuner.configs_timings.get)


def test_data_dependent_kernels_are_timed_numerically_on_copies():
    configs = [Config({"BLOCK": b}) for b in (128, 256)]
    tuner = _tuner(_data_loop_kernel, configs, key=(), executor="inline")
    count = np.array([3], np.int32)
    out = np.zeros(256, np.float32)
    tuner[(1,)](count, out, target="accel")
    assert tuner.sweep_stats == {"disk": 0, "task": 0, "here": 0, "numeric": 2}
    assert all(0 < t < float("inf") for t in tuner.configs_timings.values())
    b = tuner.best_config.kwargs["BLOCK"]
    assert np.all(out[:b] == 3.0)  # written once, by the real launch
    assert np.all(out[b:] == 0.0)


def test_heuristics_and_callable_grids_resolve_before_shipping():
    n = 47_000

    tuner = jl.autotune(
        configs=[Config({"BLOCK": b}) for b in (256, 1024)], key=["n"], executor="inline"
    )(jl.heuristics({"UNUSED": lambda args: args["BLOCK"] // 256})(_add_kernel))
    x, y, out = _inputs(n)
    tuner[lambda m: (jl.cdiv(m["n"], m["BLOCK"]) + m["UNUSED"] * 0,)](x, y, out, n, target="accel")
    np.testing.assert_allclose(out, x + y)
    assert tuner.sweep_stats["task"] == 2
    for c, t in tuner.configs_timings.items():
        b = c.kwargs["BLOCK"]
        assert t == _modelled_ms(n, Config({"BLOCK": b, "UNUSED": b // 256}))


def test_bad_executor():
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        _tuner(executor=4)


def test_generations_compared_tune_on_each_machine():
    n = 48_000
    tuner = _tuner(executor="inline")
    x, y, out = _inputs(n)
    comp = jl.testing.compare_generations(tuner, _grid, x, y, out, n, timing_only=True)
    assert not out.any()  # timing-only: nothing ran numerically, not even the tuning
    assert {k[-1] for k in tuner.cache} == {("config", "nc-v2"), ("config", "nc-v3")}
    s = comp.summary()
    for machine in ("nc-v2", "nc-v3"):
        best = next(c for k, c in tuner.cache.items() if k[-1] == ("config", machine))
        assert s[machine]["time_ns"] == pytest.approx(_modelled_ms(n, best, machine) * 1e6)
        assert s[machine]["bound"] in ("compute", "memory")
        assert set(s[machine]["utilization"]) == {"PE", "ACT", "DVE", "POOL", "DMA"}
    text = comp.format()
    assert "nc-v2" in text and "nc-v3" in text and "DVE util" in text


def test_profile_command_shows_both_generations_side_by_side():
    import io

    from jitlang import cli

    out, err = io.StringIO(), io.StringIO()
    argv = ["profile", f"{__file__}::_add_kernel", "--args", "f32[4096],f32[4096],f32[4096],4096"]
    argv += ["--meta", "BLOCK=512", "--grid", "cdiv(n, BLOCK)", "--config", "both"]
    assert cli.main([*argv, "--timing-only"], out=out, err=err) == 0, err.getvalue()
    text = out.getvalue()
    table = text[text.index("machine generations compared") :]
    for row in ("time us", "speed-up", "bound", "PE util", "ACT util", "DVE util", "POOL util"):
        assert row in table
    assert "nc-v3 runs" in table and "as fast as nc-v2" in table


def test_array_specs_rebuild_the_layout_without_the_data():
    import pickle

    import ml_dtypes

    from jitlang.autotune_accel import ArraySpec, array_specs, make_arrays

    base = np.arange(4 * 6 * 8, dtype=np.float32).reshape(4, 6, 8)
    other = np.zeros((3, 130), ml_dtypes.bfloat16)
    args = [
        base[1:, ::2, 3:],
        base[::-1, :, ::-2],
        base.transpose(2, 0, 1),
        base.reshape(-1)[5:],  # 4 bytes past a 16-byte boundary: another specialization
        other[:, 1:],
        7,
        np.full((), 2.0, np.float32),  # 0-d
        other,
        np.zeros(0, np.int32),
    ]
    specs = pickle.loads(pickle.dumps(array_specs(args)))
    assert specs[5] == 7 and all(isinstance(s, ArraySpec) for i, s in enumerate(specs) if i != 5)
    made = make_arrays(specs)

    def addr(a):
        return a.__array_interface__["data"][0]

    for v, m in zip(args, made):
        if isinstance(v, np.ndarray):
            assert (m.dtype, m.shape, m.strides) == (v.dtype, v.shape, v.strides)
            assert addr(m) % 16 == addr(v) % 16 and not m.any()
            assert addr(m) - addr(made[0]) == addr(v) - addr(args[0]) or not np.shares_memory(
                v, args[0]
            )
    # arrays that overlap share a buffer (the driver builds differently for aliased arrays);
    # separate ones do not
    for i, j in ((0, 1), (0, 3), (4, 7)):
        assert np.shares_memory(made[i], made[j])
    for i, j in ((0, 4), (0, 6), (4, 6), (0, 8)):
        assert not np.shares_memory(made[i], made[j])
    assert array_specs(made) == specs


@pytest.mark.slow  # imports torch
def test_torch_tensors_travel_as_specs():
    torch = pytest.importorskip("torch")
    n = 50_176
    x, y = torch.rand(n), torch.rand(n)
    out = torch.zeros(n)
    tuner = _tuner(executor="inline")
    tuner[_grid](x, y, out, n, target="accel")
    assert tuner.sweep_stats["task"] == 3  # shipped as dtype/shape, run on zero arrays
    torch.testing.assert_close(out, x + y)
    # the same times as numpy arrays of that layout
    assert tuner.configs_timings == {c: _modelled_ms(n, c) for c in tuner.configs}


_tuned_add = jl.autotune([Config({"BLOCK": b}) for b in BLOCKS], key=["n"], executor="inline")(
    _add_kernel
)


def test_profile_command_tunes_an_autotuned_kernel_on_each_machine():
    import io

    from jitlang import cli

    n = 51_200
    out, err = io.StringIO(), io.StringIO()
    argv = ["profile", f"{__file__}::_tuned_add", "--args", f"f32[{n}],f32[{n}],f32[{n}],{n}"]
    argv += ["--grid", "cdiv(n, BLOCK)", "--config", "both", "--timing-only"]
    assert cli.main(argv, out=out, err=err) == 0, err.getvalue()
    text = out.getvalue()
    for machine in ("nc-v2", "nc-v3"):
        # the CLI imports the file afresh: its own tuner, the same choice
        times = {c: _modelled_ms(n, c, machine) for c in _tuned_add.configs}
        best = min(_tuned_add.configs, key=times.get)
        assert f"autotuned on {machine}'s model: {best}" in text
        assert f"total {times[best] * 1e3:,.3f} us" in text


def test_workers_running_other_sources_hand_the_task_back():
    from dataclasses import replace

    from jitlang.autotune_accel import ModelSweep, code_versions, run_task

    n = 52_224
    tuner = _tuner(executor="inline")
    x, y, out = _inputs(n)
    sweep = ModelSweep(tuner, (n,), (x, y, out, n), _grid, {"target": "accel"}, "nc-v2")
    config = tuner.configs[0]
    task = sweep._task(config, sweep._resolve(config))
    assert task.versions == code_versions()
    assert run_task(task) == ("ok", _modelled_ms(n, config) * 1e6)
    for versions in ((task.versions[0] + "x", task.versions[1]), (task.versions[0], "other")):
        status, why = run_task(replace(task, versions=versions))
        assert status == "retry" and "other compiler or accelerator-model sources" in why
    status, why = run_task(replace(task, source_hash="0" * 64))  # the kernel was edited
    assert status == "retry" and "other sources" in why


def test_profile_sees_through_heuristics_above_an_autotuner():
    n = 53_248
    inner = _tuner(executor="inline")
    kernel = jl.heuristics({"UNUSED": lambda args: 3})(inner)
    x, y, out = _inputs(n)
    prof = jl.testing.profile(kernel, _grid, x, y, out, n, timing_only=True)
    best = inner.best_config
    assert best is not None
    want = _modelled_ms(n, Config({**best.kwargs, "UNUSED": 3}))
    assert prof.time_ns == pytest.approx(want * 1e6)
