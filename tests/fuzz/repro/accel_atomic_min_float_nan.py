# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o1_ptr (seed 455, family atomic).

    cross_check: array 'o1_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0.000145): 1 of 4 elements, first at index (0,): np.float32(-7.25) vs np.float32(nan) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, o1_ptr, n, BLOCK: tl.constexpr, o4_ptr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    v = tl.load(x0_ptr + offs, mask=m, other=0)
    tl.atomic_min(o1_ptr + offs % 4, v)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "float32", "shape": [7], "data": {"dtype": "float32", "shape": [7], "data": "eNpjYGA4wMDQYM/AYAGkWxyA3HoGBg0gm2E/AE+VBiI="}}, {"kind": "array", "name": "o1_ptr", "dtype": "float32", "shape": [4], "data": {"dtype": "float32", "shape": [4], "data": "eNpjYHhxgIGhx4GBgcGOgaHjAAAhPgP7"}}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 7}, {"kind": "constexpr", "name": "BLOCK", "value": 64}, {"kind": "array", "name": "o4_ptr", "dtype": "int32", "shape": [2], "data": {"dtype": "int32", "shape": [2], "data": "eNp7+////wQGBgYAGt4ESw=="}}]'
)
GRID = (1,)
TARGETS = ("interpret", "accel")
SIGNATURE = "mismatch:accel:o1_ptr"


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
