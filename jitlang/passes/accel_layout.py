"""Layout inference for the accelerator: where every block value lives on the 128 partitions.

Stage: accel backend pass. Requires: verified, optimized tile IR and the backend's target
description (`codegen.accel.target.AccelTarget`, passed in; this module never imports codegen).
Guarantees (returned as an `AccelPlan` beside the rewritten function):
- every tile value (blocks, and float scalars, which live in [1, 1] tiles) has an `AccelLayout`:
  the block's row-major elements split over `pn` partitions, `free` consecutive elements each,
  in SBUF. The default puts the leading dimension on partitions (pn = min(128, shape[0])); a 1-D
  block whose consumers all want it as a row (`x[None, :]`) is produced on one partition instead;
  reductions fix their result's layout (axis 1: rows stay on partitions; axis 0: one partition);
- where a consumer needs another layout than its operand has, an explicit `convert_layout`
  (attr `Layout("accel:p<pn>")`, an SBUF-to-SBUF DMA) is inserted;
- every load/store is classified: an HBM access pattern (`Access.kind == "ap"`, affine pointer
  with constant strides, mask a conjunction of per-dimension bounds) or indirect DMA ("gather");
- `needed` holds the tile values the program must materialise (pointer blocks and masks that
  only feed access patterns are not computed at all);
- fp64 and 64-bit integer data blocks are a `TargetLimitError` at their source line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..dtypes import DType
from ..errors import CompilationError
from ..ir import (
    BinaryOp,
    BlockType,
    Function,
    Layout,
    Op,
    OpKind,
    Region,
    Value,
    is_ptr,
    scalar_dtype,
    shape_of,
    walk,
)
from .accel_access import AccessAnalysis, Bound, PtrAffine
from .accel_patterns import splat_operand, umulhi_operands, zero_acc
from .accel_steps import apply_tile_steps

_ELEMENTWISE = {
    OpKind.UNARY,
    OpKind.BINARY,
    OpKind.CMP,
    OpKind.SELECT,
    OpKind.FMA,
    OpKind.CAST,
    OpKind.HINT,
}
_WIDE = {DType.F64, DType.I64, DType.U64}
_AP_MAX_STRIDE = 1 << 23
_AP_MAX_SIZE = (1 << 20) - 1


class TargetLimitError(CompilationError):
    kind = "accelerator limit"


@dataclass(frozen=True)
class AccelLayout:
    """A block's row-major elements over partitions 0..pn-1, `free` consecutive ones each."""

    pn: int
    free: int
    space: str = "sbuf"
    transposed: bool = False  # a 2-D block stored as its transpose (a dot's stationary operand)

    def __str__(self) -> str:
        return f"{self.space}[{self.pn}x{self.free}{'T' if self.transposed else ''}]"


@dataclass(frozen=True)
class Access:
    kind: str  # "ap" (HBM access pattern) or "gather" (indirect DMA)
    ptr: PtrAffine | None = None
    bounds: tuple[Bound, ...] = ()


@dataclass
class AccelPlan:
    fn: Function
    layouts: dict[int, AccelLayout]
    access: dict[int, Access]  # id(op) of loads/stores -> how they reach HBM
    needed: set[int]  # ids of tile values that must be computed
    producers: dict[int, Op]
    analysis: AccessAnalysis
    converts: int = 0
    notes: list[str] = field(default_factory=list)
    # (load argument, store argument) pairs a step took not to overlap (accel_hoist)
    noalias: list[tuple[int, int]] = field(default_factory=list)
    # integer arguments whose values would make indirect DMAs access patterns (run-time strides)
    specialize: list[int] = field(default_factory=list)


def is_tile_value(v: Value) -> bool:
    """Values the accelerator keeps on chip: blocks, and float scalars ([1, 1] tiles)."""
    if isinstance(v.type, BlockType):
        return True
    dt = scalar_dtype(v.type)
    return dt is not None and dt.is_float


