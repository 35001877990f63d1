"""THE instruction table of the accelerator: one `InstrSpec` per instruction.

Everything about an instruction is written here once: mnemonic, opcode, engine, cost kind, ordered
operand fields (kind and bit width) and semantics. The encoder/decoder (`isa.encoding`), the
assembler/disassembler (`isa.asm`), the emulator's dispatch (`isa.emulator` looks up `handler`)
and the spec document (`isa.spec`) are all derived from it.

Encoding: an instruction is 1..N little-endian 64-bit words; bits 0..7 of the first word hold the
opcode, then the fields follow LSB-first in table order; unused high bits must be zero.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from isa.operands import HBM_LAYOUT, TILE_LAYOUT, layout_bits
from isa.trace import CostKind, Engine

OPCODE_BITS = 8
WORD_BITS = 64
NUM_REGS = 64  # r0 reads as zero; writes to it are discarded


class Kind(enum.Enum):
    """Operand kinds: how a field is encoded, printed and parsed."""

    REG = "reg"  # scalar register r0..r63
    IMM = "imm"  # integer immediate (signed or unsigned)
    LABEL = "label"  # branch target: instruction index (a label in assembly)
    ENUM = "enum"  # one of an IntEnum's names
    ARG = "arg"  # kernel argument index (an `.arg` name in assembly)
    DATA = "data"  # byte offset in the data section (a `.data` name in assembly)
    TILE = "tile"  # on-chip access pattern, see isa.operands.Tile
    HBM = "hbm"  # HBM access pattern, see isa.operands.HbmAP
    SCALAR = "scalar"  # fp32 immediate | register | per-partition column tile
    FSCALAR = "fscalar"  # fp32 immediate | register


SCALAR_PAYLOAD_BITS = max(32, layout_bits(TILE_LAYOUT))
KIND_BITS = {
    Kind.REG: 6,
    Kind.TILE: layout_bits(TILE_LAYOUT),
    Kind.HBM: layout_bits(HBM_LAYOUT),
    Kind.SCALAR: 2 + SCALAR_PAYLOAD_BITS,
    Kind.FSCALAR: 1 + 32,
    Kind.ARG: 8,
    Kind.DATA: 32,
    Kind.LABEL: 24,
}


class AluOp(enum.IntEnum):
    """Sequencer integer ALU operations (int64, wrapping)."""

    ADD = 0
    SUB = 1
    MUL = 2
    DIV = 3  # truncates toward zero; x/0 = -1
    REM = 4  # sign of the dividend; x%0 = x
    AND = 5
    OR = 6
    XOR = 7
    SHL = 8  # shift amount taken mod 64
    SHR = 9  # arithmetic
    SHRU = 10  # logical
    MIN = 11
    MAX = 12


class Cond(enum.IntEnum):
    """Sequencer comparisons (signed unless suffixed u)."""

    EQ = 0
    NE = 1
    LT = 2
    LE = 3
    GT = 4
    GE = 5
    LTU = 6
    GEU = 7


class TensorOp(enum.IntEnum):
    """Element-wise binary operations of the vector engine (`tt`, `ts`)."""

    ADD = 0
    SUB = 1
    MUL = 2
    DIV = 3  # float: IEEE; int: truncating, x/0 = -1
    MAX = 4
    MIN = 5
    POW = 6
    MOD = 7  # C fmod semantics (sign of the dividend); int x%0 = x
    AND = 8  # integer only
    OR = 9
    XOR = 10
    SHL = 11
    SHR = 12
    EQ = 13  # comparisons yield 1 or 0 in the destination dtype
    NE = 14
    LT = 15
    LE = 16
    GT = 17
    GE = 18
    RSUB = 19  # b - a
    RDIV = 20  # b / a
    ABSDIFF = 21
    MULHI = 22  # integer only: high 32 bits of the unsigned product of the low 32 bits


class ActFn(enum.IntEnum):
    """Activation functions f of `act` (computed in fp32)."""

    COPY = 0
    EXP = 1
    LOG = 2
    TANH = 3
    SIGMOID = 4
    GELU = 5  # tanh approximation
    RELU = 6
    SQRT = 7
    RSQRT = 8
    SQUARE = 9
    ABS = 10
    SIN = 11
    COS = 12
    RECIPROCAL = 13
    SILU = 14
    SOFTPLUS = 15
    SIGN = 16
    ERF = 17
    NEG = 18


class ReduceOp(enum.IntEnum):
    """Reductions of `reduce`, `preduce` and `act`'s accumulator."""

    ADD = 0
    MAX = 1
    MIN = 2
    MUL = 3
    AND = 4  # bitwise, integer tiles only (tl.reduce_and-style and xor_sum reductions)
    OR = 5
    XOR = 6


