"""The kernel generator: deterministic, valid Python, and covering what the issue lists."""

from __future__ import annotations

import ast
import collections

import numpy as np

from jitlang.fuzz import generate
from jitlang.fuzz.execute import launch_args
from jitlang.fuzz.families import FAMILIES
from jitlang.fuzz.gen import _promote
from jitlang.fuzz.inputs import decode, encode, make_array


def test_same_seed_same_case():
    for seed in (0, 7, 123456):
        a, b = generate(seed), generate(seed)
        assert a.to_json() == b.to_json()
    assert generate(1).source != generate(2).source


def test_cases_parse_and_cover_the_language():
    seen = collections.Counter()
    features: set[str] = set()
    for seed in range(600):
        case = generate(seed)
        ast.parse(case.source)
        seen[case.family] += 1
        features |= case.features
    assert set(seen) == set(FAMILIES)
    text = " ".join(generate(s).source for s in range(600))
    for word in ["tl.dot(", "acc = tl.dot(", "tl.sort(", "tl.cumsum(", "tl.cumprod(",
                 "tl.argmax(", "tl.argmin(", "tl.sum(", "tl.max(", "tl.trans(", "tl.permute(",
                 "tl.reshape(", "tl.where(", "tl.broadcast_to(", "while ", "for ", "if ",
                 "tl.static_range(", "helper_", "tl.atomic_add(", "tl.atomic_cas(", "tl.rand(",
                 "tl.randint(", "tl.exp(", "tl.erf(", " // ", " % ", " << ", " >> ", ".to(tl.",
                 "tl.float16", "tl.bfloat16", "tl.float64", "tl.uint64", "tl.int8", "mask="]:  # fmt: skip
        assert word in text, word
    for f in ["dot_int8", "dot_float16", "dot_bfloat16", "dot_float32", "dot_acc", "scan"]:
        assert f in features, f


def test_sizes_partial_and_all_false_blocks():
    partial = extra = exact = 0
    for seed in range(300):
        case = generate(seed, family="elementwise")
        n = next(a["value"] for a in case.args if a["name"] == "n")
        block = case.constexprs["BLOCK"]
        partial += n % block != 0
        exact += n % block == 0
        extra += case.grid[0] * block - n >= block  # a program whose mask is all false
    assert partial and exact and extra


def test_inputs_hold_the_edge_values():
    a = make_array("float32", (4000,), seed=3, edge_rate=0.3)
    assert np.isnan(a).any() and np.isposinf(a).any() and np.isneginf(a).any()
    assert (np.signbit(a) & (a == 0)).any()  # -0.0
    assert ((a != 0) & (np.abs(a) < np.finfo(np.float32).tiny)).any()  # subnormals
    assert (a == np.finfo(np.float32).max).any()
    i = make_array("int32", (4000,), seed=3, edge_rate=0.3)
    assert (i == np.iinfo(np.int32).min).any() and (i == np.iinfo(np.int32).max).any()
    calm = make_array("float32", (4000,), seed=3, edge_rate=0.3, huge=False)
    assert not (np.abs(calm[np.isfinite(calm)]) > 1e30).any()
    for dt in ("bfloat16", "float16", "uint64", "int1"):
        x = make_array(dt, (3, 5), seed=1)
        assert np.array_equal(decode(encode(x)).view(np.uint8), x.view(np.uint8))


def test_launch_args_follow_the_signature():
    case = generate(42)
    args = launch_args(case.args)
    fns = [n for n in ast.parse(case.source).body if isinstance(n, ast.FunctionDef)]
    params = next(f for f in fns if f.name == "kernel").args.args
    assert [p.arg for p in params] == [a["name"] for a in case.args]
    assert len(args) == len(params)


def test_promotion_rules():
    assert _promote("int8", "uint8") == "uint8"
    assert _promote("int32", "uint8") == "int32"
    assert _promote("float16", "bfloat16") == "float32"
    assert _promote("int64", "float16") == "float16"
    assert _promote("float64", "float32") == "float64"
    assert _promote("int8", "wint") == "int8" and _promote("int8", "wfloat") == "float32"
    assert _promote("float16", "wfloat") == "float16"


def test_numpy_references_are_checked(tmp_path):
    """Atomic and plain-dot cases carry a numpy reference; a wrong one is reported."""
    import importlib.util

    from jitlang.fuzz import execute

    case = next(c for c in (generate(s, family="atomic") for s in range(50)) if c.reference)
    path = tmp_path / "ref_case.py"
    path.write_text(case.source)
    spec = importlib.util.spec_from_file_location("ref_case", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    targets = ("interpret", "cpu")
    ok = execute(mod.kernel, case.args, case.grid, targets, reference=case.reference)
    assert ok.status == "pass", ok.message
    wrong = case.reference.replace(
        "    return res", "    res = {k: v + 1 for k, v in res.items()}\n    return res"
    )
    bad = execute(mod.kernel, case.args, case.grid, targets, reference=wrong)
    assert bad.signature.startswith("mismatch:numpy:"), bad.signature
    assert sum(bool(generate(s, family="dot").reference) for s in range(100)) > 20


def test_narrow_accumulator_dots_match_their_exact_reference_on_every_target(tmp_path):
    """Dot cases with a bf16/fp16 accumulator rounded per K block (accel step "narrow_acc"
    fuses its casts): inputs without edge values make each block's fp32 sum exact, so the
    interpreter, the CPU and the accelerator round the same values: bit for bit numpy's."""
    import importlib.util

    from jitlang.fuzz.execute import run_one

    narrow = [
        c
        for c in (generate(s, family="dot") for s in range(120))
        if ".to(tl.float32) + tl.dot(av, bv)" in c.source and c.reference
    ]
    assert len(narrow) >= 8
    assert any("tl.bfloat16)" in c.source for c in narrow)
    assert any("tl.float16)" in c.source for c in narrow)
    for i, case in enumerate(narrow[:3]):
        path = tmp_path / f"narrow_{i}.py"
        path.write_text(case.source)
        spec = importlib.util.spec_from_file_location(f"narrow_{i}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        names = [a["name"] for a in case.args]
        env = {"np": np}
        exec(case.reference, env)
        want = env["reference"](dict(zip(names, launch_args(case.args), strict=True)))
        ((name, expected),) = want.items()
        for target in ("interpret", "cpu", "accel"):
            args = launch_args(case.args)
            run_one(mod.kernel, case.grid, args, target)
            got = args[names.index(name)]
            assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), target
