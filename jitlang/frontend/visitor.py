"""Python AST of a `@jit` kernel to tile IR.

Stage: frontend. Input: the kernel's `ast.FunctionDef` (from `source.parse_function`) and its
specialized parameters; output: an `ir.Function`. Compile-time values (constexprs, Python numbers,
tuples, dtypes, functions) are plain Python objects; run-time values are `ir.Value`s. Helpers
decorated with `@jit` are inlined. Anything outside the supported subset raises an
`UnsupportedSyntaxError` pointing at the node.
"""

from __future__ import annotations

import ast
import builtins
import operator
import os
from dataclasses import dataclass

from ..dtypes import DType, literal_dtype
from ..errors import (
    CompilationError,
    ConstexprError,
    KernelTypeError,
    NameNotFoundError,
    UnsupportedSyntaxError,
)
from ..ir import (
    BinaryOp,
    BlockType,
    CmpPred,
    Function,
    OpKind,
    Param,
    Region,
    ScalarType,
    UnaryOp,
    Value,
    is_ptr,
    scalar_dtype,
    shape_of,
)
from ..language import core as lang
from . import blockops as _blockops  # noqa: F401  (registers tl.sum, tl.dot, ...)
from . import builtins as B
from . import extras as _extras  # noqa: F401  (registers tl.add, tl.atomic_load, ...)
from . import libdevice as _libdevice  # noqa: F401  (registers tl.extra.libdevice.*)
from . import semantic as S
from .blockptr import BlockPointer
from .semantic import Builder
from .source import Source, parse_function
from .statements import StatementsMixin, _assigned_names, fold_early_returns  # noqa: F401

MAX_INLINE_DEPTH = 32

_BINOPS = {
    ast.Add: BinaryOp.ADD,
    ast.Sub: BinaryOp.SUB,
    ast.Mult: BinaryOp.MUL,
    ast.Div: BinaryOp.DIV,
    ast.Mod: BinaryOp.REM,
    ast.BitAnd: BinaryOp.AND,
    ast.BitOr: BinaryOp.OR,
    ast.BitXor: BinaryOp.XOR,
    ast.LShift: BinaryOp.SHL,
    ast.RShift: BinaryOp.SHR,
    ast.Pow: BinaryOp.POW,
}
_PY_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.Pow: operator.pow,
}
_CMPS = {
    ast.Eq: CmpPred.EQ,
    ast.NotEq: CmpPred.NE,
    ast.Lt: CmpPred.LT,
    ast.LtE: CmpPred.LE,
    ast.Gt: CmpPred.GT,
    ast.GtE: CmpPred.GE,
}
_PY_CMPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}

_ALLOWED_GLOBAL_TYPES = (int, float, bool, str, type(None), lang.dtype, lang.Builtin, tuple)


@dataclass
class BoundMethod:
    value: Value
    name: str


_COMPILER_FILES = {
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), *p)
    for p in (
        ("frontend", "semantic.py"),
        ("frontend", "builtins.py"),
        ("frontend", "blockops.py"),
        ("frontend", "blockptr.py"),
        ("frontend", "extras.py"),
        ("frontend", "libdevice.py"),
        ("ir.py",),
        ("dtypes.py",),
    )
}


def _raised_by_the_compiler(e: Exception) -> bool:
    """True when the exception comes from inside a semantic handler (our bug), not from the
    kernel's own compile-time Python (`BLOCK // 0`, a helper function that raises)."""
    tb = e.__traceback__
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) in _COMPILER_FILES:
            return True
        tb = tb.tb_next
    return False


def _is_jit(obj: object) -> bool:
    return getattr(obj, "_is_jitlang_function", False)


# ----------------------------------------------------------------------------------------------


