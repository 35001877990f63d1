"""Machine IR of the accel backend: ISA instructions on virtual (later physical) registers.

Stage: the data structure `isel` produces and `regalloc`, `schedule` and `emit` consume. An
`MInstr` holds a mnemonic and one operand per field of its `isa.table` entry; register fields
hold `VReg`s until register allocation replaces them with physical numbers. Composite operands
that name registers (HBM patterns, scalars) are `HbmOp`/`ScalarOp`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from isa.operands import HbmAP, Scalar, Tile
from isa.table import BY_MNEMONIC, Kind


@dataclass(eq=False)
class VReg:
    id: int
    width: int = 64  # 32: the value is a sign-extended 32-bit (or narrower) integer

    def __repr__(self) -> str:
        return f"v{self.id}"


@dataclass
class HbmOp:
    """An HBM pattern template plus the registers of its base, limit and per-dim bounds."""

    template: HbmAP
    base: object  # VReg | int (physical)
    limit: object = 0
    bounds: tuple = (0, 0, 0, 0)

    def regs(self) -> list:
        return [self.base, self.limit, *self.bounds]

    def resolve(self) -> HbmAP:
        t = self.template
        dims = tuple((s, n, self.bounds[d] if b else 0) for d, (s, n, b) in enumerate(t.dims))
        return HbmAP(t.dtype, self.base, t.off, dims, self.limit)


@dataclass
class ScalarOp:
    """An engine scalar: fp32 immediate bits, a register, or a [P, 1] column tile."""

    imm: int | None = None
    reg: object = None
    tile: Tile | None = None

    def resolve(self) -> Scalar:
        if self.tile is not None:
            return Scalar.tile(self.tile)
        if self.reg is not None:
            return Scalar.reg(self.reg)
        return Scalar.imm(0.0) if self.imm is None else Scalar(0, self.imm)


@dataclass
class MInstr:
    mnemonic: str
    ops: list
    line: int = 0

    @property
    def spec(self):
        return BY_MNEMONIC[self.mnemonic]

    def reg_fields(self) -> list[tuple[int, str]]:
        return [(i, f.name) for i, f in enumerate(self.spec.fields) if f.kind is Kind.REG]

    def defs(self) -> list:
        if self.mnemonic == "loop":
            return [self.ops[0]]
        return [
            self.ops[i] for i, n in self.reg_fields() if n == "rd" and isinstance(self.ops[i], VReg)
        ]

    def uses(self) -> list:
        out = []
        for i, f in enumerate(self.spec.fields):
            v = self.ops[i]
            if f.kind is Kind.REG and (f.name != "rd" or self.mnemonic == "loop"):
                out.append(v)
            elif isinstance(v, HbmOp):
                out += v.regs()
            elif isinstance(v, ScalarOp) and v.reg is not None:
                out.append(v.reg)
        return [v for v in out if isinstance(v, VReg)]

    def rewrite(self, fn) -> None:
        """Replace every register operand r by fn(r, is_def)."""
        for i, f in enumerate(self.spec.fields):
            v = self.ops[i]
            if f.kind is Kind.REG:
                self.ops[i] = fn(v, f.name == "rd" and self.mnemonic != "loop")
            elif isinstance(v, HbmOp):
                v.base = fn(v.base, False)
                v.limit = fn(v.limit, False)
                v.bounds = tuple(fn(x, False) for x in v.bounds)
            elif isinstance(v, ScalarOp) and v.reg is not None:
                v.reg = fn(v.reg, False)


@dataclass
class MBlock:
    name: str
    instrs: list[MInstr] = field(default_factory=list)
    succs: list[str] = field(default_factory=list)


@dataclass
class MFunction:
    name: str
    args: list[str]
    blocks: list[MBlock]
    nvregs: int = 0
    spill_slots: int = 0
    data: dict[str, bytes] = field(default_factory=dict)  # data-section blobs, in order