def natural_layout(shape: tuple[int, ...], partitions: int) -> AccelLayout:
    n = 1
    for d in shape:
        n *= d
    if not shape:
        return AccelLayout(1, 1)
    pn = min(partitions, shape[0])
    if shape[0] % pn:
        pn = 1
    return AccelLayout(pn, n // pn)


def _row(shape) -> AccelLayout:
    n = 1
    for d in shape:
        n *= d
    return AccelLayout(1, n)


def _producers(region: Region, out: dict[int, Op]) -> None:
    for op in region.ops:
        for r in op.results:
            out[r.id] = op
        for sub in op.regions:
            _producers(sub, out)


def _flat(region: Region, out: list[tuple[Op, Region]]) -> None:
    for op in region.ops:
        out.append((op, region))
        for sub in op.regions:
            _flat(sub, out)


def _check_dtypes(ops: list[tuple[Op, Region]], needed: set[int]) -> None:
    """64-bit data blocks cannot live on chip; 64-bit index blocks that only feed access
    patterns (never computed) are fine."""
    for op, _ in ops:
        vals = [r for r in op.results if r.id in needed or op.kind is OpKind.LOAD]
        if op.kind in (OpKind.STORE, OpKind.ATOMIC):
            vals += op.operands[1:2]
        for v in vals:
            if is_ptr(v.type):
                continue
            dt = scalar_dtype(v.type)
            if not isinstance(v.type, BlockType):
                if dt is DType.F64 and (v.id in needed or op.kind is OpKind.STORE):
                    raise TargetLimitError(
                        op.loc,
                        "an fp64 scalar cannot live on the accelerator: its engines compute in "
                        "fp32 and hold at most 32-bit elements (64-bit integer scalars are fine)",
                        "load and store float32 (cast after loading, or store into a float32 "
                        "array), or run this kernel with target='cpu'",
                    )
                continue
            if dt in _WIDE:
                raise TargetLimitError(
                    op.loc,
                    f"a block of {dt} ({v.type}) cannot live on the accelerator: its engines and "
                    "on-chip memories hold at most 32-bit elements",
                    "cast to float32/int32 (64-bit scalars and address arithmetic are fine), or "
                    "run this kernel with target='cpu'",
                )


def _const_value(v: Value | None, prod: dict[int, Op]) -> bool:
    if v is None:
        return True
    op = prod.get(v.id)
    while op is not None and op.kind in (OpKind.SPLAT, OpKind.BROADCAST):
        op = prod.get(op.operands[0].id)
    return op is not None and op.kind is OpKind.CONSTANT


def access_mask(op: Op) -> Value | None:
    """The mask operand of a load, store or atomic (None when unmasked)."""
    n = {OpKind.LOAD: 1, OpKind.STORE: 2}.get(op.kind)
    if op.kind is OpKind.ATOMIC:
        n = 3 if op.attr.kind.value == "cas" else 2
    return op.operands[n] if len(op.operands) > n else None


def _classify(op: Op, an: AccessAnalysis) -> Access:
    ptr = op.operands[0]
    mask = access_mask(op)
    pa = an.pointer(ptr)
    if pa is None:
        return Access("gather")
    shape = shape_of(ptr.type)
    if len(shape) > 4 or any(abs(c) >= _AP_MAX_STRIDE for c in pa.off.dims):
        return Access("gather", pa)
    if any(n > _AP_MAX_SIZE for n in shape):
        return Access("gather", pa)
    bounds: list[Bound] = []
    if mask is not None:
        if not shape:
            return Access("ap", pa)  # a scalar mask is the bound of its one element
        b = an.bounds(mask)
        if b is None:
            return Access("gather", pa)
        bounds = b
    return Access("ap", pa, tuple(bounds))


def _only_splatted(v: Value, uses: dict[int, list[Op]]) -> bool:
    us = uses.get(v.id, ())
    return bool(us) and all(u.kind is OpKind.SPLAT for u in us)


def _want_row(ops: list[tuple[Op, Region]], uses: dict[int, list[Op]]) -> set[int]:
    """1-D values whose every layout-relevant use wants them on one partition."""
    row: set[int] = set()
    for op, _ in reversed(ops):
        for r in op.results:
            if len(shape_of(r.type)) != 1:
                continue
            votes = set()
            for u in uses.get(r.id, ()):
                if u.kind is OpKind.EXPAND_DIMS:
                    votes.add("row" if u.attr.axis == 0 else "col")
                elif u.kind in _ELEMENTWISE and len(shape_of(u.results[0].type)) == 1:
                    votes.add("row" if u.results[0].id in row else "col")
            if votes == {"row"}:
                row.add(r.id)
    return row


def infer_accel_layouts(fn: Function, target) -> AccelPlan:
    """Assign accel layouts, insert convert_layout ops, classify memory accesses (see module).
    First, the target's tile-IR optimisation steps (`AccelTarget.steps`) that change which
    ops and loads there are and where (`accel_steps.apply_tile_steps`)."""
    noalias: list[tuple[int, int]] = []
    fn = apply_tile_steps(fn, target, noalias)
    P = target.partitions
    ops: list[tuple[Op, Region]] = []
    _flat(fn.body, ops)
    prod: dict[int, Op] = {}
    _producers(fn.body, prod)
    an = AccessAnalysis(prod, [op for op, _ in ops if op.kind is OpKind.FOR])
    uses: dict[int, list[Op]] = {}
    for op, _ in ops:
        for v in op.operands:
            uses.setdefault(v.id, []).append(op)
    row = _want_row(ops, uses)
    layouts: dict[int, AccelLayout] = {}

    def natural(v: Value) -> AccelLayout:
        return natural_layout(shape_of(v.type), P)

    for a in fn.body.args:
        if is_tile_value(a):
            layouts[a.id] = natural(a)
    for op, _ in ops:
        for reg in op.regions:
            for i, a in enumerate(reg.args):
                if not is_tile_value(a):
                    continue
                init = _carried_init(op, i, reg)
                layouts[a.id] = layouts.get(init.id, natural(a)) if init is not None else natural(a)
        for i, r in enumerate(op.results):
            if not is_tile_value(r):
                continue
            shape = shape_of(r.type)
            if op.kind is OpKind.REDUCE and len(shape) == 1:
                src = shape_of(op.operands[0].type)
                layouts[r.id] = _row(shape) if op.attr.axis == 0 and len(src) > 1 else natural(r)
            elif op.kind is OpKind.REDUCE and not shape and _only_splatted(r, uses):
                # a whole-block reduction that only feeds splats stays a column replicated on
                # the source's partitions (preduce writes them all): `ts` reads it as a scalar
                src = layouts.get(op.operands[0].id) or natural(op.operands[0])
                layouts[r.id] = AccelLayout(src.pn, 1)
            elif op.kind in (OpKind.FOR, OpKind.WHILE) and i < len(op.operands):
                init = op.operands[_init_offset(op) + i]
                layouts[r.id] = layouts.get(init.id, natural(r))
            elif len(shape) == 1 and r.id in row:
                layouts[r.id] = _row(shape)
            else:
                layouts[r.id] = natural(r)
    _stationary_layouts(ops, uses, layouts, an, P)
    column_loads: set[int] = set()
    if "pe_transpose_loads" in getattr(target, "steps", ()):
        column_loads = _column_loads(ops, layouts, an, prod, P, target)
    plan = AccelPlan(fn, layouts, {}, set(), prod, an, noalias=noalias)
    _transpose_column_loads(fn.body, column_loads, plan, P)
    _insert_converts(fn.body, plan, P)
    _hoist_converts(fn.body, plan)
    prod.clear()
    _producers(fn.body, prod)
    for op, _ in _flat_list(fn.body):
        if op.kind in (OpKind.LOAD, OpKind.STORE, OpKind.ATOMIC):
            plan.access[id(op)] = _classify(op, an)
    plan.needed = _needed(fn, plan)
    _check_dtypes(_flat_list(fn.body), plan.needed)
    plan.specialize = _stride_params(fn, plan)
    return plan


_THROUGH = {
    OpKind.CAST,
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.HINT,
    OpKind.CONVERT_LAYOUT,
}


def _stride_params(fn: Function, plan: AccelPlan) -> list[int]:
    """Integer arguments that multiply offsets of an access that had to become an indirect
    DMA (a run-time stride such as `rm[:, None] * K`) or divide them (`offs % M`): with their
    values compiled in, the access can be an access pattern. The accel driver compiles such value-specialized builds."""
    params = {a.id: i for i, a in enumerate(fn.body.args) if not is_tile_value(a)}
    prod = plan.producers
    out: set[int] = set()
    for op, _ in _flat_list(fn.body):
        acc = plan.access.get(id(op))
        if acc is None or acc.kind != "gather":
            continue
        found: set[int] = set()
        seen: set[int] = set()
        stack = [op.operands[0]]
        data_dependent = False
        while stack:
            v = stack.pop()
            if v.id in seen:
                continue
            seen.add(v.id)
            p = prod.get(v.id)
            if p is None:
                if v.id in plan.analysis.carried:  # a carried pointer: its init and update
                    loop, j = plan.analysis.carried[v.id]
                    stack += [loop.operands[3 + j], loop.regions[0].terminator.operands[j]]
                continue
            if p.kind in (OpKind.LOAD, OpKind.ATOMIC):
                data_dependent = True
                break
            if p.kind is OpKind.BINARY and p.attr.op in (BinaryOp.MUL, BinaryOp.REM):
                for x in p.operands:
                    while x.id not in params and prod.get(x.id) is not None:
                        q = prod[x.id]
                        if q.kind not in _THROUGH:
                            break
                        x = q.operands[0]
                    if x.id in params and scalar_dtype(x.type).is_int:
                        found.add(params[x.id])
            stack.extend(p.operands)
        if not data_dependent:
            out |= found
    return sorted(out)


def transposed_layout(shape: tuple[int, ...], partitions: int) -> AccelLayout:
    """A [M, K] block stored as its transpose: K on partitions (a matmul's stationary side)."""
    t = natural_layout((shape[1], shape[0]), partitions)
    return AccelLayout(t.pn, t.free, transposed=True)


# A transposing DMA walks HBM column by column: when the block's rows are contiguous in HBM that
# is one descriptor per element, which the timing model charges (isa/timing.py: per-descriptor
# DMA cost); a PE transpose of a 128x128 chunk plus its PSUM -> SBUF copy costs about as much as
# a few hundred descriptors. So such blocks up to this many elements are transposed by their DMA,
# larger ones on the PE. A block whose columns are contiguous (`aT[k, m]` read as `a[m, k]`, the
# stationary operand given as [K, M] in memory as NKI takes it) is the other way round: its
# transposing DMA moves whole rows of the transpose, and its natural one would be elementwise.
DMA_TRANSPOSE_MAX = 256


def _contiguous_run(strides: tuple[int, ...], shape: tuple[int, ...]) -> int:
    """Elements per contiguous HBM chunk of an access pattern walked in row-major order."""
    run = 1
    for s, n in reversed(list(zip(strides, shape, strict=True))):
        if n == 1:
            continue
        if s != run:
            break
        run *= n
    return run


def _dma_transposes_well(load: Op, an: AccessAnalysis) -> bool:
    """True when reading a 2-D load's block column by column (its transpose's rows) gives
    chunks at least as long as reading it row by row."""
    acc = _classify(load, an)
    if acc.kind != "ap":
        return False
    shape = shape_of(load.result.type)
    dims = acc.ptr.off.dims
    natural = _contiguous_run(dims, shape)
    transposed = _contiguous_run(dims[::-1], shape[::-1])
    return transposed > 1 and transposed >= natural


def _stationary_layouts(ops, uses, layouts, an: AccessAnalysis, P: int) -> None:
    """The PE contracts over partitions: `dot`'s first operand must lie as [K, M]. Cost model
    (see DMA_TRANSPOSE_MAX): a block loaded through an access pattern used only by the dot is
    transposed by its DMA (the pattern's dims are swapped) when it is small or when its
    columns are contiguous in HBM; anything else gets an explicit convert_layout, lowered as
    PE transposes through the identity (128x128 chunks; DVE 32x32 blocks would also need a
    cross-partition move, so the PE is never worse)."""
    for op, _ in ops:
        if op.kind is not OpKind.DOT or len(shape_of(op.operands[0].type)) != 2:
            continue
        a = op.operands[0]
        src = next((p for p, _ in ops if a in p.results), None)
        us = uses.get(a.id, ())  # every use the stationary operand of a dot (or of copies)
        only_dot = all(u.kind is OpKind.DOT and u.operands[0] is a for u in us)
        only_dot = only_dot and all(a not in u.operands[1:] for u in us)
        if src is None or src.kind is not OpKind.LOAD or not only_dot:
            continue
        if _classify(src, an).kind != "ap":
            continue
        if a.type.numel <= DMA_TRANSPOSE_MAX or _dma_transposes_well(src, an):
            layouts[a.id] = transposed_layout(shape_of(a.type), P)


def _constant_fill(other: Value | None, prod: dict[int, Op]) -> bool:
    """The load's `other` is absent or a constant (the DMA fills masked lanes itself, so
    no select in the load's layout follows it)."""
    if other is None:
        return True
    p = prod.get(other.id)
    while p is not None and p.kind in (OpKind.SPLAT, OpKind.BROADCAST):
        p = prod.get(p.operands[0].id)
    return p is not None and p.kind is OpKind.CONSTANT


def _column_loads(ops, layouts, an: AccessAnalysis, prod, P: int, target) -> set[int]:
    """2-D loads in the natural layout whose rows are strided in HBM but whose columns are
    contiguous (`k[d, n]` read from a row-major [N, D] array, attention's K^T): read row by
    row that is one descriptor per element, each charged the DMA's minimum chunk
    (`dma_min_chunk_bytes`: a [64, 128] fp16 block moves 4 MiB of chunks for 16 KiB of data,
    ~150 us on one nc-v2 queue). Such a load reads its transpose's contiguous rows instead
    (the transposed layout) and is turned into the natural layout on the PE (one identity
    transpose per <=128x128 chunk plus its PSUM -> SBUF copy, ~0.2 us): returns the ids of
    the loads to treat so (see `_transpose_column_loads`)."""
    chunk = target.dma_min_chunk_bytes
    out: set[int] = set()
    for op, _ in ops:
        if op.kind is not OpKind.LOAD or not is_tile_value(op.result):
            continue
        r = op.result
        shape = shape_of(r.type)
        lay = layouts.get(r.id)
        if len(shape) != 2 or lay is None or lay.transposed or r.type.numel <= DMA_TRANSPOSE_MAX:
            continue
        if lay != natural_layout(shape, P) or shape[0] > P * 128 or shape[1] > P * 128:
            continue
        if not _constant_fill(op.operands[2] if len(op.operands) > 2 else None, prod):
            continue
        acc = _classify(op, an)
        if acc.kind != "ap":
            continue
        es = scalar_dtype(r.type).mem_bytes
        dims = acc.ptr.off.dims
        natural = _contiguous_run(dims, shape)
        transposed = _contiguous_run(dims[::-1], shape[::-1])
        if natural * es < chunk and transposed >= 8 * natural:
            out.add(r.id)
            layouts[r.id] = transposed_layout(shape, P)
    return out


def _transpose_column_loads(region: Region, loads: set[int], plan: AccelPlan, P: int) -> None:
    """After each load in `loads` (now in its transposed layout), a convert_layout back to
    the natural layout; every use reads the converted value."""
    if not loads:
        return
    renamed: dict[int, Value] = {}

    def walk(reg: Region) -> None:
        new_ops: list[Op] = []
        for op in reg.ops:
            op.operands = [renamed.get(v.id, v) for v in op.operands]
            for sub in op.regions:
                walk(sub)
            new_ops.append(op)
            if op.kind is OpKind.LOAD and op.results and op.result.id in loads:
                v = op.result
                nv = Value(v.type, v.name)
                lay = plan.layouts[nv.id] = natural_layout(shape_of(v.type), P)
                kind = Layout(f"accel:p{lay.pn}")
                new_ops.append(Op(OpKind.CONVERT_LAYOUT, [v], [nv], op.loc, kind))
                renamed[v.id] = nv
                plan.converts += 1
        reg.ops = new_ops

    walk(region)


def _flat_list(region: Region) -> list[tuple[Op, Region]]:
    out: list[tuple[Op, Region]] = []
    _flat(region, out)
    return out


def _init_offset(op: Op) -> int:
    return 3 if op.kind is OpKind.FOR else 0


def _carried_init(op: Op, i: int, reg: Region) -> Value | None:
    """The init value of region argument i (loop-carried), if the region carries values."""
    if op.kind is OpKind.FOR:
        j = i - 1  # arg 0 is the induction variable
        return op.operands[3 + j] if j >= 0 and 3 + j < len(op.operands) else None
    if op.kind is OpKind.WHILE:
        return op.operands[i] if i < len(op.operands) else None
    return None


def _required(op: Op, i: int, plan: AccelPlan, P: int) -> AccelLayout | None:
    """The layout op needs for operand i (None: any layout is fine)."""
    v = op.operands[i]
    if not isinstance(v.type, BlockType) or not op.results:
        return None
    res = op.results[0]
    rl = plan.layouts.get(res.id)
    if not shape_of(v.type):
        return None  # scalars in tiles are read through their partition-0 view
    if op.kind in _ELEMENTWISE and rl is not None and shape_of(v.type) == shape_of(res.type):
        return rl
    if op.kind is OpKind.EXPAND_DIMS and rl is not None:
        src = shape_of(v.type)
        n = v.type.numel
        return AccelLayout(rl.pn, n // rl.pn) if n % rl.pn == 0 and src else None
    if op.kind is OpKind.DOT and i == 0 and len(shape_of(v.type)) == 2:
        return transposed_layout(shape_of(v.type), P)
    if op.kind is OpKind.BROADCAST and rl is not None:
        src = shape_of(v.type)
        pn = rl.pn if src[0] == shape_of(res.type)[0] else 1
        return AccelLayout(pn, v.type.numel // pn)
    return None


def _insert_converts(region: Region, plan: AccelPlan, P: int) -> None:
    new_ops: list[Op] = []
    for op in region.ops:
        for sub in op.regions:
            _insert_converts(sub, plan, P)
            term = sub.terminator
            if term is not None and term.kind is OpKind.YIELD and op.kind is not OpKind.IF:
                _convert_yield(op, sub, term, plan)
            elif term is not None and term.kind is OpKind.YIELD:
                _convert_if_yield(op, sub, term, plan)
            elif term is not None and term.kind is OpKind.CONDITION:
                for i, a in enumerate(sub.args):  # forwarded values take the carried layout
                    want = plan.layouts.get(a.id)
                    if want is not None and i + 1 < len(term.operands):
                        _convert_to(term, i + 1, want, plan, sub)
        for i, v in enumerate(op.operands):
            want = _required(op, i, plan, P)
            have = plan.layouts.get(v.id)
            if want is None or have is None or want == have:
                continue
            nv = Value(v.type, v.name)
            plan.layouts[nv.id] = want
            kind = f"accel:p{want.pn}" + ("T" if want.transposed else "")
            new_ops.append(Op(OpKind.CONVERT_LAYOUT, [v], [nv], op.loc, Layout(kind)))
            op.operands[i] = nv
            plan.converts += 1
        new_ops.append(op)
    region.ops = new_ops


# loop-invariant layout conversions move before their loop while their results take at most
# this much of a partition together (they then stay live through the loop)
HOIST_CONVERT_BYTES = 16 << 10


def _hoist_converts(region: Region, plan: AccelPlan) -> None:
    """A `convert_layout` at the top of a `for` body whose operand comes from outside the loop
    runs once before the loop instead of in every iteration (Triton's attention: `q`, loaded
    before the K/V loop, transposed for each `tl.dot(q, k)`: a PE transpose and a PSUM copy
    on the loop's critical path). Inner loops first, so a conversion moves out as far as its
    operand allows. A conversion is pure; before a loop that runs no iteration it is wasted
    work, never a wrong result."""
    out: list[Op] = []
    for op in region.ops:
        for sub in op.regions:
            _hoist_converts(sub, plan)
        if op.kind is OpKind.FOR:
            body = op.regions[0]
            inner = {a.id for a in body.args}
            for o in walk(body):
                inner.update(r.id for r in o.results)
                for r in o.regions:
                    inner.update(a.id for a in r.args)
            moved, room = [], HOIST_CONVERT_BYTES  # all of a loop's hoisted ones together
            for o in body.ops:
                if o.kind is OpKind.CONVERT_LAYOUT and o.operands[0].id not in inner:
                    size = _partition_bytes(o.result, plan)
                    if size <= room:
                        moved.append(o)
                        room -= size
            if moved:
                body.ops = [o for o in body.ops if all(o is not m for m in moved)]
                out.extend(moved)
        out.append(op)
    region.ops = out


def _partition_bytes(v: Value, plan: AccelPlan) -> int:
    lay = plan.layouts.get(v.id)
    dt = scalar_dtype(v.type)
    if lay is None or dt is None:
        return 1 << 62
    return lay.free * max(1, dt.mem_bytes)


def _convert_to(term: Op, i: int, want: AccelLayout, plan: AccelPlan, sub: Region) -> None:
    v = term.operands[i]
    have = plan.layouts.get(v.id)
    if have is None or have == want:
        return
    nv = Value(v.type, v.name)
    plan.layouts[nv.id] = want
    sub.ops.insert(
        len(sub.ops) - 1,
        Op(OpKind.CONVERT_LAYOUT, [v], [nv], term.loc, Layout(f"accel:p{want.pn}")),
    )
    term.operands[i] = nv
    plan.converts += 1


def _convert_yield(op: Op, sub: Region, term: Op, plan: AccelPlan) -> None:
    """Loop bodies yield carried values in the layout of the carried region argument."""
    args = sub.args[1:] if op.kind is OpKind.FOR else op.regions[-1].args
    if op.kind is OpKind.WHILE and sub is op.regions[1]:
        args = op.regions[0].args
    for i, a in enumerate(args):
        want = plan.layouts.get(a.id)
        if want is not None and i < len(term.operands):
            _convert_to(term, i, want, plan, sub)


def _convert_if_yield(op: Op, sub: Region, term: Op, plan: AccelPlan) -> None:
    for i, r in enumerate(op.results):
        want = plan.layouts.get(r.id)
        if want is not None and i < len(term.operands):
            _convert_to(term, i, want, plan, sub)


def _needed(fn: Function, plan: AccelPlan) -> set[int]:
    """Tile values the program must compute: everything a side effect, control flow or a
    needed result reads, except pointers and masks that become access patterns."""
    ops = _flat_list(fn.body)
    loop_of = {id(op.regions[0]): op for op, _ in ops if op.kind is OpKind.FOR}
    needed: set[int] = set()
    changed = True
    while changed:
        changed = False
        for op, region in reversed(ops):
            loop = loop_of.get(id(region)) if op.kind is OpKind.YIELD else None
            if op.kind is OpKind.FOR or loop is not None:
                # a carried value is computed only if the body or the code after the loop
                # needs it (a pointer block advanced each iteration that only feeds access
                # patterns is not)
                loop = loop or op
                body = loop.regions[0]
                live = [
                    j
                    for j, (a, r) in enumerate(zip(body.args[1:], loop.results, strict=True))
                    if a.id in needed or r.id in needed or not is_tile_value(a)
                ]
                if op.kind is OpKind.FOR:
                    want = list(op.operands[:3]) + [op.operands[3 + j] for j in live]
                else:
                    want = [op.operands[j] for j in live]
            else:
                want = _operands_needed(op, plan, needed)
            for v in want:
                if is_tile_value(v) and v.id not in needed:
                    needed.add(v.id)
                    changed = True
    return needed


def _operands_needed(op: Op, plan: AccelPlan, needed: set[int]) -> list[Value]:
    k = op.kind
    live = any(r.id in needed for r in op.results) or not any(is_tile_value(r) for r in op.results)
    if k is OpKind.LOAD:
        if not live:
            return []
        acc = plan.access.get(id(op))
        other = op.operands[2] if len(op.operands) > 2 else None
        out = []
        if other is not None and not _const_value(other, plan.producers):
            out += op.operands[1:3]
        if acc is None or acc.kind == "gather":
            out += op.operands[:2]
        return out
    if k is OpKind.STORE:
        acc = plan.access.get(id(op))
        if acc is not None and acc.kind == "ap":
            return [op.operands[1]]
        return list(op.operands)
    if k is OpKind.ATOMIC:
        acc = plan.access.get(id(op))
        vals = op.operands[1 : 3 if op.attr.kind.value == "cas" else 2]
        if acc is not None and acc.kind == "ap":
            return list(vals)
        return list(op.operands)
    if k in (OpKind.CONSTANT, OpKind.MAKE_RANGE, OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS):
        return []
    if k is OpKind.DOT and zero_acc(op, plan.producers):
        return list(op.operands[:2]) if live else []  # the result is PSUM copied out
    hi = umulhi_operands(op, plan.producers)
    if hi is not None:
        return [x for x in hi if isinstance(x, Value)] if live else []
    fused = splat_operand(op, plan.producers)
    if fused is not None:
        if not live:
            return []
        i, scalar = fused
        sp = plan.producers.get(scalar.id)
        if sp is not None and sp.kind is OpKind.CONSTANT:  # a constant block: an immediate
            return [op.operands[1 - i]]
        return [op.operands[1 - i], scalar]
    if not live and k not in (OpKind.YIELD, OpKind.CONDITION, OpKind.RETURN, OpKind.FOR):
        if k not in (OpKind.IF, OpKind.WHILE, OpKind.ATOMIC, OpKind.PRINT, OpKind.ASSERT):
            return []
    return list(op.operands)


def format_plan(plan: AccelPlan) -> str:
    """The layout of every tile value the program computes, in program order (for asm["tile"])."""
    lines = ["// accel layouts (value: type -> layout; '-' = folded into an access pattern)"]
    for op, _ in _flat_list(plan.fn.body):
        for r in op.results:
            lay = plan.layouts.get(r.id)
            if lay is None:
                continue
            mark = str(lay) if r.id in plan.needed else "-"
            lines.append(
                f"//   {op.kind.value} %{r.name or 'v'}{r.id}: {r.type} -> {mark}"
                f"  ({op.loc.line}:{op.loc.col + 1})"
            )
        acc = plan.access.get(id(op))
        if acc is not None:
            lines.append(f"//   {op.kind.value} at {op.loc.line}:{op.loc.col + 1} via {acc.kind}")
    return "\n".join(lines)
