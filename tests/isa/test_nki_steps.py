"""benchmarks/nki_matmul_steps.py: its ISA mirrors and jitlang kernels compute the product (small
shape, numerically), and the mirrors' modelled times keep the published order."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from isa.machine import get_config
from isa.profile import Profile
from isa.runner import run

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "nki_matmul_steps.py"
_spec = importlib.util.spec_from_file_location("nki_matmul_steps", _PATH)
nki = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nki)

M, K, N = 512, 1024, 1024


def _inputs():
    rng = np.random.default_rng(0)
    lhsT = rng.standard_normal((K, M)).astype(ml_dtypes.bfloat16)
    rhs = rng.standard_normal((K, N)).astype(ml_dtypes.bfloat16)
    ref = lhsT.astype(np.float32).T @ rhs.astype(np.float32)
    return lhsT, rhs, ref


def _close(out, ref):
    np.testing.assert_allclose(out.astype(np.float32), ref, rtol=2e-2, atol=0.3)


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_isa_mirror_computes_the_product(step):
    lhsT, rhs, ref = _inputs()
    out = np.zeros((M, N), ml_dtypes.bfloat16)
    res = run(nki.ISA_STEPS[step](M, K, N), [lhsT, rhs, out], record=True)
    _close(out, ref)
    tim = run(nki.ISA_STEPS[step](M, K, N), [lhsT, rhs, out], record=True, timing_only=True)
    assert len(tim.records) == len(res.records)


def test_isa_mirrors_keep_the_published_order():
    times = []
    for step in (1, 2, 3, 4):
        res = run(
            nki.ISA_STEPS[step](M, K, N),
            [
                np.zeros((K, M), ml_dtypes.bfloat16),
                np.zeros((K, N), ml_dtypes.bfloat16),
                np.zeros((M, N), ml_dtypes.bfloat16),
            ],
            record=True,
            timing_only=True,
        )
        times.append(Profile.from_records(res.records, get_config("nc-v2")).time_ns)
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("step", [1, 4])
def test_jitlang_kernel_computes_the_product(step):
    lhsT, rhs, ref = _inputs()
    out = np.zeros((M, N), ml_dtypes.bfloat16)
    kernel, meta = nki.jitlang_launch(step, M, K, N)
    kernel[(1,)](lhsT, rhs, out, target="accel", **meta)
    _close(out, ref)
