# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o6_ptr (seed 200344, family block2d).

    cross_check: array 'o6_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 5.84213e+32): 11 of 512 elements, first at index (11, 14): np.float32(nan) vs np.float32(-0.0) (max abs 6.34e+29, max rel 2.05e-07, max ulp 2)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr, o6_ptr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.arange(0, BN)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    offs = rm[:, None] * N + rn[None, :]
    t0 = tl.load(x0_ptr + offs, other=0)
    t2 = t0 + 1.0
    t3 = tl.cumprod(t2)
    tl.store(o6_ptr + offs, t3, mask=mask)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "int32", "shape": [32, 16], "huge": false, "data": {"dtype": "int32", "shape": [32, 16], "data": "eNpNlXlvTGEUxu9IZTRaUtpq/WENJojWltCqNi0NtZSIxC5kvkfniyDaWGKLCoKprUHUFkSTEo3Yl0FJ7KmO55n5XTM3ee45c+Z937M9572pdDp9Xbgt3BVGBEGwXJgcZB+Z0h+EkdJ3CRFhhVAtnJV9PuvmZv9LfEz/f9oWy/ZZSlRyi3AVvVl4L71CcrawXbjPWfPx2SNcFM4IPv+b5IAwpHNX6relRCIp27og93hvvaT9jBWa0J3PauE0sRmfiGeJcAv7Jb1+Uw+fc0TyTjaGxA69HkgfzplxwXWZyvnxbFzpbmEj+bom06QXCQcoTJ30SuGN9AbJG5LnhD6hgNxOsTdJXAPs9dql9KGEc+33new7JbcKj6SH9ufSW9FT0t2ng5Jrs+VK3CQe92GQPBfqtU+6e/JTWIK/QnpeSa/j1NvPXvbaHvaQliQcv2tXI6wjP6+bJ93+O4TN1CNFjt5oDsyUfEzfy6X/yZ2b6S8+gwnYNiF9vntgPsewOa/j2v+GmAP49l36amKOkuse+u7Y49SvVhgj9LE3Aiecu/t/VHIUnHH/PCPmsPveDGdc40nEUwh3ZuF7AflEybODvG0LiMH5/ZXd5/i396wXpgjMSmZ/BWc4/lbq49ofkyHJnBuj6cEV9r6VXENdnFNrNra2Qvx7Lk6Q/y7yca3uCYc54xU5riKfQfJ4KOk5fiEcoiZrqUsZNdgvXBBK4fEPIUavdwt34EjItVrq/UzoFa7RtyfCZ2oUJccYXPCsPBVOCo36PSOPRz1wIMq8uj+uzTj2mjuOY7zgOtSy1jM5XRgFv7dhd+1SxJHOznTQT/3i8KMOvSa3JhHOtOPyfbwMzvzkbirCXy/zvSjH80z/G+ElPPcMZmbe9+4XoQSeO9ah7H2YDtdsIL8I/HAO7XrNgTO+r8/ncdN7JpKveVAlaR/9zMVLeNiAv2JmKMka96qJGtina/067ztiH+aWvztV1KiTPv2SLOb7E8WXfYwh7jJqHIHTPquF/zrpQz3zMp3+FnAnDMNXqLdwB3RhM1e/wivn0859WU3vYtwRefdKRjdHfG847svE5j1PmYsuetbNvRh+P9+zNg4X4FeGW+Opbcjd+3nfYD/leXdxKTn4W/0PvPN2eg=="}}, {"kind": "array", "name": "x1_ptr", "dtype": "int8", "shape": [32], "huge": false, "data": {"dtype": "int8", "shape": [32], "data": "eNoBIADf/w+q3N+2WtTUMFSuGO9SWc/7BD4q1VcvqD8MrwH0IOBKEpsPgw=="}}, {"kind": "scalar", "name": "M", "dtype": "int32", "value": 32}, {"kind": "scalar", "name": "N", "dtype": "int32", "value": 16}, {"kind": "constexpr", "name": "BM", "value": 16}, {"kind": "constexpr", "name": "BN", "value": 16}, {"kind": "array", "name": "o6_ptr", "dtype": "float32", "shape": [32, 16], "data": {"dtype": "float32", "shape": [32, 16], "data": "eNpNlStQY0EQRUdGIiORSGQUGYlERiKRyMgIBAIRgUBEIBAIRETECooMVYgVCETECsQTCAQiAoFYsX3o82pJ1dS8+XXfvn27U8qqlfK3ljIflzKN79qcY/0W8yrOdtc5n3m+G2ftoZS7+P4T4zjOLmK8x7jyuxzE3Zg/4/w3PmI07sfeM3fi+yvGL9/jE3+HrGNsYu9lnL5b2PqM9W2MV/DE+Z24SuBYjhP/TextY4zifIud2HuO+VpfbZwx3Orvvqbt2TrXM+MuMe/4fSLeeYxunPiwdRbrRYyhMb639AuW8hj+Y+6IJ86va3L80hIffkausYN/Rlvnehnjoybubp1v4eNUDHvEuc5cEP/sQdwxD2LvEvw1eYWTk5a+6jr5YP+qZa7gvJCvcfK60M+hWDs5wCd2yesX98PWW02e2CNXYHjFl9j6eAfewydY3/zmHrYv4aKmNs7UF/kDK/p8FTt6mq/T7j7xmX/ubfS3kBNs8WakRomtq5mf1Q/Oh8aGHskXPDRzu/qhh0/rArxHanlWM7/kDZ7Oa2JhDYfVeMjfjXqbxzyBY+qCPGuH99TTsGVt7asDsO70Wn/MvFyJBy5X1gzn9y15PLT+nuWimc9P7cDhtw6pndg/Eh+4OmPsa+fYPJ/jwzxx99o6R2/7LeOAl4n4ySE6f1O7O2J5tebP1H7TPnw18ztRm9hcmjd+3zpvqac9NUttbq3xzppranElR32eZ+PERf0+2UPQ/lAsaHppvRZ5QaO78jWtiX9uTMR7Yb3Rfyb2FnrKxvcja6zvX4MfPZMc7rXsmxvrCN6Hctr3jNlBcn6kLpu8Ft8UtVvN+6Fag1Pi3agJMILhy7zCHf6HapU77+aPH+u/fY8eZ/7hcGBPb/YGehH7nZra2reWa+vpIGP+ECP8HVvTfU/FL/o+VWML+wC9hviX6mRqP2GfGNHHrbyTQ/Rxomae/S8ZWNcf5nMhP7fe73VyYay8u/H9qbwVc4zOiPVU/Ft7B2NpbN96sCb799+8GstF/d+fv/y/ura/bNTHpf87U2t21//CqpbAi16JobPXTeSM3D7VHNi4s9eieXjc8/912v4BldAU2w=="}}]'
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
