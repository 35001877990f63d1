# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o6_ptr (seed 20261351, family block2d).

    cross_check: array 'o6_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0.0001375): 4 of 8 elements, first at index (0, 0): np.float32(6.875) vs np.float32(nan) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr, o6_ptr):
    rm = tl.arange(0, BM)
    rn = tl.arange(0, BN)
    offs = rm[:, None] + rn[None, :]
    t0 = tl.load(x0_ptr + offs, other=1.0)
    t2 = t0
    t3 = tl.max(t2)
    tl.store(o6_ptr + tl.program_id(0) * N + rn, t3)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "float32", "shape": [4, 4], "huge": false, "data": {"dtype": "float32", "shape": [4, 4], "data": "eNpjYPhwgIHhjgMDQ8N/BggAsg/UMwIFGBhOANkKYD6Qux+iZoE9A8MEIG4A4j0HAOZfD5o="}}, {"kind": "array", "name": "x1_ptr", "dtype": "int32", "shape": [4], "huge": false, "data": {"dtype": "int32", "shape": [4], "data": "eNr7/////zNALMrAwCAHxABiaAf5"}}, {"kind": "scalar", "name": "M", "dtype": "int32", "value": 4}, {"kind": "scalar", "name": "N", "dtype": "int32", "value": 4}, {"kind": "constexpr", "name": "BM", "value": 4}, {"kind": "constexpr", "name": "BN", "value": 4}, {"kind": "array", "name": "o6_ptr", "dtype": "float32", "shape": [2, 4], "data": {"dtype": "float32", "shape": [2, 4], "data": "eNpjYEg4wMAwBYh/ODAwHNjPwOAAZG8A0g/sGRh6DgAAmtEKBg=="}}]'
)
GRID = (1,)
TARGETS = ("interpret", "accel")
SIGNATURE = "mismatch:accel:o6_ptr"


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