class AccMode(enum.IntEnum):
    """Matmul PSUM mode: overwrite the bank region or accumulate into it."""

    SET = 0
    ACC = 1


class RandMode(enum.IntEnum):
    """Output of `rand`."""

    U32 = 0  # raw Philox 4x32-10 output word 0, as uint32
    UNIFORM = 1  # Triton's uint_to_uniform_float: [0, 1)


class AtomicOp(enum.IntEnum):
    """Read-modify-write operations of `atomic` (computed in int64 / float64, rounded to the
    HBM dtype after each update)."""

    ADD = 0
    MAX = 1
    MIN = 2
    XCHG = 3
    AND = 4  # integer only
    OR = 5
    XOR = 6


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    bits: int
    signed: bool = False
    enum: type[enum.IntEnum] | None = None

    @property
    def type_text(self) -> str:
        if self.kind is Kind.ENUM:
            return self.enum.__name__
        if self.kind is Kind.IMM:
            return f"{'s' if self.signed else 'u'}{self.bits}"
        return self.kind.value


def _f(name: str, kind: Kind, bits: int | None = None, signed: bool = False, enum=None) -> Field:
    if bits is None:
        bits = KIND_BITS[kind] if kind is not Kind.ENUM else max(1, (len(enum) - 1).bit_length())
    return Field(name, kind, bits, signed, enum)


class Uop(enum.IntEnum):
    """How the sequencer loop executes a scalar instruction (ENGINE: hand over to an engine)."""

    ENGINE = 0
    ALU = 1
    ALUI = 2
    CMP = 3
    CMPI = 4
    BR = 5
    BRI = 6
    JMP = 7
    LI = 8
    MOV = 9
    PID = 10
    NPROG = 11
    ARG = 12
    DATA = 13
    HALT = 14
    NOP = 15
    LOOP = 16


