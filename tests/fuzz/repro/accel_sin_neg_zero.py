# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o6_ptr (seed 201323, family elementwise).

    cross_check: array 'o6_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0): 31 of 31 elements, first at index (0,): np.float32(-inf) vs np.float32(inf) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, s2, n, BLOCK: tl.constexpr, o5_ptr, o6_ptr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    t3 = 1.0 / tl.sin(s2)
    tl.store(o6_ptr + offs, t3, mask=m)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "float32", "shape": [31], "data": {"dtype": "float32", "shape": [31], "data": "eNpjYEjYz8BwYB8Dw4UDDAwBQPwByL/gwMAwB4h/APkTQPJAXABkH3CA8HuAbAV7BqAAA8OWAxD1HgcgegSA9BOouhVAeg2Q/wNKNwDFIoB0B5A/wwEABjkj4w=="}}, {"kind": "array", "name": "x1_ptr", "dtype": "int32", "shape": [31], "data": {"dtype": "int32", "shape": [31], "data": "eNpb+P///x1A/BSIDRkYGJKAOACIRYH4OlAsAUgnAvFJIPsZEOsA2eZAfBXIjgXSzEC8E8h+CTXnARCzAsU+A2lpIB0GxL5A7A3EwUBsCcTcQLwaKA8AcBA1bA=="}}, {"kind": "scalar", "name": "s2", "dtype": "float32", "value": -0.0}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 31}, {"kind": "constexpr", "name": "BLOCK", "value": 32}, {"kind": "array", "name": "o5_ptr", "dtype": "int32", "shape": [31], "data": {"dtype": "int32", "shape": [31], "data": "eNo7+////zgGBoZVQPoKEHMC2a5ADGT+/wrESUC2LxBLA/ElID8cSLMA8TwgOxpIHwfSn4E4AsjeDaQ9gPRvIP0CiPWB7DlAej0QLwPieCD/GNRMkBoAw4dEQw=="}}, {"kind": "array", "name": "o6_ptr", "dtype": "float32", "shape": [31], "data": {"dtype": "float32", "shape": [31], "data": "eNpjYFjjwMAwBYhXAPESIG4B4hsHGBgS7BkYIoDsH0A2hwOE7QBkN+xnYNgApAuAuAeIHwD5DPsYGA4A8QcgewdQ3R4gXgCUewPEW4BYAWhWAVQ/SG0GiHYAAKoSIBY="}}]'
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
