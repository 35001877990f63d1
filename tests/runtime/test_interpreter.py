"""JITLANG_INTERPRET=1: the numpy tile-IR interpreter runs the tutorial kernels correctly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, {root!r})
    import jitlang as jl, jitlang.language as tl
    from tests.e2e.tutorial_kernels import (softmax_kernel, matmul_kernel, layer_norm_fwd,
        layer_norm_bwd_dx_fused, attn_fwd)

    rng = np.random.default_rng(0)
    # softmax
    x = rng.standard_normal((5, 37), dtype=np.float32); y = np.empty_like(x)
    k = softmax_kernel[(3,)](y, x, 37, 37, 5, 37, BLOCK_SIZE=64)
    assert k.metadata.get("interpreted"), "not interpreted"
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    # matmul (fp16 in, fp32 acc, fp16 out), odd sizes and % M indexing
    a = rng.standard_normal((20, 24)).astype(np.float16); b = rng.standard_normal((24, 18)).astype(np.float16)
    c = np.empty((20, 18), np.float16)
    matmul_kernel[(jl.cdiv(20, 16) * jl.cdiv(18, 16),)](a, b, c, 20, 18, 24, 24, 1, 18, 1, 18, 1,
        BLOCK_SIZE_M=16, BLOCK_SIZE_N=16, BLOCK_SIZE_K=8, GROUP_SIZE_M=2, ACTIVATION="leaky_relu")
    ref = a.astype(np.float32) @ b.astype(np.float32); ref = np.where(ref >= 0, ref, 0.01 * ref)
    np.testing.assert_allclose(c.astype(np.float32), ref, rtol=2e-2, atol=2e-2)
    # layer norm forward
    x = rng.standard_normal((3, 50), dtype=np.float32); y = np.empty_like(x)
    w = rng.standard_normal(50, dtype=np.float32); bb = rng.standard_normal(50, dtype=np.float32)
    mean = np.empty(3, np.float32); rstd = np.empty(3, np.float32)
    layer_norm_fwd[(3,)](x, y, w, bb, mean, rstd, 50, 50, 1e-5, BLOCK_SIZE=16)
    m = x.mean(1, keepdims=True); v = ((x - m) ** 2).mean(1, keepdims=True)
    np.testing.assert_allclose(y, (x - m) / np.sqrt(v + 1e-5) * w + bb, rtol=1e-4, atol=1e-4)
    # layer norm backward: spin lock with atomics and a while loop
    dy = rng.standard_normal((3, 50), dtype=np.float32); dx = np.empty_like(x)
    locks = np.zeros(4, np.int32); dw = np.zeros((2, 50), np.float32); db = np.zeros((2, 50), np.float32)
    layer_norm_bwd_dx_fused[(3,)](dx, dy, dw, db, x, w, mean, rstd, locks, 50, 50,
                                  GROUP_SIZE_M=2, BLOCK_SIZE_N=64)
    np.testing.assert_allclose(db.sum(0), dy.sum(0), rtol=1e-4, atol=1e-4)
    assert (locks[:2] == 0).all()
    # attention
    q = rng.standard_normal((1, 20, 16)).astype(np.float32); kk = rng.standard_normal((1, 20, 16)).astype(np.float32)
    vv = rng.standard_normal((1, 20, 16)).astype(np.float32); o = np.empty_like(q)
    attn_fwd[(2, 1)](q, kk, vv, 0.5, o, 16, 16, 16, 16, 20, HEAD_DIM=16, BLOCK_M=16, BLOCK_N=8)
    s = q @ kk.transpose(0, 2, 1) * 0.5; p = np.exp(s - s.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(o, p @ vv, rtol=1e-4, atol=1e-4)

    # C semantics the interpreter defines: truncating division, division by zero, saturation
    @jl.jit
    def semantics(x_ptr, y_ptr, o_ptr, f_ptr, N: tl.constexpr):
        offs = tl.arange(0, N)
        x = tl.load(x_ptr + offs)
        yv = tl.load(y_ptr + offs)
        tl.store(o_ptr + offs, x // yv)
        tl.store(o_ptr + N + offs, x % yv)
        tl.store(o_ptr + 2 * N + offs, tl.load(f_ptr + offs).to(tl.int32))
        tl.store(o_ptr + 3 * N + offs, tl.cumsum(x, 0))
    xi = np.array([7, -7, 7, -7, 5, 0, -2147483648, 3], np.int32)
    yi = np.array([2, 2, -2, -2, 0, 3, -1, 1], np.int32)
    fi = np.array([1.5, -1.5, np.nan, 1e20, -1e20, 2.9, -0.0, 3.0], np.float32)
    oi = np.zeros(32, np.int32)
    semantics[(1,)](xi, yi, oi, fi, N=8)
    assert oi[:8].tolist() == [3, -3, -3, 3, 0, 0, -2147483648, 3], oi[:8]
    assert oi[8:16].tolist() == [1, -1, 1, -1, 0, 0, 0, 0], oi[8:16]
    assert oi[16:24].tolist() == [1, -1, 0, 2147483647, -2147483648, 2, 0, 3], oi[16:24]
    assert oi[24:].tolist() == np.cumsum(xi.astype(np.int64)).astype(np.int32).tolist()

    # out of bounds is an error at the source line
    @jl.jit
    def oob(x_ptr, o_ptr):
        tl.store(o_ptr + tl.arange(0, 16), tl.load(x_ptr + tl.arange(0, 16)))
    try:
        oob[(1,)](np.zeros(8, np.float32), np.zeros(16, np.float32))
    except Exception as e:
        assert "out-of-bounds load" in str(e) and "k.py" in str(e), e
    else:
        raise SystemExit("no error")

    # a failed device_assert raises the same error class as on the CPU and the accelerator
    @jl.jit
    def positive(x_ptr):
        tl.device_assert(tl.load(x_ptr) > 0, "positive")
    try:
        positive[(1,)](np.zeros(1, np.float32))
    except jl.DeviceAssertionError as e:
        assert "positive" in str(e) and "k.py" in str(e), e
    else:
        raise SystemExit("no assertion error")
    print("ok")
    """
)


def test_interpreter_runs_the_tutorials(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "k.py"
    script.write_text(SCRIPT.format(root=root))
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")
