"""Small llvmlite helpers for the CPU code generator: loops, vectors and intrinsic declarations."""

from __future__ import annotations

from contextlib import contextmanager

from llvmlite import ir

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()


def const(ty: ir.Type, value) -> ir.Constant:
    return ir.Constant(ty, value)


def vec_const(ty: ir.Type, values) -> ir.Constant:
    return ir.Constant(ir.VectorType(ty, len(values)), [ir.Constant(ty, v) for v in values])


def splat(b: ir.IRBuilder, v: ir.Value, lanes: int) -> ir.Value:
    if lanes == 1:
        return v
    vt = ir.VectorType(v.type, lanes)
    if isinstance(v, ir.Constant):
        return ir.Constant(vt, [v] * lanes)
    undef = ir.Constant(vt, ir.Undefined)
    ins = b.insert_element(undef, v, I32(0))
    return b.shuffle_vector(ins, undef, ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))


def declare(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    return fn


def type_suffix(ty: ir.Type) -> str:
    if isinstance(ty, ir.VectorType):
        return f"v{ty.count}{type_suffix(ty.element)}"
    if isinstance(ty, ir.IntType):
        return f"i{ty.width}"
    if isinstance(ty, ir.FloatType):
        return "f32"
    if isinstance(ty, ir.DoubleType):
        return "f64"
    if isinstance(ty, ir.HalfType):
        return "f16"
    if isinstance(ty, ir.PointerType):
        return "p0"
    raise TypeError(ty)


def intrinsic(b: ir.IRBuilder, name: str, ret: ir.Type, args: list[ir.Value], overload=None):
    """Call `llvm.<name>.<suffixes>` where suffixes come from `overload` types (default: ret)."""
    types = overload if overload is not None else [ret]
    full = "llvm." + name + "".join("." + type_suffix(t) for t in types)
    fn = declare(b.module, full, ret, [a.type for a in args])
    return b.call(fn, args)


@contextmanager
def for_range(b: ir.IRBuilder, start: ir.Value, stop: ir.Value, step: ir.Value, name: str = "i"):
    """An ascending counted loop `for iv in range(start, stop, step)` (step > 0); yields iv."""
    pre = b.block
    header = b.append_basic_block(f"{name}.header")
    body = b.append_basic_block(f"{name}.body")
    exit_ = b.append_basic_block(f"{name}.exit")
    b.branch(header)
    b.position_at_end(header)
    iv = b.phi(start.type, name)
    iv.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", iv, stop), body, exit_)
    b.position_at_end(body)
    yield iv
    nxt = b.add(iv, step)
    iv.add_incoming(nxt, b.block)
    b.branch(header)
    b.position_at_end(exit_)
