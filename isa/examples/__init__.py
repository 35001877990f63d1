"""Built-in example programs in hand-written assembly, with numpy drivers that check them.

Each example names its `.s` file, builds random inputs, runs on the emulator and compares with a
numpy reference. `run_example(name)` is what `python -m isa example NAME` and the tests use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from isa.asm import assemble
from isa.binary import Binary
from isa.runner import RunResult, run

HERE = Path(__file__).parent


@dataclass
class Case:
    args: list  # kernel arguments
    grid: tuple[int, ...]
    check: Callable[[], float]  # max abs error of the outputs vs numpy
    tol: float


@dataclass(frozen=True)
class Example:
    name: str
    doc: str
    make: Callable[[np.random.Generator, dict], Case]

    @property
    def path(self) -> Path:
        return HERE / f"{self.name}.s"

    def binary(self) -> Binary:
        return assemble(self.path.read_text(), file=str(self.path.name))


def _vector_add(rng: np.random.Generator, opts: dict) -> Case:
    n = int(opts.get("n", (1 << 23) - 1000))  # 32 blocks of 128 x 2048, the last one masked
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    guard = np.full(n + 4096, -7.0, np.float32)  # out and a tail that must stay untouched
    out = guard[:n]

    def check() -> float:
        if not np.all(guard[n:] == -7.0):
            return float("inf")
        return float(np.max(np.abs(out - (x + y))))

    block = 128 * 2048
    return Case([x, y, guard, n], (-(-n // block),), check, 0.0)


def _matmul(rng: np.random.Generator, opts: dict) -> Case:
    m = k = n = 512
    a = rng.standard_normal((m, k), dtype=np.float32).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((k, n), dtype=np.float32).astype(ml_dtypes.bfloat16)
    c = np.zeros((m, n), np.float32)
    at = np.ascontiguousarray(a.T)

    def check() -> float:
        ref = a.astype(np.float32) @ b.astype(np.float32)
        return float(np.max(np.abs(c - ref)))

    return Case([at, b, c], (1,), check, 1e-3)


def _softmax(rng: np.random.Generator, opts: dict) -> Case:
    rows = int(opts.get("rows", 1000))  # 8 blocks of 128 rows, the last one masked
    x = (rng.standard_normal((rows, 1024), dtype=np.float32) * 4).astype(np.float32)
    out = np.full_like(x, np.nan)

    def check() -> float:
        e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
        return float(np.max(np.abs(out - e / e.sum(axis=1, keepdims=True))))

    return Case([x, out, rows], (-(-rows // 128),), check, 1e-6)


EXAMPLES: dict[str, Example] = {
    e.name: e
    for e in (
        Example("vector_add", "out = x + y over a grid, masked tail", _vector_add),
        Example("matmul", "512^3 bf16 matmul, fp32 PSUM accumulation", _matmul),
        Example("softmax", "row softmax, rows of 1024, masked tail", _softmax),
    )
}


@dataclass
class ExampleResult:
    name: str
    verified: bool
    max_error: float
    result: RunResult


def run_example(
    name: str, config: str = "nc-v2", seed: int = 0, profile: bool = True, **opts
) -> ExampleResult:
    """Run a built-in example on random inputs and check it against numpy."""
    if name not in EXAMPLES:
        raise KeyError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
    ex = EXAMPLES[name]
    case = ex.make(np.random.default_rng(seed), opts)
    res = run(ex.binary(), case.args, case.grid, config=config, profile=profile)
    err = case.check()
    return ExampleResult(name, bool(err <= case.tol), err, res)
