"""tl.atomic_poll (Triton 3.9): spin until each element equals the expected value; an int1 block,
false where `timeout_ns` (one budget for the whole op) ran out first. Without timeout_ns Triton
spins for ever; jitlang gives up after a guard time and fails the launch at the line, since the
producer may be a program that cannot run before the poller ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError
from runtime.cpu_driver import DeviceAssertionError


@jl.jit
def poll_block(flag, out, EXPECT: tl.constexpr, N: tl.constexpr, T: tl.constexpr):
    o = tl.arange(0, N)
    ok = tl.atomic_poll(flag + o, EXPECT, timeout_ns=T)
    tl.store(out + tl.program_id(0) * N + o, ok.to(tl.int32))


@pytest.mark.parametrize("dt", [np.int16, np.int32, np.int64, np.uint32])
def test_value_set_before_the_launch(dt):
    flag = np.full(8, 5, dt)
    out = np.zeros(16, np.int32)
    poll_block[(2,)](flag, out, EXPECT=5, N=8, T=None)
    np.testing.assert_array_equal(out, 1)


@jl.jit
def producer_consumer(flag, data, out):
    pid = tl.program_id(0)
    if pid == 0:
        tl.store(data, 42)
        tl.atomic_xchg(flag, 1)  # publishes data
    else:
        ok = tl.atomic_poll(flag, 1)
        tl.store(out + pid, tl.where(ok, tl.load(data), -1))


def test_value_set_by_an_earlier_program():
    flag = np.zeros(1, np.int32)
    data = np.zeros(1, np.int32)
    out = np.zeros(4, np.int32)
    producer_consumer[(4,)](flag, data, out)
    np.testing.assert_array_equal(out[1:], 42)


def test_timeout_gives_false_for_elements_never_set():
    flag = np.array([5, 0, 5, 3], np.int32)
    out = np.zeros(4, np.int32)
    t = time.perf_counter()
    poll_block[(1,)](flag, out, EXPECT=5, N=4, T=2_000_000)  # 2 ms
    assert time.perf_counter() - t < 30  # compile included; the budget itself is 2 ms
    np.testing.assert_array_equal(out, [1, 0, 1, 0])


@jl.jit
def poll_runtime_timeout(flag, out, t):
    ok = flag.atomic_poll(9, sem="relaxed", timeout_ns=t)  # the tensor method, scalar pointer
    tl.store(out, ok.to(tl.int32))


def test_method_form_with_a_runtime_timeout():
    out = np.zeros(1, np.int32)
    poll_runtime_timeout[(1,)](np.array([0], np.int64), out, 1000)
    assert out[0] == 0
    poll_runtime_timeout[(1,)](np.array([9], np.int64), out, 0)  # loaded at least once
    assert out[0] == 1
    t = time.perf_counter()
    poll_runtime_timeout[(1,)](np.array([0], np.int64), out, -(10**12))  # waits as for 0
    assert out[0] == 0 and time.perf_counter() - t < 30


@jl.jit
def poll_guarded(flag):
    tl.atomic_poll(flag, 1)  # <- never set


def test_untimed_poll_fails_the_launch_at_its_line(monkeypatch):
    import jitlang.frontend.blockops as fb

    monkeypatch.setattr(fb, "POLL_GUARD_NS", 100_000_000)  # 0.1 s instead of 5 s
    with pytest.raises(DeviceAssertionError, match="deadlock guard") as info:
        poll_guarded[(1,)](np.zeros(1, np.int32))
    assert f"{os.path.abspath(__file__)}:" in str(info.value)


@jl.jit
def poll_float(p):
    tl.atomic_poll(p, 1.0)


@jl.jit
def poll_bad_sem(p):
    tl.atomic_poll(p, 1, sem="release")


def test_bad_calls_are_located_errors():
    with pytest.raises(CompilationError, match="16-, 32- or 64-bit integer") as info:
        poll_float[(1,)](np.zeros(1, np.float32))
    assert f"{os.path.abspath(__file__)}:" in str(info.value)
    with pytest.raises(CompilationError, match="'acquire' and 'relaxed'"):
        poll_bad_sem[(1,)](np.zeros(1, np.int32))
    with pytest.raises(CompilationError, match="16-, 32- or 64-bit integer"):
        poll_bad_sem[(1,)](np.zeros(1, np.int8))


# -- the accelerator (jitlang.passes.accel_poll): a loop of loads, the timeout in modelled time


@pytest.mark.parametrize("dt", [np.int16, np.int32, np.uint32])
def test_accel_value_set_before_the_launch(dt):
    for target in ("cpu", "accel"):
        flag = np.full(8, 5, dt)
        out = np.zeros(16, np.int32)
        poll_block[(2,)](flag, out, EXPECT=5, N=8, T=None, target=target)
        np.testing.assert_array_equal(out, 1)


def test_accel_value_set_by_an_earlier_program():
    flag = np.zeros(1, np.int32)
    data = np.zeros(1, np.int32)
    out = np.zeros(4, np.int32)
    producer_consumer[(4,)](flag, data, out, target="accel")
    np.testing.assert_array_equal(out[1:], 42)


@jl.jit
def poll_rows(flag, out, R: tl.constexpr, C: tl.constexpr, T: tl.constexpr):
    o = tl.arange(0, R)[:, None] * C + tl.arange(0, C)[None, :]
    ok = tl.atomic_poll(flag + o, 7, timeout_ns=T)
    tl.store(out + o, ok.to(tl.int32))


def test_accel_timeout_per_element_over_partitions():
    flag = np.random.default_rng(0).choice([7, 7, 7, 3], (256, 4)).astype(np.int32)
    outs = [np.zeros((256, 4), np.int32) for _ in range(2)]
    for out, target in zip(outs, ("cpu", "accel")):
        poll_rows[(1,)](flag, out, R=256, C=4, T=3000, target=target)
    np.testing.assert_array_equal(outs[1], (flag == 7).astype(np.int32))
    np.testing.assert_array_equal(outs[1], outs[0])


@pytest.mark.parametrize("config", ["nc-v2", "nc-v3"])
@pytest.mark.parametrize("t_ns", [0, 2_000, 20_000])
def test_accel_timeout_is_honoured_in_modelled_time(config, t_ns):
    flag = np.array([5, 0, 5, 3], np.int32)
    out = np.zeros(4, np.int32)
    prof = jl.testing.profile(poll_block, (1,), flag, out, EXPECT=5, N=4, T=t_ns, config=config)
    np.testing.assert_array_equal(out, [1, 0, 1, 0])
    took = prof.summary()["time_ns"]
    assert t_ns <= took <= 1.8 * t_ns + 3_000, took  # one bound of a load's time, see the pass
    flag[:] = 5  # all there: one load, whatever the timeout
    prof = jl.testing.profile(poll_block, (1,), flag, out, EXPECT=5, N=4, T=t_ns, config=config)
    assert out.all() and prof.summary()["time_ns"] < 3_000


def test_accel_method_form_with_a_runtime_timeout():
    out = np.zeros(1, np.int32)
    for dt in (np.int64, np.int32, np.int16):
        poll_runtime_timeout[(1,)](np.array([0], dt), out, 1000, target="accel")
        assert out[0] == 0
        poll_runtime_timeout[(1,)](np.array([9], dt), out, 0, target="accel")
        assert out[0] == 1
        poll_runtime_timeout[(1,)](np.array([0], dt), out, -(10**12), target="accel")
        assert out[0] == 0  # waits as for 0, not as the guard


@jl.jit
def later_producer(flag, out):
    pid = tl.program_id(0)
    if pid == 1:
        tl.atomic_xchg(flag, 1)
    else:
        tl.atomic_poll(flag, 1)  # <- program 1 runs after this one on the emulator
        tl.store(out, 1)


def test_accel_guard_fails_the_launch_at_the_line():
    for kernel, args in ((poll_guarded, ()), (later_producer, (np.zeros(1, np.int32),))):
        t = time.perf_counter()
        with pytest.raises(DeviceAssertionError, match="deadlock guard, 1000 loads") as info:
            kernel[(2,)](np.zeros(1, np.int32), *args, target="accel")
        assert time.perf_counter() - t < 60
        assert f"{os.path.abspath(__file__)}:" in str(info.value)


@jl.jit
def poll_in_a_loop(flag, out, N: tl.constexpr):
    o = tl.arange(0, N)
    acc = tl.zeros((N,), tl.int32)
    for i in range(3):  # a run-time expected value per iteration
        ok = tl.atomic_poll(flag + o, i, timeout_ns=1000)
        acc += ok.to(tl.int32) * (i + 1)
    tl.store(out + o, acc)


def test_accel_poll_in_a_loop():
    flag = np.array([0, 1, 2, 3, 0, 1, 2, 3], np.int32)
    outs = [np.zeros(8, np.int32) for _ in range(2)]
    for out, target in zip(outs, ("cpu", "accel")):
        poll_in_a_loop[(1,)](flag, out, N=8, target=target)
    np.testing.assert_array_equal(outs[1], [1, 2, 3, 0, 1, 2, 3, 0])
    np.testing.assert_array_equal(outs[0], outs[1])


def test_accel_int64_blocks_are_a_located_limit():
    from jitlang.passes.accel_layout import TargetLimitError

    with pytest.raises(TargetLimitError, match="int64") as info:
        poll_block[(1,)](
            np.full(8, 5, np.int64), np.zeros(8, np.int32), EXPECT=5, N=8, T=None, target="accel"
        )
    assert f"{os.path.abspath(__file__)}:" in str(info.value)


def test_interpreter(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import numpy as np
            import jitlang.frontend.blockops as fb
            from runtime.cpu_driver import DeviceAssertionError
            import test_atomic_poll as T
            out = np.zeros(4, np.int32)
            T.poll_block[(1,)](np.array([5, 0, 5, 3], np.int32), out, EXPECT=5, N=4, T=10**6)
            print("timeout", out.tolist())
            out = np.zeros(4, np.int32)
            T.producer_consumer[(4,)](np.zeros(1, np.int32), np.zeros(1, np.int32), out)
            print("producer", out[1:].tolist())
            fb.POLL_GUARD_NS = 10**8
            try:
                T.poll_guarded[(1,)](np.zeros(1, np.int32))
            except DeviceAssertionError as e:
                print("guard", e)
            """
        )
    )
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert "timeout [1, 0, 1, 0]" in r.stdout, r.stdout + r.stderr[-3000:]
    assert "producer [42, 42, 42]" in r.stdout
    assert "guard" in r.stdout and "test_atomic_poll.py:" in r.stdout
