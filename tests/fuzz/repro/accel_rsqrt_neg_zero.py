# ruff: noqa
"""Fuzz reproducer: mismatch:accel:o6_ptr (seed 89, family elementwise).

    cross_check: array 'o6_ptr' differs between targets 'interpret' and 'accel' (float32; tolerance 64 ulp, atol=1e-06 + rtol=1e-05, or 2e-05 x max |reference| = 0.00016): 1 of 266 elements, first at index (0,): np.float32(-inf) vs np.float32(inf) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, s2, n, BLOCK: tl.constexpr, o5_ptr, o6_ptr):
    offs = 0
    t3 = tl.rsqrt(s2)
    tl.store(o6_ptr + offs, t3)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "int32", "shape": [266], "data": {"dtype": "int32", "shape": [266], "data": "eNo1k2tLlVEQhV9TSbNMVNIPhilIoeINy0DSJNM0KA3NIlAU/8fpj0QkFXTRIgXRvoVlEl6i1KwEESUpRMrKG/j6LM/ywOOsPZ6998zaczKCIKiCD2EY3oN89FdiI/E2TKObiU1QBHegh9warEM567NQACOsH8FnWPZ5ud6rmAOvyXUT84L9z90frHfDMHKIxRGIIfeT3A30P+J/0L7jMIPWWQ+I2n8KBtHniNlwcMYSucPEK6BYCbpD+9PQ8TCKvg8l6ATQfW9Zq99nID9SyBX6jGT4Tk5nyo/zEOs7V8nPw99oL6G8SISP6Ofw0j3onHaoAPUtL+TBH2IpYsV+ZcEkehu+QDXrdOhHz8GQ7+o3OrePOA4n3Hen+6y1R6M+R32onhaizrpAPAbISIrfJN6e6V1PWz/hC4X26Ve4/4k0oOVhHLHVXl3zzAzADpxkLa0aatBT9rDE378OC+RUfxla9cy6p0XfE+vcK6hHp8Kw5+whtEfrDjQHmpf3UV+DTOeVewd6pzeuq81z+QJd57pV1wTrW96zAZfQVz1z034fzahqVz+fyMmvLeKY633Kn6P29SLovZKi+4IOz6dmt95+d3jWVb/e8KZnQL8T9SdvNbfFcBl6/c7Smq/H7uuMfdV53zy/q57zNNeSbJ8S/Zttsc+b8Buy/b8Zz6367YI91YHH8Q=="}}, {"kind": "array", "name": "x1_ptr", "dtype": "float32", "shape": [266], "data": {"dtype": "float32", "shape": [266], "data": "eNotkyFTw0AQhU9WIiv7E5AocrKyEllZiURGIBCIigpERQUCgYhAIJjmmEEgKioqEBURCERERUUFgvexLzM7e7nsvX339iWlQ5XSLqf07BgoNiWlWvH/6H2q9ZNyozxUNK22FUnrC8VC38ac0d6n8pfeD8ofiqXW6VLvbWDcKCbsvQtLuejbXQkOt8rfynvFSutO3ObwqAL3/4zyg76fl+A6U3Q5sKnrjUNPzp65F31/FVvOm/OxRP8kbq8l+KABHKY59jvzH2m95I5aF+Vf7metVsondMmhB/lRcZ9DI+pHVdSgSUHLKuqO5nuXA3NGrfFYp7W0y8GN/vsSM+FunAUL7t/uwzzBG5sf3zc5eG+td7J+C2u7sdbMAdwx+lcef+tzbeBwrjHfe2ta20PwyDk0pzfPSucm2n8ugfFl3V9yzIC5dSXmk+2zH5+nB/139h08atcMSszyzH3Q8mQfDu0xMNCls6/frCGzxSdb+3hnXLS49v3nVcwBLGaPZ+ZtzKizr6kp9lNfQr/aHl5ZfzCSvfli7+YqfMFsa+5b4h87GntgDa7sNzw+87eTo3Ed/aZt1KIX/+DeejJD/tXOHPEGUa8j9+bau8/SfoQbHkIvsHblD0leEn4="}}, {"kind": "scalar", "name": "s2", "dtype": "float32", "value": -0.0}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 266}, {"kind": "constexpr", "name": "BLOCK", "value": 256}, {"kind": "array", "name": "o5_ptr", "dtype": "float32", "shape": [266], "data": {"dtype": "float32", "shape": [266], "data": "eNpNkx9UhFEQxQfDMFwMw6h9GIaLi+Fi+MFCECwsBMFCEAQfLASdvtc5C8HCwkIQLCwEC0EQBN1fczsnmDPv38zcuXNfROlHLGvEaYm4ky0w7afy3DXyk05rncVzRD2R19mV7EhnVW9a+VZ+pncr+Uftz53vTesD+U/5ie7OtJ7LqvYrvR/IL7V/kb1TS/tNzdwzvZ/Kf5NL/kF+VDIOfNwf63xdMoY6my5xtFrf18S9Rz721H2K6Ol+SJ6adZuaeD5kV35L/rkxh2JutR7zXtbT3YXsWDYoeQ42sCzc28j9tKr10WXf5ISfjWuNwav9jTHC0T59wzU8R9aGx1XJOREP/1U5D2vyUrTegQmuZK/k17stfZVM88v1v56H/eTvoSZn+yV7I54+wNvrZy/M+sb11zXn+1WSE+b/yHxLxpw799q6gWt0w1zDNRprbuv+B54B95fUtv7gLWrmL57pyBzAE/225hY+4Il+my5juJtYI+hpbg2MjZsY8KBRYtbGP/GcG81gVxMHOrouiae4t+8/fZxkLnQH73CzNX/gnml9aN03T5mLXpbWzEFNPfXM19x65Iy5nP5h6LL2vXvD4PLTeRf+s+grjA9dkePIf+jNOhlyV5IHPL2Dfer1yBztfmf2AyLDF7Y="}}, {"kind": "array", "name": "o6_ptr", "dtype": "float32", "shape": [266], "data": {"dtype": "float32", "shape": [266], "data": "eNpFky1QQ0EMhE9WIpFPIpFVvEhkJbISWYl8AoGoqEAgEBUVFYgKBIKhx0xFBaKiAoFAIBAIBAJRwX6T7SAyyf0kt5vNlXIXpUxrKbeyS8XX8pNlKVvF361irQ9l9amUN/kf2YAz3enJL2rub7TeaP0uXyPzxz4vsm/Fa+Jn3ZHvZI3qL7R/EVnrSNYp/xgMOjuTv5KNybeB5cs5je6G1jf7fdlnzfrTNjk9gF02gh/nyqvL5AXeFwxe8hGJc6PcoeyjJoZR5P3SJk9wUm+q+Dz+uV3Ll5Ncg29IH7U/5G5kfCM/g1dkfF6TO7jp/TySL/jRYye71zqWiXNrvgPrBu4G/vReduC73AET/WdvZvxohT6d9QQvPeft05o1i87v0FX+t2YvylPypufkzhS/mtN9ZG+jzRy4DYwbLu/aH1hT8tbGDq5+TQ171q3x7DxG6gNW5pG3aps6E1MTzODcGme49i/91/pDfl5zbxKpPTiY+UWb8w33nd+l98zlbj83y9Qf/swkufSYvk2MC433f6fxG8fm8+gZaNwL3l35f82ME52ZA/7I3Eb/ujbx9Nw3/lWffWMc+r2Ftek8Y8X/CPzM5q3/xCqyDvO2ca/7/ndj683MMiNgWltf9JvUP4RjHUg="}}]'
)
GRID = (3,)
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