@dataclass(frozen=True)
class InstrSpec:
    mnemonic: str
    opcode: int
    engine: Engine
    cost: CostKind
    fields: tuple[Field, ...]
    semantics: str
    handler: str = ""  # emulator handler name (engine instructions)
    uop: Uop = Uop.ENGINE
    sub: int = 0  # AluOp / Cond for sequencer instructions

    @property
    def nbits(self) -> int:
        return OPCODE_BITS + sum(f.bits for f in self.fields)

    @property
    def nwords(self) -> int:
        return -(-self.nbits // WORD_BITS)


REG, IMM, LABEL = Kind.REG, Kind.IMM, Kind.LABEL
TILE, HBM, SCALAR, FSCALAR = Kind.TILE, Kind.HBM, Kind.SCALAR, Kind.FSCALAR
_RD, _RS1, _RS2 = _f("rd", REG), _f("rs1", REG), _f("rs2", REG)
_Q = _f("queue", IMM, 4)

_ALU_TEXT = {
    AluOp.ADD: "rs1 + rhs",
    AluOp.SUB: "rs1 - rhs",
    AluOp.MUL: "rs1 * rhs (low 64 bits)",
    AluOp.DIV: "rs1 / rhs truncated toward zero; division by zero gives -1",
    AluOp.REM: "rs1 - (rs1 / rhs) * rhs (sign of rs1); remainder by zero gives rs1",
    AluOp.AND: "rs1 & rhs",
    AluOp.OR: "rs1 | rhs",
    AluOp.XOR: "rs1 ^ rhs",
    AluOp.SHL: "rs1 << (rhs & 63)",
    AluOp.SHR: "rs1 >> (rhs & 63), arithmetic",
    AluOp.SHRU: "rs1 >> (rhs & 63), logical",
    AluOp.MIN: "min(rs1, rhs), signed",
    AluOp.MAX: "max(rs1, rhs), signed",
}
_COND_TEXT = {
    Cond.EQ: "==",
    Cond.NE: "!=",
    Cond.LT: "<",
    Cond.LE: "<=",
    Cond.GT: ">",
    Cond.GE: ">=",
    Cond.LTU: "< (unsigned)",
    Cond.GEU: ">= (unsigned)",
}


def _build() -> list[InstrSpec]:
    out: list[InstrSpec] = []

    def add(mn, engine, cost, fields, sem, handler="", uop=Uop.ENGINE, sub=0):
        out.append(InstrSpec(mn, len(out) + 1, engine, cost, tuple(fields), sem, handler, uop, sub))

    seq, sc = Engine.SEQ, CostKind.SCALAR
    # --- scalar sequencer -------------------------------------------------------------------
    add("nop", seq, sc, [], "Do nothing.", uop=Uop.NOP)
    add("halt", seq, sc, [], "End this program.", uop=Uop.HALT)
    for op in AluOp:
        n = op.name.lower()
        add(
            n,
            seq,
            sc,
            [_RD, _RS1, _RS2],
            f"rd = {_ALU_TEXT[op].replace('rhs', 'rs2')}.",
            uop=Uop.ALU,
            sub=op,
        )
        add(
            n + "i",
            seq,
            sc,
            [_RD, _RS1, _f("imm", IMM, 32, True)],
            f"rd = {_ALU_TEXT[op].replace('rhs', 'imm')} (imm sign-extended).",
            uop=Uop.ALUI,
            sub=op,
        )
    for c in Cond:
        n = c.name.lower()
        add(
            f"cmp.{n}",
            seq,
            sc,
            [_RD, _RS1, _RS2],
            f"rd = 1 if rs1 {_COND_TEXT[c]} rs2 else 0.",
            uop=Uop.CMP,
            sub=c,
        )
        add(
            f"cmpi.{n}",
            seq,
            sc,
            [_RD, _RS1, _f("imm", IMM, 32, True)],
            f"rd = 1 if rs1 {_COND_TEXT[c]} imm else 0.",
            uop=Uop.CMPI,
            sub=c,
        )
    for c in Cond:
        n = c.name.lower()
        add(
            f"b.{n}",
            seq,
            sc,
            [_RS1, _RS2, _f("target", LABEL)],
            f"If rs1 {_COND_TEXT[c]} rs2, continue at target.",
            uop=Uop.BR,
            sub=c,
        )
        add(
            f"bi.{n}",
            seq,
            sc,
            [_RS1, _f("imm", IMM, 16, True), _f("target", LABEL)],
            f"If rs1 {_COND_TEXT[c]} imm, continue at target.",
            uop=Uop.BRI,
            sub=c,
        )
    add("jmp", seq, sc, [_f("target", LABEL)], "Continue at target.", uop=Uop.JMP)
    add(
        "loop",
        seq,
        sc,
        [_RD, _RS1, _f("step", IMM, 16, True), _f("target", LABEL)],
        "rd = rd + step; if rd < rs1 (signed), continue at target. One-instruction loop back edge.",
        uop=Uop.LOOP,
    )
    add(
        "li",
        seq,
        sc,
        [_RD, _f("imm", IMM, 64, True)],
        "rd = imm (full 64-bit immediate).",
        uop=Uop.LI,
    )
    add("mov", seq, sc, [_RD, _RS1], "rd = rs1.", uop=Uop.MOV)
    add(
        "pid",
        seq,
        sc,
        [_RD, _f("axis", IMM, 2)],
        "rd = this program's id along axis (0..2).",
        uop=Uop.PID,
    )
    add(
        "nprog",
        seq,
        sc,
        [_RD, _f("axis", IMM, 2)],
        "rd = number of programs along axis (0..2).",
        uop=Uop.NPROG,
    )
    add(
        "arg",
        seq,
        sc,
        [_RD, _f("index", Kind.ARG)],
        "rd = kernel argument `index` (an HBM byte address for arrays, the value for ints, the "
        "fp32 bit pattern for floats).",
        uop=Uop.ARG,
    )
    add(
        "data",
        seq,
        sc,
        [_RD, _f("offset", Kind.DATA)],
        "rd = HBM byte address of the binary's data section + offset.",
        uop=Uop.DATA,
    )
    add(
        "ld",
        seq,
        sc,
        [_RD, _f("src", TILE)],
        "rd = the first element of an on-chip tile: integers sign/zero-extended, floats as their "
        "fp32 bit pattern (usable as a scalar operand). Waits for the tile's producers; this is "
        "how data-dependent values (loop bounds, indices) reach the sequencer.",
        "reg_load",
    )

    # --- DMA queues --------------------------------------------------------------------------
    dma = Engine.DMA
    add(
        "dma.load",
        dma,
        CostKind.DMA,
        [_Q, _f("dst", TILE), _f("src", HBM), _f("fill", FSCALAR)],
        "Copy HBM -> SBUF on DMA queue `queue`. The elements of src and dst are paired in "
        "row-major order (partition dim first for dst); their counts must match. Elements masked "
        "by src's per-dim bounds or address limit are not read; dst gets `fill` there.",
        "dma_load",
    )
    add(
        "dma.store",
        dma,
        CostKind.DMA,
        [_Q, _f("dst", HBM), _f("src", TILE)],
        "Copy SBUF -> HBM, elements paired in row-major order; masked dst elements are not "
        "written.",
        "dma_store",
    )
    add(
        "dma.copy",
        dma,
        CostKind.DMA,
        [_Q, _f("dst", TILE), _f("src", TILE)],
        "Copy SBUF -> SBUF (element counts must match; dtypes must be equal).",
        "dma_copy",
    )
    add(
        "dma.gather",
        dma,
        CostKind.DMA,
        [_Q, _f("dst", TILE), _f("src", HBM), _f("idx", TILE), _f("fill", FSCALAR)],
        "Indirect load: idx is an integer tile [P, G]; for each index i = idx[p, g], dst[p, g, "
        "...] = src[i, ...] where src's dim 0 stride is the row stride and dims 1..3 describe a "
        "row. Indices outside [0, min(size0, bound0)) give `fill`.",
        "dma_gather",
    )
    add(
        "dma.scatter",
        dma,
        CostKind.DMA,
        [_Q, _f("dst", HBM), _f("src", TILE), _f("idx", TILE)],
        "Indirect store: dst[idx[p, g], ...] = src[p, g, ...]; out-of-range indices are skipped; "
        "later elements win on duplicates.",
        "dma_scatter",
    )
    add(
        "atomic",
        dma,
        CostKind.ATOMIC,
        [_f("op", Kind.ENUM, enum=AtomicOp), _Q, _f("dst", HBM), _f("src", TILE), _f("old", TILE)],
        "Atomic read-modify-write: dst = op(dst, src) element-wise in row-major issue order, "
        "masked elements untouched; elements that alias one address (e.g. stride 0) all apply, "
        "each seeing the earlier ones. If `old` is given it receives each element's value "
        "before its update (0 where masked), like Triton's atomic_* results.",
        "atomic",
    )
    add(
        "cas",
        dma,
        CostKind.ATOMIC,
        [_Q, _f("dst", HBM), _f("cmp", TILE), _f("src", TILE), _f("old", TILE)],
        "Atomic compare-and-swap, element-wise in row-major issue order: if dst == cmp then "
        "dst = src; `old` (optional) receives each element's value before (Triton's "
        "atomic_cas).",
        "atomic_cas",
    )

    # --- tensor engine -----------------------------------------------------------------------
    pe = Engine.PE
    add(
        "matmul",
        pe,
        CostKind.MATMUL,
        [_f("mode", Kind.ENUM, enum=AccMode), _f("dst", TILE), _f("stat", TILE), _f("mov", TILE)],
        "PSUM[M, N] (=|+=) stat[K, M]^T @ mov[K, N]: stationary and moving in SBUF with K <= 128 "
        "on partitions, M <= 128, N <= 512; dst fp32 in PSUM within one bank; products and sums "
        "in fp32.",
        "matmul",
    )
    add(
        "transpose",
        pe,
        CostKind.PE_TRANSPOSE,
        [_f("dst", TILE), _f("src", TILE)],
        "PSUM[M, K] = src[K, M]^T through the identity (K, M <= 128).",
        "pe_transpose",
    )

    # --- activation engine -------------------------------------------------------------------
    add(
        "act",
        Engine.ACT,
        CostKind.ACTIVATION,
        [
            _f("fn", Kind.ENUM, enum=ActFn),
            _f("dst", TILE),
            _f("src", TILE),
            _f("bias", SCALAR),
            _f("scale", SCALAR),
            _f("accum", TILE),
            _f("rop", Kind.ENUM, enum=ReduceOp),
        ],
        "dst = fn(src * scale + bias) in fp32 (scale, bias: immediates, registers or [P, 1] "
        "columns). If accum is given, accum[p, g] = rop over each group of consecutive free "
        "elements of the result (group count = accum's free size).",
        "act",
    )

    # --- vector engine -----------------------------------------------------------------------
    dve = Engine.DVE
    add(
        "tt",
        dve,
        CostKind.TENSOR_TENSOR,
        [_f("op", Kind.ENUM, enum=TensorOp), _f("dst", TILE), _f("a", TILE), _f("b", TILE)],
        "dst = a op b element-wise (int64 if both inputs are integer, else float64, rounded to "
        "dst's dtype).",
        "tensor_tensor",
    )
    add(
        "ts",
        dve,
        CostKind.TENSOR_SCALAR,
        [_f("op", Kind.ENUM, enum=TensorOp), _f("dst", TILE), _f("a", TILE), _f("s", SCALAR)],
        "dst = a op s with s an immediate, register or per-partition column.",
        "tensor_scalar",
    )
    add(
        "select",
        dve,
        CostKind.TENSOR_TENSOR,
        [_f("dst", TILE), _f("mask", TILE), _f("a", TILE), _f("b", TILE)],
        "dst = a where mask != 0 else b.",
        "select",
    )
    add(
        "copy",
        dve,
        CostKind.COPY,
        [_f("dst", TILE), _f("src", TILE)],
        "dst = src converted to dst's dtype (float -> int truncates toward zero and saturates, "
        "NaN -> 0; float -> narrower float rounds to nearest even).",
        "copy",
    )
    add(
        "reduce",
        dve,
        CostKind.REDUCE,
        [_f("op", Kind.ENUM, enum=ReduceOp), _f("dst", TILE), _f("src", TILE)],
        "Free-axis reduction: src's free elements (row-major) split into G groups of R "
        "consecutive elements, G = dst's free size; dst[p, g] = op over group g.",
        "reduce",
    )
    add(
        "transpose32",
        dve,
        CostKind.TRANSPOSE32,
        [_f("dst", TILE), _f("src", TILE)],
        "32x32 block transpose: src [32a, 32b] -> dst [32a, 32b], each 32x32 block transposed in "
        "place.",
        "transpose32",
    )
    add(
        "iota",
        dve,
        CostKind.IOTA,
        [_f("dst", TILE), _f("base", REG), _f("off", IMM, 32, True), _f("step", IMM, 32, True)],
        "dst[p, i] = base + off + i * step for the flat free index i.",
        "iota",
    )
    add(
        "memset",
        dve,
        CostKind.MEMSET,
        [_f("dst", TILE), _f("value", FSCALAR)],
        "dst = value converted to dst's dtype.",
        "memset",
    )

    # --- GpSimd engine -----------------------------------------------------------------------
    pool = Engine.POOL
    add(
        "preduce",
        pool,
        CostKind.GPSIMD,
        [_f("op", Kind.ENUM, enum=ReduceOp), _f("dst", TILE), _f("src", TILE)],
        "Cross-partition reduction: r[i] = op over src's partitions of src[p, i]; every dst "
        "partition receives r.",
        "preduce",
    )
    add(
        "pbcast",
        pool,
        CostKind.GPSIMD,
        [_f("dst", TILE), _f("src", TILE)],
        "Partition broadcast: src [1, F] -> every partition of dst [P, F].",
        "pbcast",
    )
    add(
        "piota",
        pool,
        CostKind.IOTA,
        [_f("dst", TILE), _f("base", REG), _f("off", IMM, 32, True), _f("step", IMM, 32, True)],
        "dst[p, i] = base + off + p * step (p counts from the tile's first partition).",
        "piota",
    )
    add(
        "rand",
        pool,
        CostKind.RNG,
        [_f("mode", Kind.ENUM, enum=RandMode), _f("dst", TILE), _f("seed", REG), _f("offs", TILE)],
        "Philox 4x32-10 keyed by seed (64 bits) on counter (offs[p, i], 0, 0, 0), as Triton's "
        "tl.randint / tl.rand: u32 gives word 0, uniform maps it to [0, 1).",
        "rand",
    )
    # --- appended after the first release (opcodes above stay stable) ------------------------
    add(
        "check",
        seq,
        sc,
        [_RS1, _f("code", IMM, 16)],
        "If rs1 == 0, stop with a device-assertion fault carrying `code` (the compiler's index "
        "of the failed `device_assert`). Waits for nothing: the register is already computed.",
        "check",
    )
    add(
        "atomic.ind",
        dma,
        CostKind.ATOMIC,
        [
            _f("op", Kind.ENUM, enum=AtomicOp),
            _Q,
            _f("dst", HBM),
            _f("src", TILE),
            _f("idx", TILE),
            _f("old", TILE),
        ],
        "Indirect atomic read-modify-write: for each index i = idx[p, g] (rows of dst as in "
        "dma.scatter), dst[i] = op(dst[i], src[p, g]) in row-major issue order, indices outside "
        "the pattern skipped; aliasing indices all apply, each seeing the earlier ones. `old` "
        "(optional) receives each element's value before its update (0 where skipped).",
        "atomic_ind",
    )
    return out


INSTRUCTIONS: tuple[InstrSpec, ...] = tuple(_build())
BY_MNEMONIC: dict[str, InstrSpec] = {s.mnemonic: s for s in INSTRUCTIONS}
BY_OPCODE: dict[int, InstrSpec] = {s.opcode: s for s in INSTRUCTIONS}
assert len(INSTRUCTIONS) < (1 << OPCODE_BITS)
