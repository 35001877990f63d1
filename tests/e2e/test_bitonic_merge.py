"""tl.bitonic_merge against a numpy model of Triton's network (standard.py): log2(N) rounds of
compare-and-swap along the last dimension at distances N/2 ... 1, where each pair (lo, hi)
becomes lo' = hi if (lo > hi) != flip else lo, hi' = lo if (hi > lo) == flip else hi (flip is
`descending`, or the row's parity for descending=2). On bitonic rows that is a sort; on others
(and with NaNs) the model pins the network's exact output."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError


def merge_model(x: np.ndarray, order: int) -> np.ndarray:
    n = x.shape[-1]
    rows = x.reshape(-1, n).copy()
    flip = np.zeros((rows.shape[0], 1), bool)
    if order == 1:
        flip[:] = True
    elif order == 2:
        flip = (np.arange(rows.shape[0]) % 2 == 1)[:, None]
    d = n // 2
    while d >= 1:
        y = rows.reshape(rows.shape[0], n // (2 * d), 2, d)
        lo, hi = y[:, :, 0, :].copy(), y[:, :, 1, :].copy()
        f = flip[:, :, None]
        with np.errstate(invalid="ignore"):
            new_lo = np.where((lo > hi) != f, hi, lo)
            new_hi = np.where((hi > lo) != f, hi, lo)
        y[:, :, 0, :], y[:, :, 1, :] = new_lo, new_hi
        rows = y.reshape(rows.shape[0], n)
        d //= 2
    return rows.reshape(x.shape)


@jl.jit
def merge_1d(x_ptr, o_ptr, N: tl.constexpr, DESC: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(o_ptr + offs, tl.bitonic_merge(tl.load(x_ptr + offs), descending=DESC))


@jl.jit
def merge_2d(x_ptr, o_ptr, R: tl.constexpr, N: tl.constexpr, DESC: tl.constexpr):
    offs = tl.arange(0, R)[:, None] * N + tl.arange(0, N)[None, :]
    tl.store(o_ptr + offs, tl.bitonic_merge(tl.load(x_ptr + offs), dim=1, descending=DESC))


@jl.jit
def merge_3d(x_ptr, o_ptr, A: tl.constexpr, R: tl.constexpr, N: tl.constexpr,
             DESC: tl.constexpr):  # fmt: skip
    offs = (tl.arange(0, A)[:, None, None] * (R * N) + tl.arange(0, R)[None, :, None] * N
            + tl.arange(0, N)[None, None, :])  # fmt: skip
    tl.store(o_ptr + offs, tl.bitonic_merge(tl.load(x_ptr + offs), -1, DESC))


def _bitonic_rows(rng, shape, dtype):
    """Rows that rise then fall (rotated), i.e. bitonic sequences."""
    n = shape[-1]
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(dtype)
    x = np.sort(x, axis=-1)
    x = np.concatenate([x[..., 0::2], x[..., 1::2][..., ::-1]], axis=-1)
    return np.roll(x, rng.integers(n), axis=-1)


def _run(kernel, x, order, target, *consts):
    out = np.empty_like(x)
    kernel[(1,)](x, out, *consts, DESC=order, target=target)
    return out


TARGETS = ["cpu", "accel"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("order", [0, 1, False, True])
@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_bitonic_rows_come_out_sorted(target, order, n):
    rng = np.random.default_rng(n)
    x = _bitonic_rows(rng, (n,), np.float32)
    out = _run(merge_1d, x, order, target, n)
    want = np.sort(x)[::-1] if order else np.sort(x)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(out, merge_model(x, int(order)))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.int16, np.float16])
@pytest.mark.parametrize("order", [0, 1, 2])
def test_any_rows_follow_the_network_2d(target, dtype, order):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 200, size=(8, 32)).astype(dtype)  # not bitonic, with ties
    out = _run(merge_2d, x, order, target, 8, 32)
    np.testing.assert_array_equal(out, merge_model(x, order))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("order", [0, 1, 2])
def test_three_dimensional_block_merges_every_row(target, order):
    rng = np.random.default_rng(3)
    x = _bitonic_rows(rng, (2, 4, 16), np.float32)
    out = _run(merge_3d, x, order, target, 2, 4, 16)
    ref = merge_model(x, order)
    np.testing.assert_array_equal(out, ref)
    s = np.sort(x, axis=-1)
    want = {0: s, 1: s[..., ::-1]}.get(order)
    if want is None:  # alternating: even rows (flattened) ascend, odd rows descend
        flat = s.reshape(-1, 16).copy()
        flat[1::2] = flat[1::2, ::-1]
        want = flat.reshape(x.shape)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("target", TARGETS)
def test_nan_follows_the_network(target):
    x = np.array([1, np.nan, 5, 3, 2, 9, np.nan, 0], np.float32)
    out = _run(merge_1d, x, 0, target, 8)
    np.testing.assert_array_equal(out, merge_model(x, 0))  # NaN-aware equality


def test_bitonic_merge_helps_build_a_sort():
    """A full bitonic sort written with tl.bitonic_merge (alternating stages, as Triton's
    sort_impl does) sorts random rows."""

    @jl.jit
    def sort_rows(x_ptr, o_ptr, R: tl.constexpr, N: tl.constexpr, LOG: tl.constexpr):
        offs = tl.arange(0, R)[:, None] * N + tl.arange(0, N)[None, :]
        x = tl.load(x_ptr + offs)
        for s in tl.static_range(1, LOG):
            k = 2**s
            x = tl.reshape(tl.bitonic_merge(tl.reshape(x, [R * N // k, k]), descending=2), [R, N])
        tl.store(o_ptr + offs, tl.bitonic_merge(x))

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    for target in TARGETS:
        out = np.empty_like(x)
        sort_rows[(1,)](x, out, 4, 64, 6, target=target)
        np.testing.assert_array_equal(out, np.sort(x, axis=-1))


@pytest.mark.parametrize(
    "body, match",
    [
        ("tl.bitonic_merge(x[None, :], dim=0)", "only the minor dimension"),
        ("tl.bitonic_merge(x, descending=3)", "descending must be"),
        ("tl.bitonic_merge(x[:, None], descending=2)", None),
        ("tl.bitonic_merge(x, descending=2)", "single row"),
        ("tl.bitonic_merge(tl.reshape(x, [2, 6]))", "power-of-two"),
    ],
)
def test_bad_uses_are_errors_at_the_line(tmp_path, body, match):
    src = textwrap.dedent(
        f"""
        import jitlang as jl
        import jitlang.language as tl

        @jl.jit
        def k(x_ptr, o_ptr):
            x = tl.load(x_ptr + tl.arange(0, 12 if {"reshape" in body} else 8))
            y = {body}
            tl.store(o_ptr + tl.arange(0, 8), tl.sum(tl.reshape(y, [y.numel]) * 0, 0) + 1.0)
        """
    )
    path = tmp_path / "bm_kernel.py"
    path.write_text(src)
    sys.path.insert(0, str(tmp_path))
    try:
        import importlib

        mod = importlib.import_module("bm_kernel")
        importlib.reload(mod)
        x = np.zeros(16, np.float32)
        if match is None:  # a [8, 1] block: every row is one element, nothing to do
            mod.k[(1,)](x, np.empty(8, np.float32))
            return
        with pytest.raises(CompilationError, match=match) as e:
            mod.k[(1,)](x, np.empty(8, np.float32))
        assert "bm_kernel.py:8:" in str(e.value) and "^" in str(e.value)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("bm_kernel", None)


def test_bitonic_merge_on_the_interpreter(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import numpy as np
            from test_bitonic_merge import _run, merge_2d, merge_model
            rng = np.random.default_rng(1)
            for dtype in (np.float32, np.int32):
                x = rng.integers(0, 50, size=(4, 16)).astype(dtype)
                for order in (0, 1, 2):
                    out = _run(merge_2d, x, order, "cpu", 4, 16)
                    np.testing.assert_array_equal(out, merge_model(x, order))
            print("ok")
            """
        )
    )
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr
