# ruff: noqa
"""Fuzz reproducer: mismatch:cpu:o6_ptr (seed 100805, family block2d).

    cross_check: array 'o6_ptr' differs between targets 'interpret' and 'cpu' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0.0001575): 7 of 56 elements, first at index (1, 1): np.float32(-1.75) vs np.float32(5.625) (max abs 7.38, max rel inf, max ulp 2157182976)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr, o6_ptr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.arange(0, BN)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    offs = rm[:, None] * N + rn[None, :]
    t0 = tl.load(x0_ptr + offs, mask=mask, other=1.0)
    t2 = t0
    t3 = tl.sort(t2)
    tl.store(o6_ptr + offs, t3, mask=mask)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "float32", "shape": [7, 8], "huge": false, "data": {"dtype": "float32", "shape": [7, 8], "data": "eNotja0VwkAQhIcuKAOJIpGRyEg6yQkkJSAiIpAINGwJJ1JASkBERuTb27v3vjf7N3PSy6S1lQyO1MtPmqif1J/aZ98P0kjvz2+V2KMP8AzBGzqY4IbPoHfvJbK2mltyvpGV0JF5y+xkoRvcLfzu+Tc+P5T71cJzZj77P2hqIiujXc1a0KvtxIE61Q=="}}, {"kind": "array", "name": "x1_ptr", "dtype": "int32", "shape": [7], "huge": false, "data": {"dtype": "int32", "shape": [7], "data": "eNpTYGBg+Pv////lQCwNZN8H0tFAehuQBgDVmA/E"}}, {"kind": "scalar", "name": "M", "dtype": "int32", "value": 7}, {"kind": "scalar", "name": "N", "dtype": "int32", "value": 8}, {"kind": "constexpr", "name": "BM", "value": 16}, {"kind": "constexpr", "name": "BN", "value": 8}, {"kind": "array", "name": "o6_ptr", "dtype": "float32", "shape": [7, 8], "data": {"dtype": "float32", "shape": [7, 8], "data": "eNotjiESwkAQBEcikZHIPAFFTuYZPAGJRCCQEXkAT+ABV9xShUBEIJAREQgkEpk+9sRUT93O7pxUmzQFqYKXRorQ4ABDkpbMdvgDWuEXKKLRPPvOc9TlzIYduC03H7CGZ/P3O34NT9DIfvBH9KSvzXv0/YL36sZ/kvfp6vs9epX/qPHsN/m9DrVoYraHw//ODBgEOVY="}}]'
)
GRID = (1,)
TARGETS = ("interpret", "cpu")
SIGNATURE = "mismatch:cpu:o6_ptr"


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
