"""Known differences of the targets: generator features a target is known to get wrong.

Stage: test tooling. Each entry names the target, the generator feature (`Case.features`), why,
and the reproducer under `tests/fuzz/repro/` that shows it. Until the bug is fixed, cases using
the feature run without that target (the runner counts them). Remove an entry with its fix.
"""

from __future__ import annotations

from .gen import Case

# (target, feature) -> reason with the reproducer's path
KNOWN: dict[tuple[str, str], str] = {
    # a running product that reached +-inf and then meets 0 must be NaN (IEEE inf * 0); the
    # accelerator gives -0.0 (its scan reassociates the products)
    ("accel", "cumprod"): "cumprod of inf then 0 (tests/fuzz/repro/accel_cumprod_inf_zero.py)",
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
