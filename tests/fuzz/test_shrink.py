"""The shrinker on a planted bug, and the reproducer files it writes.

The plant: the interpreter's integer remainder is made wrong for negative dividends. The first
generated elementwise kernel that trips over it is shrunk in-process (each candidate written to
a module file and run on the interpreter and the CPU); the result must keep the failure and be
much smaller. Reproducer files run with `python FILE` and exit 1 exactly while they reproduce.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import jitlang.interpreter as interp
from jitlang.fuzz import Case, execute, generate
from jitlang.fuzz.repro import write_reproducer
from jitlang.fuzz.shrink import Shrinker

TARGETS = ("interpret", "cpu")
REPRO = Path(__file__).parent / "repro"


def _statements(src: str) -> int:
    fn = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef))
    return sum(isinstance(n, ast.stmt) for n in ast.walk(fn)) - 1


class _InProcess:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp, self.n = tmp_path, 0

    def run(self, src: str, case: Case):
        self.n += 1
        name = f"shrink_{case.seed}_{self.n}"
        path = self.tmp / f"{name}.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
            return execute(mod.kernel, case.args, case.grid, TARGETS)
        finally:
            sys.modules.pop(name, None)


@pytest.fixture
def planted(monkeypatch):
    real = interp._c_rem

    def bad_rem(a, b, dt):
        r = real(a, b, dt)
        return r if dt.is_float else (r + (a < 0)).astype(r.dtype)

    monkeypatch.setattr(interp, "_c_rem", bad_rem)


def test_shrinker_finds_the_planted_bug(tmp_path, planted):
    runner = _InProcess(tmp_path)
    for seed in range(400):
        case = generate(seed, family="elementwise")
        if " % " not in case.source:
            continue
        outcome = runner.run(case.source, case)
        if outcome.signature.startswith("mismatch:"):
            break
    else:
        pytest.fail("no generated kernel reached the planted bug")
    sig = outcome.signature
    shrunk = Shrinker(lambda s: runner.run(s, case).signature == sig, budget=200).shrink(
        case.source
    )
    assert runner.run(shrunk, case).signature == sig
    assert " % " in shrunk  # the bug's operator survives ...
    assert _statements(shrunk) <= 6  # ... and little else
    assert _statements(shrunk) < _statements(case.source) and len(shrunk) < len(case.source)
    path = write_reproducer(tmp_path / "repro_planted.py", shrunk, case, TARGETS, outcome)
    # without the plant (a fresh process) the reproducer runs clean and says so
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("pass"), r.stdout + r.stderr


def test_a_live_reproducer_exits_1():
    """tests/fuzz/repro/accel_cumprod_inf_zero.py shows a known accelerator bug: it must still fail, with
    its signature (when it is fixed, move it to test_regressions.FIXED, drop the KNOWN entry and
    point this test at another live reproducer)."""
    path = REPRO / "accel_cumprod_inf_zero.py"
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("mismatch:accel:"), r.stdout


def test_shrinker_keeps_only_what_the_failure_needs():
    src = (
        "import jitlang as jl\nimport jitlang.language as tl\n\n\n@jl.jit\n"
        "def kernel(x_ptr, o_ptr, n, BLOCK: tl.constexpr):\n"
        "    offs = tl.arange(0, BLOCK)\n"
        "    a = tl.load(x_ptr + offs)\n"
        "    b = tl.exp(a) * 3.0 + a\n"
        "    for i in range(n):\n"
        "        b = b + tl.sqrt(a * 2.0)\n"
        "    c = tl.where(a > 0, b, a - 1.0)\n"
        "    tl.store(o_ptr + offs, c)\n"
    )
    # a pure predicate: the 'failure' is any use of tl.sqrt
    out = Shrinker(lambda s: "tl.sqrt" in s, budget=300).shrink(src)
    body = out.split("def kernel")[1]
    assert "tl.sqrt" in body and "tl.exp" not in body and "for " not in body
    assert _statements(out) == 1, out
