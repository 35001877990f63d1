"""Tutorial 05's layer norm forward on a persistent grid (`layer_norm_persistent`: the body inside
`for row in range(pid, n_rows, num_programs)`) against numpy, against the one-row-per-program
kernel, and against the accelerator. Ragged rows and columns, several grid sizes (a program with
no row, one with many), streamed and cached stores (the launch's streaming threshold forced to 0
or never). The file runs again under a forced AVX2 target (`JITLANG_CPU=x86-64-v3`)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from jitlang.testing import cross_check
from tests.e2e.tutorial_kernels import layer_norm_fwd, layer_norm_persistent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NEVER = 1 << 62


def _data(M: int, N: int, seed: int, stride: int | None = None):
    rng = np.random.default_rng(seed)
    stride = stride or N
    x = rng.standard_normal((M, stride), dtype=np.float32) * 3 + 1
    w = rng.standard_normal(N, dtype=np.float32)
    b = rng.standard_normal(N, dtype=np.float32)
    return x, w, b


def _reference(x, w, b, N: int, eps: float):
    x = x[:, :N].astype(np.float64)
    mean = x.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + eps)
    return (x - mean) * rstd * w + b, mean[:, 0], rstd[:, 0]


def _outputs(M: int, stride: int):
    y = np.full((M, stride), -3.0, np.float32)  # columns past N must stay as they are
    return y, np.full(M, np.nan, np.float32), np.full(M, np.nan, np.float32)


@pytest.mark.parametrize(
    "M,N,block,programs",
    [
        (1537, 1000, 1024, 8),  # ragged rows and columns, the bench's grid
        (1537, 1000, 1024, 3),
        (5, 1000, 1024, 8),  # programs without a row
        (203, 1028, 1024, 8),  # a whole block then 4 columns; rows start at 4 line offsets
        (150, 1031, 512, 5),  # two whole blocks, rows at 16 line offsets
        (37, 3000, 1024, 4),  # three column blocks per row, the last one partial
        (64, 1024, 256, 64),  # four whole column blocks, one row per program
        (3, 10, 16, 2),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_persistent_layer_norm_matches_numpy_and_one_row(M, N, block, programs, streamed):
    x, w, b = _data(M, N, seed=M + N)
    eps = 1e-5
    y, mean, rstd = _outputs(M, N)
    k = layer_norm_persistent[(programs,)](x, y, w, b, mean, rstd, M, N, N, eps, BLOCK_SIZE=block)
    k.native.set_stream_bytes(0 if streamed else NEVER)
    if streamed and block * 4 >= 512 and platform.machine().lower() in ("x86_64", "amd64"):
        assert "!nontemporal" in k.asm["llir"]
    y[...] = -3.0
    layer_norm_persistent[(programs,)](x, y, w, b, mean, rstd, M, N, N, eps, BLOCK_SIZE=block)
    ry, rmean, rrstd = _reference(x, w, b, N, eps)
    np.testing.assert_allclose(y, ry, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, rmean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-4)
    # the one-row kernel computes each row the same way, in the same order
    y1, mean1, rstd1 = _outputs(M, N)
    layer_norm_fwd[(M,)](x, y1, w, b, mean1, rstd1, N, N, eps, BLOCK_SIZE=block)
    np.testing.assert_array_equal(y, y1)
    np.testing.assert_array_equal(mean, mean1)
    np.testing.assert_array_equal(rstd, rstd1)


def test_row_stride_wider_than_the_row_leaves_the_gap_alone():
    M, N, stride = 300, 1000, 1040
    x, w, b = _data(M, N, seed=5, stride=stride)
    y, mean, rstd = _outputs(M, stride)
    k = layer_norm_persistent[(8,)](x, y, w, b, mean, rstd, M, stride, N, 1e-5, BLOCK_SIZE=1024)
    k.native.set_stream_bytes(0)
    y[...] = -3.0
    layer_norm_persistent[(8,)](x, y, w, b, mean, rstd, M, stride, N, 1e-5, BLOCK_SIZE=1024)
    ry, rmean, _ = _reference(x, w, b, N, 1e-5)
    np.testing.assert_allclose(y[:, :N], ry, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, rmean, rtol=1e-5, atol=1e-6)
    assert (y[:, N:] == -3.0).all()


@pytest.mark.skipif(bool(os.environ.get("JITLANG_CPU")), reason="the accelerator run is once")
def test_persistent_layer_norm_cpu_and_accel_agree():
    M, N = 19, 200
    x, w, b = _data(M, N, seed=9)
    y, mean, rstd = _outputs(M, N)
    report = cross_check(
        layer_norm_persistent, (4,), x, y, w, b, mean, rstd, M, N, N, 1e-5, BLOCK_SIZE=256
    )
    assert report is not None
    ry, _, _ = _reference(x, w, b, N, 1e-5)
    np.testing.assert_allclose(y, ry, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(bool(os.environ.get("JITLANG_CPU")), reason="already under a forced CPU")
def test_this_file_under_forced_avx2(tmp_path):
    env = dict(os.environ, JITLANG_CPU="x86-64-v3", JITLANG_CACHE_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
