"""Fuzz kernel families over run-time bounds: masks against scalar arguments, persistent grids.

Stage: test tooling, beside `families` (registered in its `FAMILIES`). Input: a `_Writer` with
its seed; output: a `Case`.

- `runtime_mask`: one row per program, `cols` compared with run-time scalars (a bound at, below
  or above the block, 0 or negative; `<`, `<=`, `>`, or a band `lo <= cols < N`), then an `if`
  (with or without `else`) on a scalar argument, a loaded scalar or a reduction of the row,
  yielding 1-3 block or scalar values, then reductions and stores under the mask. The accel
  step `uniform_masks` versions exactly such regions (a two-result `if` crashed it).
- `persistent`: `for row in range(pid, n_rows, P)` over 2-16 programs, row-strided loads and
  stores whose iterations are disjoint (the CPU may run windows of rounds on different threads,
  codegen/cpu/roundsplit.py) or do meet, so that the CPU's check must refuse the split: a chain
  through the previous/next row of the same program, the program's one output slot stored (or
  read, added and stored) every iteration, a per-program scratch row, a carried accumulator.
  The `cpu_split` target (`execute`) launches these on two threads forced to split.
"""

from __future__ import annotations

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


def _reduced(w: _Writer, e: Val, op: str, mask: str) -> Val:
    """`tl.<op>` over axis 0 of the masked 1-D block `e` (masked lanes 0), with its dtype:
    sums of narrow integers widen to 32 bits and sums of half floats to float32."""
    t = e.dtype
    if op == "max" and is_float(t) and not w.want("reduce_float_minmax"):
        op = "sum"
    if op == "sum" and not is_float(t) and bits(t) < 32:
        t = "uint32" if t.startswith("u") else "int32"
    if op == "sum" and t in ("float16", "bfloat16"):
        t = "float32"
    return Val(f"tl.{op}(tl.where({mask}, {e.text}, 0), axis=0)", t, ())


def _typed_block(w: _Writer, shape, dt: str, depth: int) -> str:
    """A block expression of `shape` converted to `dt` (integers never come from floats: a
    float -> int conversion is undefined for NaN and out-of-range values)."""
    e = w.expr(shape, depth, None if is_float(dt) else "int")
    if e.shape != shape:
        return f"tl.full(({shape[0]},), {e.text}, tl.{dt})"
    return f"({e.text}).to(tl.{dt})"


