# ruff: noqa
"""Fuzz reproducer: mismatch:cpu:o4_ptr (seed 302260, family elementwise).

    cross_check: array 'o4_ptr' differs between targets 'interpret' and 'cpu' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0): 1 of 1 elements, first at index (0,): np.float32(-inf) vs np.float32(inf) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl

@jl.jit
def kernel(x0_ptr, x1_ptr, n, BLOCK: tl.constexpr, o4_ptr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    t0 = tl.load(x0_ptr + offs, mask=m, other=0)
    t2 = t0 / tl.maximum(0, -0.0)
    tl.store(o4_ptr + offs, t2, mask=m)

ARGS = json.loads("[{\"kind\": \"array\", \"name\": \"x0_ptr\", \"dtype\": \"int32\", \"shape\": [1], \"data\": {\"dtype\": \"int32\", \"shape\": [1], \"data\": \"eNrjYmBgAAAALAAL\"}}, {\"kind\": \"array\", \"name\": \"x1_ptr\", \"dtype\": \"int32\", \"shape\": [1], \"data\": {\"dtype\": \"int32\", \"shape\": [1], \"data\": \"eNpTZWBgAAAAmAAm\"}}, {\"kind\": \"scalar\", \"name\": \"n\", \"dtype\": \"int32\", \"value\": 1}, {\"kind\": \"constexpr\", \"name\": \"BLOCK\", \"value\": 64}, {\"kind\": \"array\", \"name\": \"o4_ptr\", \"dtype\": \"float32\", \"shape\": [1], \"data\": {\"dtype\": \"float32\", \"shape\": [1], \"data\": \"eNpjYFBwAAAAhABh\"}}]")
GRID = (1,)
TARGETS = ('interpret', 'cpu')
SIGNATURE = 'mismatch:cpu:o4_ptr'
REFERENCE = ''


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS, reference=REFERENCE)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
