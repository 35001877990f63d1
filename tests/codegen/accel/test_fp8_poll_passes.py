"""The accelerator's tile-IR rewrites of issue 12 on printed IR: passes/accel_fp8 (fp8 formats the
machine lacks) and passes/accel_poll (tl.atomic_poll as a loop of loads)."""

from __future__ import annotations

import ml_dtypes
import numpy as np

import jitlang as jl
import jitlang.language as tl
from isa.machine import get_config
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import AtomicKind, OpKind, walk
from jitlang.passes.accel_fp8 import emulate_fp8, needs_emulation
from jitlang.passes.accel_poll import GUARD_LOADS, has_polls, lower_polls, poll_load_ns
from jitlang.printer import print_function
from jitlang.verifier import verify
from tests.irutil import kernel_ir


def _ir(jf, *args, **kwargs):
    return optimize_tile_ir(kernel_ir(jf, *args, **kwargs), CompileOptions(target="accel"))


@jl.jit
def scale(x_ptr, y_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.load(x_ptr + o) * 2)


def test_emulated_fp8_leaves_no_fp8_value_and_verifies():
    x = np.zeros(64, ml_dtypes.float8_e4m3fnuz)
    fn = _ir(scale, x, x, BLOCK=64)
    before = print_function(fn)
    assert needs_emulation(fn) and "fp8e4b8" in before
    out = verify(emulate_fp8(fn))
    text = print_function(out)
    # the parameters keep their types (the launcher binds by them); the body has none left
    assert "fp8e4b8" not in text.split("\n", 1)[1] and print_function(fn) == before
    # codes move as uint8; the values go through the machine's e4m3fn tile (x2 / x0.5)
    assert "load %" in text and "block<64xuint8>" in text and "fp8e4nv" in text
    assert verify(optimize_tile_ir(out, CompileOptions(target="accel"))) is not None


def test_native_fp8_needs_no_rewrite():
    x = np.zeros(64, ml_dtypes.float8_e4m3fn)
    fn = _ir(scale, x, x, BLOCK=64)
    assert not needs_emulation(fn) and emulate_fp8(fn) is fn


@jl.jit
def poll(flag, out, N: tl.constexpr, T: tl.constexpr):
    o = tl.arange(0, N)
    tl.store(out + o, tl.atomic_poll(flag + o, 3, timeout_ns=T).to(tl.int32))


def test_poll_becomes_a_while_of_volatile_loads():
    fn = _ir(poll, np.zeros(8, np.int32), np.zeros(8, np.int32), N=8, T=None)
    assert has_polls(fn)
    out = verify(lower_polls(fn, 300.0))
    kinds = [op.kind for op in walk(out.body)]
    assert not any(
        op.kind is OpKind.ATOMIC and op.attr.kind is AtomicKind.POLL for op in walk(out.body)
    )
    assert OpKind.WHILE in kinds and OpKind.ASSERT in kinds
    text = print_function(out)
    assert "volatile=True" in text and f"constant {GUARD_LOADS} : int64" in text
    assert "constant 300 : int64" in text  # the load's time bound, in ns


def test_poll_load_time_bound_below_the_modelled_iteration():
    # the bound only counts the chain's certain parts (see accel_poll.poll_load_ns); the
    # modelled iteration of a 4-element poll is ~474 ns on nc-v2 (test_atomic_poll checks the
    # resulting timeouts against modelled time)
    for name in ("nc-v2", "nc-v3"):
        ns = poll_load_ns(get_config(name))
        assert 200 < ns < 474
