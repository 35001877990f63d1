# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o7_ptr (seed 1028, family block2d).

    cross_check: array 'o7_ptr' differs between targets 'interpret' and 'accel' (compared bitwise, int32): 12 of 384 elements, first at index (0, 10): np.int32(-2147483647) vs np.int32(-2147483648)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, s2, M, N, BM: tl.constexpr, BN: tl.constexpr, o7_ptr):
    rm = tl.arange(0, BM)
    rn = tl.arange(0, BN)
    t1 = tl.load(x1_ptr + rm, other=1)
    t2 = t1[:, None]
    t3 = tl.trans(t2)
    tl.store(o7_ptr + rn[:, None] * M + rm[None, :], t3, mask=(rn[:, None] < N) & (rm[None, :] < M))


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "uint32", "shape": [32, 12], "huge": false, "data": {"dtype": "uint32", "shape": [32, 12], "data": "eNpNlIdOAkEURRe72BugoEhREVwVC4KoWFERbEixE/X/v8H7kkOyJCcM7Mwr993ZqOM4UfEhwuJC9IqUKIqIeBAJ9gVFSYyLEXEtzkRTTIiWcMWnOBfDYlYcikeRFk+iIeoiRuxtsUyuL1ETcXJO8v+MuOJZnlgdzln8OWp6JneWnFbXlBilpxMxxNlr9h6Ld85Miz2xKtrEt88L9TSpt8W+CGvbOy8C1DgovsWv2CL/LxqH2ddH/5NoG6FW69NPfQ/kNc16xA5nPzlv64yocL7MepNzYfK+UecRtQXR0fQuUKt9n9KH6Z2j3zT91Zm91XzAniSaz+KbCWov08cFuTJ4K0lOh3qK7N9nFm1y1ohrM93l+RJ5O/zn0tctNSaYW4V5JfDAn7jBj6bXAPGD/P4m7jr9mcY/zPnDMwcXX8borYBvSmjcIVaL2eyQw2Lfe7RIEWuZ2c+jic3mlbguPSWZSRstLH+IHDnyF/FiCe269+8RT/jY309NL3jSj1a3eKtB/CNimxYreCjL3ZkjThoNTzjbQa+85+7l8bNRpacB9KzS2wIxE2hTQINNft8xvyC+9eGx7jzPeJ7y9FelHoc4/XgpQC22Zw1PjXneWTaDS7TsIXaOtUueMc6ViRXFg4tolWX9Tp8hvDCCVt13RYD3Tore63DIDEvEaXB30mi6xv4F4rSou0ndG6xDxPJzJ+J49Aa/mIf/AQNuTJw="}}, {"kind": "array", "name": "x1_ptr", "dtype": "int32", "shape": [32], "huge": false, "data": {"dtype": "int32", "shape": [32], "data": "eNq7////fy0GBgYfIH4AZMsB6YVA+jcQ3wXik0AcBhRjZGBoSATSukDMCsTiQHwfKBcEpG8A6X///9d/B9IgdaeA9FEglgLKCQExPxADufVngcR7qB6QuttANgAGcECZ"}}, {"kind": "scalar", "name": "s2", "dtype": "int32", "value": -7}, {"kind": "scalar", "name": "M", "dtype": "int32", "value": 32}, {"kind": "scalar", "name": "N", "dtype": "int32", "value": 12}, {"kind": "constexpr", "name": "BM", "value": 16}, {"kind": "constexpr", "name": "BN", "value": 16}, {"kind": "array", "name": "o7_ptr", "dtype": "int32", "shape": [12, 32], "data": {"dtype": "int32", "shape": [12, 32], "data": "eNo1lPtPznEUx79LPGq5RbESlfvk3lzGSETxSNnI3cKfpbmtJYtVpmGFkm568BBaaMowP2jLLcvl8Xpv7+eH197n8718PueczznnbBAEP2KxWCL6En0IA3AdtvNMehV64BTrN2gNfIBVrMvhGEyFUZ59BdlH4Qb2bFRMh3rWIfQKuhwthU3wi3UF+hpNR8PwDfsAuhF6sVNQ+ZMMj1gfRPNgPsyEOp49h7XYd9BhUFwnWO+CVCiCLzxrgUuO5zeqc0vsywXse5DkWEfgMcinarQNCrEPwz/sMjTNvuegiv+Bz1jA+px9WAHvsJWvXMiCVtbNEPiscucsG90JL7BPos3Om+KZgNaiq9F+tBE+O+9t9n0W7zrQbqjEVm6PgO6x1TnSPlWO6zKqs5ZgL4QNoLgjkIndYlvfzoUx7HqfFYUCnqkedFdaKx/t6F84g/0ezUfv+j/lZbL9P+77Up6+W7WP8r8FbjvHH32/y+yv9kiARbDOsfX6nCF0Kaq8vAL9q1gvQhNs5l2Xn+92XlXnfaBa1P7FztGYY4w6vxH7uIZ3O3x+4HpQTWWg2Waa86H87/f9/7RPU/z+E7Zq+pn9Cjt25Up9shg70zV8y7lo9x3O8DnDro8u35dqJtH1lez6HMfucN3PY93j2lE8e/2t7nai60uxRex7pYn5DtZjh5x/ree4twZ8909R3Vud10Ou0Qb3WXwOnIZDPjPDfmrPTvek8pTg71ULmk3xvdTH25wDzYwy50w+17r3x93Hbz3DzkOpey8+a9Sb8qnYMyzsc/TtVmzlKNVxXvM+mnPyOcVzR75oBjX5nebioOtkkueffNtnW/NBOdqDXej+Xonm+Dv14B80y7OiyrUZdc/pvu9DtWeOarffc2bUew86hyHXcIFnwk3Ppifu9/9rNRWq"}}]'
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
