"""Statements and structured control flow of the AST visitor: assignments, returns, if/else
(static for constexprs), for/static_range/while loops with loop-carried values.

Stage: frontend, a mixin of `visitor.FunctionVisitor` (which supplies `visit`, `err`, the
builder `b` and the `scope`). Early returns are folded into structured ifs before visiting.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import math

from ..dtypes import DType, integer_promote
from ..errors import CompilationError, ConstexprError, KernelTypeError
from ..ir import Op, OpKind, Region, ScalarType, Value, scalar_dtype, shape_of, walk
from ..language import core as lang
from . import blockptr
from . import builtins as B
from . import semantic as S
from .blockops import item
from .blockptr import BlockPointer


def _static_range(arg1, arg2=None, step=None): ...


def _range(
    arg1,
    arg2=None,
    step=None,
    num_stages=None,
    loop_unroll_factor=None,
    disallow_acc_multi_buffer=False,
    flatten=False,
    warp_specialize=False,
    disable_licm=False,
): ...


# Triton's signatures of tl.static_range and tl.range (language/core.py)
_STATIC_RANGE_SIG = inspect.signature(_static_range)
_RANGE_SIG = inspect.signature(_range)

# ----------------------------------------------------------------------------------------------
# Statement-level rewriting: early returns
# ----------------------------------------------------------------------------------------------


def _may_return(stmts: list[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Return) for s in stmts for n in ast.walk(s))


def _always_returns(stmts: list[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    return False


def fold_early_returns(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """Move the statements after an `if` that may return into its fall-through branches.

    `if c: return x` followed by `rest` becomes `if c: return x else: rest`, so every return ends
    its region and control flow stays structured.
    """
    out: list[ast.stmt] = []
    for i, s in enumerate(stmts):
        rest = stmts[i + 1 :]
        if isinstance(s, ast.If) and _may_return([s]) and rest:
            new = copy.copy(s)
            new.body = s.body if _always_returns(s.body) else fold_early_returns(s.body + rest)
            new.orelse = (
                s.orelse if _always_returns(s.orelse) else fold_early_returns(s.orelse + rest)
            )
            out.append(new)
            return out
        if isinstance(s, ast.If):
            s = copy.copy(s)
            s.body = fold_early_returns(s.body)
            s.orelse = fold_early_returns(s.orelse)
        out.append(s)
        if isinstance(s, ast.Return):
            return out
    return out


_SIDE_EFFECTS = (OpKind.LOAD, OpKind.STORE, OpKind.ATOMIC, OpKind.PRINT, OpKind.ASSERT)


def _flatten(v) -> tuple[tuple, list]:
    """(template, leaves) of a value a loop carries: block pointers and tuples are structures
    of leaves; anything else is one leaf."""
    if isinstance(v, BlockPointer):
        return ("block_ptr", v), v.fields()
    if isinstance(v, tuple):
        parts = [_flatten(x) for x in v]
        return ("tuple", [p[0] for p in parts]), [leaf for p in parts for leaf in p[1]]
    return ("leaf",), [v]


def _unflatten(tmpl: tuple, it):
    if tmpl[0] == "block_ptr":
        bp = tmpl[1]
        return bp.rebuild([next(it) for _ in bp.fields()])
    if tmpl[0] == "tuple":
        return tuple(_unflatten(t, it) for t in tmpl[1])
    return next(it)


def _same_structure(a: tuple, c: tuple) -> bool:
    if a[0] != c[0]:
        return False
    if a[0] == "block_ptr":
        return a[1].template() == c[1].template()
    if a[0] == "tuple":
        return len(a[1]) == len(c[1]) and all(_same_structure(x, y) for x, y in zip(a[1], c[1]))
    return True


def _describe(t: tuple) -> str:
    if t[0] == "block_ptr":
        return f"a block pointer of block_shape {list(t[1].block_shape)}"
    if t[0] == "tuple":
        return f"a {len(t[1])}-tuple"
    return "a single value"


def _assigned_names(stmts: list[ast.stmt]) -> list[str]:
    names: list[str] = []
    for s in stmts:
        for n in ast.walk(s):
            targets = []
            if isinstance(n, ast.Assign):
                targets = n.targets
            elif isinstance(n, (ast.AugAssign, ast.AnnAssign)):
                targets = [n.target]
            elif isinstance(n, ast.For):
                targets = [n.target]
            for t in targets:
                for m in ast.walk(t):
                    if isinstance(m, ast.Name) and m.id not in names:
                        names.append(m.id)
    return names


# ----------------------------------------------------------------------------------------------
# The visitor


class StatementsMixin:
    # -- statements -------------------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # docstring
        self.visit(node.value)

    def visit_Pass(self, node):
        pass

    def visit_Assign(self, node: ast.Assign):
        value = self.visit(node.value)
        for t in node.targets:
            self.assign(t, value)

    def visit_AnnAssign(self, node: ast.AnnAssign):
        if node.value is None:
            return
        value = self.visit(node.value)
        ann = self.eval_annotation(node.annotation)
        if ann is lang.constexpr and isinstance(value, Value):
            raise self.err(
                node, "a tl.constexpr variable needs a compile-time value", cls=ConstexprError
            )
        self.assign(node.target, value)

    def eval_annotation(self, node):
        try:
            return self.visit(node)
        except CompilationError:
            return None

    def visit_AugAssign(self, node: ast.AugAssign):
        if not isinstance(node.target, ast.Name):
            raise self.err(node, "only names can be targets of augmented assignment")
        cur = self.lookup(node.target.id, node.target)
        rhs = self.visit(node.value)
        self.assign(node.target, self.binop(node.op, cur, rhs, node))

    def assign(self, target: ast.AST, value: object) -> None:
        if isinstance(target, ast.Name):
            if isinstance(value, Value) and not value.name:
                value.name = target.id
            self.scope[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(value, tuple):
                raise self.err(target, f"cannot unpack {S.type_name(value)}", cls=KernelTypeError)
            if len(value) != len(target.elts):
                raise self.err(
                    target,
                    f"cannot unpack {len(value)} values into {len(target.elts)} names",
                    cls=KernelTypeError,
                )
            for t, v in zip(target.elts, value):
                self.assign(t, v)
        else:
            raise self.err(
                target,
                f"cannot assign to {type(target).__name__}",
                "kernels assign to names; write memory with tl.store",
            )

    def visit_Return(self, node: ast.Return):
        if self.loop_depth:
            raise self.err(node, "return inside a loop is not supported")
        self.ret_value = self.visit(node.value) if node.value is not None else None
        self.returned = True
        if node.value is not None:
            self.ret_loc = self.src.loc(node)

    def visit_Assert(self, node: ast.Assert):
        cond = self.visit(node.test)
        msg = self.visit(node.msg) if node.msg is not None else ""
        B.call_builtin(self.b, "device_assert", [cond, msg], {})

    def visit_If(self, node: ast.If):
        cond = self.visit(node.test)
        if not isinstance(cond, Value):
            self.run_body(node.body if cond else node.orelse)
            return
        shape = shape_of(cond.type)
        if getattr(self, "elementwise", False) and shape and math.prod(shape) > 1:
            # inside tl.map_elementwise: an if on an element's value is an if per element
            return self.predicated_if(node, S.to_bool(self.b, cond), node.body, node.orelse)
        cond = S.to_bool(self.b, self.scalar_condition(node.test, cond, "an if condition"))
        self.build_if(node, cond, node.body, node.orelse)

    # -- tl.map_elementwise: per-element control flow as selects ----------------------------
    def predicated_if(self, node: ast.AST, cond: Value, then_stmts, else_stmts) -> None:
        """Both branches computed for every element, then joined with `where` (the mapped
        function is pure, so computing the branch an element does not take changes nothing)."""
        region = self.b.regions[-1] if self.b.regions else None
        start = len(region.ops) if region is not None else 0
        before = dict(self.scope)
        st, ret_t, val_t = self.run_inline(then_stmts, before)
        se, ret_e, val_e = self.run_inline(else_stmts, before)
        if region is not None:
            for op in region.ops[start:]:
                for o in [op, *(x for r in op.regions for x in walk(r))]:
                    if o.kind in _SIDE_EFFECTS:
                        raise self.err(
                            node,
                            "a function mapped by tl.map_elementwise must not load, store, print "
                            "or assert under a per-element if",
                            "compute values only; do memory accesses outside the mapped function",
                            KernelTypeError,
                        )
        if ret_t or ret_e:
            if not (ret_t and ret_e):
                raise self.err(
                    node,
                    "every branch of a mapped function must return a value",
                    cls=KernelTypeError,
                )
            self.returned = True
            self.ret_value = self.select_values(node, cond, val_t, val_e)
            return
        for n in _assigned_names(list(then_stmts) + list(else_stmts)):
            if n in st and n in se and not (st[n] is before.get(n) and se[n] is before.get(n)):
                self.scope[n] = self.select_values(node, cond, st[n], se[n])

    def run_inline(self, stmts, scope) -> tuple[dict, bool, object]:
        saved = (self.scope, self.returned, self.ret_value)
        self.scope = dict(scope)
        self.returned, self.ret_value = False, None
        try:
            self.run_body(stmts)
            return self.scope, self.returned, self.ret_value
        finally:
            self.scope, self.returned, self.ret_value = saved

    def select_values(self, node, cond: Value, a, c):
        if isinstance(a, tuple) and isinstance(c, tuple) and len(a) == len(c):
            return tuple(self.select_values(node, cond, x, y) for x, y in zip(a, c))
        if not isinstance(a, Value) and not isinstance(c, Value):
            try:
                if type(a) is type(c) and a == c:
                    return a
            except Exception:
                pass
        if not all(isinstance(v, (Value, int, float, bool)) for v in (a, c)):
            raise self.err(
                node,
                f"the branches give {S.type_name(a)} and {S.type_name(c)}: a per-element if "
                "needs numbers or tensors in both",
                cls=KernelTypeError,
            )
        return S.where(self.b, cond, a, c)

    def scalar_condition(self, node: ast.AST, cond: Value, what: str) -> Value:
        """A condition's scalar: a one-element block is read as its element (as Triton does,
        with a warning there); a larger block is an error."""
        shape = shape_of(cond.type)
        if shape and math.prod(shape) == 1:
            return item(self.b, cond)
        if shape:
            raise self.err(
                node,
                f"{what} must be a scalar, got {cond.type}",
                "use tl.where(cond, a, b) for blocks",
                KernelTypeError,
            )
        return cond

    def run_branch(self, stmts, scope) -> tuple[Region, dict, bool, object]:
        region = Region()
        saved = (self.scope, self.returned, self.ret_value)
        self.scope = dict(scope)
        self.returned, self.ret_value = False, None
        self.b.regions.append(region)
        try:
            self.run_body(stmts)
        finally:
            self.b.regions.pop()
        out = (region, self.scope, self.returned, self.ret_value)
        self.scope, self.returned, self.ret_value = saved
        return out

    def build_if(self, node: ast.AST, cond: Value, then_stmts, else_stmts) -> None:
        before = dict(self.scope)
        rt, st, ret_t, val_t = self.run_branch(then_stmts, before)
        re_, se, ret_e, val_e = self.run_branch(else_stmts, before)
        if ret_t or ret_e:
            # early returns were folded: a branch that did not return falls off the function end
            merged = self.merge_values(node, [val_t, val_e], [rt, re_], "return value")
            results = self.emit_if(cond, rt, re_, merged)
            self.returned = True
            self.ret_value = self.rebuild(merged, results)
            return
        names = [
            n
            for n in _assigned_names(list(then_stmts) + list(else_stmts))
            if n in st and n in se and (n in before or True)
        ]
        names = [n for n in names if not (st[n] is before.get(n) and se[n] is before.get(n))]
        merged = []
        keep = []
        for n in names:
            m = self.merge_values(node, [st[n], se[n]], [rt, re_], f"variable {n!r}")
            merged.append(m)
            keep.append(n)
        results = self.emit_if(cond, rt, re_, merged)
        for n, v in zip(keep, self.rebuild(merged, results)):
            self.scope[n] = v
        for n in keep:
            v = self.scope[n]
            if isinstance(v, Value) and not v.name:
                v.name = n

    def merge_values(self, node, vals: list, regions: list[Region], what: str):
        """Decide how values coming out of two branches are joined.

        Returns a structure: ("const", v) when both are equal compile-time values, ("none",) for
        None, ("tuple", [...]) for tuples, ("value", type, [v_then, v_else]) for IR values.
        """
        a, c = vals
        if a is None and c is None:
            return ("none",)
        if isinstance(a, tuple) and isinstance(c, tuple) and len(a) == len(c):
            return ("tuple", [self.merge_values(node, [x, y], regions, what) for x, y in zip(a, c)])
        if isinstance(a, BlockPointer) and isinstance(c, BlockPointer):
            if a.template() != c.template():
                raise self.err(
                    node,
                    f"{what} is a block pointer of block_shape {list(a.block_shape)} in one "
                    f"branch and {list(c.block_shape)} in the other",
                    cls=KernelTypeError,
                )
            fields = zip(a.fields(), c.fields())
            return (
                "block_ptr",
                a,
                [self.merge_values(node, [x, y], regions, what) for x, y in fields],
            )
        if not isinstance(a, Value) and not isinstance(c, Value):
            try:
                same = a == c and type(a) is type(c)
            except Exception:
                same = False
            if same:
                return ("const", a)
        if (
            a is None
            or c is None
            or isinstance(a, (tuple, BlockPointer))
            or isinstance(c, (tuple, BlockPointer))
        ):
            raise self.err(
                node,
                f"{what} differs in kind between the branches of this if",
                "make every branch produce the same kind of value",
                KernelTypeError,
            )
        # materialize constants inside their own branch so they dominate the yield
        out = []
        for v, r, other in ((a, regions[0], c), (c, regions[1], a)):
            if not isinstance(v, Value):
                self.b.regions.append(r)
                try:
                    dt = scalar_dtype(other.type) if isinstance(other, Value) else None
                    v = S.to_value(self.b, v, dt)
                    if isinstance(other, Value) and shape_of(other.type):
                        v = S.splat(self.b, v, shape_of(other.type))
                finally:
                    self.b.regions.pop()
            out.append(v)
        if out[0].type != out[1].type:
            raise self.err(
                node,
                f"{what} has type {out[0].type} in the then-branch but {out[1].type} in the "
                "else-branch",
                "cast both to the same type with .to(...)",
                KernelTypeError,
            )
        return ("value", out[0].type, out)

    def emit_if(self, cond: Value, rt: Region, re_: Region, merged: list) -> list[Value]:
        flat_then, flat_else, types = [], [], []

        def collect(m):
            if m[0] == "value":
                types.append(m[1])
                flat_then.append(m[2][0])
                flat_else.append(m[2][1])
            elif m[0] == "tuple":
                for x in m[1]:
                    collect(x)
            elif m[0] == "block_ptr":
                for x in m[2]:
                    collect(x)

        for m in merged if isinstance(merged, list) else [merged]:
            collect(m)
        rt.ops.append(self._yield(flat_then))
        re_.ops.append(self._yield(flat_else))
        op = self.b.emit(OpKind.IF, [cond], types, regions=[rt, re_])
        return list(op.results)

    def _yield(self, values: list[Value]):

        return Op(OpKind.YIELD, values, [], self.b.loc)

    def rebuild(self, merged, results: list[Value]):
        it = iter(results)

        def build(m):
            if m[0] == "none":
                return None
            if m[0] == "const":
                return m[1]
            if m[0] == "tuple":
                return tuple(build(x) for x in m[1])
            if m[0] == "block_ptr":
                return m[1].rebuild([build(x) for x in m[2]])
            return next(it)

        if isinstance(merged, list):
            return [build(m) for m in merged]
        return build(merged)

    # -- loops ------------------------------------------------------------------------------
    def visit_For(self, node: ast.For):
        if node.orelse:
            raise self.err(node, "for ... else is not supported")
        it = node.iter
        if not isinstance(it, ast.Call):
            raise self.err(
                it, "kernels loop over range(...), tl.range(...) or tl.static_range(...)"
            )
        callee = self.visit(it.func)
        args = [self.visit(a) for a in it.args]
        kwargs = {k.arg: self.visit(k.value) for k in it.keywords}
        if callee is lang.static_range or callee is lang.range:
            args = self.range_args(it, callee.name, args, kwargs)
        elif kwargs:
            raise self.err(it, "range() takes no keyword arguments", cls=KernelTypeError)
        if callee is lang.static_range:
            return self.unrolled_for(node, args)
        if callee is not builtins.range and callee is not lang.range:
            raise self.err(
                it, "kernels loop over range(...), tl.range(...) or tl.static_range(...)"
            )
        if not isinstance(node.target, ast.Name):
            raise self.err(node.target, "the loop variable must be a single name")
        if not 1 <= len(args) <= 3:
            raise self.err(
                it, f"range takes 1 to 3 arguments, got {len(args)}", cls=KernelTypeError
            )
        lb, ub, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], 1)
        if len(args) == 3:
            step = args[2]
        if isinstance(step, int) and step == 0:
            raise self.err(it, "range step must not be zero", cls=KernelTypeError)
        bounds = [lb, ub, step]
        for v in bounds:
            if isinstance(v, Value) and (shape_of(v.type) or not scalar_dtype(v.type).is_int):
                raise self.err(
                    it, f"range bounds must be scalar integers, got {v.type}", cls=KernelTypeError
                )
            if not isinstance(v, (Value, int)) or isinstance(v, bool):
                raise self.err(
                    it, f"range bounds must be integers, got {S.type_name(v)}", cls=KernelTypeError
                )
        dts = [scalar_dtype(v.type) if isinstance(v, Value) else DType.I32 for v in bounds]
        dt = dts[0]
        for d in dts[1:]:
            dt = integer_promote(dt, d)
        if any(isinstance(v, int) and not -(2**31) <= v < 2**31 for v in bounds):
            dt = integer_promote(dt, DType.I64)
        bv = [S.cast(self.b, S.to_value(self.b, v, dt), dt) for v in bounds]
        carried = [n for n in _assigned_names(node.body) if n in self.scope and n != node.target.id]
        tmpls, inits, names = self.carried_inits(node, carried)
        iv = Value(ScalarType(dt), node.target.id)
        body = Region([iv] + [Value(v.type, n) for n, v in zip(names, inits)])
        self.b.inherit_const(body.args[1:], inits)
        if isinstance(step, int) and step > 0 and blockptr.nonneg(self.b, lb):
            blockptr.assume_nonneg([iv])  # iv >= lb >= 0 (block pointer masks: no lower bound)
        # Carried integers proven non-negative by induction: assume it of those starting
        # non-negative, build the body, keep those it yields non-negative; rebuild under the
        # smaller assumption until it holds. Values the body yields unchanged (a block
        # pointer's shape and strides beside the offset it advances) are loop-invariant: the
        # rebuilt body uses their initial values, so constants stay constants (a unit stride
        # keeps the accelerator's access-pattern DMA). Only loops with a failing assumption or
        # an invariant carried value are built twice.
        assumed = [i for i, v in enumerate(inits) if blockptr.nonneg(self.b, v)]
        invariant: set[int] | None = None  # unknown before the first build
        saved_scope = self.scope
        while True:
            blockptr.assume_nonneg(body.args[1 + i] for i in assumed)
            body.ops = []
            self.scope = dict(saved_scope)
            self.scope[node.target.id] = iv
            fixed = invariant or set()
            seen = [v if i in fixed else a for i, (a, v) in enumerate(zip(body.args[1:], inits))]
            self.bind_carried(carried, tmpls, seen)
            self.b.regions.append(body)
            self.loop_depth += 1
            try:
                self.run_body(node.body)
                yields = self.carried_yields(node, carried, tmpls, inits)
                held = [i for i in assumed if blockptr.nonneg(self.b, yields[i])]
                body.ops.append(self._yield(yields))
            finally:
                self.loop_depth -= 1
                self.b.regions.pop()
            same = {i for i, y in enumerate(yields) if y is seen[i]}
            # sound once every value bound to its initial one is yielded unchanged (the
            # assumptions only shrink after the first build, so this ends)
            if held == assumed and invariant is not None and invariant <= same:
                break
            blockptr.forget_nonneg(body.args[1 + i] for i in assumed)
            assumed = held
            invariant = same if invariant is None else invariant & same
        self.scope = saved_scope
        op = self.b.emit(OpKind.FOR, bv + inits, [v.type for v in inits], regions=[body])
        for n, r in zip(names, op.results):
            r.name = n
        blockptr.assume_nonneg(op.results[i] for i in assumed)
        after = [v if i in fixed else r for i, (r, v) in enumerate(zip(op.results, inits))]
        self.bind_carried(carried, tmpls, after)

    def carried_inits(self, node, carried: list[str]):
        """(templates, flat initial values, flat names) of the loop-carried variables: tensors
        and numbers are one value each; tuples and block pointers are flattened into theirs."""
        tmpls, inits, names = [], [], []
        for n in carried:
            tmpl, leaves = _flatten(self.scope[n])
            tmpls.append(tmpl)
            for i, v in enumerate(leaves):
                if not isinstance(v, Value):
                    if isinstance(v, (int, float, bool)):
                        v = S.to_value(self.b, v)
                    else:
                        raise self.err(
                            node,
                            f"variable {n!r} holds {S.type_name(v)} and is reassigned in the loop",
                            "only tensors, numbers, tuples of them and block pointers can "
                            "change across loop iterations",
                            KernelTypeError,
                        )
                inits.append(v)
                names.append(n if len(leaves) == 1 and tmpl[0] == "leaf" else f"{n}.{i}")
        return tmpls, inits, names

    def bind_carried(self, carried: list[str], tmpls: list, values) -> None:
        it = iter(values)
        for n, t in zip(carried, tmpls):
            self.scope[n] = _unflatten(t, it)

    def carried_yields(self, node, carried: list[str], tmpls: list, inits: list[Value]):
        out = []
        init_it = iter(inits)
        for n, tmpl in zip(carried, tmpls):
            new_tmpl, leaves = _flatten(self.scope[n])
            if not _same_structure(tmpl, new_tmpl):
                raise self.err(
                    node,
                    f"variable {n!r} is {_describe(tmpl)} before the loop but "
                    f"{_describe(new_tmpl)} at the end of its body",
                    cls=KernelTypeError,
                )
            for v in leaves:
                init = next(init_it)
                out.append(self.carried_yield(node, n, v, init))
        return out

    def carried_yield(self, node, n: str, v, init: Value) -> Value:
        if not isinstance(v, Value):
            if isinstance(v, (int, float, bool)):
                v = S.to_value(self.b, v, scalar_dtype(init.type))
                if shape_of(init.type):
                    v = S.splat(self.b, v, shape_of(init.type))
            else:
                raise self.err(
                    node,
                    f"variable {n!r} becomes {S.type_name(v)} in the loop",
                    cls=KernelTypeError,
                )
        if v.type != init.type:
            if (
                shape_of(init.type)
                and not shape_of(v.type)
                and scalar_dtype(v.type) == scalar_dtype(init.type)
            ):
                v = S.splat(self.b, v, shape_of(init.type))
            else:
                raise self.err(
                    node,
                    f"loop-carried variable {n!r} has type {init.type} before the loop but "
                    f"{v.type} at the end of its body",
                    f"initialize {n!r} with the type it takes in the loop, e.g. "
                    "tl.zeros(..., dtype=...) or 0.0",
                    KernelTypeError,
                )
        return v

    def range_args(self, it: ast.Call, name: str, args: list, kwargs: dict) -> list:
        """(start, end[, step]) of tl.range/tl.static_range, bound by Triton's signatures.

        The pipelining and unrolling hints of tl.range (num_stages, loop_unroll_factor, ...)
        are accepted and have no effect on the CPU.
        """
        sig = _STATIC_RANGE_SIG if name == "static_range" else _RANGE_SIG
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise self.err(it, f"tl.{name}: {e}", cls=KernelTypeError) from None
        a = bound.arguments
        out = [a["arg1"]] if a.get("arg2") is None else [a["arg1"], a["arg2"]]
        if a.get("step") is not None:
            out = ([0] if len(out) == 1 else []) + out + [a["step"]]
        return out

    def unrolled_for(self, node: ast.For, args) -> None:
        if not all(isinstance(a, int) for a in args):
            raise self.err(
                node.iter, "tl.static_range needs compile-time integer bounds", cls=ConstexprError
            )
        rng = range(*args)
        if len(rng) > 4096:
            raise self.err(
                node.iter, f"tl.static_range of {len(rng)} iterations is too long to unroll"
            )
        self.loop_depth += 1
        try:
            for i in rng:
                self.assign(node.target, i)
                self.run_body(node.body)
        finally:
            self.loop_depth -= 1

    def visit_While(self, node: ast.While):
        if node.orelse:
            raise self.err(node, "while ... else is not supported")
        carried = [n for n in _assigned_names(node.body) if n in self.scope]
        tmpls, inits, names = self.carried_inits(node, carried)
        before = Region([Value(v.type, n) for n, v in zip(names, inits)])
        after = Region([Value(v.type, n) for n, v in zip(names, inits)])
        self.b.inherit_const(before.args, inits)
        self.b.inherit_const(after.args, inits)
        saved_scope = self.scope
        self.scope = dict(saved_scope)
        self.bind_carried(carried, tmpls, before.args)
        self.b.regions.append(before)
        try:
            cond = self.visit(node.test)
            if not isinstance(cond, Value):
                cond = S.to_value(self.b, bool(cond), DType.I1)
            cond = S.to_bool(self.b, self.scalar_condition(node.test, cond, "a while condition"))
            from ..ir import Op

            before.ops.append(Op(OpKind.CONDITION, [cond, *before.args], [], self.b.loc))
        finally:
            self.b.regions.pop()
        self.scope = dict(saved_scope)
        self.bind_carried(carried, tmpls, after.args)
        self.b.regions.append(after)
        self.loop_depth += 1
        try:
            self.run_body(node.body)
            after.ops.append(self._yield(self.carried_yields(node, carried, tmpls, inits)))
        finally:
            self.loop_depth -= 1
            self.b.regions.pop()
        self.scope = saved_scope
        op = self.b.emit(OpKind.WHILE, inits, [v.type for v in inits], regions=[before, after])
        for n, r in zip(names, op.results):
            r.name = n
        self.bind_carried(carried, tmpls, op.results)

    def visit_Break(self, node):
        raise self.err(node, "break is not supported", "put the exit test in the while condition")

    def visit_Continue(self, node):
        raise self.err(node, "continue is not supported", "guard the rest of the body with an if")
