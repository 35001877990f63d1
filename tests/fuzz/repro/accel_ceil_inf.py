# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o7_ptr (seed 766, family elementwise).

    cross_check: array 'o7_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0.00016): 1 of 31 elements, first at index (22,): np.float32(inf) vs np.float32(nan) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, x2_ptr, s3, s4, n, BLOCK: tl.constexpr, o7_ptr, o8_ptr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    t2 = tl.load(x2_ptr + offs, mask=m, other=1.0)
    t3 = tl.ceil(t2)
    tl.store(o7_ptr + offs, t3, mask=m)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "uint8", "shape": [31], "data": {"dtype": "uint8", "shape": [31], "data": "eNoz9mT6n8jowCsY58QgY8Qoy8ku5MAcY2FrqsHNIiqfCABjNwWB"}}, {"kind": "array", "name": "x1_ptr", "dtype": "int64", "shape": [31], "data": {"dtype": "int64", "shape": [31], "data": "eNrjZoAAXSh9+T8EPIPSD6D0fiitCVUnBaXPQcXPQ2lDqDgjlP4EFY+E8q9B+deh9D8ofRtKL4LSclD1MPtg4o/Q6GSoPMw8ayj/JZTPD+XfhPKNoXwATLOOvg=="}}, {"kind": "array", "name": "x2_ptr", "dtype": "float32", "shape": [31], "data": {"dtype": "float32", "shape": [31], "data": "eNotiq0VQFAARm80imgCjCCKNvFGMIJgBN0bQTDAC6JgAMF9h3DP9wtFC6fsMkWYN1jUypz+3KnUsNr1Es13A1dW9yjYP/knyS2McOhD7prPD36C31IlvAqlIKo="}}, {"kind": "scalar", "name": "s3", "dtype": "int32", "value": 3}, {"kind": "scalar", "name": "s4", "dtype": "float32", "value": 0.5}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 31}, {"kind": "constexpr", "name": "BLOCK", "value": 32}, {"kind": "array", "name": "o7_ptr", "dtype": "float32", "shape": [31], "data": {"dtype": "float32", "shape": [31], "data": "eNpjYHhzgIHhwH4GBgV7BoYMILvBAYj3AcWA/AggXwDIZwDSf4D4DogNlDMAsluA7BYg7QDEESA9QDMagHqmAPk3gHyNAxAzP0DNTADSSxwg6h3sQWYAAJmqHpI="}}, {"kind": "array", "name": "o8_ptr", "dtype": "float32", "shape": [31], "data": {"dtype": "float32", "shape": [31], "data": "eNpjYGjYx8Bw5gADwxoHBoYKIGYAshv2MzA8sGdgMADxgfQHIH0DKD4BhIH8Kwcgam8AsQSQfQeIPwD17ADSVxwg5oH0OADFFgDpL0D+ApAeIBZwgLATHAAgBCJt"}}]'
)
GRID = (1,)
TARGETS = ("interpret", "accel")
SIGNATURE = "mismatch:accel:o7_ptr"


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
