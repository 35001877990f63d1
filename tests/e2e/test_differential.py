"""Differential testing: random elementwise kernels on the CPU target against the interpreter.

Each kernel is generated as Python source (a fixed seed per case), compiled for the CPU and also
run on the numpy tile-IR interpreter (`jitlang.interpreter`, the definition of the semantics);
both must agree bit for bit on integers and to a few ulp on floats.
"""

from __future__ import annotations

import importlib.util
import random

import numpy as np
import pytest

from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.frontend.visitor import build_kernel
from jitlang.interpreter import run_grid

INT_OPS = ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"]
FLOAT_OPS = ["+", "-", "*", "/"]
FUNCS = ["tl.minimum({a}, {b})", "tl.maximum({a}, {b})", "tl.where({a} < {b}, {a}, {b})"]
FLOAT_UNARY = [
    "tl.abs({a})",
    "tl.exp({a} * 0.1)",
    "tl.sqrt(tl.abs({a}))",
    "tl.sin({a})",
    "tl.floor({a})",
    "-{a}",
]


def _expr(rng: random.Random, depth: int, is_float: bool) -> str:
    leaves = (
        ["x", "y", "s", str(rng.randint(-9, 9)), "offs"]
        if not is_float
        else ["x", "y", "s", f"{rng.uniform(-3, 3):.3f}"]
    )
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(leaves)
    a = _expr(rng, depth - 1, is_float)
    b = _expr(rng, depth - 1, is_float)
    r = rng.random()
    if r < 0.6:
        op = rng.choice(FLOAT_OPS if is_float else INT_OPS)
        if op in ("<<", ">>"):
            b = f"({b} & 7)"
        return f"({a} {op} {b})"
    if r < 0.85 or not is_float:
        return rng.choice(FUNCS).format(a=a, b=b)
    return rng.choice(FLOAT_UNARY).format(a=a)


def _kernel_source(seed: int, is_float: bool) -> str:
    rng = random.Random(seed)
    body = _expr(rng, 4, is_float)
    return (
        "import jitlang as jl\nimport jitlang.language as tl\n\n\n"
        "@jl.jit\n"
        "def k(x_ptr, y_ptr, o_ptr, s, n, BLOCK: tl.constexpr):\n"
        "    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)\n"
        "    m = offs < n\n"
        "    x = tl.load(x_ptr + offs, mask=m, other=1)\n"
        "    y = tl.load(y_ptr + offs, mask=m, other=1)\n"
        f"    r = {body}\n"
        "    tl.store(o_ptr + offs, r, mask=m)\n"
    )


def _load(tmp_path, name: str, src: str):
    path = tmp_path / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.k


@pytest.mark.parametrize("seed", range(48))
def test_cpu_matches_interpreter(tmp_path, seed):
    is_float = seed % 2 == 1
    kern = _load(tmp_path, f"diff{seed}", _kernel_source(seed, is_float))
    rng = np.random.default_rng(seed)
    n, block = 100, 32
    dt = np.float32 if is_float else np.int32
    if is_float:
        x = rng.standard_normal(n).astype(dt)
        y = rng.standard_normal(n).astype(dt)
        s = float(rng.uniform(-2, 2))
    else:
        x = rng.integers(-1000, 1000, n).astype(dt)
        y = rng.integers(-1000, 1000, n).astype(dt)
        s = int(rng.integers(-50, 50))
    out_cpu = np.zeros(n, dt)
    out_ref = np.zeros(n, dt)
    grid = ((n + block - 1) // block,)
    try:
        kern[grid](x, y, out_cpu, s, n, BLOCK=block)
    except TypeError as e:  # e.g. a generated int/float mix the language rejects
        pytest.skip(f"generated kernel rejected: {e}")
    key, rt, values, _ = kern._fast(x, y, out_ref, s, n, BLOCK=block)
    fn, _ = build_kernel(kern, kern._params(key), "k")
    fn = optimize_tile_ir(fn, CompileOptions())
    ranges = kern._extents(key, values)
    run_grid(
        fn,
        (grid[0], 1, 1),
        list(rt),
        [(ranges[i], ranges[i + 1]) for i in range(0, len(ranges), 2)],
    )
    if is_float:
        np.testing.assert_allclose(out_cpu, out_ref, rtol=2e-5, atol=1e-5, equal_nan=True)
    else:
        np.testing.assert_array_equal(out_cpu, out_ref)
