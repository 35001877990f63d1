"""Fuzz generator: seeded random kernels in the Triton dialect, as Python source text.

(This module: the `Case`, dtype tracking and the expression writer; the kernel shapes are in
`families`, whose `generate` is the entry point.)

Stage: test tooling. Input: a seed (and features to leave out); output: a `Case`, the source of
a module holding one `@jl.jit` kernel named `kernel` (and any `@jl.jit` helpers), its launch
arguments (arrays described by dtype, shape and seed; scalars; constexprs) and its grid.

Every kernel is well typed by construction: the generator tracks the dtype and shape of each
value with Triton's promotion rules (`_promote`), guards integer division and shifts against
undefined cases (zero or -1 divisors, shift counts past the width), only casts floats to integers
after clamping them and replacing NaN, and masks every access. A kernel a target still rejects is
a finding of the run, not noise. The same seed always gives the same case.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .inputs import bits as _bits
from .inputs import is_float as _is_float

INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOATS = ["float16", "bfloat16", "float32", "float64"]
# weights: the common dtypes more often
DATA_DTYPES = INTS + FLOATS + ["int32", "float32", "float32", "int32"]
FLOAT_MATH = ["exp", "log", "sqrt", "sin", "cos", "floor", "ceil", "abs", "tanh", "sigmoid",
              "erf", "exp2", "log2", "rsqrt"]  # fmt: skip
INT_BINOPS = ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"]
FLOAT_BINOPS = ["+", "-", "*", "/"]
CMPS = ["<", "<=", "==", "!=", ">", ">="]


@dataclass
class Case:
    """One generated kernel and its launch."""

    seed: int
    family: str
    source: str
    args: list[dict]  # {"kind": "array", name, dtype, shape, seed} | {"kind": "scalar", ...}
    constexprs: dict[str, int]
    grid: tuple[int, ...]
    features: set[str] = field(default_factory=set)
    # numpy source of `reference(a) -> {array name: expected}` (a: name -> launch argument),
    # where one is cheap; compared with the first target's results by the same rules
    reference: str = ""

    def to_json(self) -> dict:
        return {
            "seed": self.seed,
            "family": self.family,
            "source": self.source,
            "args": self.args,
            "constexprs": self.constexprs,
            "grid": list(self.grid),
            "features": sorted(self.features),
            "reference": self.reference,
        }

    @staticmethod
    def from_json(d: dict) -> Case:
        return Case(
            d["seed"],
            d["family"],
            d["source"],
            d["args"],
            d["constexprs"],
            tuple(d["grid"]),
            set(d["features"]),
            d.get("reference", ""),
        )


# Python literals are "weak": they take the type of the block they meet (Triton's rule)
WEAK = ("wint", "wfloat")


def is_float(dt: str) -> bool:
    return dt == "wfloat" or _is_float(dt)


def bits(dt: str) -> int:
    return 32 if dt in WEAK else _bits(dt)


def concrete(dt: str) -> str:
    """The dtype a value of `dt` has on its own (a lone literal: int32 or float32)."""
    return {"wint": "int32", "wfloat": "float32"}.get(dt, dt)


def _promote(a: str, b: str) -> str:
    """Triton's binary promotion of two block dtypes (semantic.computation_type_impl):
    1. a float64 operand makes float64; 2. else float32 if either is float32 or they are
    float16 and bfloat16; 3. else the one float type; 4. two integers of different signedness:
    the wider, the unsigned one on a tie; 5. else the wider integer."""
    if a == b:
        return a
    if a in WEAK and b in WEAK:
        return "wfloat" if "wfloat" in (a, b) else "wint"
    if a in WEAK or b in WEAK:
        strong, weak = (b, a) if a in WEAK else (a, b)
        return strong if weak == "wint" or is_float(strong) else "float32"
    fa, fb = is_float(a), is_float(b)
    if fa or fb:
        if "float64" in (a, b):
            return "float64"
        if "float32" in (a, b) or (fa and fb):
            return "float32"
        return a if fa else b
    if a == "int1":
        return b
    if b == "int1":
        return a
    ua, ub = a.startswith("u"), b.startswith("u")
    if ua != ub and bits(a) == bits(b):
        return a if ua else b
    return a if bits(a) > bits(b) else b


@dataclass
class Val:
    text: str
    dtype: str
    shape: tuple[int, ...]


class _Writer:
    """Lines of the kernel body, with the values in scope and the launch being built."""

    def __init__(self, rng: random.Random, exclude: set[str]) -> None:
        self.rng = rng
        self.exclude = exclude
        self.lines: list[str] = []
        self.helpers: list[str] = []
        self.params: list[str] = []
        self.args: list[dict] = []
        self.constexprs: dict[str, int] = {}
        self.features: set[str] = set()
        self.pool: list[Val] = []  # block values of the current shape
        self.scalars: list[Val] = []
        self.n_tmp = 0
        self.indent = 1

    # -- launch ---------------------------------------------------------------------------
    def array(
        self, dtype: str, shape: tuple[int, ...], out: bool = False, huge: bool = True
    ) -> str:
        name = f"{'o' if out else 'x'}{len(self.args)}_ptr"
        self.params.append(name)
        seed = self.rng.randrange(1 << 30)
        edge = 0.0 if out else self.rng.choice([0.0, 0.1, 0.3])
        self.args.append(
            {
                "kind": "array",
                "name": name,
                "dtype": dtype,
                "shape": list(shape),
                "seed": seed,
                "edge": edge,
            }  # fmt: skip
        )
        if not huge:
            self.args[-1]["huge"] = False
        return name

    def scalar(self, dtype: str, value) -> Val:
        name = f"s{len(self.args)}"
        self.params.append(name)
        self.args.append({"kind": "scalar", "name": name, "dtype": dtype, "value": value})
        v = Val(name, dtype, ())
        self.scalars.append(v)
        return v

    def constexpr(self, name: str, value: int) -> str:
        self.params.append(f"{name}: tl.constexpr")
        self.args.append({"kind": "constexpr", "name": name, "value": value})
        self.constexprs[name] = value
        return name

    # -- body -----------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def let(self, text: str, dtype: str, shape: tuple[int, ...], keep: bool = True) -> Val:
        name = f"t{self.n_tmp}"
        self.n_tmp += 1
        self.emit(f"{name} = {text}")
        v = Val(name, dtype, shape)
        if keep:
            self.pool.append(v)
        return v

    def want(self, feature: str) -> bool:
        if feature in self.exclude:
            return False
        self.features.add(feature)
        return True

    # -- expressions ----------------------------------------------------------------------
    def leaf(self, shape, kind: str | None = None) -> Val:
        rng = self.rng
        cands = [v for v in self.pool if v.shape == shape]
        cands += [v for v in self.scalars]
        if kind == "int":
            cands = [v for v in cands if not is_float(v.dtype) and v.dtype != "int1"]
        elif kind == "float":
            cands = [v for v in cands if is_float(v.dtype)]
        if cands and rng.random() < 0.85:
            return rng.choice(cands)
        if kind == "float" or (kind is None and rng.random() < 0.4):
            lit = rng.choice(["0.5", "-2.0", "3.0", "1e-3", "-0.0", "100.0", "0.1"])
            return Val(lit, "wfloat", ())
        # no negative integer literals: with an unsigned block they are out of range
        lit = rng.choice(["1", "2", "3", "7", "0", "5", "100"])
        return Val(lit, "wint", ())

    def expr(self, shape, depth: int, kind: str | None = None) -> Val:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.2:
            v = self.leaf(shape, kind)
            return v
        r = rng.random()
        a = self.expr(shape, depth - 1, kind)
        if r < 0.45:
            b = self.expr(shape, depth - 1, kind)
            return self.binop(a, b)
        if r < 0.6 and self.want("minmax_where"):
            b = self.expr(shape, depth - 1, kind)
            t = _promote(a.dtype, b.dtype)
            form = rng.randrange(3)
            if form == 0:
                return Val(f"tl.minimum({a.text}, {b.text})", t, _bshape(a, b))
            if form == 1:
                return Val(f"tl.maximum({a.text}, {b.text})", t, _bshape(a, b))
            c = self.expr(shape, depth - 1)
            op = rng.choice(CMPS)
            return Val(
                f"tl.where({c.text} {op} {a.text}, {a.text}, {b.text})",
                t,
                _bshape(_bshape(a, b), c),
            )
        if r < 0.78:
            return self.unary(a, shape)
        return self.cast(a, kind)

    def binop(self, a: Val, b: Val) -> Val:
        rng = self.rng
        t = _promote(a.dtype, b.dtype)
        sh = _bshape(a, b)
        if _is_literal(a.text) and _is_literal(b.text):
            # Python folds two literals at compile time: `1.0 / 0` is a compile error
            return Val(f"({a.text} + {b.text})", t, sh)
        if is_float(t):
            op = rng.choice(FLOAT_BINOPS)
            if op == "/" and not self.want("fdiv"):
                op = "*"
            return Val(f"({a.text} {op} {b.text})", t, sh)
        op = rng.choice(INT_BINOPS)
        if op in ("//", "%"):
            if not self.want("int_divmod"):
                return Val(f"({a.text} + {b.text})", t, sh)
            # never 0 or -1: C division of INT_MIN by -1 is undefined
            d = f"(({b.text} & 7) + 2)"
            if not t.startswith("u") and rng.random() < 0.5:
                d = f"(-(({b.text} & 7) + 2))"
            if a.dtype.startswith("u") != b.dtype.startswith("u"):
                # the language rejects / // % of mixed signedness (as Triton does): cast first
                if _is_literal(a.text) or _is_literal(b.text):
                    return Val(f"({a.text} + {b.text})", t, sh)
                d = f"{d}.to(tl.{a.dtype})"
                t = a.dtype
            return Val(f"({a.text} {op} {d})", t, sh)
        if op in ("<<", ">>"):
            if not self.want("shift"):
                return Val(f"({a.text} ^ {b.text})", t, sh)
            width = min(bits(a.dtype) if a.dtype not in WEAK else 64, bits(t))
            return Val(f"({a.text} {op} ({b.text} & {width - 1}))", t, sh)
        return Val(f"({a.text} {op} {b.text})", t, sh)

    def unary(self, a: Val, shape) -> Val:
        rng = self.rng
        fn = rng.choice(FLOAT_MATH)
        if is_float(a.dtype) and self.want("math") and self.want(f"math_{fn}"):
            if fn == "fma":
                b = self.expr(shape, 0, "float")
                return Val(f"tl.fma({a.text}, {b.text}, {a.text})", a.dtype, _bshape(a, b))
            if a.shape == () and a.dtype == "float32" and not a.text.startswith("s"):
                return Val(f"-{a.text}", a.dtype, a.shape)
            if fn in ("sin", "cos"):
                # the CPU's sin/cos are accurate only for |x| <= 1e5 (documented in
                # codegen/cpu/vecmath.py, SIN_COS_MAX_ARG): keep arguments inside it
                return Val(
                    f"tl.{fn}(tl.minimum(tl.maximum({a.text}, -1000.0), 1000.0))", a.dtype, a.shape
                )
            return Val(f"tl.{fn}({a.text})", a.dtype, a.shape)
        if _is_literal(a.text):
            return a
        if not is_float(a.dtype) and rng.random() < 0.4:
            return Val(f"(~{a.text})", a.dtype, a.shape)
        if a.shape and rng.random() < 0.5:
            return Val(f"tl.abs({a.text})", a.dtype, a.shape)
        return Val(f"(-{a.text})", a.dtype, a.shape)

    def cast(self, a: Val, kind: str | None) -> Val:
        rng = self.rng
        if not a.shape or not self.want("cast"):
            return a
        if kind == "int":
            to = rng.choice(INTS)
        elif kind == "float":
            to = rng.choice(FLOATS)
        else:
            to = rng.choice(INTS + FLOATS)
        if "float64" in self.exclude and to == "float64":
            to = "float32"
        if "int64" in self.exclude and to in ("int64", "uint64"):
            to = "int32"
        if is_float(a.dtype) and not is_float(to):
            # float -> int is undefined for NaN and out-of-range values: clamp first
            if not a.text.isidentifier():
                a = self.let(a.text, a.dtype, a.shape, keep=False)
            c = f"tl.where({a.text} == {a.text}, tl.minimum(tl.maximum({a.text}, -100.0), 100.0), 0.0)"
            return Val(f"{c}.to(tl.{to})", to, a.shape)
        return Val(f"{a.text}.to(tl.{to})", to, a.shape)

    def source(self, family: str) -> str:
        head = ["import jitlang as jl", "import jitlang.language as tl", "", ""]
        for h in self.helpers:
            head += h.splitlines() + ["", ""]
        head += ["@jl.jit", f"def kernel({', '.join(self.params)}):"]
        return "\n".join(head + self.lines) + "\n"


def _is_literal(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bshape(a: Val | tuple, b: Val | tuple) -> tuple[int, ...]:
    sa = a if isinstance(a, tuple) else a.shape
    sb = b if isinstance(b, tuple) else b.shape
    return sa if len(sa) >= len(sb) else sb


def _block_expr(w: _Writer, shape: tuple[int, ...], depth: int, kind: str | None = None) -> Val:
    """A new block value of `shape` (a scalar expression is broadcast with `tl.full`)."""
    r = _store_val(w.expr(shape, depth, kind))
    if r.shape != shape:
        dims = ", ".join(str(d) for d in shape)
        r = Val(f"tl.full(({dims},), {r.text}, tl.{r.dtype})", r.dtype, shape)
    return w.let(r.text, r.dtype, shape)


def _store_val(v: Val) -> Val:
    """Comparisons give int1 blocks; store those as int8."""
    v = Val(v.text, concrete(v.dtype), v.shape)
    if v.dtype == "int1":
        return Val(f"{v.text}.to(tl.int8)", "int8", v.shape)
    return v


def _size(w: _Writer, name: str, value: int) -> None:
    w.params.append(name)
    w.args.append({"kind": "scalar", "name": name, "dtype": "int32", "value": value})


def _data_dtype(w: _Writer) -> str:
    dt = w.rng.choice(DATA_DTYPES)
    if dt == "float64" and "float64" in w.exclude:
        dt = "float32"
    if dt in ("int64", "uint64") and "int64" in w.exclude:
        dt = "int32"
    if dt in ("float16", "bfloat16") and "half" in w.exclude:
        dt = "float32"
    return dt


def _scalars(w: _Writer, huge: bool = True) -> None:
    rng = w.rng
    if rng.random() < 0.5:
        w.scalar("int32", rng.choice([3, -7, 0, 1, 100, -2147483648, 2147483647, 12]))
    if rng.random() < 0.4:
        big = [1e30] if huge else []
        w.scalar("float32", rng.choice([0.5, -2.25, 3.0, -0.0, 1e-40, *big]))


def _case(w: _Writer, family: str, grid) -> Case:
    return Case(
        seed=w.seed,
        family=family,
        source=w.source(family),
        args=w.args,
        constexprs=w.constexprs,
        grid=tuple(grid),
        features=w.features,
    )
