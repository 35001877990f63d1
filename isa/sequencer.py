"""The scalar sequencer: a numba-compiled interpreter loop over pre-decoded scalar instructions.

Input: the program's instructions flattened into parallel arrays (uop, sub-op, registers,
immediate, branch target). The loop runs sequencer instructions until it reaches an engine
instruction, a halt, the instruction budget or an error, and returns the pc and a status; the
emulator then runs the engine instruction with numpy and calls back in. This keeps scalar code
(loops, address arithmetic) fast while engine semantics stay in readable numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isa.table import AluOp, Cond, Kind, Uop

try:
    from numba import njit as _numba_njit
except ImportError:  # pragma: no cover - numba is a dependency; keep a (slow) fallback working
    _numba_njit = None


def njit(*args, _njit=None, **kwargs):
    """`numba.njit(**kwargs)` as a decorator; where numba finds nowhere to keep `cache=True`'s
    machine code (a read-only install and no writable user cache directory: a RuntimeError at
    decoration), the function is compiled once per process instead; plain Python without numba."""
    jit = _njit or _numba_njit
    if args and callable(args[0]):
        return njit(_njit=_njit, **kwargs)(args[0])

    def deco(fn):
        if jit is None:  # pragma: no cover
            return fn
        try:
            return jit(**kwargs)(fn)
        except RuntimeError:
            if not kwargs.get("cache"):
                raise
            return jit(**{k: v for k, v in kwargs.items() if k != "cache"})(fn)

    return deco


ST_ENGINE, ST_HALT, ST_BUDGET, ST_PC_RANGE, ST_TRACE_FULL, ST_BAD_ARG, ST_TAINTED = range(7)

_U_ALU, _U_ALUI, _U_CMP, _U_CMPI = int(Uop.ALU), int(Uop.ALUI), int(Uop.CMP), int(Uop.CMPI)
_U_BR, _U_BRI, _U_JMP, _U_LI = int(Uop.BR), int(Uop.BRI), int(Uop.JMP), int(Uop.LI)
_U_MOV, _U_PID, _U_NPROG, _U_ARG = int(Uop.MOV), int(Uop.PID), int(Uop.NPROG), int(Uop.ARG)
_U_DATA, _U_HALT, _U_NOP, _U_LOOP = int(Uop.DATA), int(Uop.HALT), int(Uop.NOP), int(Uop.LOOP)
_U_ENGINE = int(Uop.ENGINE)
_INT64_MIN = -(1 << 63)

_ADD, _SUB, _MUL, _DIV, _REM = (
    int(AluOp.ADD),
    int(AluOp.SUB),
    int(AluOp.MUL),
    int(AluOp.DIV),
    int(AluOp.REM),
)
_AND, _OR, _XOR, _SHL, _SHR, _SHRU = (
    int(AluOp.AND),
    int(AluOp.OR),
    int(AluOp.XOR),
    int(AluOp.SHL),
    int(AluOp.SHR),
    int(AluOp.SHRU),
)
_MIN, _MAX = int(AluOp.MIN), int(AluOp.MAX)
_EQ, _NE, _LT, _LE, _GT, _GE, _LTU, _GEU = (int(c) for c in Cond)


@njit(cache=True, inline="always")
def _alu(op, a, b):
    if op == _ADD:
        return a + b
    if op == _SUB:
        return a - b
    if op == _MUL:
        return a * b
    if op == _DIV or op == _REM:
        if b == 0:
            return np.int64(-1) if op == _DIV else a
        if a == _INT64_MIN and b == -1:
            return a if op == _DIV else np.int64(0)
        q = a // b
        if (a % b != 0) and ((a < 0) != (b < 0)):
            q += 1
        return q if op == _DIV else a - q * b
    if op == _AND:
        return a & b
    if op == _OR:
        return a | b
    if op == _XOR:
        return a ^ b
    if op == _SHL:
        return a << (b & 63)
    if op == _SHR:
        return a >> (b & 63)
    if op == _SHRU:
        return np.int64(np.uint64(a) >> np.uint64(b & 63))
    if op == _MIN:
        return min(a, b)
    return max(a, b)


@njit(cache=True, inline="always")
def _cmp(c, a, b):
    if c == _EQ:
        return a == b
    if c == _NE:
        return a != b
    if c == _LT:
        return a < b
    if c == _LE:
        return a <= b
    if c == _GT:
        return a > b
    if c == _GE:
        return a >= b
    if c == _LTU:
        return np.uint64(a) < np.uint64(b)
    return np.uint64(a) >= np.uint64(b)


@njit(cache=True)
def run_scalar(
    pc,
    regs,
    taint,
    uop,
    sub,
    rd,
    rs1,
    rs2,
    imm,
    tgt,
    pid,
    nprog,
    args,
    data_base,
    budget,
    trace,
    record,
):
    """Run sequencer instructions from pc. Returns (pc, status, executed, traced).

    `taint[r]` is nonzero while register r holds a value derived from tile data that
    timing-only emulation does not know (1 + pc of the `ld` it came from); it propagates through
    the ALU, and a branch on such a register stops with ST_TAINTED (the pc is the branch's).
    Numeric emulation never sets it."""
    n = uop.shape[0]
    executed = 0
    ntrace = 0
    while True:
        if pc < 0 or pc >= n:
            return pc, ST_PC_RANGE, executed, ntrace
        u = uop[pc]
        if u == _U_ENGINE:
            return pc, ST_ENGINE, executed, ntrace
        if executed >= budget:
            return pc, ST_BUDGET, executed, ntrace
        if record:
            if ntrace >= trace.shape[0]:
                return pc, ST_TRACE_FULL, executed, ntrace
            trace[ntrace] = pc
            ntrace += 1
        executed += 1
        nxt = pc + 1
        if u == _U_ALU:
            regs[rd[pc]] = _alu(sub[pc], regs[rs1[pc]], regs[rs2[pc]])
            taint[rd[pc]] = max(taint[rs1[pc]], taint[rs2[pc]])
        elif u == _U_ALUI:
            regs[rd[pc]] = _alu(sub[pc], regs[rs1[pc]], imm[pc])
            taint[rd[pc]] = taint[rs1[pc]]
        elif u == _U_CMP:
            regs[rd[pc]] = 1 if _cmp(sub[pc], regs[rs1[pc]], regs[rs2[pc]]) else 0
            taint[rd[pc]] = max(taint[rs1[pc]], taint[rs2[pc]])
        elif u == _U_CMPI:
            regs[rd[pc]] = 1 if _cmp(sub[pc], regs[rs1[pc]], imm[pc]) else 0
            taint[rd[pc]] = taint[rs1[pc]]
        elif u == _U_BR:
            if taint[rs1[pc]] or taint[rs2[pc]]:
                return pc, ST_TAINTED, executed - 1, ntrace - (1 if record else 0)
            if _cmp(sub[pc], regs[rs1[pc]], regs[rs2[pc]]):
                nxt = tgt[pc]
        elif u == _U_BRI:
            if taint[rs1[pc]]:
                return pc, ST_TAINTED, executed - 1, ntrace - (1 if record else 0)
            if _cmp(sub[pc], regs[rs1[pc]], imm[pc]):
                nxt = tgt[pc]
        elif u == _U_JMP:
            nxt = tgt[pc]
        elif u == _U_LOOP:
            if taint[rd[pc]] or taint[rs1[pc]]:
                return pc, ST_TAINTED, executed - 1, ntrace - (1 if record else 0)
            v = regs[rd[pc]] + imm[pc]
            regs[rd[pc]] = v
            if rd[pc] == 0:
                v = 0
            if v < regs[rs1[pc]]:
                nxt = tgt[pc]
        elif u == _U_LI:
            regs[rd[pc]] = imm[pc]
            taint[rd[pc]] = 0
        elif u == _U_MOV:
            regs[rd[pc]] = regs[rs1[pc]]
            taint[rd[pc]] = taint[rs1[pc]]
        elif u == _U_PID:
            regs[rd[pc]] = pid[imm[pc]] if imm[pc] < 3 else 0
            taint[rd[pc]] = 0
        elif u == _U_NPROG:
            regs[rd[pc]] = nprog[imm[pc]] if imm[pc] < 3 else 1
            taint[rd[pc]] = 0
        elif u == _U_ARG:
            if imm[pc] >= args.shape[0]:
                return pc, ST_BAD_ARG, executed - 1, ntrace
            regs[rd[pc]] = args[imm[pc]]
            taint[rd[pc]] = 0
        elif u == _U_DATA:
            regs[rd[pc]] = data_base + imm[pc]
            taint[rd[pc]] = 0
        elif u == _U_HALT:
            return pc, ST_HALT, executed, ntrace
        taint[0] = 0
        regs[0] = 0
        pc = nxt


_COLUMNS = ("uop", "sub", "rd", "rs1", "rs2", "imm", "tgt")
_PLANS: dict[int, tuple] = {}


def _plan(spec) -> tuple:
    """(column, operand index) of the operands the sequencer reads, for one table entry."""
    out = []
    for i, f in enumerate(spec.fields):
        if f.kind is Kind.LABEL:
            out.append(("tgt", i))
        elif f.kind is Kind.REG and f.name in ("rd", "rs1", "rs2"):
            out.append((f.name, i))
        elif f.kind in (Kind.IMM, Kind.ARG, Kind.DATA) and spec.uop != Uop.ENGINE:
            out.append(("imm", i))
    return tuple(out)


@dataclass
class ScalarCode:
    """The program as parallel arrays for `run_scalar` (engine instructions have uop ENGINE)."""

    uop: np.ndarray
    sub: np.ndarray
    rd: np.ndarray
    rs1: np.ndarray
    rs2: np.ndarray
    imm: np.ndarray
    tgt: np.ndarray

    @classmethod
    def from_instrs(cls, instrs) -> ScalarCode:
        n = len(instrs)
        cols = {k: [0] * n for k in _COLUMNS}
        uop, sub = cols["uop"], cols["sub"]
        for pc, ins in enumerate(instrs):
            s = ins.spec
            plan = _PLANS.get(s.opcode)
            if plan is None:
                plan = _PLANS[s.opcode] = _plan(s)
            uop[pc], sub[pc] = int(s.uop), int(s.sub)
            ops = ins.ops
            for col, i in plan:
                cols[col][pc] = ops[i]
        return cls(**{k: np.array(v, np.int64) for k, v in cols.items()})

    def run(self, pc, regs, taint, pid, nprog, args, data_base, budget, trace, record):
        return run_scalar(
            pc,
            regs,
            taint,
            self.uop,
            self.sub,
            self.rd,
            self.rs1,
            self.rs2,
            self.imm,
            self.tgt,
            pid,
            nprog,
            args,
            data_base,
            budget,
            trace,
            record,
        )
