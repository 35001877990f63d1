"""Instruction selection: the optimised LLVM module -> machine IR on virtual registers.

Stage: codegen/accel backend, after llvmlite's O2. Input: LLVM IR text of the lowered kernel and
its operand `Tables`; output: an `MFunction`. It reads the module through `llvmlite.binding`'s
module/function/block/instruction/operand API: integer instructions select to the sequencer's
ALU (immediate forms when a constant fits in 32 bits; i32 results re-sign-extended after ops that
can overflow, since registers are 64-bit), `icmp` to `cmp.*`, branches to `b*`/`jmp`, `phi`s to
copies on each incoming edge, and every `accel.*` call to the ISA instruction its table entry
names (operands matched to the instruction's fields by name). The binding exposes no icmp
predicate, so that one token is read from the instruction's printed form.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm

from isa.operands import Tile
from isa.table import BY_MNEMONIC, Kind

from . import intrinsics
from .intrinsics import Opnd
from .mir import HbmOp, MBlock, MFunction, MInstr, ScalarOp, VReg
from .tiles import Tables


class IselError(Exception):
    """The backend met LLVM IR it cannot select (a compiler bug, reported as such)."""


_ALU = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "sdiv": "div",
    "srem": "rem",
    "and": "and",
    "or": "or",
    "xor": "xor",
    "shl": "shl",
    "ashr": "shr",
    "lshr": "shru",
    "udiv": "div",
    "urem": "rem",
}
_WRAPS = {"add", "sub", "mul", "shl", "lshr", "udiv", "urem"}
_PRED = {  # llvm predicate -> (condition, swap operands)
    "eq": ("eq", False),
    "ne": ("ne", False),
    "slt": ("lt", False),
    "sle": ("le", False),
    "sgt": ("gt", False),
    "sge": ("ge", False),
    "ult": ("ltu", False),
    "uge": ("geu", False),
    "ugt": ("ltu", True),
    "ule": ("geu", True),
}


def _key(v) -> int:
    return ctypes.cast(v._ptr, ctypes.c_void_p).value


def _signed(v) -> int:
    """A constant integer operand, sign-extended from its own width (llvmlite's signed_int reads
    the 64-bit word the value is stored in, so narrower negatives come back positive)."""
    c = v.get_constant_value(signed_int=False)
    w = _width(v)
    c &= (1 << w) - 1
    return c - (1 << w) if w > 1 and c >> (w - 1) else c


def _width(v) -> int:
    t = v.type
    return t.type_width if t.type_width else 64


class Selector:
    def __init__(self, module: llvm.ModuleRef, name: str, tables: Tables) -> None:
        self.fn = module.get_function(name)
        self.tables = tables
        self.nv = 0
        self.vmap: dict[int, VReg] = {}
        self.blocks: list[MBlock] = []
        self.bname: dict[int, str] = {}
        self.cur: MBlock | None = None
        self.line = 0

    def vreg(self, width: int = 64) -> VReg:
        self.nv += 1
        return VReg(self.nv, 64 if width > 32 else 32)

    def emit(self, mn: str, *ops) -> MInstr:
        ins = MInstr(mn, list(ops), self.line)
        self.cur.instrs.append(ins)
        return ins

    def value(self, v) -> VReg | int:
        """A register holding operand v (constants: r0 for 0, else `li`)."""
        if v.is_constant:
            c = _signed(v)
            if c == 0:
                return 0
            r = self.vreg(_width(v))
            self.emit("li", r, c)
            return r
        k = _key(v)
        if k not in self.vmap:
            self.vmap[k] = self.vreg(_width(v))
        return self.vmap[k]

    def result(self, ins) -> VReg:
        k = _key(ins)
        if k not in self.vmap:
            self.vmap[k] = self.vreg(_width(ins))
        return self.vmap[k]

    @staticmethod
    def const(v) -> int | None:
        return _signed(v) if v.is_constant else None

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> MFunction:
        blocks = list(self.fn.blocks)
        self.block_by_key = {_key(b): b for b in blocks}
        for i, b in enumerate(blocks):
            self.bname[_key(b)] = f"B{i}"
        entry = MBlock("entry")
        self.blocks.append(entry)
        self.cur = entry
        args = []
        for i, a in enumerate(self.fn.arguments):
            args.append(a.name or f"arg{i}")
            self.emit("arg", self.value(a), i)
        entry.succs.append("B0")
        for b in blocks:
            mb = MBlock(self.bname[_key(b)])
            self.blocks.append(mb)
            self.cur = mb
            instrs = list(b.instructions)
            self.line = self._first_line(instrs)
            for ins in instrs:
                self.instr(ins, b)
        return MFunction(self.fn.name, args, self.blocks, self.nv, data=dict(self.tables.data))

    def _first_line(self, instrs) -> int:
        for ins in instrs:
            if ins.opcode == "call":
                ops = list(ins.operands)
                it = intrinsics.BY_NAME.get(ops[-1].name)
                if it is not None and it.operands and it.operands[-1][1] is Opnd.LINE:
                    return self.const(ops[-2]) or self.line
        return self.line

    def instr(self, ins, blk) -> None:
        op = ins.opcode
        ops = list(ins.operands)
        if op in _ALU:
            return self.alu(ins, op, ops)
        if op == "icmp":
            return self.icmp(ins, ops)
        if op == "select":
            c, a, b = (self.value(x) for x in ops)
            d, t = self.result(ins), self.vreg()
            self.emit("sub", t, a, b)
            self.emit("mul", t, t, c)
            self.emit("add", d, b, t)
            return
        if op in ("sext", "freeze", "bitcast"):
            self.emit("mov", self.result(ins), self.value(ops[0]))
            return
        if op == "zext":
            src = _width(ops[0])
            d = self.result(ins)
            x = self.value(ops[0])
            if src == 1:
                self.emit("mov", d, x)
            else:
                t = self.vreg()
                self.emit("shli", t, x, 64 - src)
                self.emit("shrui", d, t, 64 - src)
            return
        if op == "trunc":
            d = self.result(ins)
            self.normalize(d, self.value(ops[0]), _width(ins))
            return
        if op == "phi":
            return  # copies are placed on the incoming edges (see `terminator`)
        if op == "call":
            return self.call(ins, ops)
        if op in ("br", "ret", "unreachable"):
            return self.terminator(ins, op, ops, blk)
        raise IselError(f"cannot select LLVM instruction: {str(ins).strip()}")

    def normalize(self, d, x, width: int) -> None:
        """d = x wrapped to `width` bits and sign-extended (i1: masked to 0/1)."""
        if width >= 64:
            if d is not x:
                self.emit("mov", d, x)
        elif width == 1:
            self.emit("andi", d, x, 1)
        else:  # the shifted intermediate is no 32-bit value: it gets its own 64-bit register
            t = self.vreg()
            self.emit("shli", t, x, 64 - width)
            self.emit("shri", d, t, 64 - width)

    def alu(self, ins, op: str, ops) -> None:
        w = _width(ins)
        d = self.result(ins)
        a = self.value(ops[0]) if ops[0].is_constant else self.value(ops[0])
        if op in ("lshr", "udiv", "urem") and w < 64:
            za = self.vreg()
            self.emit("shli", za, a, 64 - w)
            self.emit("shrui", za, za, 64 - w)
            a = za
        mn = _ALU[op]
        c = self.const(ops[1])
        final = d
        if op in _WRAPS and w < 64:
            d = self.vreg()  # every def of a narrow register holds a sign-extended value
        if op in ("udiv", "urem") and w == 64:
            raise IselError("64-bit unsigned division is not selectable yet")
        if c is not None and -(1 << 31) <= c < (1 << 31) and op not in ("udiv", "urem"):
            if op in ("lshr", "shl", "ashr"):
                c &= 63
            self.emit(mn + "i", d, a, c)
        else:
            b = self.value(ops[1])
            if op in ("udiv", "urem") and w < 64 and b != 0:
                zb = self.vreg()
                self.emit("shli", zb, b, 64 - w)
                self.emit("shrui", zb, zb, 64 - w)
                b = zb
            self.emit(mn, d, a, b)
        if final is not d:
            self.normalize(final, d, w)

    def icmp(self, ins, ops) -> None:
        words = str(ins).split("icmp", 1)[1].split()
        pred = words[1] if words[0] == "samesign" else words[0]
        cond, swap = _PRED[pred]
        a, b = ops
        if swap:
            a, b = b, a
        d = self.result(ins)
        c = self.const(b)
        if c is not None and -(1 << 31) <= c < (1 << 31):
            self.emit(f"cmpi.{cond}", d, self.value(a), c)
        else:
            self.emit(f"cmp.{cond}", d, self.value(a), self.value(b))

    # -- intrinsic calls --------------------------------------------------------------------
    def call(self, ins, ops) -> None:
        callee = ops[-1].name
        args = ops[:-1]
        if callee in ("llvm.smax.i32", "llvm.smax.i64", "llvm.smin.i32", "llvm.smin.i64"):
            mn = "max" if "smax" in callee else "min"
            self.emit(mn, self.result(ins), self.value(args[0]), self.value(args[1]))
            return
        if callee.startswith(("llvm.umax.", "llvm.umin.")):
            a, b = self.value(args[0]), self.value(args[1])
            d, t, u = self.result(ins), self.vreg(), self.vreg()
            self.emit("cmp.ltu", t, a, b)  # sign-extended narrow values keep unsigned order
            if "umin" in callee:
                self.emit("xori", t, t, 1)
            self.emit("sub", u, b, a)
            self.emit("mul", u, u, t)
            self.emit("add", d, a, u)
            return
        if callee.startswith("llvm.abs."):
            x, d, t = self.value(args[0]), self.result(ins), self.vreg()
            self.emit("sub", t, 0, x)
            self.emit("max", d, x, t)
            return
        if callee.startswith(("llvm.assume", "llvm.lifetime", "llvm.dbg")):
            return
        it = intrinsics.BY_NAME.get(callee)
        if it is None:
            raise IselError(f"call to an unknown function {callee!r}")
        named = dict(zip((n for n, _ in it.operands), args, strict=True))
        kinds = dict(it.operands)
        if "line" in named:
            self.line = self.const(named["line"]) or self.line
        spec = BY_MNEMONIC[it.mnemonic]
        fields = []
        for f in spec.fields:
            if f.name == "rd":
                fields.append(self.result(ins))
            elif f.name == "queue":
                fields.append(0)  # chosen by the scheduler
            elif f.kind is Kind.HBM:
                fields.append(self.hbm(named, f.name))
            elif f.kind is Kind.TILE:
                fields.append(self.tile(named[f.name]))
            elif f.kind in (Kind.SCALAR, Kind.FSCALAR):
                fields.append(self.scalar(named[f.name], kinds[f.name]))
            elif f.kind is Kind.REG:
                fields.append(self.value(named[f.name]))
            elif f.kind is Kind.DATA:  # a data-section symbol, placed by the encoder
                fields.append(self.tables.data_names[self.const(named[f.name])])
            else:
                fields.append(self.const(named[f.name]))
        self.emit(it.mnemonic, *fields)

    def tile(self, v) -> Tile:
        i = self.const(v)
        return Tile.NONE if i < 0 else self.tables.tiles[i]

    def scalar(self, v, kind: Opnd) -> ScalarOp:
        if kind is Opnd.TILE:
            return ScalarOp(tile=self.tile(v))
        c = v.get_constant_value(signed_int=False) if v.is_constant else None
        if c is not None:
            return ScalarOp(imm=c & 0xFFFFFFFF)
        return ScalarOp(reg=self.value(v))

    def hbm(self, named, field: str) -> HbmOp:
        t = self.tables.hbm[self.const(named[field])]
        base = self.value(named["base"])
        bounds = []
        for d in range(4):
            v = named.get(f"b{d}")
            flagged = t.dims[d][2]
            if v is None or not flagged:
                bounds.append(0)
                continue
            r = self.value(v)
            if r == 0:  # a bound of 0 valid elements must not read as "no bound" (r0)
                r = self.vreg()
                self.emit("li", r, 0)
            bounds.append(r)
        limit = named.get("limit")
        lim = 0 if limit is None or self.const(limit) == 0 else self.value(limit)
        return HbmOp(t, base, lim, tuple(bounds))

    # -- control flow -----------------------------------------------------------------------
    def terminator(self, ins, op: str, ops, blk) -> None:
        if op in ("ret", "unreachable"):
            self.emit("halt")
            return
        if len(ops) == 1:
            self.edge(blk, ops[0], self.cur)
            return
        cond, f_dest, t_dest = ops
        c = self.value(cond)
        here = self.cur
        t_name = self.bname[_key(t_dest)]
        if self._phis(t_dest):
            edge = MBlock(f"{here.name}.t")
            self.emit("bi.ne", c, 0, edge.name)
            here.succs.append(edge.name)
            self.edge(blk, f_dest, here)
            self.blocks.append(edge)
            self.cur = edge
            self.edge(blk, t_dest, edge)
        else:
            self.emit("bi.ne", c, 0, t_name)
            here.succs.append(t_name)
            self.edge(blk, f_dest, here)

    def _phis(self, dest) -> list:
        blk = self.block_by_key[_key(dest)]
        return [i for i in blk.instructions if i.opcode == "phi"]

    def edge(self, pred, dest, mb: MBlock) -> None:
        """Copies for dest's phis coming from pred, then a jump to dest."""
        phis = self._phis(dest)
        moves = []
        pk = _key(pred)
        for phi in phis:
            ops = list(phi.operands)
            for v, b in zip(ops, phi.incoming_blocks, strict=True):
                if _key(b) == pk:
                    moves.append((self.result(phi), v))
                    break
        temps = []
        for d, v in moves:  # parallel copy: read every source before writing any phi
            t = self.vreg(d.width)
            self.emit("mov", t, self.value(v))
            temps.append((d, t))
        for d, t in temps:
            self.emit("mov", d, t)
        name = self.bname[_key(dest)]
        self.emit("jmp", name)
        mb.succs.append(name)


def select(llir: str, name: str, tables: Tables) -> MFunction:
    """Select the machine IR of kernel `name` from optimised LLVM IR text."""
    mod = llvm.parse_assembly(llir)
    return Selector(mod, name, tables).run()