def _fam_runtime_mask(w: _Writer) -> Case:
    rng = w.rng
    B = rng.choice([8, 16, 32, 64, 128])
    N = rng.choice([B, B - 1, B + 1, B // 2, 1, 0, -1, -(B + 3), 2 * B])
    form = rng.choice(["lt", "lt", "le", "gt", "band"])
    rows = rng.randint(1, 4)
    stride = max(B, N + 1)
    dt = rng.choice(["float32", "float32", "float16", "int32", _data_dtype(w)])
    x = w.array(dt, (rows, stride), huge=False)
    cond = rng.choice(["scalar", "loaded", "reduced", "count"])
    c = w.array(rng.choice(["int32", "float32"]), (rows,)) if cond == "loaded" else None
    s = w.scalar("int32", rng.choice([-1, 0, 1, 3])) if cond == "scalar" else None
    _scalars(w, huge=False)
    _size(w, "N", N)
    if form == "band":
        _size(w, "L", rng.choice([0, 1, -2, B // 4, N, B]))
    _size(w, "stride", stride)
    w.constexpr("BLOCK", B)
    w.want(f"mask_{form}")
    w.emit("row = tl.program_id(0)")
    w.emit("cols = tl.arange(0, BLOCK)")
    mask = {"lt": "cols < N", "le": "cols <= N - 1", "gt": "N > cols",
            "band": "(cols >= L) & (cols < N)"}[form]  # fmt: skip
    w.emit(f"mask = {mask}")
    xv = w.let(f"tl.load({x} + row * stride + cols, mask=mask, other=0)", dt, (B,))
    w.pool.append(Val("cols", "int32", (B,)))
    w.scalars.append(Val("row", "int32", ()))
    w.want(f"if_{cond}")
    if cond == "scalar":
        test = f"{s.text} > 0"
    elif cond == "loaded":
        test = f"tl.load({c} + row) > 0"
    elif cond == "reduced":
        # max, not sum: a float sum's rounding (so its sign near 0) depends on the order
        test = f"{_reduced(w, xv, 'max' if is_float(dt) else 'sum', 'mask').text} > 0"
    else:
        test = "tl.sum((mask & (" + xv.text + " > 0)).to(tl.int32), axis=0) > " + str(B // 3)
    # the values the `if` yields: blocks or scalars, each with one dtype in both branches
    outs = []
    for i in range(rng.randint(1, 3)):
        odt = rng.choice(["float32", dt, "int32"])
        outs.append((f"v{i}", odt, (B,) if rng.random() < 0.6 else ()))
    if any(sh == () for _, _, sh in outs):
        w.want("if_scalar_result")
    has_else = rng.random() < 0.7 or not w.want("if_no_else")
    if not has_else:
        for name, odt, sh in outs:
            w.emit(f"{name} = {_value(w, odt, sh, B, 0)}")
    w.emit(f"if {test}:")
    for branch in ("then", "else") if has_else else ("then",):
        if branch == "else":
            w.emit("else:")
        saved = list(w.pool)  # names bound in a branch are not visible after the `if`
        w.indent += 1
        for name, odt, sh in outs:
            w.emit(f"{name} = {_value(w, odt, sh, B, rng.randint(0, 3))}")
        w.indent -= 1
        w.pool = saved
    for name, odt, sh in outs:
        if sh:
            w.pool.append(Val(name, odt, sh))
        else:
            w.scalars.append(Val(name, odt, ()))
    for name, odt, sh in outs:
        if sh:
            o = w.array(odt, (rows, stride), out=True)
            w.emit(f"tl.store({o} + row * stride + cols, {name}, mask=mask)")
            r = _reduced(w, Val(name, odt, sh), rng.choice(["sum", "max", "min"]), "mask")
        else:
            r = Val(name, odt, ())
        o = w.array(r.dtype, (rows,), out=True)
        w.emit(f"tl.store({o} + row, {r.text})")
    e = _block_expr(w, (B,), rng.randint(0, 2))
    red = _reduced(w, e, "sum", "mask")
    r = w.let(red.text, red.dtype, ())
    o = w.array(r.dtype, (rows,), out=True)
    w.emit(f"tl.store({o} + row, {r.text})")
    return _case(w, "runtime_mask", (rows,))


def _value(w: _Writer, dt: str, shape, B: int, depth: int) -> str:
    """A value for one result of the `if`: a block of `dt`, or a scalar of `dt` (a masked
    reduction of a block, or arithmetic on the scalars in scope)."""
    if shape:
        return _typed_block(w, (B,), dt, depth)
    if w.rng.random() < 0.6:
        e = w.expr((B,), depth, None if is_float(dt) else "int")
        if e.shape:
            r = _reduced(w, e, w.rng.choice(["sum", "max", "min"]), "mask")
            if is_float(r.dtype) and not is_float(dt):
                r = Val(f"tl.where({r.text} == {r.text}, tl.minimum(tl.maximum({r.text}, "
                        "-100.0), 100.0), 0.0)", r.dtype, ())  # fmt: skip
            return f"({r.text}).to(tl.{dt})"
    return f"(row * 3 + {w.rng.choice(['1', '7', 'N'])}).to(tl.{dt})"


PERSIST_KINDS = ["independent", "inplace", "neighbour", "inner_acc", "chain_up", "chain_down",
                 "same_slot", "rmw_slot", "scratch", "carried"]  # fmt: skip
# the kinds whose iterations of one program touch the same bytes: the CPU must not split them
PERSIST_OVERLAP = {"chain_up", "chain_down", "same_slot", "rmw_slot", "scratch", "carried"}


def _fam_persistent(w: _Writer) -> Case:
    rng = w.rng
    B = rng.choice([8, 16, 32, 64])
    n_cols = rng.choice([B, B - 1, 1, B // 2, B + 3, 2 * B + 5])
    P = rng.randint(2, 16)
    # mostly several rounds per program (a split needs two), sometimes one or none
    n_rows = rng.choice([0, 1, P - 1, P, 2 * P + 1, 3 * P, 5 * P + 2, 8 * P + 3,
                         rng.randint(2 * P, 8 * P), rng.randint(1, 6 * P)])  # fmt: skip
    kind = rng.choice(PERSIST_KINDS)
    w.want(f"persist_{kind}")
    w.want("cpu_split")
    inner = kind == "inner_acc"
    stride = max(B, n_cols) if inner else B
    dt = rng.choice(["float32", "float32", "int32", "float16", _data_dtype(w)])
    R = max(n_rows, 1)
    x = w.array(dt, (R + 1, stride), huge=False)
    _scalars(w, huge=False)
    for nm, val in (("n_rows", n_rows), ("n_cols", n_cols), ("stride", stride)):
        _size(w, nm, val)
    w.constexpr("BLOCK", B)
    w.emit("pid = tl.program_id(0)")
    w.emit("P = tl.num_programs(0)")
    w.emit("cols = tl.arange(0, BLOCK)")
    w.emit("mask = cols < n_cols")
    w.pool.append(Val("cols", "int32", (B,)))
    if kind == "carried":
        w.emit(f"acc = tl.zeros((BLOCK,), tl.{dt})")
    header = {"chain_up": "range(pid + P, n_rows, P)",
              "chain_down": "range(n_rows - 1 - P - pid, -1, -P)"}.get(kind)  # fmt: skip
    if header is None:
        header = rng.choice(["range(pid, n_rows, P)", "range(pid, n_rows, tl.num_programs(0))"])
    w.emit(f"for row in {header}:")
    w.indent += 1
    w.scalars.append(Val("row", "int32", ()))
    at = "row * stride + cols"
    if inner:
        acc_t = "float32" if is_float(dt) else "int32"
        w.emit(f"acc = tl.zeros((BLOCK,), tl.{acc_t})")
        w.emit("for c0 in range(0, n_cols, BLOCK):")
        w.indent += 1
        w.emit("cc = c0 + cols")
        v = w.let(f"tl.load({x} + row * stride + cc, mask=cc < n_cols, other=0)", dt, (B,))
        w.emit(f"acc += {v.text}.to(tl.{acc_t})")
        w.indent -= 1
        w.pool = [Val("acc", acc_t, (B,)), w.pool[0]]
    else:
        w.let(f"tl.load({x} + {at}, mask=mask, other=0)", dt, (B,))
    if kind == "neighbour":
        w.let(f"tl.load({x} + (row + 1) * stride + cols, mask=mask & (row + 1 < n_rows), "
              "other=0)", dt, (B,))  # fmt: skip
    o = w.array(dt, (max(R + 1, P), stride), out=True)
    chained = None
    if kind in ("chain_up", "chain_down"):
        at_prev = "row - P" if kind == "chain_up" else "row + P"
        chained = w.let(f"tl.load({o} + ({at_prev}) * stride + cols, mask=mask, other=0)", dt, (B,))
    e = w.let(_typed_block(w, (B,), dt, rng.randint(0, 3)), dt, (B,))
    if chained is not None:
        # the row the previous iteration stored must reach this one's store (not be dead)
        e = w.let(f"({chained.text} + {e.text}).to(tl.{dt})", dt, (B,))
    if kind == "inplace":
        w.emit(f"tl.store({x} + {at}, {e.text}, mask=mask)")
    elif kind == "scratch":
        w.emit(f"tl.store({o} + pid * stride + cols, {e.text}, mask=mask)")
        back = w.let(f"tl.load({o} + pid * stride + cols, mask=mask, other=0)", dt, (B,))
        r = _reduced(w, back, "sum", "mask")
        s = w.array(r.dtype, (R,), out=True)
        w.emit(f"tl.store({s} + row, {r.text})")
    elif kind == "carried":
        w.emit(f"acc = (acc + {e.text}).to(tl.{dt})")
    elif not inner:
        w.emit(f"tl.store({o} + {at}, {e.text}, mask=mask)")
    red_mask = "mask" if not inner else "cols < BLOCK"
    if kind in ("same_slot", "rmw_slot", "independent", "inner_acc") or rng.random() < 0.3:
        r = _reduced(w, e, rng.choice(["sum", "max", "min"]), red_mask)
        slot = kind in ("same_slot", "rmw_slot")
        s = w.array(r.dtype, ((P,) if slot else (R,)), out=True)
        if kind == "rmw_slot":
            w.emit(f"tl.store({s} + pid, tl.load({s} + pid) + {r.text})")
        else:
            w.emit(f"tl.store({s} + {'pid' if slot else 'row'}, {r.text})")
    w.indent -= 1
    if kind == "carried":
        a = w.array(dt, (P, B), out=True)
        w.emit(f"tl.store({a} + pid * BLOCK + cols, acc)")
    return _case(w, "persistent", (P,))
