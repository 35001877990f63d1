"""benchmarks/bench_accel.py: one case measured on both generations (small shape)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_accel.py"
_spec = importlib.util.spec_from_file_location("bench_accel", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_a_case_on_two_generations():
    r = bench.measure(lambda: bench.matmul_plain(512, "bf16"), ["nc-v2", "nc-v3"])
    assert r["compile_s"] >= 0
    v2, v3 = r["configs"]["nc-v2"], r["configs"]["nc-v3"]
    for row in (v2, v3):
        assert row["time_us"] > 0 and 0 < row["pe_util"] <= 1 and 0 < row["dma_bw_util"] <= 1
        assert row["bound"] in ("compute", "memory") and row["emulate_and_model_s"] > 0
    assert v2["time_us"] != v3["time_us"]


def test_the_case_list_covers_the_issue():
    names = list(bench.cases(full=True))
    for what in ("vector_add", "softmax", "layer_norm", "attention", "4096^3 bf16", "512^3 fp32"):
        assert any(what in n for n in names), what
