"""JITLANG_BOUNDS_CHECK=1: out-of-bounds loads, stores and atomics are caught, never executed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import numpy as np, jitlang as jl, jitlang.language as tl

    @jl.jit
    def unmasked(x_ptr, o_ptr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(o_ptr + offs, tl.load(x_ptr + offs) + 1)

    @jl.jit
    def masked(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(o_ptr + offs, tl.load(x_ptr + offs, mask=m) * 2, mask=m)

    @jl.jit
    def gather_store(x_ptr, idx_ptr, o_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(o_ptr + tl.load(idx_ptr + offs), tl.load(x_ptr + offs))

    @jl.jit
    def atomic(c_ptr, k):
        tl.atomic_add(c_ptr + k, 1)

    @jl.jit
    def loop_ptr(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
        p = x_ptr + tl.arange(0, BLOCK)
        acc = tl.zeros((BLOCK,), tl.float32)
        for i in range(n):
            acc += tl.load(p)
            p += BLOCK
        tl.store(o_ptr + tl.arange(0, BLOCK), acc)

    def expect(fn, *words):
        try:
            fn()
        except jl.OutOfBoundsError as e:
            msg = str(e)
            for w in words:
                assert w in msg, (w, msg)
            print("caught", msg)
            return
        raise SystemExit("no OutOfBoundsError")

    x = np.arange(100, dtype=np.float32)
    o = np.zeros(100, np.float32)
    expect(lambda: unmasked[(2,)](x, o, BLOCK=64), "load through 'x_ptr'", "k.py:7:", "byte offset 400 of its 400")
    assert (o[:64] == x[:64] + 1).all() and (o[64:] == x[64:] + 1).all()  # in-bounds lanes ran
    masked[(2,)](x, o, 100, BLOCK=64)  # the mask keeps it in bounds: no error
    assert (o == 2 * x).all()
    idx = np.arange(16, dtype=np.int32); idx[5] = 1000
    expect(lambda: gather_store[(1,)](x, idx, o, BLOCK=16), "store through 'o_ptr'", "element 5")
    c = np.zeros(4, np.int32)
    atomic[(1,)](c, 3)
    expect(lambda: atomic[(1,)](c, 4), "atomic through 'c_ptr'")
    assert c.tolist() == [0, 0, 0, 1]
    loop_ptr[(1,)](x, o, 6, BLOCK=16)  # 96 elements: fine
    expect(lambda: loop_ptr[(1,)](x, o, 7, BLOCK=16), "load through 'x_ptr'")
    print("ok")
    """
)


def test_bounds_check(tmp_path):
    script = tmp_path / "k.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, JITLANG_BOUNDS_CHECK="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("ok")
    assert r.stdout.count("caught") == 4
