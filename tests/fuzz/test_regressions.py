"""Every bug the fuzzer found and that is fixed: its shrunk reproducer must now pass.

The reproducers live in `tests/fuzz/repro/` as plain files (`python FILE` runs one); the ones for
bugs not fixed yet are listed in `jitlang.fuzz.known.KNOWN` and are not run here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPRO = Path(__file__).parent / "repro"

# file -> the bug it caught (fixed)
FIXED = {
    "interp_int64_div_min.py": "interpreter: INT64_MIN // 2 came out positive (|INT64_MIN|)",
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_reproducer_passes(name):
    spec = importlib.util.spec_from_file_location(f"repro_{Path(name).stem}", REPRO / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.check()
    assert out.status == "pass", f"{FIXED[name]}\n{out.signature}\n{out.message}"
