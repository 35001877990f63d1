"""Fuzz kernel families: the shapes of kernel the generator writes, one function each.

Stage: test tooling, beside `gen` (which holds the typed expression writer). Input: a seed;
output: a `Case`. Families: elementwise 1-D (every operator, math function, cast and
promotion; partial and all-false masks), 2-D and 3-D blocks (broadcasts, reductions, scans,
argmax/argmin, sort, flip, trans/permute/reshape), dot (each input dtype, `acc=`, bf16/fp16
accumulators rounded per K block), control flow (for/while/if/static_range, loop-carried
scalars and blocks, `@jit` helpers), atomics and rand. Atomics and plain dots carry a numpy
reference (bit-exact for the narrow accumulators).
"""

from __future__ import annotations

import random

from .families_bounds import _fam_persistent, _fam_runtime_mask
from .gen import (
    Case,
    Val,
    _block_expr,
    _case,
    _data_dtype,
    _scalars,
    _size,
    _Writer,
    bits,
    is_float,
)


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
    elif op in ("cumsum", "cumprod") and w.want("scan") and w.want(op):
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
    # a bf16/fp16 accumulator rounded once per K block (NKI's result tiles; accel step
    # "narrow_acc" fuses the casts): inputs without edge values, so each block's fp32 sum is
    # exact in any order and every target rounds the same value (bit-exact reference below)
    narrow = None
    if dt in ("float16", "bfloat16", "float32") and rng.random() < 0.3 and w.want("dot_narrow"):
        narrow = rng.choice(["bfloat16", "float16"])
    a = w.array(dt, (M, K), huge=False)
    b = w.array(dt, (K, N), huge=False)
    if narrow:
        w.args[-1]["edge"] = w.args[-2]["edge"] = 0.0
    acc_t = "int32" if dt == "int8" else ("float64" if dt == "float64" else "float32")
    acc_t = narrow or acc_t
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
    if narrow:
        w.emit(f"acc = (acc.to(tl.float32) + tl.dot(av, bv)).to(tl.{narrow})")
    elif rng.random() < 0.5 and w.want("dot_acc"):
        w.emit("acc = tl.dot(av, bv, acc)")
    else:
        w.emit("acc += tl.dot(av, bv)")
    w.indent -= 1
    w.pool.append(Val("acc", acc_t, (BM, BN)))
    e = _block_expr(w, (BM, BN), rng.choice([0, 0, 1, 2]))
    o = w.array(e.dtype, (M, N), out=True)
    w.emit(f"tl.store({o} + rm[:, None] * N + rn[None, :], {e.text}, "
           "mask=(rm[:, None] < M) & (rn[None, :] < N))")  # fmt: skip
    case = _case(w, "dot", (-(-M // BM), -(-N // BN)))
    if narrow and e.text == "t0" and w.lines[-2].endswith("= acc"):
        # per K block: the exact sum plus the accumulator, rounded to float32 and then narrow
        case.reference = (
            "def reference(a):\n"
            f"    x, y = a[{a!r}].astype(np.float64), a[{b!r}].astype(np.float64)\n"
            f"    acc = np.zeros(({M}, {N}), a[{o!r}].dtype)\n"
            f"    for k0 in range(0, {K}, {BK}):\n"
            f"        p = x[:, k0:k0 + {BK}] @ y[k0:k0 + {BK}]\n"
            "        acc = (acc.astype(np.float64) + p).astype(np.float32)"
            f".astype(a[{o!r}].dtype)\n"
            f"    return {{{o!r}: acc}}\n"
        )
    elif e.text == "t0" and w.lines[-2].endswith("= acc"):
        # the product itself is stored: numpy computes it (exactly for int8, in float64 else)
        wide = "np.int64" if dt == "int8" else "np.float64"
        case.reference = (
            "def reference(a):\n"
            f"    p = a[{a!r}].astype({wide}) @ a[{b!r}].astype({wide})\n"
            f"    return {{{o!r}: p.astype(a[{o!r}].dtype)}}\n"
        )
    return case


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
    case = _case(w, "atomic", grid)
    ufunc = {"atomic_add": "add", "atomic_or": "bitwise_or", "atomic_and": "bitwise_and",
             "atomic_xor": "bitwise_xor", "atomic_max": "fmax" if dt == "float32" else "maximum",
             "atomic_min": "fmin" if dt == "float32" else "minimum"}[op]  # fmt: skip
    ref = [
        "def reference(a):",
        f"    out = a[{o!r}].copy()",
        f"    np.{ufunc}.at(out, np.arange(a['n']) % {bins}, a[{x!r}][: a['n']])",
        f"    res = {{{o!r}: out}}",
    ]
    if "atomic_xchg" in w.lines[-1]:
        ref += [
            f"    c = a[{c!r}].copy()",
            f"    c[:{grid[0]}] = c[:{grid[0]}] * np.int32(2) + np.int32(7)",
            f"    res[{c!r}] = c",
        ]
    case.reference = "\n".join(ref + ["    return res", ""])
    return case


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
    "runtime_mask": (_fam_runtime_mask, 2),
    "persistent": (_fam_persistent, 2),
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
