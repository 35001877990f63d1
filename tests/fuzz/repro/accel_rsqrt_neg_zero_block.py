# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o6_ptr (seed 245, family elementwise).

    cross_check: array 'o6_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 5.34275e+17): 2 of 127 elements, first at index (36,): np.float32(-inf) vs np.float32(inf) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, x2_ptr, s3, n, BLOCK: tl.constexpr, o6_ptr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    t0 = tl.load(x0_ptr + offs, mask=m, other=0.0)
    t3 = tl.rsqrt(t0)
    tl.store(o6_ptr + offs, t3, mask=m)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "float32", "shape": [127], "data": {"dtype": "float32", "shape": [127], "data": "eNpFUaFyQkEMXP4AiazsJ1T18ilIZL+gnEBUIBB8wBMViIonKiqYks4gnqh4AoFEVFY8gcAdu+RmuJmdXHJJdi8B2h3QOLAkTkl2BGRgZQAY+yPyN3CgvyFyAczDv1gp5RWY8e5zgnknvq3pv9GC/fIzLeNb+h+C3dojp1LmrHmkfxAnT6+aHD2NurZ86xjbS1vlaNmzIdxCb0e7JHriV1qZsxcH659opyl0TF16xRX8n/W/2EVuZ6FHuUfmDbVHY8GlWGbNP/HC+8Sjp3jHHjnSObBmwXtb52h253tXHbFKMduh1sxc3JH/kGK+aw89msPXbRcxF80YP/c99eqVY37ajY4zNhYv7cJjBvrHpe5Tus9+BcdRjzo="}}, {"kind": "array", "name": "x1_ptr", "dtype": "uint32", "shape": [127], "data": {"dtype": "uint32", "shape": [127], "data": "eNo10V1LAlEQgOE1LyRLDBKFoIsCKcqWVCwqWAv60jAqLFLE0vb//wbfwbeFh11mz5mZMydPkuQKE+yhjm1jU/SwhU1UMcQJNvCDEW5QxsIcI/fv+t3CGfaR4ghLfOIJmfGFsW/M8Ys7RR+veLOXF8xwgILv2Fez9v+ayNe3h2NzRa9j3/c4x7vnznHpulhTtI+/ZP00zB+9nFq75TyeMbDmtWcuGY86D+a8cGaP6KLp/oH1xvZ8iI61Yk47nquND3u+NW/mv4qzanuG1LvteV8xgy/vdAUIuRrb"}}, {"kind": "array", "name": "x2_ptr", "dtype": "int32", "shape": [127], "data": {"dtype": "int32", "shape": [127], "data": "eNot0b0rxXEUx/FLuIMSg4dIBg8lEkoWZPBQFrKJgfxbJikpZUMKi4FkMZCFPAxERDHc5XqdOsO79+d8v/f3+51zbqlcLu/iAZdYKhQK0/iSq7gdK4g8iKm8+0W13JHcq3v4h/t5AEUcqk/QJodHeBZv8jZG5UVEDzW8jlN5P5+Lfp74Aq3yHQ/zJ7+gLp/vxTgWss8Dd8tZ38rxvUecodHZGo7lSh7DTs4/Ic9gQ67lFkziXD2UjjnfOWaNXVyhyVln7uYIe1hV/3Hssy93UcIzvtGVu25GPbayn/j2K7qz96fcd4N6DhXYVLfkf3OTd8XsPWaL98d753Etx28+cobZPP8HMKfp4g=="}}, {"kind": "scalar", "name": "s3", "dtype": "int32", "value": 3}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 127}, {"kind": "constexpr", "name": "BLOCK", "value": 128}, {"kind": "array", "name": "o6_ptr", "dtype": "float32", "shape": [127], "data": {"dtype": "float32", "shape": [127], "data": "eNpFka1yAkEQhEciI5HIPAKKW4nMI5yMzCOcQCAQCAQSERGBQEREpLKDQyAQCETECUQE4iQCkW/SS0V0zd9ub0+vmbtZB27JrM1m88psQd1S90EDZtSfYMO8YX6mZ19mL8Rn+j7S7Id6UXprsCLvxRx8kN9cZ2K+A6/gFOfgtK04u8jhqrPeeSvaDsSjS09dSUeP/N2l45IUE1iV97/B2VUf4Fu69M2S9Aafw3MljpM4p0n9v73Svx/98Il64tIV/BfXfi1nlvSG4In6gehZ/oW3m7tPLp2xQ3APyrwu+w7J51l3G7yYxJ/Q2xe/r+XOPvws/sVuDf4PKml5dGkMb8L/LmvH+L/YZVz6PvoFGfSLPg=="}}]'
)
GRID = (2,)
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
