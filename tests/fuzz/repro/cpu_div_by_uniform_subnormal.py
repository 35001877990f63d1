# ruff: noqa
"""Fuzz reproducer: mismatch:cpu:o5_ptr (seed 100032, family elementwise).

    cross_check: array 'o5_ptr' differs between targets 'interpret' and 'cpu' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 2e-05): 63 of 63 elements, first at index (0,): np.float32(1.0) vs np.float32(inf) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, s1, n, BLOCK: tl.constexpr, o4_ptr, o5_ptr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    t1 = tl.full((64,), s1, tl.float32)
    t2 = t1 / t1
    tl.store(o5_ptr + offs, t2, mask=m)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "int8", "shape": [63], "data": {"dtype": "int8", "shape": [63], "data": "eNoBPwDA/yHtLb3d8bLZH70xucIuQhs+1KZG+pzHHJ3ZNBgzvjLJBsphCrRczd7bz7Cs2zT2Hr4MQRciLmEKx/m1w2QjBRogH0o="}}, {"kind": "scalar", "name": "s1", "dtype": "float32", "value": 1e-40}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 63}, {"kind": "constexpr", "name": "BLOCK", "value": 64}, {"kind": "array", "name": "o4_ptr", "dtype": "float32", "shape": [63], "data": {"dtype": "float32", "shape": [63], "data": "eNotjysSwlAMRa9EIllCV0GzFCRLQD6JQCAqKioQiMrKCqZEIlkAokuoQCAQnEeeOHPzm+RGqlzSVnJ0A0eTeki5VktnaitwixmfmCP+QGeRr9EvvRb2xC2MxAtawQwL+QleHv0OvaHmMTtwK5X6sw4fY95bvDzQA4j+FRJ3L3epofa28Jp37IgH+v+/pvhlzjvLX1Y89v4D94FB0Q=="}}, {"kind": "array", "name": "o5_ptr", "dtype": "float32", "shape": [63], "data": {"dtype": "float32", "shape": [63], "data": "eNotj5EWAlEURQ+G4WAYhlHzMAzDPmE+IQgHgj4iCIK4uRAMBINBGAYDwUDQvr0LZ+39zty71h1pl6QbacmeDORs0pzcU+akkT742x0eYA2N/pGyt5b7J36Blc+SI++VBx/BJbRS2l4J++vYLcgU7+m++AmfwT72/z18xXwVM/5dfh/vTZNvTd4tpA4fxx1F7Pr/+o1W/gDQ8UHK"}}]'
)
GRID = (1,)
TARGETS = ("interpret", "cpu")
SIGNATURE = "mismatch:cpu:o5_ptr"


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
