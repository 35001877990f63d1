# ruff: noqa
"""Fuzz reproducer: mismatch:cpu:o6_ptr (seed 1136, family elementwise).

    cross_check: array 'o6_ptr' differs between targets 'interpret' and 'cpu' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 9.22337e+13): 3 of 63 elements, first at index (20,): np.float32(4.611686e+18) vs np.float32(-4.611686e+18) (max abs 9.22e+18, max rel 2, max ulp 3170893824)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, s2, s3, n, BLOCK: tl.constexpr, o6_ptr, o7_ptr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    t0 = tl.load(x0_ptr + offs, mask=m, other=0)
    t2 = t0 // 2
    tl.store(o6_ptr + offs, t2, mask=m)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "int64", "shape": [63], "data": {"dtype": "int64", "shape": [63], "data": "eNpLYICAJf8h4ByUhgoz2ENpZiitD6U5ofQ3qPqbUHoelJaEykO59f5Q/j8oH0Z/gCrggcpfhPI3orqjIQXKEEc1Fx3UP4MytkLpTVDaEqrvBJQP89cbKD8KymeH0oxQe9nR3M3IgArY0dzzC0pfhtIwfwtC6XdQcTR99TD6GpRhBpXXhNK6aPZZoDqjIRHKgNm7Ci38YP5ZABUHAJ4R7mg="}}, {"kind": "array", "name": "x1_ptr", "dtype": "uint16", "shape": [63], "data": {"dtype": "uint16", "shape": [63], "data": "eNoNzE0LAQEYxPFfLnJgL3vAwcVbuSxRmwMiexBZktdSku//GTyXmeY/0+Qq+nZa4VVHQxtfTU97qVLdIug42NZIO2jp5WHmEzmVuEebyL2d9BwsY3E10JXpWJubhJ7j9+dmqlDTiO3KxR9RKw3t"}}, {"kind": "scalar", "name": "s2", "dtype": "int32", "value": -7}, {"kind": "scalar", "name": "s3", "dtype": "float32", "value": 3.0}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 63}, {"kind": "constexpr", "name": "BLOCK", "value": 64}, {"kind": "array", "name": "o6_ptr", "dtype": "float32", "shape": [63], "data": {"dtype": "float32", "shape": [63], "data": "eNotjiESwkAQBOcJyMg8ITIK9hk8IRIZmQcgkAgEIjIiAoGgipMIxIk8AIlAIhH01p7o6rlcdvakl0kXqJO0QE8+4BUM5Iy//g/WRmotfOJ8I1cWuYMfeYQddHDm24SHtWR36U3eej/zGV8LPpe5n6Gx2NEw26bo+uAnVJDomvCjvMPnfE/N+Vj6+7LXZ7x/xHuLnX4348X+a24+8Q=="}}, {"kind": "array", "name": "o7_ptr", "dtype": "float32", "shape": [63], "data": {"dtype": "float32", "shape": [63], "data": "eNotjiESwjAURPcIlZU9AieAyEqOgOQIyAhkRQUCgUAiEBUIFP0CyQEQFRHISiSCl8nvzJvN7mbSlTqTBqjgG6QGPY9SxzmupDe6JzuhsxVaEP6DRu6alXs5iw/piT+E8s4Wrb3ryW0ppbF0O/yVfA0buHlvdDN+wgc4cl6gFzT4fyff8YPEzoE8+Tt13sf3QvvcORXdPW/MG8IfcvRB5g=="}}]'
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
