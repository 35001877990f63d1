"""The run-time-bound families (jitlang/fuzz/families_bounds.py): masks against scalar arguments
with an `if` yielding values, and persistent grids whose CPU launch is split by rounds or must
fall back. Generated kernels are valid and agree on every target; the CPU split is taken for
disjoint iterations and refused wherever the iterations of a program meet."""

from __future__ import annotations

import ast
import collections

import pytest

from jitlang.fuzz import Runner, generate
from jitlang.fuzz.families_bounds import PERSIST_KINDS, PERSIST_OVERLAP
from jitlang.fuzz.runner import split_targets

TARGETS = ("interpret", "cpu", "cpu_split", "accel")


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    with Runner(TARGETS, tmp_path_factory.mktemp("fuzz_bounds"), timeout=120) as r:
        yield r


def test_runtime_mask_cases_cover_bounds_and_ifs():
    bounds, feats = set(), set()
    for seed in range(300):
        case = generate(seed, family="runtime_mask")
        ast.parse(case.source)
        block = case.constexprs["BLOCK"]
        n = next(a["value"] for a in case.args if a["name"] == "N")
        bounds.add((n > block) - (n < block) if n > 0 else ("zero" if n == 0 else "negative"))
        feats |= case.features
        assert "if " in case.source and "mask=mask" in case.source
    assert bounds == {-1, 0, 1, "zero", "negative"}
    for f in ["mask_lt", "mask_le", "mask_gt", "mask_band", "if_scalar", "if_loaded",
              "if_reduced", "if_count", "if_scalar_result", "if_no_else"]:  # fmt: skip
        assert f in feats, f


def test_persistent_cases_cover_every_kind_and_small_grids():
    kinds = collections.Counter()
    for seed in range(300):
        case = generate(seed, family="persistent")
        ast.parse(case.source)
        assert 2 <= case.grid[0] <= 16 and "range(" in case.source
        assert split_targets(case, TARGETS) == TARGETS
        kinds.update(f.removeprefix("persist_") for f in case.features if f.startswith("persist_"))
    assert set(kinds) == set(PERSIST_KINDS)
    # the other families do not pay for a second CPU compile
    assert "cpu_split" not in split_targets(generate(1, family="elementwise"), TARGETS)


@pytest.mark.parametrize("seed", range(5000, 5030))
def test_runtime_mask_kernels_agree(runner, seed):
    case = generate(seed, family="runtime_mask")
    out = runner.run(case)
    assert out.status == "pass", f"{out.signature}\n{out.message}\n{case.source}"


def test_persistent_kernels_agree_and_split_only_disjoint_iterations(runner):
    ran = collections.Counter()
    for seed in range(6000, 6040):
        case = generate(seed, family="persistent")
        out = runner.run(case)
        assert out.status == "pass", f"{out.signature}\n{out.message}\n{case.source}"
        kind = next(f.removeprefix("persist_") for f in case.features if "persist_" in f)
        how = out.notes["cpu_split"].split()[0]
        if kind in PERSIST_OVERLAP:
            assert how == "programs", (kind, case.source)
        ran[how] += 1
    assert ran["rounds"] >= 5 and ran["programs"] >= 5, ran