class FunctionVisitor(StatementsMixin, ast.NodeVisitor):
    """Builds IR for one (kernel or inlined helper) function body."""

    def __init__(self, b: Builder, src: Source, fn, scope: dict, depth: int, ctx: CompileContext):
        self.b = b
        self.src = src
        self.fn = fn
        self.scope = scope
        self.depth = depth
        self.ctx = ctx
        self.globals = fn.__globals__
        self.closure = {}
        if fn.__closure__:
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                try:
                    self.closure[name] = cell.cell_contents
                except ValueError:
                    pass
        self.returned = False
        self.ret_value: object = None
        self.ret_loc = None
        self.loop_depth = 0

    # -- plumbing ---------------------------------------------------------------------------
    def visit(self, node: ast.AST):
        old = self.b.loc
        if hasattr(node, "lineno"):
            self.b.loc = self.src.loc(node)
        try:
            return super().visit(node)
        except CompilationError:
            raise
        except RecursionError:
            raise CompilationError(self.b.loc, "expression too deeply nested") from None
        except Exception as e:  # a Python error while evaluating compile-time code
            if _raised_by_the_compiler(e):
                raise  # a compiler bug: jit reports it as an InternalCompilerError
            raise ConstexprError(self.b.loc, f"{type(e).__name__}: {e}") from None
        finally:
            if hasattr(node, "lineno"):
                self.b.loc = old

    def generic_visit(self, node: ast.AST):
        raise UnsupportedSyntaxError(
            self.src.loc(node),
            f"{type(node).__name__} is not supported in jitlang kernels",
            "kernels support assignments, arithmetic, if/for/while, and calls to tl.* "
            "and @jit functions",
        )

    def err(self, node: ast.AST, msg: str, hint: str = "", cls=UnsupportedSyntaxError):
        return cls(self.src.loc(node), msg, hint)

    def run_body(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            if self.returned:
                break
            self.visit(s)

    # -- expressions ------------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant):
        return node.value

    def visit_Tuple(self, node: ast.Tuple):
        return tuple(self.visit(e) for e in node.elts)

    visit_List = visit_Tuple

    def visit_Name(self, node: ast.Name):
        return self.lookup(node.id, node)

    def lookup(self, name: str, node: ast.AST):
        if name in self.scope:
            return self.scope[name]
        if name in self.closure:
            return self.global_value(name, self.closure[name], node)
        if name in self.globals:
            return self.global_value(name, self.globals[name], node)
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise self.err(node, f"name {name!r} is not defined", cls=NameNotFoundError)

    def global_value(self, name: str, v: object, node: ast.AST):
        if isinstance(v, lang.constexpr):
            self.ctx.used_globals[(name, id(self.globals))] = (v, self.globals)
            return v.value
        import types

        if isinstance(v, (types.ModuleType, type)) or callable(v) or _is_jit(v):
            return v
        if isinstance(v, _ALLOWED_GLOBAL_TYPES):
            self.ctx.used_globals[(name, id(self.globals))] = (v, self.globals)
            return v
        raise self.err(
            node,
            f"global {name!r} of type {type(v).__name__} cannot be used in a kernel",
            "pass it as an argument, or wrap a compile-time constant in tl.constexpr(...)",
            NameNotFoundError,
        )

    def visit_Attribute(self, node: ast.Attribute):
        base = self.visit(node.value)
        if isinstance(base, Value):
            if node.attr in ("dtype", "type"):
                dt = scalar_dtype(base.type)
                if dt is None:  # a pointer
                    from ..ir import elem_type

                    d = lang.pointer_type(
                        lang.DTYPES[elem_type(base.type).elem], const=self.b.is_const_ptr(base)
                    )
                else:
                    d = lang.DTYPES[dt]
                shape = shape_of(base.type)
                # Triton: .type is a block_type for blocks, the dtype itself for scalars
                return lang.block_type(d, list(shape)) if node.attr == "type" and shape else d
            if node.attr == "shape":
                return shape_of(base.type)
            if node.attr == "T":
                return B.call_builtin(self.b, "trans", [base], {})
            if node.attr == "numel":
                return BlockType(shape_of(base.type), ScalarType(DType.I32)).numel
            if node.attr not in B.TENSOR_METHODS:
                raise self.err(
                    node,
                    f"{base.type} has no attribute {node.attr!r}",
                    "tensors have .dtype, .shape, .T and methods like .to(), .sum(), .max()",
                    NameNotFoundError,
                )
            return BoundMethod(base, node.attr)
        if isinstance(base, BlockPointer) and node.attr in ("dtype", "type"):
            # Triton: a pointer to a block of the block shape (`.dtype.element_ty` is a block_type)
            from ..ir import elem_type

            elem = lang.DTYPES[elem_type(base.base.type).elem]
            return lang.pointer_type(lang.block_type(elem, list(base.block_shape)))
        if isinstance(base, BlockPointer) and node.attr == "advance":
            return lambda offsets: B.call_builtin(self.b, "advance", [base, offsets], {})
        if isinstance(base, (int, float, str, type(None))) and node.attr == "type":
            return lang.constexpr_type(base)  # Triton: a constexpr's type holds its value
        if isinstance(base, (int, float)) and not hasattr(base, node.attr):
            # a compile-time number as Triton's to_tensor types it: N.dtype, N.to(tl.int64)
            if node.attr == "dtype":
                return lang.DTYPES[literal_dtype(base)]
            if node.attr in B.TENSOR_METHODS:
                return BoundMethod(S.to_value(self.b, base), node.attr)
        try:
            return getattr(base, node.attr)
        except AttributeError:
            raise self.err(
                node, f"{S.type_name(base)} has no attribute {node.attr!r}", cls=NameNotFoundError
            ) from None

    def visit_Subscript(self, node: ast.Subscript):
        base = self.visit(node.value)
        idx = self.visit(node.slice)
        # a `tl.slice(...)` built in the kernel indexes as the Python slice it spells
        if isinstance(idx, tuple):
            idx = tuple(i.to_slice() if type(i) is lang.slice else i for i in idx)
        elif type(idx) is lang.slice:
            idx = idx.to_slice()
        if isinstance(base, Value):
            return self.index_block(node, base, idx if isinstance(idx, tuple) else (idx,))
        if isinstance(idx, Value):
            raise self.err(
                node, "tuples can only be indexed with compile-time integers", cls=KernelTypeError
            )
        return base[idx]

    def visit_Slice(self, node: ast.Slice):
        parts = [
            self.visit(x) if x is not None else None for x in (node.lower, node.upper, node.step)
        ]
        return slice(*parts)

    def index_block(self, node, v: Value, idx: tuple) -> Value:
        shape = shape_of(v.type)
        for i in idx:  # Triton's wording for anything but None and ':'
            if i is not None and i != slice(None, None, None):
                what = (
                    ":".join("" if e is None else str(e) for e in (i.start, i.stop))
                    if isinstance(i, slice)
                    else repr(i)
                )
                raise self.err(
                    node,
                    f"unsupported tensor index: {what}; blocks can only be indexed with None "
                    "and ':' (to add axes)",
                    "use tl.where / tl.sum to pick elements",
                    cls=KernelTypeError,
                )
        n_real = sum(1 for i in idx if i is not None)
        if n_real > len(shape):
            raise self.err(
                node, f"too many indices for a block of rank {len(shape)}", cls=KernelTypeError
            )
        out = v
        dim = 0
        for i in idx:
            if i is None:
                out = S.expand_dims(self.b, out, dim)
                dim += 1
            elif isinstance(i, slice) and i == slice(None, None, None):
                dim += 1
            else:
                raise self.err(
                    node,
                    "blocks can only be indexed with None and ':' (to add axes)",
                    "use tl.where / tl.sum to pick elements",
                )
        return out

    def visit_BinOp(self, node: ast.BinOp):
        lhs = self.visit(node.left)
        rhs = self.visit(node.right)
        return self.binop(node.op, lhs, rhs, node)

    def binop(self, op: ast.operator, lhs, rhs, node):
        if not isinstance(lhs, Value) and not isinstance(rhs, Value):
            f = _PY_BINOPS.get(type(op))
            if f is None:
                raise self.err(node, f"operator {type(op).__name__} is not supported")
            return f(lhs, rhs)
        if isinstance(op, ast.FloorDiv):
            return S.floor_div(self.b, lhs, rhs)
        bop = _BINOPS.get(type(op))
        if bop is None:
            raise self.err(node, f"operator {type(op).__name__} is not supported on tensors")
        if bop is BinaryOp.POW:
            raise self.err(node, "** is not supported on tensors", "use tl.exp2(y * tl.log2(x))")
        return S.binary(self.b, bop, lhs, rhs)

    def visit_UnaryOp(self, node: ast.UnaryOp):
        v = self.visit(node.operand)
        if not isinstance(v, Value):
            return {
                ast.USub: operator.neg,
                ast.UAdd: operator.pos,
                ast.Not: operator.not_,
                ast.Invert: operator.invert,
            }[type(node.op)](v)
        if isinstance(node.op, ast.USub):
            return S.unary(self.b, UnaryOp.NEG, v)
        if isinstance(node.op, ast.UAdd):
            return v
        if isinstance(node.op, ast.Not):
            return S.logical_not(self.b, v)
        return S.unary(self.b, UnaryOp.NOT, v)

    def visit_Compare(self, node: ast.Compare):
        left = self.visit(node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators):
            right = self.visit(right_node)
            if (not isinstance(left, Value) and not isinstance(right, Value)) or isinstance(
                op, (ast.Is, ast.IsNot)
            ):
                # identity is decided at compile time, for tensors too (`ptr is not None`)
                r = _PY_CMPS[type(op)](left, right)
            else:
                pred = _CMPS.get(type(op))
                if pred is None:
                    raise self.err(node, f"{type(op).__name__} is not supported on tensors")
                r = S.compare(self.b, pred, left, right)
            result = r if result is None else self.logical(ast.And(), result, r)
            left = right
        return result

    def visit_BoolOp(self, node: ast.BoolOp):
        result = self.visit(node.values[0])
        for v in node.values[1:]:
            if not isinstance(result, Value):
                # Python short-circuit on compile-time values
                if isinstance(node.op, ast.And) and not result:
                    return result
                if isinstance(node.op, ast.Or) and result:
                    return result
                result = self.visit(v)
                continue
            result = self.logical(node.op, result, self.visit(v))
        return result

    def logical(self, op, a, c):
        if not isinstance(a, Value) and not isinstance(c, Value):
            return (a and c) if isinstance(op, ast.And) else (a or c)
        av = S.to_bool(self.b, S.to_value(self.b, a))
        cv = S.to_bool(self.b, S.to_value(self.b, c))
        bop = BinaryOp.AND if isinstance(op, ast.And) else BinaryOp.OR
        return S.binary(self.b, bop, av, cv)

    def visit_IfExp(self, node: ast.IfExp):
        cond = self.visit(node.test)
        if not isinstance(cond, Value):
            return self.visit(node.body if cond else node.orelse)
        cond = S.to_bool(self.b, self.scalar_condition(node, cond, "a conditional expression"))
        rt, _, _, _ = self.run_branch([], self.scope)
        re_, _, _, _ = self.run_branch([], self.scope)
        self.b.regions.append(rt)
        try:
            a = self.visit(node.body)
        finally:
            self.b.regions.pop()
        self.b.regions.append(re_)
        try:
            c = self.visit(node.orelse)
        finally:
            self.b.regions.pop()
        merged = self.merge_values(node, [a, c], [rt, re_], "conditional expression")
        results = self.emit_if(cond, rt, re_, [merged])
        return self.rebuild(merged, results)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> str:
        """An f-string of compile-time values is a compile-time string (Triton evaluates it
        the same way, e.g. for static_assert messages); run-time values cannot be formatted."""
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
                continue
            v = self.visit(part.value)
            if isinstance(v, Value):
                raise self.err(
                    part,
                    f"an f-string cannot format the run-time value {v.type}",
                    "print run-time values with tl.device_print",
                    KernelTypeError,
                )
            conv = {115: str, 114: repr, 97: ascii}.get(part.conversion, str)
            parts.append(conv(v))
        return "".join(parts)

    def visit_Call(self, node: ast.Call):
        func = self.visit(node.func)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                v = self.visit(a.value)
                if not isinstance(v, tuple):
                    raise self.err(a, "only tuples can be unpacked with *", cls=KernelTypeError)
                args.extend(v)
            else:
                args.append(self.visit(a))
        kwargs = {}
        for k in node.keywords:
            if k.arg is None:
                raise self.err(k, "**kwargs is not supported in kernels")
            kwargs[k.arg] = self.visit(k.value)
        return self.call(node, func, args, kwargs)

    def call(self, node, func, args, kwargs):
        if isinstance(func, lang.Builtin):
            if func.name == "map_elementwise":
                return self.map_elementwise(node, args, kwargs)
            if func.name in ("range", "static_range"):
                raise self.err(node, f"tl.{func.name} can only be used as a for-loop iterator")
            return B.call_builtin(self.b, func.name, args, kwargs)
        if isinstance(func, BoundMethod):
            return B.tensor_method(self.b, func.value, func.name, args, kwargs)
        if _is_jit(func):
            return self.inline(node, func, args, kwargs)
        if func is builtins.range:
            raise self.err(node, "range(...) can only be used as a for-loop iterator")
        if func is lang.constexpr:  # tl.constexpr(v) in a kernel is the compile-time value v
            if len(args) != 1 or kwargs or isinstance(args[0], Value):
                raise self.err(
                    node, "tl.constexpr takes one compile-time value", cls=ConstexprError
                )
            return args[0]
        if func in (builtins.min, builtins.max):
            if any(isinstance(a, Value) for a in args):
                if len(args) != 2 or kwargs:
                    raise self.err(
                        node, "min/max on tensors take exactly two arguments", cls=KernelTypeError
                    )
                op = BinaryOp.MIN if func is builtins.min else BinaryOp.MAX
                return S.minmax(self.b, op, args[0], args[1])
            return func(*args, **kwargs)
        if func is builtins.print:
            if any(isinstance(a, Value) for a in args):
                prefix = ""
                while args and isinstance(args[0], str):
                    prefix += args[0] + " "
                    args = args[1:]
                return B.call_builtin(self.b, "device_print", [prefix, *args], {})
            return B.call_builtin(self.b, "static_print", args, kwargs)
        if func in (builtins.int, builtins.float, builtins.bool) and any(
            isinstance(a, Value) for a in args
        ):
            raise self.err(
                node,
                f"{func.__name__}() of a tensor is not supported",
                "use .to(tl.int32) / .to(tl.float32)",
                KernelTypeError,
            )
        if func in (
            builtins.isinstance,
            builtins.len,
            builtins.type,
            builtins.getattr,
            builtins.hasattr,
        ):
            # compile-time introspection: tensors are `tl.tensor`, never Python numbers
            return func(*args, **kwargs)
        if isinstance(func, lang.dtype):
            raise self.err(node, "dtypes are not callable; use x.to(dtype)", cls=KernelTypeError)
        owner = getattr(func, "__self__", None)
        if getattr(func, "__name__", None) in getattr(owner, "kernel_methods", ()):
            return func(*args, **kwargs)  # a frontend object's method (tensor descriptors)
        if isinstance(func, type) and issubclass(func, tuple) and hasattr(func, "_fields"):
            return func(*args, **kwargs)  # a NamedTuple built in the kernel (Triton allows it)
        if any(isinstance(a, Value) for a in list(args) + list(kwargs.values())):
            name = getattr(func, "__name__", repr(func))
            raise self.err(
                node,
                f"{name} is not a @jit function and cannot take tensor arguments",
                f"decorate {name} with @jitlang.jit",
            )
        if not callable(func):
            raise self.err(node, f"{S.type_name(func)} is not callable", cls=KernelTypeError)
        return func(*args, **kwargs)  # compile-time evaluation on constexprs

    def map_elementwise(self, node, args, kwargs):
        """`tl.map_elementwise(scalar_fn, *args, pack=1)`: `scalar_fn` applied to every element of
        the broadcast `args`. Its code runs on whole blocks; an `if` on an element's value takes
        both branches and selects per element (`predicated_if`)."""
        pack = kwargs.pop("pack", 1)
        if kwargs:
            raise self.err(
                node,
                f"tl.map_elementwise: unexpected keywords {sorted(kwargs)}",
                cls=KernelTypeError,
            )
        if not isinstance(pack, int) or pack < 1:
            raise self.err(
                node, "tl.map_elementwise: pack must be a positive integer", cls=KernelTypeError
            )
        if not args or not _is_jit(args[0]):
            raise self.err(
                node,
                "tl.map_elementwise expects a @jit function and then its tensor arguments",
                cls=KernelTypeError,
            )
        fn, vals = args[0], [S.to_value(self.b, v) for v in args[1:]]
        if not vals:
            raise self.err(
                node, "tl.map_elementwise needs at least one tensor", cls=KernelTypeError
            )
        shape: tuple = ()
        for v in vals:
            shape = S.broadcast_shapes(self.b, shape, shape_of(v.type))
        vals = [self._spread(v, shape) for v in vals]
        out = self.inline(node, fn, vals, {}, elementwise=True)

        if isinstance(out, tuple):
            return tuple(self._spread(S.to_value(self.b, r), shape) for r in out)
        return self._spread(S.to_value(self.b, out), shape)

    def _spread(self, v: Value, shape: tuple) -> Value:
        if not shape or shape_of(v.type) == shape:
            return v
        return S.broadcast_to(self.b, v, shape) if shape_of(v.type) else S.splat(self.b, v, shape)

    def inline(self, node, jf, args, kwargs, elementwise: bool = False):
        if self.depth >= MAX_INLINE_DEPTH:
            raise self.err(node, f"@jit calls nested deeper than {MAX_INLINE_DEPTH} (recursion?)")
        import inspect

        fn = jf.fn
        try:
            bound = inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as e:
            raise self.err(node, f"{fn.__name__}(): {e}", cls=KernelTypeError) from None
        bound.apply_defaults()
        src = jf.source()
        self.ctx.sources[src.file + ":" + fn.__qualname__] = src.text
        scope = dict(bound.arguments)
        for name, v in scope.items():
            if isinstance(v, lang.constexpr):
                scope[name] = v.value
        callee = FunctionVisitor(self.b, src, fn, scope, self.depth + 1, self.ctx)
        callee.elementwise = elementwise or getattr(self, "elementwise", False)
        try:
            callee.run_body(fold_early_returns(src.tree.body))
        except CompilationError as e:
            e.add_call_site(self.src.loc(node))
            raise
        return callee.ret_value


@dataclass
class CompileContext:
    used_globals: dict
    sources: dict


def _tuple_argument(spec, body: Region, ir_params: list[Param]):
    """The Python tuple (or NamedTuple) a kernel sees for a tuple argument."""
    _, cls, subs = spec
    vals = []
    for s in subs:
        if isinstance(s, Param):
            v = Value(s.type, s.name)
            body.args.append(v)
            ir_params.append(s)
            vals.append(v)
        elif s[0] == "tuple":
            vals.append(_tuple_argument(s, body, ir_params))
        else:
            vals.append(s[1])
    # NamedTuples keep their class (field access); other tuple types (torch.Size) become tuples
    return cls(*vals) if hasattr(cls, "_fields") else tuple(vals)


def _const_annotated(fn) -> set[str]:
    """Parameters annotated `tl.const` (or the string "tl.const" under postponed annotations):
    Triton makes such a pointer parameter a const pointer."""
    import inspect

    out = set()
    for name, p in inspect.signature(fn).parameters.items():
        ann = p.annotation
        if ann is lang.const or (isinstance(ann, str) and ann.split(".")[-1] == "const"):
            out.add(name)
    return out


def build_kernel(
    jf, params: list[tuple[str, object]], name: str
) -> tuple[Function, CompileContext]:
    """Build the IR of kernel `jf` for one specialization.

    `params` lists, in signature order, (name, spec) where spec is either a `Param` (a run-time
    argument) or `("const", value)` (a constexpr or specialized value).
    """
    src = jf.source()
    ctx = CompileContext({}, {src.file + ":" + jf.fn.__qualname__: src.text})
    b = Builder(src.loc(src.tree))
    body = Region()
    scope: dict = {}
    ir_params: list[Param] = []
    ones: list[str] = []
    descs: list = []
    const_params = _const_annotated(jf.fn)
    for pname, spec in params:
        if isinstance(spec, Param):
            v = Value(spec.type, pname)
            body.args.append(v)
            ir_params.append(spec)
            scope[pname] = v
            if pname in const_params and is_ptr(v.type):
                b.const_ptrs.add(v.id)
        elif spec[0] == "desc":  # a host TensorDescriptor argument
            _, base, shape, strides, block = spec
            vals = []
            for p in (base, *shape, *strides):
                v = Value(p.type, p.name)
                body.args.append(v)
                ir_params.append(p)
                vals.append(v)
            n = len(shape)
            descs.append((pname, vals[0], vals[1 : 1 + n], vals[1 + n :], block))
        elif spec[0] == "int32 one":
            ones.append(pname)
        elif spec[0] == "tuple":  # a tuple argument: its run-time elements are parameters
            scope[pname] = _tuple_argument(spec, body, ir_params)
        else:
            scope[pname] = spec[1]
    b.regions.append(body)
    for pname in ones:
        scope[pname] = S.constant(b, 1, DType.I32)
    for pname, base, shape, strides, block in descs:
        from .blockptr import TensorDescriptor

        scope[pname] = TensorDescriptor(b, base, list(shape), list(strides), list(block))
    visitor = FunctionVisitor(b, src, jf.fn, scope, 0, ctx)
    b.inliner = lambda f, args: visitor.inline(src.tree, f, args, {})
    visitor.run_body(fold_early_returns(src.tree.body))
    if visitor.ret_value is not None:
        raise KernelTypeError(
            visitor.ret_loc or src.loc(src.tree),
            "a kernel cannot return a value",
            "write results with tl.store",
        )
    from ..ir import Op

    body.ops.append(Op(OpKind.RETURN, [], [], b.loc))
    b.regions.pop()
    fn = Function(name, ir_params, body, src.loc(src.tree), tuple(sorted(ctx.sources)))
    return fn, ctx


__all__ = ["build_kernel", "fold_early_returns", "parse_function"]
