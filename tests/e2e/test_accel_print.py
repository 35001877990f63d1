"""`device_print` on target="accel" (codegen/accel/debug.py, the print log in HBM): the lines
are the ones target="cpu" prints, in program order."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl


def _lines(capfd, kernel, grid, *args, target, **meta) -> list[str]:
    capfd.readouterr()
    kernel[grid](*args, target=target, **meta)
    return capfd.readouterr().out.splitlines()


def _same_as_cpu(capfd, kernel, grid, *args, **meta) -> list[str]:
    cpu = _lines(capfd, kernel, grid, *args, target="cpu", **meta)
    acc = _lines(capfd, kernel, grid, *args, target="accel", **meta)
    assert acc == cpu
    assert acc
    return acc


@jl.jit
def print_kinds(f_ptr, i8_ptr, u_ptr, h_ptr, n, s, N: tl.constexpr):
    offs = tl.arange(0, N)
    f = tl.load(f_ptr + offs)
    tl.device_print("f", f)
    tl.device_print("i8: ", tl.load(i8_ptr + offs))
    tl.device_print("u ", tl.load(u_ptr + offs))
    tl.device_print("h", tl.load(h_ptr + offs))
    tl.device_print("mask", f > 0)
    tl.device_print("two", f, offs)
    tl.device_print("scalars ", n, s, tl.program_id(0))
    tl.device_print("just a prefix")
    tl.device_print("hex ", tl.load(i8_ptr + offs), hex=True)


def test_every_element_kind_prints_as_on_the_cpu(capfd):
    n = 4
    f = np.array([1.5, -0.0, np.inf, 1e-30], np.float32)
    i8 = np.array([-128, -1, 0, 127], np.int8)
    u = np.array([0, 1, 2**31, 2**32 - 1], np.uint32)
    h = np.array([0.1, -2, 65504, np.nan], np.float16)
    lines = _same_as_cpu(capfd, print_kinds, (2,), f, i8, u, h, -(2**40), 2.5, N=n)
    assert "pid (1, 0, 0) idx (3) u 4294967295" in lines
    assert "pid (0, 0, 0) scalars  (operand 0)-1099511627776" in lines
    assert "pid (1, 0, 0) scalars  (operand 2)1" in lines
    assert "pid (0, 0, 0) idx (3) hex 0x7f" in lines
    assert lines.index("pid (0, 0, 0) just a prefix") < lines.index("pid (1, 0, 0) idx (0) f 1.5")


@jl.jit
def print_in_a_loop(x_ptr, M: tl.constexpr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :])
    for i in range(3):
        x = x * 2
        if i != 1:
            tl.device_print("it", i, tl.sum(x, 1))
    tl.device_print("x", x)


def test_prints_in_loops_and_branches_and_2d_blocks(capfd):
    # (compared with numpy, not the CPU: target="cpu" prints a stale block inside the `if`)
    x = np.arange(8, dtype=np.int32).reshape(2, 4)
    lines = _lines(capfd, print_in_a_loop, (3, 2), x, target="accel", M=2, N=4)
    want = []
    for y in range(2):
        for p in range(3):
            head = f"pid ({p}, {y}, 0)"
            v = x.copy()
            for i in range(3):
                v = v * 2
                if i != 1:
                    for e, s in enumerate(v.sum(1)):
                        want += [f"{head} idx ({e}) it (operand 0) {i}"]
                        want += [f"{head} idx ({e}) it (operand 1) {s}"]
            want += [f"{head} idx ({a}, {b}) x {v[a, b]}" for a in range(2) for b in range(4)]
    assert lines == want


def test_a_print_of_a_block_of_64_bit_integers_is_a_compile_error():
    @jl.jit
    def k(x_ptr):
        tl.device_print("x", tl.load(x_ptr + tl.arange(0, 4)))

    with pytest.raises(jl.CompilationError) as e:
        k[(1,)](np.zeros(4, np.int64), target="accel")
    assert "test_accel_print.py:" in str(e.value) and "int64" in str(e.value)


@jl.jit
def print_many(x_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    for i in range(10):
        tl.device_print("x", x + i)


def test_records_past_the_log_are_dropped_with_a_warning(capfd, monkeypatch):
    import codegen.accel.debug as D

    monkeypatch.setattr(D, "LOG_BYTES", 4 * (4 + 32) * 3 + 8)  # room for three records
    print_many.cache.clear()
    x = np.arange(32, dtype=np.int32)
    capfd.readouterr()
    with pytest.warns(RuntimeWarning, match="records were dropped"):
        print_many[(1,)](x, N=32, target="accel")
    lines = capfd.readouterr().out.splitlines()
    assert len(lines) == 3 * 32
    assert lines[-1] == "pid (0, 0, 0) idx (31) x 33"
    print_many.cache.clear()
