"""Fuzz generator: seeded random kernels in the Triton dialect, as Python source text.

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

    def to_json(self) -> dict:
        return {
            "seed": self.seed,
            "family": self.family,
            "source": self.source,
            "args": self.args,
            "constexprs": self.constexprs,
            "grid": list(self.grid),
            "features": sorted(self.features),
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


# -- families -----------------------------------------------------------------------------
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


def _fam_elementwise(w: _Writer) -> Case:
    rng = w.rng
    block = rng.choice([16, 32, 64, 128, 256])
    n = rng.choice([block * rng.randint(1, 3), rng.randint(1, 3 * block), block - 1, 1])
    nin = rng.randint(1, 3)
    ins = [(w.array(_data_dtype(w), (n,)), None) for _ in range(nin)]
    _scalars(w)
    _size(w, "n", n)
    B = w.constexpr("BLOCK", block)
    w.emit(f"offs = tl.program_id(0) * {B} + tl.arange(0, {B})")
    w.emit("m = offs < n")
    for (name, _), spec in zip(ins, w.args):
        other = "0" if not is_float(spec["dtype"]) else rng.choice(["0.0", "1.0", "float('nan')"])
        other = other if other != "float('nan')" else "0.0"
        w.let(f"tl.load({name} + offs, mask=m, other={other})", spec["dtype"], (block,))
    outs = []
    for _ in range(rng.randint(1, 2)):
        v = _block_expr(w, (block,), rng.randint(1, 5))
        o = w.array(v.dtype, (n,), out=True)
        outs.append((o, v))
    for o, v in outs:
        w.emit(f"tl.store({o} + offs, {v.text}, mask=m)")
    grid = (-(-n // block) + rng.choice([0, 0, 1]),)
    return _case(w, "elementwise", grid)


def _fam_block2d(w: _Writer) -> Case:
    rng = w.rng
    BM, BN = rng.choice([2, 4, 8, 16, 32]), rng.choice([4, 8, 16, 32, 64])
    M = rng.choice([BM, BM * 2, rng.randint(1, 2 * BM)])
    N = rng.choice([BN, rng.randint(1, BN)])
    dt = _data_dtype(w)
    # reductions and scans overflow to inf or not depending on their order: no huge floats
    x = w.array(dt, (M, N), huge=False)
    y = w.array(_data_dtype(w), (M,), huge=False) if rng.random() < 0.6 else None
    _scalars(w, huge=False)
    for nm, val in (("M", M), ("N", N)):
        _size(w, nm, val)
    w.constexpr("BM", BM)
    w.constexpr("BN", BN)
    w.emit("rm = tl.program_id(0) * BM + tl.arange(0, BM)")
    w.emit("rn = tl.arange(0, BN)")
    w.emit("mask = (rm[:, None] < M) & (rn[None, :] < N)")
    w.emit("offs = rm[:, None] * N + rn[None, :]")
    other = "0" if not is_float(dt) else rng.choice(["0.0", "-1.0"])
    w.let(f"tl.load({x} + offs, mask=mask, other={other})", dt, (BM, BN))
    if y is not None:
        ydt = next(a["dtype"] for a in w.args if a.get("name") == y)
        yv = w.let(f"tl.load({y} + rm, mask=rm < M, other=1)", ydt, (BM,), keep=False)
        w.pool.append(Val(f"tl.broadcast_to({yv.text}[:, None], (BM, BN))", ydt, (BM, BN)))
        w.features.add("broadcast")
    if rng.random() < 0.5:
        w.pool.append(Val("tl.broadcast_to(rn[None, :], (BM, BN))", "int32", (BM, BN)))
    e = _block_expr(w, (BM, BN), rng.randint(0, 4))
    # a second-stage op on the 2-D block
    ops = ["store", "sum", "max", "min", "argmax", "argmin", "cumsum", "cumprod", "sort", "trans",
           "reshape", "xor_sum", "flip"]  # fmt: skip
    op = rng.choice(ops)
    axis = rng.randrange(2)
    red = {"sum": "tl.sum", "max": "tl.max", "min": "tl.min", "xor_sum": "tl.xor_sum"}
    if op == "xor_sum" and is_float(e.dtype):
        op = "sum"
    if op in ("max", "min") and is_float(e.dtype) and not w.want("reduce_float_minmax"):
        op = "sum"
    if op in red and w.want("reduce"):
        t = e.dtype
        if op == "sum" and not is_float(t) and bits(t) < 32:
            t = "uint32" if t.startswith("u") else "int32"
        if op == "sum" and t in ("float16", "bfloat16"):
            t = "float32"
        r = w.let(f"{red[op]}({e.text}, axis={axis})", t, ((BN,), (BM,))[axis])
        _store_1d(w, r, axis, M, N)
    elif op in ("argmax", "argmin") and w.want("argminmax"):
        r = w.let(f"tl.{op}({e.text}, axis={axis})", "int32", ((BN,), (BM,))[axis])
        _store_1d(w, r, axis, M, N)
    elif op in ("cumsum", "cumprod") and w.want("scan"):
        t = e.dtype
        if not is_float(t) and bits(t) < 32:
            t = "uint32" if t.startswith("u") else "int32"
        if t in ("float16", "bfloat16"):
            t = "float32"
        r = w.let(f"tl.{op}({e.text}, axis={axis})", t, (BM, BN))
        _store_2d(w, r, M, N)
    elif op == "sort" and w.want("sort"):
        desc = rng.choice(["False", "True"])
        if is_float(e.dtype) and not w.want("sort_nan"):
            e = w.let(f"tl.where({e.text} == {e.text}, {e.text}, 0.0)", e.dtype, e.shape, False)
        r = w.let(f"tl.sort({e.text}, descending={desc})", e.dtype, (BM, BN))
        _store_2d(w, r, M, N)
    elif op == "flip" and w.want("flip"):
        r = w.let(f"tl.flip({e.text}, 1)", e.dtype, (BM, BN))
        _store_2d(w, r, M, N)
    elif op == "trans" and w.want("trans") and _wide_int_ok(w, e.dtype):
        r = w.let(f"tl.trans({e.text})", e.dtype, (BN, BM))
        o = w.array(e.dtype, (N, M), out=True)
        w.emit(
            f"tl.store({o} + rn[:, None] * M + rm[None, :], {r.text}, "
            "mask=(rn[:, None] < N) & (rm[None, :] < M))"
        )
    elif op == "reshape" and w.want("reshape"):
        r = w.let(f"tl.reshape({e.text}, ({BM * BN},))", e.dtype, (BM * BN,))
        o = w.array(e.dtype, (M, N), out=True)
        w.emit(f"tl.store({o} + tl.reshape(offs, ({BM * BN},)), {r.text}, "
               f"mask=tl.reshape(mask, ({BM * BN},)))")  # fmt: skip
    else:
        _store_2d(w, e, M, N)
    grid = (-(-M // BM) + rng.choice([0, 0, 1]),)
    return _case(w, "block2d", grid)


def _wide_int_ok(w: _Writer, dt: str) -> bool:
    """Transposing 32-bit integers is its own feature (the accelerator's is known lossy)."""
    return is_float(dt) or bits(dt) < 32 or w.want("trans_wide_int")


def _store_1d(w: _Writer, r: Val, axis: int, M, N) -> None:
    o = w.array(r.dtype, ((N,), (M,))[axis], out=True)
    idx, lim = (("rn", "N"), ("rm", "M"))[axis]
    if axis == 0:
        # every program reduces its own rows: give each its own output row
        o_full = w.args[-1]
        o_full["shape"] = [-(-M // w.constexprs["BM"]) + 1, N]
        w.emit(f"tl.store({o} + tl.program_id(0) * N + rn, {r.text}, mask=rn < N)")
    else:
        w.emit(f"tl.store({o} + {idx}, {r.text}, mask={idx} < {lim})")


def _store_2d(w: _Writer, r: Val, M, N) -> None:
    o = w.array(r.dtype, (M, N), out=True)
    w.emit(f"tl.store({o} + offs, {r.text}, mask=mask)")


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


def _fam_block3d(w: _Writer) -> Case:
    rng = w.rng
    A, B, C = rng.choice([2, 4]), rng.choice([2, 4, 8]), rng.choice([4, 8, 16])
    dt = _data_dtype(w)
    x = w.array(dt, (A, B, C), huge=False)
    w.constexpr("A", A)
    w.constexpr("B", B)
    w.constexpr("C", C)
    w.emit("ia = tl.arange(0, A)[:, None, None]")
    w.emit("ib = tl.arange(0, B)[None, :, None]")
    w.emit("ic = tl.arange(0, C)[None, None, :]")
    w.emit("offs = ia * (B * C) + ib * C + ic")
    w.let(f"tl.load({x} + offs)", dt, (A, B, C))
    _scalars(w, huge=False)
    e = _block_expr(w, (A, B, C), rng.randint(0, 3))
    op = rng.choice(["permute", "reshape", "sum", "max", "trans"])
    if op == "max" and is_float(e.dtype) and not w.want("reduce_float_minmax"):
        op = "sum"
    if op == "permute" and w.want("permute") and _wide_int_ok(w, e.dtype):
        order = rng.choice([(0, 2, 1), (1, 0, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0)])
        dims = [(A, "A", "ia"), (B, "B", "ib"), (C, "C", "ic")]
        pd = [dims[i] for i in order]
        r = w.let(f"tl.permute({e.text}, {order})", e.dtype, tuple(d[0] for d in pd))
        o = w.array(e.dtype, tuple(d[0] for d in pd), out=True)
        w.emit(f"pa = tl.arange(0, {pd[0][1]})[:, None, None]")
        w.emit(f"pb = tl.arange(0, {pd[1][1]})[None, :, None]")
        w.emit(f"pc = tl.arange(0, {pd[2][1]})[None, None, :]")
        w.emit(f"tl.store({o} + pa * ({pd[1][1]} * {pd[2][1]}) + pb * {pd[2][1]} + pc, {r.text})")
    elif op == "trans" and w.want("trans") and _wide_int_ok(w, e.dtype):
        r = w.let(f"tl.trans({e.text}, 2, 1, 0)", e.dtype, (C, B, A))
        o = w.array(e.dtype, (C, B, A), out=True)
        w.emit(f"tl.store({o} + ic * 1 + ib * C + ia * (B * C), tl.trans({r.text}, 2, 1, 0))")
    elif op == "reshape" and w.want("reshape"):
        r = w.let(f"tl.reshape({e.text}, (A * B, C))", e.dtype, (A * B, C))
        o = w.array(e.dtype, (A * B, C), out=True)
        w.emit("r2 = tl.arange(0, A * B)[:, None] * C + tl.arange(0, C)[None, :]")
        w.emit(f"tl.store({o} + r2, {r.text})")
    elif op in ("sum", "max") and w.want("reduce"):
        axis = rng.randrange(3)
        t = e.dtype
        if op == "sum" and not is_float(t) and bits(t) < 32:
            t = "uint32" if t.startswith("u") else "int32"
        if op == "sum" and t in ("float16", "bfloat16"):
            t = "float32"
        keep = [(B, C), (A, C), (A, B)][axis]
        r = w.let(f"tl.{op}({e.text}, axis={axis})", t, keep)
        o = w.array(t, keep, out=True)
        w.emit(
            f"r2 = tl.arange(0, {keep[0]})[:, None] * {keep[1]} + tl.arange(0, {keep[1]})[None, :]"
        )
        w.emit(f"tl.store({o} + r2, {r.text})")
    else:
        o = w.array(e.dtype, (A, B, C), out=True)
        w.emit(f"tl.store({o} + offs, {e.text})")
    return _case(w, "block3d", (1,))


DOT_IN = ["float16", "bfloat16", "float32", "int8", "float64"]


def _fam_dot(w: _Writer) -> Case:
    rng = w.rng
    dt = rng.choice([d for d in DOT_IN if not (d == "float64" and "float64" in w.exclude)])
    if not w.want(f"dot_{dt}"):
        dt = "float32"
        w.features.add("dot_float32")
    BM, BN, BK = rng.choice([16, 32]), rng.choice([16, 32, 64]), rng.choice([16, 32])
    M = rng.choice([BM, rng.randint(1, 2 * BM)])
    N = rng.choice([BN, rng.randint(1, BN)])
    K = rng.choice([BK, 2 * BK, rng.randint(1, 3 * BK)])
    a = w.array(dt, (M, K), huge=False)
    b = w.array(dt, (K, N), huge=False)
    acc_t = "int32" if dt == "int8" else ("float64" if dt == "float64" else "float32")
    for nm, val in (("M", M), ("N", N), ("K", K)):
        _size(w, nm, val)
    for nm, val in (("BM", BM), ("BN", BN), ("BK", BK)):
        w.constexpr(nm, val)
    w.emit("rm = tl.program_id(0) * BM + tl.arange(0, BM)")
    w.emit("rn = tl.program_id(1) * BN + tl.arange(0, BN)")
    w.emit("rk = tl.arange(0, BK)")
    w.emit(f"acc = tl.zeros((BM, BN), tl.{acc_t})")
    w.emit("for k0 in range(0, K, BK):")
    w.indent += 1
    w.emit("kk = k0 + rk")
    w.emit(f"av = tl.load({a} + rm[:, None] * K + kk[None, :], "
           "mask=(rm[:, None] < M) & (kk[None, :] < K), other=0)")  # fmt: skip
    w.emit(f"bv = tl.load({b} + kk[:, None] * N + rn[None, :], "
           "mask=(kk[:, None] < K) & (rn[None, :] < N), other=0)")  # fmt: skip
    if rng.random() < 0.5 and w.want("dot_acc"):
        w.emit("acc = tl.dot(av, bv, acc)")
    else:
        w.emit("acc += tl.dot(av, bv)")
    w.indent -= 1
    w.pool.append(Val("acc", acc_t, (BM, BN)))
    e = _block_expr(w, (BM, BN), rng.choice([0, 0, 1, 2]))
    o = w.array(e.dtype, (M, N), out=True)
    w.emit(f"tl.store({o} + rm[:, None] * N + rn[None, :], {e.text}, "
           "mask=(rm[:, None] < M) & (rn[None, :] < N))")  # fmt: skip
    return _case(w, "dot", (-(-M // BM), -(-N // BN)))


HELPERS = [
    ("helper_axpb", "@jl.jit\ndef helper_axpb(a, b):\n    return a * 3 + b\n"),
    (
        "helper_sel",
        "@jl.jit\ndef helper_sel(a, b):\n    if a.dtype == tl.float32:\n"
        "        return tl.maximum(a, b)\n    return a - b\n",
    ),  # fmt: skip
    (
        "helper_loop",
        "@jl.jit\ndef helper_loop(a, b):\n    r = a\n    for i in range(3):\n"
        "        r = r + b\n    return r\n",
    ),  # fmt: skip
]


def _fam_control(w: _Writer) -> Case:
    rng = w.rng
    block = rng.choice([16, 32, 64])
    n = rng.choice([block, rng.randint(1, 2 * block), 2 * block])
    dt = rng.choice(["int32", "float32", "int16", "float16", _data_dtype(w)])
    x = w.array(dt, (n,))
    _size(w, "n", n)
    trips = w.scalar("int32", rng.choice([0, 1, 3, 5]))
    w.scalars.remove(trips)
    _scalars(w)
    B = w.constexpr("BLOCK", block)
    w.emit(f"offs = tl.program_id(0) * {B} + tl.arange(0, {B})")
    w.emit("m = offs < n")
    xv = w.let(f"tl.load({x} + offs, mask=m, other=0)", dt, (block,))
    acc = w.let(f"tl.zeros(({B},), tl.{dt})", dt, (block,), keep=False)
    w.emit("c = 0")
    kind = rng.choice(["for", "while", "if", "static", "helper", "nested"])
    if kind == "helper" and w.want("helper"):
        name, text = rng.choice(HELPERS)
        w.helpers.append(text)
        w.emit(f"{acc.text} = {name}({xv.text}, {acc.text})")
    elif kind == "while" and w.want("while"):
        w.emit(f"while c < {trips.text}:")
        w.indent += 1
        body = w.expr((block,), 2)
        w.emit(f"{acc.text} = {acc.text} + ({body.text}).to(tl.{dt})")
        w.emit("c += 1")
        w.indent -= 1
    elif kind == "if" and w.want("if"):
        w.emit(f"if {trips.text} > 2:")
        w.indent += 1
        w.emit(f"{acc.text} = ({w.expr((block,), 2).text} + {acc.text}).to(tl.{dt})")
        w.emit("c = c + 5")
        w.indent -= 1
        w.emit("else:")
        w.indent += 1
        w.emit(f"{acc.text} = ({acc.text} - {xv.text}).to(tl.{dt})")
        w.indent -= 1
    elif kind == "static" and w.want("static_range"):
        w.emit("for i in tl.static_range(3):")
        w.indent += 1
        w.emit(f"{acc.text} = ({acc.text} + {xv.text} * (i + 1)).to(tl.{dt})")
        w.emit("c += i")
        w.indent -= 1
    elif kind == "nested" and w.want("nested_loop"):
        w.emit(f"for i in range({trips.text}):")
        w.indent += 1
        w.emit("for j in range(i):")
        w.indent += 1
        w.emit(f"{acc.text} = ({acc.text} + {xv.text}).to(tl.{dt})")
        w.emit("c = c + j")
        w.indent -= 2
    else:
        w.features.add("for")
        w.emit(f"for i in range({trips.text}):")
        w.indent += 1
        body = w.expr((block,), 2)
        w.emit(f"{acc.text} = ({acc.text} * 2 + {body.text}).to(tl.{dt})")
        w.emit("c = c * 3 + i")
        w.indent -= 1
    w.pool.append(acc)
    w.pool.append(Val("c", "int32", ()))
    e = _block_expr(w, (block,), rng.randint(0, 2))
    o = w.array(e.dtype, (n,), out=True)
    w.emit(f"tl.store({o} + offs, {e.text}, mask=m)")
    grid = (-(-n // block) + rng.choice([0, 1]),)
    return _case(w, "control", grid)


ATOMICS = ["atomic_add", "atomic_max", "atomic_min", "atomic_or", "atomic_and", "atomic_xor"]


def _fam_atomic(w: _Writer) -> Case:
    rng = w.rng
    block = rng.choice([16, 32, 64])
    n = rng.randint(1, 3 * block)
    dt = rng.choice(["int32", "int32", "uint32", "float32"])
    op = rng.choice(ATOMICS if dt != "float32" else ["atomic_add", "atomic_max", "atomic_min"])
    if dt == "float32" and op == "atomic_add":
        dt = "int32"  # float sums depend on the order the programs run in
    w.want(op)
    if dt == "float32" and not w.want("atomic_float_minmax"):
        dt = "int32"
    x = w.array(dt, (n,))
    bins = rng.choice([1, 4, 8, block])
    o = w.array(dt, (bins,), out=True)
    _size(w, "n", n)
    B = w.constexpr("BLOCK", block)
    w.emit(f"offs = tl.program_id(0) * {B} + tl.arange(0, {B})")
    w.emit("m = offs < n")
    w.emit(f"v = tl.load({x} + offs, mask=m, other=0)")
    w.emit(f"tl.{op}({o} + offs % {bins}, v, mask=m)")
    if rng.random() < 0.4 and w.want("atomic_cas"):
        c = w.array("int32", (-(-n // block) + 1,), out=True)
        w.emit(f"old = tl.atomic_cas({c} + tl.program_id(0), 0, tl.program_id(0) + 1)")
        w.emit(f"tl.atomic_xchg({c} + tl.program_id(0), old * 2 + 7)")
    grid = (-(-n // block) + rng.choice([0, 1]),)
    return _case(w, "atomic", grid)


def _fam_rand(w: _Writer) -> Case:
    rng = w.rng
    block = rng.choice([16, 32, 128])
    n = rng.randint(1, 3 * block)
    seed = w.scalar("int32", rng.choice([0, 1, 12345, -7]))
    w.scalars.remove(seed)
    _size(w, "n", n)
    B = w.constexpr("BLOCK", block)
    w.emit(f"offs = tl.program_id(0) * {B} + tl.arange(0, {B})")
    w.emit("m = offs < n")
    fn = rng.choice(["rand", "randint", "randn"])
    w.want(fn)
    t = "uint32" if fn == "randint" else "float32"
    r = w.let(f"tl.{fn}({seed.text}, offs)", t, (block,))
    if t == "float32" and rng.random() < 0.5:
        r = w.let(f"{r.text} * 2.0 - 1.0", t, (block,))
    o = w.array(t, (n,), out=True)
    w.emit(f"tl.store({o} + offs, {r.text}, mask=m)")
    return _case(w, "rand", (-(-n // block),))


FAMILIES = {
    "elementwise": (_fam_elementwise, 4),
    "block2d": (_fam_block2d, 3),
    "block3d": (_fam_block3d, 1),
    "dot": (_fam_dot, 2),
    "control": (_fam_control, 2),
    "atomic": (_fam_atomic, 1),
    "rand": (_fam_rand, 1),
}


def generate(seed: int, exclude: frozenset[str] = frozenset(), family: str | None = None) -> Case:
    """The case of `seed`: always the same source, arguments and grid for the same inputs.
    `exclude` names generator features to leave out (e.g. "float64", "int64", "half")."""
    rng = random.Random(seed)
    w = _Writer(rng, set(exclude))
    w.seed = seed
    if family is None:
        names = list(FAMILIES)
        family = rng.choices(names, [FAMILIES[k][1] for k in names])[0]
    return FAMILIES[family][0](w)
