# ruff: noqa
"""Fuzz reproducer: mismatch:cpu:o4_ptr (seed 100632, family block3d).

    cross_check: array 'o4_ptr' differs between targets 'interpret' and 'cpu' (float32; tolerance 64 ulp, atol=0.008 + rtol=0.008, or 0.016 x max |reference| = 0): 16 of 16 elements, first at index (0, 0, 0): np.float32(-inf) vs np.float32(inf) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, A: tl.constexpr, B: tl.constexpr, C: tl.constexpr, o4_ptr):
    ia = tl.arange(0, A)[:, None, None]
    ib = tl.arange(0, B)[None, :, None]
    ic = tl.arange(0, C)[None, None, :]
    offs = ia
    t0 = tl.load(x0_ptr + offs)
    t1 = t0 / t0
    t2 = tl.where(t1, t1, 0.0) / -0.0
    t3 = tl.trans(t2, 2, 1, 0)
    tl.store(o4_ptr + ic * 1 + ib * C + ia * (B * C), tl.trans(t3, 2, 1, 0))


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "bfloat16", "shape": [2, 2, 4], "huge": false, "data": {"dtype": "bfloat16", "shape": [2, 2, 4], "data": "eNoBIADf/7TAQMCgwEjArMAQwADAaEDgQGhAYL+8wOC/iMCwQJDAJVUSCw=="}}, {"kind": "constexpr", "name": "A", "value": 2}, {"kind": "constexpr", "name": "B", "value": 2}, {"kind": "constexpr", "name": "C", "value": 4}, {"kind": "array", "name": "o4_ptr", "dtype": "float32", "shape": [4, 2, 2], "data": {"dtype": "float32", "shape": [4, 2, 2], "data": "eNpjYLhgz8Ag4MDAsABITzjAwPAAyC4AYoZ9DAwKQPoDiA3EO4ByPVD6BxBXANkb7AG8ig8I"}}]'
)
GRID = (1,)
TARGETS = ("interpret", "cpu")
SIGNATURE = "mismatch:cpu:o4_ptr"


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
