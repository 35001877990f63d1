# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o1_ptr (seed 679, family atomic).

    cross_check: array 'o1_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0): 1 of 1 elements, first at index (0,): np.float32(inf) vs np.float32(nan) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, o1_ptr, n, BLOCK: tl.constexpr, o4_ptr):
    offs = tl.arange(0, BLOCK)
    v = tl.load(x0_ptr + offs, other=0)
    tl.atomic_max(o1_ptr + offs % 1, v)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "float32", "shape": [137], "data": {"dtype": "float32", "shape": [137], "data": "eNotUaFSA1EM3Do+AYlEVuIuU9VPQFbyCVX0BAKBOMEHVCAQJyoqKhguzCBOVFQgKisQFQgE/ti9fW8mk7xk3ybZB/QzoAbwEJMxqFcYTyTjAWgqYBdA8n5LmzNu6E+dscI1zH3TFsyd6Gu+OYff9/QvMQwrYveMg5hf2qYSzj2TtSl5Llj/TGP7NP+jeIn9oj/SbphfqGcnrLjtVYNm6viefbdhzrqztYzbcA/dr9N98aGd9IbnnrVwflf6o56Memjvq8qzK18X/xfm3abnvFSPNK92W/O+Zv5A/LLsJn7puac9s36mfwtrmZV12zC+Eyfzr+J7B34K5pje7Sm9q7SfFpzm05+i8j79zBoL35ad9Q+H8HzLUSdjM/xvmj2KTvP4B5Mqnqo="}}, {"kind": "array", "name": "o1_ptr", "dtype": "float32", "shape": [1], "data": {"dtype": "float32", "shape": [1], "data": "eNpjYBA4AAAA5ADR"}}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 137}, {"kind": "constexpr", "name": "BLOCK", "value": 64}, {"kind": "array", "name": "o4_ptr", "dtype": "int32", "shape": [4], "data": {"dtype": "int32", "shape": [4], "data": "eNrb+///f3EGBoZDQFoYSAMATxQHpA=="}}]'
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
