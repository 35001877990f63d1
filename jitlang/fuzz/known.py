"""Known differences of the targets: generator features a target is known to get wrong.

Stage: test tooling. Each entry names the target, the generator feature (`Case.features`), why,
and the reproducer under `tests/fuzz/repro/` that shows it. Until the bug is fixed, cases using
the feature run without that target (the runner counts them). Remove an entry with its fix.
"""

from __future__ import annotations

from .gen import Case

# (target, feature) -> reason with the reproducer's path
KNOWN: dict[tuple[str, str], str] = {
    # floor/ceil(+-inf) give NaN on the accelerator (IEEE: +-inf)
    ("accel", "math_floor"): "floor(+-inf) is NaN (tests/fuzz/repro/accel_ceil_inf.py)",
    ("accel", "math_ceil"): "ceil(+-inf) is NaN (tests/fuzz/repro/accel_ceil_inf.py)",
    # rsqrt(-0.0) is +inf on the accelerator (IEEE: 1/sqrt(-0) = -inf)
    ("accel", "math_rsqrt"): "rsqrt(-0.0) is +inf (tests/fuzz/repro/accel_rsqrt_neg_zero.py)",
    # float atomic_max/min: inf and NaN operands give NaN where the interpreter and the CPU
    # give the IEEE maximum/minimum
    ("accel", "atomic_float_minmax"): (
        "float atomic_max(inf)/atomic_min(NaN) store NaN "
        "(tests/fuzz/repro/accel_atomic_max_float_inf.py, accel_atomic_min_float_nan.py)"
    ),
    # tl.max/tl.min of float blocks holding NaN: NaN on the accelerator; the interpreter and
    # the CPU skip NaN (maximum's default, propagate_nan=NONE)
    ("accel", "reduce_float_minmax"): (
        "tl.max/tl.min over NaN give NaN (tests/fuzz/repro/accel_max_reduce_nan.py)"
    ),
    # a running product that reached +-inf and then meets 0 must be NaN (IEEE inf * 0); the
    # accelerator gives -0.0
    ("accel", "cumprod"): "cumprod of inf then 0 (tests/fuzz/repro/accel_cumprod_inf_zero.py)",
    # sin(-0.0) is +0.0 on the accelerator (1 / sin(-0.0) is +inf; IEEE: -0.0 and -inf). The
    # accelerator drops the sign of zero in floor, ceil and sqrt too, but only a division by
    # the result shows it, and the comparison rules treat -0.0 == 0.0
    ("accel", "math_sin"): "sin(-0.0) is +0.0 (tests/fuzz/repro/accel_sin_neg_zero.py)",
    # transposes go through the tensor engine in fp32: 32-bit integers past 2**24 lose bits
    ("accel", "trans_wide_int"): (
        "trans/permute of int32 rounds to fp32 (tests/fuzz/repro/accel_trans_int32.py)"
    ),
}


def excluded_targets(case: Case, targets) -> dict[str, str]:
    """target -> reason for each of `targets` the case must not run on."""
    out = {}
    for t in targets:
        for f in sorted(case.features):
            why = KNOWN.get((t, f))
            if why is not None:
                out[t] = f"{f}: {why}"
                break
    return out
