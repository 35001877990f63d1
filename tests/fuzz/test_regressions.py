"""Every bug the fuzzer found and that is fixed: its shrunk reproducer must now pass.

The reproducers live in `tests/fuzz/repro/` as plain files (`python FILE` runs one); the ones for
bugs not fixed yet are listed in `jitlang.fuzz.known.KNOWN` and are not run here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPRO = Path(__file__).parent / "repro"

# file -> the bug it caught (fixed)
FIXED = {
    "interp_int64_div_min.py": "interpreter: INT64_MIN // 2 came out positive (|INT64_MIN|)",
    "cpu_div_by_uniform_subnormal.py": "cpu: x / d for a uniform subnormal d went through "
    "1 / d = inf (x / x gave inf)",
    "cse_negative_zero.py": "CSE merged the constant -0.0 into 0.0 (rsqrt(-0.0) gave +inf)",
    "cse_negative_zero_div.py": "CSE merged -0.0 into 0.0 (x / -0.0 gave +inf)",
    "cpu_sort_nan.py": "cpu: tl.sort compared with an ordered >, so a row with NaN came out "
    "unsorted",
    "accel_rsqrt_neg_zero.py": "accel: rsqrt(-0.0) was +inf",
    "accel_rsqrt_neg_zero_block.py": "accel: rsqrt(-0.0) over a block was +inf",
    "accel_sin_neg_zero.py": "accel: sin(-0.0) was +0.0",
    "accel_atomic_max_float_inf.py": "accel: float atomic_max(inf) stored NaN",
    "accel_atomic_min_float_nan.py": "accel: float atomic_min(NaN) stored NaN",
    "accel_max_reduce_nan.py": "accel: tl.max over NaN gave NaN (Triton skips NaN)",
    "accel_trans_int32.py": "accel: trans of int32 went through fp32 (lost bits past 2**24)",
    "accel_ceil_inf.py": "accel: floor/ceil(+-inf) was NaN (fmod(inf, 1) is NaN)",
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_reproducer_passes(name):
    spec = importlib.util.spec_from_file_location(f"repro_{Path(name).stem}", REPRO / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.check()
    assert out.status == "pass", f"{FIXED[name]}\n{out.signature}\n{out.message}"


def test_cpu_division_by_uniform_scalar_full_range():
    """x / d for a scalar d over a block: within 2 ulp of IEEE division for every d, including
    subnormal, huge, zero, infinite and NaN divisors (the reciprocal is taken of a scaled d)."""
    import jitlang as jl
    import jitlang.language as tl

    @jl.jit
    def div(x_ptr, o_ptr, d, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(o_ptr + offs, tl.load(x_ptr + offs) / d)

    x = np.array([1e-40, 1.0, 3e38, -2.0, 0.0, np.inf, np.nan, 1e-45] * 2, np.float32)
    for d in [1e-40, -1e-45, 2e-38, 3e38, -1e37, 0.0, -0.0, np.inf, np.nan, 7.0]:
        o = np.zeros(16, np.float32)
        div[(1,)](x, o, d, BLOCK=16)
        with np.errstate(all="ignore"):
            ref = x / np.float32(d)
            close = np.abs(o - ref) <= 2 * np.spacing(np.abs(ref))
        ok = (o == ref) | (np.isnan(o) & np.isnan(ref)) | close
        assert ok.all(), (d, o, ref)


def test_cpu_sort_orders_nan_last_ascending_and_first_descending():
    import jitlang as jl
    import jitlang.language as tl

    @jl.jit
    def srt(x_ptr, a_ptr, d_ptr, N: tl.constexpr):
        o = tl.arange(0, N)
        x = tl.load(x_ptr + o)
        tl.store(a_ptr + o, tl.sort(x))
        tl.store(d_ptr + o, tl.sort(x, descending=True))

    rng = np.random.default_rng(5)
    x = rng.standard_normal(32).astype(np.float32)
    x[[3, 17, 30]] = np.nan
    x[5], x[9] = np.inf, -np.inf
    a = np.zeros(32, np.float32)
    d = np.zeros(32, np.float32)
    srt[(1,)](x, a, d, N=32)
    np.testing.assert_array_equal(a, np.sort(x))
    np.testing.assert_array_equal(d, np.sort(x)[::-1])
