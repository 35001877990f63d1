"""The tile IR: typed SSA values, operations with structured regions, and source locations.

Stage: produced by the frontend (`jitlang.frontend`), rewritten by the passes (`jitlang.passes`),
consumed by the code generators (`codegen.cpu`, later `codegen.accel`). The printer and verifier
live beside it (`jitlang.printer`, `jitlang.verifier`).

Types are `ScalarType(dtype)`, `PointerType(elem)` and `BlockType(shape, elem)`. An `Op` has a
kind from `OpKind`, operands, results, an optional typed attribute and regions (`for`/`if`/`while`
own regions ending in `yield`). Every op carries the `Loc` of the kernel source it came from.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

from .dtypes import DType


@dataclass(frozen=True)
class Loc:
    """An absolute source position: file, 1-based line, 0-based column (like Python's ast)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"


UNKNOWN_LOC = Loc("<unknown>", 0, 0)


# ----------------------------------------------------------------------------------------------
# Types
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalarType:
    dtype: DType

    def __str__(self) -> str:
        return str(self.dtype)


@dataclass(frozen=True)
class PointerType:
    elem: DType

    def __str__(self) -> str:
        return f"ptr<{self.elem}>"


ElemType = ScalarType | PointerType


@dataclass(frozen=True)
class BlockType:
    shape: tuple[int, ...]
    elem: ElemType

    def __str__(self) -> str:
        return f"block<{'x'.join(map(str, self.shape))}x{self.elem}>"

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


Type = ScalarType | PointerType | BlockType


def elem_type(t: Type) -> ElemType:
    return t.elem if isinstance(t, BlockType) else t


def shape_of(t: Type) -> tuple[int, ...]:
    return t.shape if isinstance(t, BlockType) else ()


def with_elem(t: Type, elem: ElemType) -> Type:
    """`t` with its element type replaced (a block stays a block of the same shape)."""
    return BlockType(t.shape, elem) if isinstance(t, BlockType) else elem


def scalar_dtype(t: Type) -> DType | None:
    """The DType of a scalar or block of scalars; None for pointers."""
    e = elem_type(t)
    return e.dtype if isinstance(e, ScalarType) else None


def is_ptr(t: Type) -> bool:
    return isinstance(elem_type(t), PointerType)


# ----------------------------------------------------------------------------------------------
# Op kinds and typed attributes
# ----------------------------------------------------------------------------------------------


class OpKind(enum.Enum):
    CONSTANT = "constant"  # attr: Const; result scalar or splatted block
    PROGRAM_ID = "program_id"  # attr: Axis
    NUM_PROGRAMS = "num_programs"  # attr: Axis
    MAKE_RANGE = "make_range"  # attr: Range; result block<n x i32>
    SPLAT = "splat"  # scalar -> block
    BROADCAST = "broadcast"  # block -> block of a larger shape (dims of size 1 grow)
    EXPAND_DIMS = "expand_dims"  # attr: Axis
    UNARY = "unary"  # attr: UnaryOp
    BINARY = "binary"  # attr: BinaryOp
    CMP = "cmp"  # attr: CmpPred; result int1
    SELECT = "select"  # cond, a, b
    FMA = "fma"  # a * b + c
    CAST = "cast"  # attr: Cast
    PTR_ADD = "ptr_add"  # pointer + integer offset (in elements)
    LOAD = "load"  # ptr [, mask [, other]]; attr: MemAttr
    STORE = "store"  # ptr, value [, mask]; attr: MemAttr
    HINT = "hint"  # attr: Hint; value passes through (multiple_of / max_contiguous)
    PRINT = "print"  # attr: PrintAttr; operands printed per element
    ASSERT = "assert"  # cond; attr: PrintAttr (message)
    REDUCE = "reduce"  # *inputs; attr: Reduce; region (CUSTOM): (acc..., x...) -> yield acc...
    SCAN = "scan"  # *inputs; attr: Scan; region (CUSTOM) like REDUCE
    DOT = "dot"  # a[.., M, K], b[.., K, N], acc[.., M, N]; attr: Dot
    TRANS = "trans"  # attr: Permute
    RESHAPE = "reshape"  # row-major reinterpretation to the result shape
    FLIP = "flip"  # attr: Axis; reverses the block along that axis
    CONVERT_LAYOUT = "convert_layout"  # attr: Layout; same value, the layout its consumer wants
    SORT = "sort"  # attr: SortAttr; sorts along the last axis
    ATOMIC = "atomic"  # ptr, val [, mask]  (cas: ptr, cmp, val [, mask]); attr: Atomic
    FOR = "for"  # lb, ub, step, *inits; region(iv, *carried) -> yield
    IF = "if"  # cond; then region, else region -> results
    WHILE = "while"  # *inits; before region(args) -> cond yield; after region(args) -> yield
    YIELD = "yield"  # terminator of a region
    CONDITION = "condition"  # terminator of a while's before region: cond, *forwarded
    RETURN = "return"  # terminator of the kernel body


class UnaryOp(enum.Enum):
    NEG = "neg"
    NOT = "not"  # bitwise not (ints), logical not (int1)
    ABS = "abs"
    EXP = "exp"
    EXP2 = "exp2"
    LOG = "log"
    LOG2 = "log2"
    SQRT = "sqrt"
    RSQRT = "rsqrt"
    SIN = "sin"
    COS = "cos"
    FLOOR = "floor"
    CEIL = "ceil"
    ERF = "erf"
    TANH = "tanh"
    SIGMOID = "sigmoid"


class BinaryOp(enum.Enum):
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"  # float: IEEE division; int: C truncating division
    REM = "rem"  # float: fmod (sign of dividend); int: C remainder
    AND = "and"
    OR = "or"
    XOR = "xor"
    SHL = "shl"
    SHR = "shr"  # arithmetic for signed, logical for unsigned
    MIN = "min"  # float: NaN propagating if attr says so (see Binary.propagate_nan)
    MAX = "max"
    POW = "pow"


class CmpPred(enum.Enum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"


class ReduceKind(enum.Enum):
    SUM = "sum"
    PROD = "prod"
    MAX = "max"
    MIN = "min"
    ARGMAX = "argmax"  # inputs: values, indices -> results: value, index
    ARGMIN = "argmin"
    XOR = "xor"
    OR = "or"
    AND = "and"
    CUSTOM = "custom"  # the op's region combines


class AtomicKind(enum.Enum):
    ADD = "add"
    MAX = "max"
    MIN = "min"
    AND = "and"
    OR = "or"
    XOR = "xor"
    XCHG = "xchg"
    CAS = "cas"
    POLL = "poll"  # ptr, expected, timeout_ns (i64; -g: none, fail after g); int1: seen equal


@dataclass(frozen=True)
class Reduce:
    axis: int
    kind: ReduceKind
    propagate_nan: bool = False


@dataclass(frozen=True)
class Scan:
    axis: int
    kind: ReduceKind  # SUM, PROD, MAX, MIN or CUSTOM
    reverse: bool = False


@dataclass(frozen=True)
class DotTiling:
    """CPU register blocking of a dot: MR rows x NV vectors of `lanes` accumulators."""

    mr: int
    nv: int
    lanes: int


@dataclass(frozen=True)
class Dot:
    input_precision: str = "ieee"
    tiling: DotTiling | None = None  # chosen by the layout pass


@dataclass(frozen=True)
class Layout:
    """A block's memory layout as its consumer needs it (CPU: dense row-major)."""

    kind: str = "row_major"


@dataclass(frozen=True)
class SortAttr:
    descending: bool = False


@dataclass(frozen=True)
class Permute:
    order: tuple[int, ...]


@dataclass(frozen=True)
class Atomic:
    kind: AtomicKind
    sem: str = "acq_rel"
    scope: str = "gpu"


@dataclass(frozen=True)
class Const:
    value: int | float | bool


@dataclass(frozen=True)
class Axis:
    axis: int


@dataclass(frozen=True)
class Range:
    start: int
    end: int


@dataclass(frozen=True)
class Unary:
    op: UnaryOp


@dataclass(frozen=True)
class Binary:
    op: BinaryOp
    propagate_nan: bool = False
    exact: bool = False  # DIV: IEEE-rounded even when the divisor is uniform (tl.math.div_rn)


@dataclass(frozen=True)
class Cmp:
    pred: CmpPred


@dataclass(frozen=True)
class Cast:
    bitcast: bool = False


@dataclass(frozen=True)
class MemAttr:
    cache: str = ""  # accepted for Triton compatibility; no effect on the CPU
    volatile: bool = False


@dataclass(frozen=True)
class Hint:
    multiple_of: tuple[int, ...] = ()
    max_contiguous: tuple[int, ...] = ()


@dataclass(frozen=True)
class PrintAttr:
    prefix: str
    hex: bool = False


Attr = (
    Const
    | Axis
    | Range
    | Unary
    | Binary
    | Cmp
    | Cast
    | MemAttr
    | Hint
    | PrintAttr
    | Reduce
    | Scan
    | Dot
    | Permute
    | SortAttr
    | Layout
    | Atomic
    | None
)


# ----------------------------------------------------------------------------------------------
# Values, ops, regions, functions
# ----------------------------------------------------------------------------------------------

_ids = itertools.count()


@dataclass(eq=False)
class Value:
    type: Type
    name: str = ""  # a hint from the source (variable name) for the printer
    id: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        return f"%{self.name or 'v'}{self.id}:{self.type}"


@dataclass(eq=False)
class Region:
    args: list[Value] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)

    @property
    def terminator(self) -> Op | None:
        return self.ops[-1] if self.ops else None


@dataclass(eq=False)
class Op:
    kind: OpKind
    operands: list[Value]
    results: list[Value]
    loc: Loc
    attr: Attr = None
    regions: list[Region] = field(default_factory=list)

    @property
    def result(self) -> Value:
        assert len(self.results) == 1, f"{self.kind} has {len(self.results)} results"
        return self.results[0]


@dataclass(frozen=True)
class Param:
    """A kernel parameter after specialization: its type and what the launcher promised."""

    name: str
    type: Type
    divisibility: int = 1  # 16 when the pointer/integer is divisible by 16
    index: int = 0  # position among the launched (non-constexpr) arguments


@dataclass(eq=False)
class Function:
    name: str
    params: list[Param]
    body: Region  # args[i] is the value of params[i]; ends with RETURN
    loc: Loc
    source_files: tuple[str, ...] = ()


def walk(region: Region):
    """Yield every op of a region, nested regions included, in program order."""
    for op in region.ops:
        yield op
        for r in op.regions:
            yield from walk(r)


def clone_ops(ops: list[Op], vmap: dict[int, Value]) -> list[Op]:
    """Copies of `ops` (nested regions included) with fresh results and region arguments,
    reading `vmap`'s replacement for every value it maps; the copies' results are added to
    vmap (so a later op's copy reads an earlier op's copy)."""
    out = []
    for op in ops:
        regions = []
        for r in op.regions:
            args = [Value(a.type, a.name) for a in r.args]
            vmap.update({a.id: n for a, n in zip(r.args, args, strict=True)})
            regions.append(Region(args, clone_ops(r.ops, vmap)))
        results = [Value(v.type, v.name) for v in op.results]
        vmap.update({v.id: n for v, n in zip(op.results, results, strict=True)})
        operands = [vmap.get(v.id, v) for v in op.operands]
        out.append(Op(op.kind, operands, results, op.loc, op.attr, regions))
    return out
