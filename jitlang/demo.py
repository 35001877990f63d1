"""`python -m jitlang.demo`: compile and run a few kernels on the CPU, check them against numpy."""

from __future__ import annotations

import time

import numpy as np

import jitlang as jl
import jitlang.language as tl


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


@jl.jit
def gelu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(out_ptr + offs, 0.5 * x * (1.0 + tl.erf(x * 0.7071067811865476)), mask=mask)


def main() -> None:
    n = 1 << 22
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    out = np.empty_like(x)

    t0 = time.perf_counter()
    add_kernel[(jl.cdiv(n, 1024),)](x, y, out, n, BLOCK=1024)
    t1 = time.perf_counter()
    assert np.array_equal(out, x + y)
    print(f"vector add of {n} floats: correct (compile + first launch {1e3 * (t1 - t0):.1f} ms)")

    gelu_kernel[(jl.cdiv(n, 1024),)](x, out, n, BLOCK=1024)
    from math import erf

    xs = x[:1000].astype(np.float64)
    ref = 0.5 * xs * (1 + np.vectorize(erf)(xs / np.sqrt(2)))
    assert np.allclose(out[:1000], ref[:1000], rtol=1e-5, atol=1e-6)
    print("gelu: correct")

    k = add_kernel.warmup(x, y, out, n, BLOCK=1024)
    print("\nThe tile IR of add_kernel:\n")
    print(k.asm["tile"])
    body = [ln for ln in k.asm["asm"].splitlines() if "vaddps" in ln or "vmovups" in ln]
    print("Host assembly of its inner loop (excerpt):")
    print("\n".join(body[:6]))


if __name__ == "__main__":
    main()
