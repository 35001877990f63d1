"""Differential fuzzing in the suite: generated kernels on interpret, cpu and accel agree.

A few hundred kernels from fixed seeds (`jitlang.fuzz.generate`), each run by one worker process
on every target and compared with `jitlang.testing`'s tolerance rules. A target is dropped from a
case only for a documented reason: a documented limit the target reports as a compile error
(`UnsupportedOnAccelError`, `TargetLimitError`), or a known difference listed in
`jitlang.fuzz.known.KNOWN` with its reproducer. `python -m jitlang.fuzz` is the long mode.
"""

from __future__ import annotations

import pytest

from jitlang.fuzz import Runner, generate
from jitlang.fuzz.known import excluded_targets

TARGETS = ("interpret", "cpu", "accel")
SEEDS = range(20261202, 20261202 + 280)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    with Runner(TARGETS, tmp_path_factory.mktemp("fuzz"), timeout=120) as r:
        yield r


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_kernel_agrees_on_all_targets(runner, seed):
    case = generate(seed)
    skip = excluded_targets(case, TARGETS)
    outcome = runner.run(case, tuple(t for t in TARGETS if t not in skip))
    assert outcome.status == "pass", (
        f"seed {seed} ({case.family}): {outcome.signature}\n{outcome.message}\n\n{case.source}\n"
        f"shrink it: python -m jitlang.fuzz --count 1 --seed {seed}"
    )
