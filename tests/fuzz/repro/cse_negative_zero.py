# ruff: noqa
"""Fuzz reproducer: mismatch:cpu:o7_ptr (seed 101181, family elementwise).

    cross_check: array 'o7_ptr' differs between targets 'interpret' and 'cpu' (float32; tolerance 64 ulp, atol=0.001 + rtol=0.001, or 0.002 x max |reference| = 0): 527 of 527 elements, first at index (0,): np.float32(-inf) vs np.float32(inf) (max abs 0, max rel 0, max ulp 0)

Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)
"""

import json

import jitlang as jl
import jitlang.language as tl


@jl.jit
def kernel(x0_ptr, x1_ptr, x2_ptr, s3, n, BLOCK: tl.constexpr, o6_ptr, o7_ptr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    t0 = tl.load(x0_ptr + offs, mask=m, other=0.0)
    t4 = tl.rsqrt(-0.0)
    tl.store(o7_ptr + offs, t4, mask=m)


ARGS = json.loads(
    '[{"kind": "array", "name": "x0_ptr", "dtype": "float32", "shape": [527], "data": {"dtype": "float32", "shape": [527], "data": "eNpNVSFwIkEQnDgkMhKJjERxU1GRkZFIZGTUc+JFRATiRUQEAoFAIBARX3+bqogTEYiICAQCERGBQCBSxU9v9yWh6ti9253Zme6eWbOyMBtXZhZjJ5nV52blP7MHN/PE8TPGD72XR7NWzMsR7er4lmI+Kbhmffp4ie+/Y99zjEPsj73X2e4k/rgf48Lp4zrxfRzjpOIc40dibPC9KmB7PB5/mc3D7hAPfvCNMyeJsZcRwxXs/HgcRWyp4r6D4nhMjGEZew6JuZQF/NJ3F3Zx3qfLZ9ik8HuWaNOJ7wN933v4MvrDD3l0E/O2sHmNcVHQJ3yPK/q+VGxt7DOs0QfsThOxruOcHs4J+7OYr+K8SYw38dxqH2LPnBU8a6WcpvG8xfMnMQ/Ej3gvhNmmYJyw68T3HvjNuXAfvu8SNYEzBk5M32LcxjgDFk4NINY76CBsBsBX+K2dOoCvx5i3EnPAb5GolUGsvTs1hHNWFXFCzMgB/hdNXAX3bXBWn/Nt7FsjzljzivwjnpYweM15hR+nZjbKB99L6dhinDk1Z0/EFbFjvpUuc36a32eOGZMlvIPL5iFnplhvVDPJGX8zb/LBOnLACE5ulOunRuCV9ftEvBHXuKD/7Q+fUyeHd049eMVYNvE+lJ42Ff2BE+joUfrCuZdO/UxVI8DvTnPg2pGGdgW5Bw7Aut34L4gb1m+dsfVkDy7RC6AlnAlNAnvkUCuWUrrYVeQDPF3r+5n4XIvPXLNGHjBpZ06Z70vGhxpC3cFPWz1lojl6ysNX/dAO56YR7VDjyAv1C928Jeq5K95cGCOX3JPid5HYu9bSETAZpu++UJ/Td+3ffaLpu8/qJaU46+bewTNdfeIgDsEFzpkn1i34XxXso8tETFrS36kTO/SqW8UCDUBryHenvmbCfqaca/WMUlz9TcCVeW6lC2gAtg/iIO8/Eq+pag81ivqCJmo/+cIF90lLeoA+F+pv4OUeutT6TnkcFAfq6UJcZN2PCG/Z9N8nYjVTfllT6j/A5VW1CL0tsha4v+kBS2kSfcm1Bm7Qo/bCBPjtFWepu26eezjxyZo08pHvJdWCK/5WYu/OfUh3waHpRX3WDPgs+7zrEAPiKcVbrt2C70v1vemPWgHmwMJVk3vpZqj7oK2e0VMu4OBd/Trf60b7Bu+5+t57au4N6njj/wGhclMP"}}, {"kind": "array", "name": "x1_ptr", "dtype": "int8", "shape": [527], "data": {"dtype": "int8", "shape": [527], "data": "eNoBDwLw/btfOQcx6X5jvbhkLC5UpRk08vMJpATFKcajuFJKtbDpKVhfOqgU4Lt/gQD/7rskoQEHMhMGf0RaJbgV7bdYJwy2AS4k/8Lj3MD/tn9PougBE8WhE0okyAddVB8sxkisnhQPT/WdLMyn1mH+QSreTyX76Bmv4lNM+CM6+R0q+QdWMupkBFa9OQ7vGrABMbJkuvTjR1MUy4G2VRT5yZzHEE3LYUIMpz3hH0XArZ4oszxkIA8vAOBk7e3jOX/+gDACv19DI6FeAfvcvd7yngF+OTkoGID/XuwAqX7Gy07/vU0WNTjlvX+4BFYuyUcr/b9fMeu1+xSmXzjpK/a42ZzYAOKz0L3KSLXyCdgMPvVZgKl+BwBLvlZ+RAP94crG5PWxORerxM/JnEoNJswV4bLOp0PKVh/e2NqAvlnGW9GruMP/ENxXgUKgoL8q6Q9jCgD9QukNLsZPMrkw436jqAO++skOGb60oC429RtkNl2sRPX/gMYF7H4XsQxAflRkMCsFAC8puEBX0jihpYHAGABHqPs9RSSiWNolLeItoQu+UyX2wAA6qYFI2gOsG874JmRQSd68AGTwy1lX1CMayhnGpVEHZFQwvzTuO7zrtibAFgvOOU7/YRyu+WPIAQuePzcn+GEq5LgTQgkfIiDpKdlXvTSy0p+qVA0NQSUngAfKKNc+gEEXtkPmwoDxSMhTUhv+YEj5yQ=="}}, {"kind": "array", "name": "x2_ptr", "dtype": "float16", "shape": [527], "data": {"dtype": "float16", "shape": [527], "data": "eNoVk+2R4jwQhDsUhbA/qKt3OVjGtj7SUCgTikLgx9YWtwfcYMvWhqFQ3nZRgEqWZ6afbtlcNhxEdMJbaVhywwn/8O2SjPrCiCgDVh1tc2v3OGjQu62uyigh+32NR0nO60v2Ve1Rop5KxMTTP6xmSBZ70sgn7KEef7Wi8XdW6U29TVJ7zRXs6IIlvMRkZs9nb9hk6LG3vOFsFZ8YMCOUaKtebDSRpJsN/MYedMa7Xji7sMc9NxURLBpwLnv1b9zFU+EbElYb2WPtm0454YajRLfJIpNNfbUZXiMOriEV31ep1nK0SWeZ8ybSvSZppepTXrtWckoyaXXRFv3AyTx+26gnHSzkiAt+ATz9cNTBZ99uwwvvOOJKFdx1gZz5pv7LVJ9bTznAegD0Iam0Xm0Ad233Y80ryXnZcOyJ8webjKpscBUfrBd0wG/Sm+SlI/8/8dciqVwtkb91b1HGHjnHWbyNqPA5ScABR1t2JdjUcHarC3hQ2yvX7DnrJzwudGzSETe3WugJ7zzzxm4LPUrkfi3eEqtGaxDbNV616R1NmAALdOUFKaRO12f2/imxxL5ZwCAL7tTj8YUPbNTyg/8w6YmukyYmM306T721pMzn+pGjzN2T2GKsiD2p7+QysMLNBZ70tL/Rl0tf8ausRoL8BOV7ONDlhEffuD+YJ2fORL5TiXrGd6dbujJrC8ncdWAOP/UuFX9kLYkd6DyJNPpPj5nwe2ElPHn2mUmbfA1PvZP7Rj1xr8Qk3HZ2zFvNST2TcsQfVrmVpnWfgHmJJUDY84kHVX8x8UteVVDp64ncPK64kC6nZypXBPjCW0gdoYfimcDgNnb44ipxxqtuvCuJvE8kIy4xlXQRnFGZfXYQGBPBlPKmfunEU98Sy0ZXPJW2/wFNdcLn"}}, {"kind": "scalar", "name": "s3", "dtype": "float32", "value": 0.5}, {"kind": "scalar", "name": "n", "dtype": "int32", "value": 527}, {"kind": "constexpr", "name": "BLOCK", "value": 256}, {"kind": "array", "name": "o6_ptr", "dtype": "int8", "shape": [527], "data": {"dtype": "int8", "shape": [527], "data": "eNoBDwLw/Riq4V/XFteo1BH4qkkQ9QX3Y10pNqFfoycWTVkbvafo51FjX1D2HETZMUxDp9LTXFij7MpKyxdQQsnKxhHpG+UQDDWmWq2kw0DaXp7+J7wf3KxByTY7s1k37QRkI5zzWz5c9/VkxERHUlYIxLMiArEmtOqxuVTq20heBqVPVTM+FjejBsTKDVfiu8AkZEahoguxrTclJrjT11q5NTUpZPZJnmL15kk3R/y4M17hsPIs9u/etF+jx9nKThDZNzMLRScQ9k5AqyNY8ic1FrIRGd3qUhgZAB1D28jgSNYqZB2l3DS0GKteOqFPAEcm61PpRrSwIEERHV+uO1KgLev1TOHj5iem6UUs5kKm6s7tVjLpo1K1X0QmWVXYuRlG4sHyswenIU3j9NefY2SlI9AwnUAWP0xbKco6PlOx9R0nnMf2r6Ea+BQVOA++N8lE52RF7SPMn7zcWSbHrjfmROMy2x6zKsgwouM4S6G8V9mqJ16qL/wFTeFA+cqkz6ai3Qq1o6f9p/QRYFNN9f7t1kDLDSP+IAOf5sYOJfTc3eKhJvYg9sH+9SShO+k69SjtQkS2LsUPEk9aL6y9uA1BuvFg6lAOIDgfUtfPETyn7ca5RjECRUK8VKZNtVYJ6jggoMUTrh9U9j0UCFECyCchSNjPtOjvXDXi8E6xXsjWKEfZQZ0RBf1Ev/0xT9euOlpANB+mIfUCPw=="}}, {"kind": "array", "name": "o7_ptr", "dtype": "float32", "shape": [527], "data": {"dtype": "float32", "shape": [527], "data": "eNpNlSFQY0EMhlcikZWVlSdRdCUSiaxEnkRWIBCICkQFAoGoQFQgEAzszSAqEBUVFRUVFQhEBQKBuHzk63Gdyez2vbzsn/9PsqW81FK6rZRZWC/2p7F2Y63PpXy51lgf4/k61quw69ifsY/1Bov9Q9hHzf8XYb9i/x7WwZ+4vItYt/Gu1fQ5jvXF/9t+Ka+x3ht/3/0DeOK7acs9cX63xPbGPuwzrIXPZTxfho31I5+7sJOWOGqcMQ+/Etb6GQ//eey7vluGX4n9kc/3Yj1vyREYeAe+QfiOWPGLb4bms+A/+FriZ0+sTdgwvhk+RYzDOD/soyVv4C7ycC6P4B/X5H5Bji25v4Wr2B/UxIPvvRocyxX5ndTEDk44mOH/nBgHNXEP1Ans5U8pK+OOnlMXNJ6glfrD1VYNJ2Ijt7uwy5pngrs9JZ9gfW2JB53GxgcLXMADNbGQJ7gZxHfrfnK/qcnxyHd8cyO277Plgjw+5HBtzVyq/UZe4YncwfJIbbbMm5xWnGOuU7D1U+93NccHzor1/aWe9MydtV/NgxzH6lWsO+KN+snvl/l/x/bZ7ryFvYOW65Z18aE2w8Os56kxyYffXG3Il5qemt/Y/kAvng3Exbs3dLDf6Z2JtfVmP7NnBlBLp/Lbs07RFh7QCA32W2qL3i/iqPYXdUQMNHqUt4lxyY9zR84Z9CUvdL8yZ3qauUCsfevstv30EOdRLz11WTm78O9Ytxv5p3Y4r2Nfk+uZRo47frfmRN+gRbW/W8t+GhqPOQAvaLlX039gbjP7eqH11Ir5sy9XN/YjtQ2Wq/YzT6o8klt1FqEXswksK3O7tZ+uNGpsaP/CB9yBlTqjHu/lH5zr58yn6/wgPjHPrOGZ/UKPzazF8pQ9PRUzfHMm3KAVc/Fa3My3U+tv6PnNWYC2u/lKfgfW/VbdiIsO1fm0tc+m/+336s98OVZ/uOhZ5xs1HVsz19Y6uX/3lxyCrWd+Y+1BfvDZYaPeHqwNfNf/zY+1d9tN37uqn76fcsU5S/n6vntazhvusUfvvrmY1t4xm919YgzuoE/7d2kNFecWeYIJbna9PlFLZsq/2nNuXjibivHhpiO2I/uXs86sx5Xvl3KG5p32F/r4JNE="}}]'
)
GRID = (3,)
TARGETS = ("interpret", "cpu")
SIGNATURE = "mismatch:cpu:o7_ptr"


def check():
    from jitlang.fuzz.execute import execute

    return execute(kernel, ARGS, GRID, TARGETS)


if __name__ == "__main__":
    out = check()
    print(out.signature or "pass")
    print(out.message)
    raise SystemExit(0 if out.status == "pass" else 1)
