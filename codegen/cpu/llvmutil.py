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


def counted_loop(b: ir.IRBuilder, start: int, stop: int, step: int, init: list, body, name="k"):
    """for k in range(start, stop, step) (constants) carrying registers `init`;
    body(k, carried) -> new carried values; returns the values after the loop."""
    if (stop - start) // step <= 0 if step > 0 else (start - stop) // (-step) <= 0:
        return init
    pre = b.block
    header = b.append_basic_block(f"{name}.header")
    blk = b.append_basic_block(f"{name}.body")
    exit_ = b.append_basic_block(f"{name}.exit")
    b.branch(header)
    b.position_at_end(header)
    k = b.phi(I64, name)
    k.add_incoming(ir.Constant(I64, start), pre)
    phis = []
    for v in init:
        p = b.phi(v.type)
        p.add_incoming(v, pre)
        phis.append(p)
    cond = b.icmp_signed("<" if step > 0 else ">", k, ir.Constant(I64, stop))
    b.cbranch(cond, blk, exit_)
    b.position_at_end(blk)
    new = body(k, phis)
    end = b.block
    for p, v in zip(phis, new):
        p.add_incoming(v, end)
    k.add_incoming(b.add(k, ir.Constant(I64, step)), end)
    b.branch(header)
    b.position_at_end(exit_)
    return phis


def elem_bytes(ty: ir.Type) -> int:
    if isinstance(ty, ir.IntType):
        return max(1, ty.width // 8)
    if isinstance(ty, ir.DoubleType) or isinstance(ty, ir.PointerType):
        return 8
    if isinstance(ty, ir.HalfType):
        return 2
    return 4


def _part(b: ir.IRBuilder, v: ir.Value, i: int, w: int) -> ir.Value:
    lanes = v.type.count
    if w == lanes:
        return v
    idx = ir.Constant(ir.VectorType(I32, w), list(range(i * w, i * w + w)))
    return b.shuffle_vector(v, ir.Constant(v.type, ir.Undefined), idx)


def _concat(b: ir.IRBuilder, parts: list[ir.Value]) -> ir.Value:
    while len(parts) > 1:
        n = parts[0].type.count
        idx = ir.Constant(ir.VectorType(I32, 2 * n), list(range(2 * n)))
        parts = [b.shuffle_vector(parts[k], parts[k + 1], idx) for k in range(0, len(parts), 2)]
    return parts[0]


# Positions of the per-lane vector operands and of the scalar base address of each masked
# memory intrinsic (see the LLVM LangRef for the operand order).
_MASKED = {
    "masked.load": ((2, 3), 0),
    "masked.store": ((0, 3), 1),
    "masked.gather": ((0, 2, 3), None),
    "masked.scatter": ((0, 1, 3), None),
}


def masked_access(
    b: ir.IRBuilder, name: str, data: ir.VectorType, args: list[ir.Value], max_bytes: int
) -> ir.Value:
    """Call `llvm.<name>` (a masked load/store/gather/scatter of `data` vectors), split into calls
    no wider than one `max_bytes` vector register.

    Why: LLVM 22 legalises a masked access wider than the target's registers by splitting it, and
    for AVX2 (znver3) the split emits one half as a plain unmasked access (wrong lanes, reads past
    the array) or asserts inside LLVM (`LocationSize::getValue()`), aborting the process. Calls of
    register width never take that path."""
    vec_ops, base_pos = _MASKED[name]
    lanes = data.count
    w = max(1, min(lanes, max_bytes // elem_bytes(data.element)))
    while lanes % w:
        w //= 2
    results = []
    for i in range(lanes // w):
        part = list(args)
        for k in vec_ops:
            part[k] = _part(b, args[k], i, w)
        if base_pos is not None and i:
            part[base_pos] = b.gep(
                args[base_pos], [ir.Constant(I64, i * w)], source_etype=data.element
            )
        pt = ir.VectorType(data.element, w)
        if name == "masked.load":
            results.append(intrinsic(b, name, pt, part, overload=[pt, PTR]))
        elif name == "masked.store":
            intrinsic(b, name, VOID, part, overload=[pt, PTR])
        elif name == "masked.gather":
            results.append(intrinsic(b, name, pt, part, overload=[pt, part[0].type]))
        else:
            intrinsic(b, name, VOID, part, overload=[pt, part[1].type])
    return _concat(b, results) if results else None
