"""Text assembler, disassembler and programmatic builder, derived from the instruction table.

Input: assembly text (or builder calls); output: a `Binary`. Syntax, one instruction per line:

    label:                          # labels name instruction indices; `#` starts a comment
    .arg x_ptr                      # kernel argument names, in order (`arg r1, x_ptr`)
    .data consts f32 1.0, 2.5       # a 64-byte aligned blob in the data section (`data r2, consts`)
    .loc 12                         # source line of the following instructions (line table)
    .file "kernel.py"               # source file of the line table
    mnemonic op, op, ...

Operands: registers `r0`..`r63`; integers; labels (or `@index`); enum names (`exp`, `add`);
tiles `sb.f32[0:128, r3+1024, (1,512)]` (space.dtype[p0:p1, offset, (stride,size)...], `_` when
absent); HBM patterns `hbm.bf16[r4+0, (512,128,r5), (1,512), limit=r9]` (dims
(stride,size[,bound register])); fp32 scalars `1.5`, `-inf`, `bits:0x7fc00000`, a register or a
[P, 1] tile. The disassembler prints canonical text that assembles to the identical binary.
"""

from __future__ import annotations

import re

import numpy as np

from isa import dtypes
from isa.binary import Binary
from isa.encoding import Instr, decode_program, encode_ops, encode_program, make, no_gc
from isa.errors import AsmError, EncodeError
from isa.operands import (
    HBM_DIMS,
    SCALAR_IMM,
    SCALAR_REG,
    SCALAR_TILE,
    SPACE_NAMES,
    TILE_DIMS,
    HbmAP,
    Scalar,
    Tile,
)
from isa.table import BY_MNEMONIC, Field, Kind

DATA_ALIGN = 64

# --- formatting ------------------------------------------------------------------------------


def fmt_f32(bits: int) -> str:
    """Shortest text that parses back to exactly these fp32 bits."""
    v = np.array([bits], dtype=np.uint32).view(np.float32)[0]
    if not np.isnan(v):
        s = str(v)
        if int(np.array([float(s)], dtype=np.float32).view(np.uint32)[0]) == bits:
            if not any(c in s for c in ".en"):
                s += ".0"
            return s
    return f"bits:{bits:#010x}"


def _fmt_base(reg: int, off: int) -> str:
    return f"r{reg}{off:+d}" if reg else str(off)


def fmt_tile(t: Tile) -> str:
    if t.is_none:
        return "_"
    dims = list(t.dims)
    while dims and dims[-1] == (0, 1):
        dims.pop()
    parts = [f"{t.p0}:{t.p0 + t.pn}", _fmt_base(t.reg, t.off)]
    parts += [f"({s},{n})" for s, n in dims]
    return f"{SPACE_NAMES[t.space]}.{dtypes.NAMES[dtypes.DType(t.dtype)]}[{', '.join(parts)}]"


def fmt_hbm(a: HbmAP) -> str:
    dims = list(a.dims)
    while dims and dims[-1] == (0, 1, 0):
        dims.pop()
    parts = [_fmt_base(a.reg, a.off)]
    parts += [f"({s},{n},r{b})" if b else f"({s},{n})" for s, n, b in dims]
    if a.limit:
        parts.append(f"limit=r{a.limit}")
    return f"hbm.{dtypes.NAMES[dtypes.DType(a.dtype)]}[{', '.join(parts)}]"


def fmt_scalar(s: Scalar) -> str:
    if s.tag == SCALAR_IMM:
        return fmt_f32(s.value)
    if s.tag == SCALAR_REG:
        return f"r{s.value}"
    return fmt_tile(s.value)


def fmt_operand(f: Field, v, labels=None, args=None, symbols=None) -> str:
    k = f.kind
    if k is Kind.REG:
        return f"r{v}"
    if k is Kind.ENUM:
        return f.enum(v).name.lower()
    if k is Kind.LABEL:
        return labels[v] if labels and v in labels else f"@{v}"
    if k is Kind.ARG:
        return args[v] if args and v < len(args) else str(v)
    if k is Kind.DATA:
        for name, off in symbols or ():
            if off == v:
                return name
        return str(v)
    if k is Kind.TILE:
        return fmt_tile(v)
    if k is Kind.HBM:
        return fmt_hbm(v)
    if k in (Kind.SCALAR, Kind.FSCALAR):
        return fmt_scalar(v)
    return str(v)


def format_instr(ins: Instr, labels=None, args=None, symbols=None) -> str:
    ops = [
        fmt_operand(f, v, labels, args, symbols)
        for f, v in zip(ins.spec.fields, ins.ops, strict=True)
    ]
    return f"{ins.mnemonic} {', '.join(ops)}" if ops else ins.mnemonic


def disassemble(binary: Binary) -> str:
    """Canonical assembly text of a binary; `assemble` of it gives back identical bytes."""
    instrs = decode_program(binary.code)
    targets = sorted(
        {
            v
            for ins in instrs
            for f, v in zip(ins.spec.fields, ins.ops, strict=True)
            if f.kind is Kind.LABEL
        }
    )
    labels = {t: f"L{t}" for t in targets}
    arg_names = [a if _IDENT.fullmatch(a) and a not in _RESERVED else "" for a in binary.args]
    args = arg_names if all(arg_names) and len(set(arg_names)) == len(arg_names) else None
    out = []
    if binary.file:
        out.append(f'.file "{binary.file}"')
    for i in range(len(binary.args)):
        out.append(f".arg {args[i] if args else f'arg{i}'}")
    syms = list(binary.symbols)
    if binary.data and (not syms or syms[0][1] != 0):
        syms.insert(0, ("__data0", 0))
    for i, (name, off) in enumerate(syms):
        end = syms[i + 1][1] if i + 1 < len(syms) else len(binary.data)
        vals = ", ".join(str(b) for b in binary.data[off:end])
        out.append(f".data {name} u8 {vals}".rstrip())
    lines = binary.lines or [0] * len(instrs)
    prev = None
    for pc, ins in enumerate(instrs):
        if pc in labels:
            out.append(f"{labels[pc]}:")
        if lines[pc] != prev:
            out.append(f".loc {lines[pc]}")
            prev = lines[pc]
        out.append("    " + format_instr(ins, labels, args, syms))
    if len(instrs) in labels:
        out.append(f"{labels[len(instrs)]}:")
    if prev is None:
        out.append(".loc 0")
    return "\n".join(out) + "\n"


# --- parsing ---------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.$]*")
_REG = re.compile(r"r(\d+)")
_RESERVED = {"_"}
_BASE = re.compile(r"(?:r(\d+))?\s*([+-]\s*(?:0x[0-9a-fA-F]+|\d+))?|(-?(?:0x[0-9a-fA-F]+|\d+))")
_MEM = re.compile(r"(sb|ps|hbm)\.([a-z0-9]+)\[(.*)\]", re.S)


def _split(text: str) -> list[str]:
    """Split at top-level commas (not inside brackets or parentheses)."""
    parts, depth, cur = [], 0, []
    for c in text:
        if c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    last = "".join(cur).strip()
    if last or parts:
        parts.append(last)
    return parts


def _int(tok: str) -> int:
    try:
        return int(tok.replace(" ", ""), 0)
    except ValueError:
        raise AsmError(f"expected an integer, got {tok!r}") from None


def _reg(tok: str) -> int:
    m = _REG.fullmatch(tok.strip())
    if not m or int(m.group(1)) > 63:
        raise AsmError(f"expected a register r0..r63, got {tok!r}")
    return int(m.group(1))


def _base(tok: str) -> tuple[int, int]:
    tok = tok.strip()
    m = re.fullmatch(r"r(\d+)\s*([+-].*)?", tok)
    if m:
        return _reg("r" + m.group(1)), _int(m.group(2)) if m.group(2) else 0
    return 0, _int(tok)


def _dtype(name: str) -> int:
    if name not in dtypes.BY_NAME:
        raise AsmError(f"unknown dtype {name!r}; known: {', '.join(dtypes.BY_NAME)}")
    return int(dtypes.BY_NAME[name])


def _tuple(tok: str) -> list[str]:
    tok = tok.strip()
    if not (tok.startswith("(") and tok.endswith(")")):
        raise AsmError(f"expected a (stride,size) dim, got {tok!r}")
    return [p.strip() for p in tok[1:-1].split(",")]


def parse_tile(tok: str) -> Tile:
    tok = tok.strip()
    if tok == "_":
        return Tile.NONE
    m = _MEM.fullmatch(tok)
    if not m or m.group(1) == "hbm":
        raise AsmError(f"expected a tile like sb.f32[0:128, 0, (1,512)] or _, got {tok!r}")
    space = 1 if m.group(1) == "sb" else 2
    parts = _split(m.group(3))
    if len(parts) < 2:
        raise AsmError(f"tile needs partitions and an offset: {tok!r}")
    p = parts[0].split(":")
    if len(p) != 2:
        raise AsmError(f"tile partitions must be p0:p1, got {parts[0]!r}")
    p0, p1 = _int(p[0]), _int(p[1])
    reg, off = _base(parts[1])
    dims = []
    for d in parts[2:]:
        vals = _tuple(d)
        if len(vals) != 2:
            raise AsmError(f"tile dims are (stride,size), got {d!r}")
        dims.append((_int(vals[0]), _int(vals[1])))
    if len(dims) > TILE_DIMS:
        raise AsmError(f"a tile has at most {TILE_DIMS} free dims")
    dims += [(0, 1)] * (TILE_DIMS - len(dims))
    return Tile(space, _dtype(m.group(2)), reg, off, p0, p1 - p0, tuple(dims))


def parse_hbm(tok: str) -> HbmAP:
    m = _MEM.fullmatch(tok.strip())
    if not m or m.group(1) != "hbm":
        raise AsmError(f"expected an HBM pattern like hbm.f32[r4+0, (1,512)], got {tok!r}")
    parts = _split(m.group(3))
    reg, off = _base(parts[0])
    dims, limit = [], 0
    for d in parts[1:]:
        if d.startswith("limit="):
            limit = _reg(d[6:])
            continue
        vals = _tuple(d)
        if len(vals) not in (2, 3):
            raise AsmError(f"HBM dims are (stride,size) or (stride,size,rB), got {d!r}")
        dims.append((_int(vals[0]), _int(vals[1]), _reg(vals[2]) if len(vals) == 3 else 0))
    if len(dims) > HBM_DIMS:
        raise AsmError(f"an HBM pattern has at most {HBM_DIMS} dims")
    return HbmAP(_dtype(m.group(2)), reg, off, tuple(dims) or ((0, 1, 0),), limit)


def parse_f32(tok: str) -> int:
    tok = tok.strip()
    if tok.startswith("bits:"):
        v = _int(tok[5:])
        if not 0 <= v < 1 << 32:
            raise AsmError(f"fp32 bit pattern out of range: {tok!r}")
        return v
    try:
        x = float(tok)
    except ValueError:
        raise AsmError(f"expected an fp32 number, register or tile, got {tok!r}") from None
    with np.errstate(over="ignore"):
        return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def parse_scalar(tok: str, allow_tile: bool) -> Scalar:
    tok = tok.strip()
    if _REG.fullmatch(tok):
        return Scalar(SCALAR_REG, _reg(tok))
    if tok.startswith(("sb.", "ps.")):
        if not allow_tile:
            raise AsmError(f"this operand takes an immediate or register, not a tile: {tok!r}")
        return Scalar(SCALAR_TILE, parse_tile(tok))
    return Scalar(SCALAR_IMM, parse_f32(tok))


class _Syms:
    def __init__(self):
        self.labels: dict[str, int] = {}
        self.args: list[str] = []
        self.data = bytearray()
        self.symbols: list[tuple[str, int]] = []


def parse_operand(f: Field, tok: str, syms: _Syms):
    k = f.kind
    if k is Kind.REG:
        return _reg(tok)
    if k is Kind.ENUM:
        try:
            return f.enum[tok.strip().upper()]
        except KeyError:
            names = ", ".join(e.name.lower() for e in f.enum)
            raise AsmError(f"{f.name}: unknown {f.enum.__name__} {tok!r}; one of {names}") from None
    if k is Kind.LABEL:
        if tok.startswith("@"):
            return _int(tok[1:])
        if tok not in syms.labels:
            raise AsmError(f"undefined label {tok!r}")
        return syms.labels[tok]
    if k is Kind.ARG:
        if tok in syms.args:
            return syms.args.index(tok)
        if _IDENT.fullmatch(tok):
            raise AsmError(f"unknown kernel argument {tok!r}; declare it with .arg")
        return _int(tok)
    if k is Kind.DATA:
        name, _, plus = tok.partition("+")
        for sname, off in syms.symbols:
            if sname == name.strip():
                return off + (_int(plus) if plus else 0)
        if _IDENT.fullmatch(name.strip()):
            raise AsmError(f"unknown data symbol {name.strip()!r}; declare it with .data")
        return _int(tok)
    if k is Kind.TILE:
        return parse_tile(tok)
    if k is Kind.HBM:
        return parse_hbm(tok)
    if k is Kind.SCALAR:
        return parse_scalar(tok, True)
    if k is Kind.FSCALAR:
        return parse_scalar(tok, False)
    return _int(tok)


def _directive(word: str, rest: str, syms: _Syms, state: dict) -> None:
    if word == ".arg":
        name = rest.strip()
        if not _IDENT.fullmatch(name) or name in syms.args:
            raise AsmError(f"bad or duplicate argument name {name!r}")
        syms.args.append(name)
    elif word == ".data":
        m = re.fullmatch(r"(\S+)\s+(\S+)\s*(.*)", rest.strip(), re.S)
        if not m:
            raise AsmError(".data needs a name, a dtype and values")
        name, dt = m.group(1), dtypes.np_dtype(_dtype(m.group(2)))
        if not _IDENT.fullmatch(name) or name in dict(syms.symbols):
            raise AsmError(f"bad or duplicate data symbol name {name!r}")
        vals = [v for v in _split(m.group(3)) if v]
        if dt.kind == "f" or dt.kind == "V":
            arr = np.array([float(v) for v in vals], dtype=np.float64).astype(dt)
        else:
            arr = np.array([_int(v) for v in vals], dtype=np.int64).astype(dt)
        syms.data.extend(b"\0" * (-len(syms.data) % DATA_ALIGN))
        syms.symbols.append((name, len(syms.data)))
        syms.data.extend(arr.tobytes())
    elif word == ".loc":
        state["loc"] = _int(rest)
        state["explicit"] = True
    elif word == ".file":
        state["file"] = rest.strip().strip('"')
    else:
        raise AsmError(f"unknown directive {word!r}")


def assemble(text: str, file: str = "<asm>") -> Binary:
    """Assemble text into a Binary. Without `.loc` directives the line table holds the text's own
    line numbers, so emulator errors point into the .s file."""
    syms, state = _Syms(), {"loc": 0, "explicit": False, "file": ""}
    pending: list[tuple[int, str, str, str, int]] = []  # (lineno, text, mnemonic, ops, loc)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        try:
            while True:
                m = re.match(r"([A-Za-z_][A-Za-z0-9_.$]*)\s*:(?!\S*\])", line)
                if not m or line.startswith("."):
                    break
                if m.group(1) in syms.labels:
                    raise AsmError(f"duplicate label {m.group(1)!r}")
                syms.labels[m.group(1)] = len(pending)
                line = line[m.end() :].strip()
            if not line:
                continue
            word, rest = (line.split(None, 1) + [""])[:2]
            if word.startswith("."):
                _directive(word, rest, syms, state)
                continue
            pending.append((lineno, raw, word, rest.strip(), state["loc"]))
        except AsmError as e:
            raise AsmError(str(e.args[0]), lineno, raw, file) from None
    instrs = []
    for lineno, raw, word, rest, _loc in pending:
        try:
            spec = BY_MNEMONIC.get(word)
            if spec is None:
                raise AsmError(f"unknown mnemonic {word!r}")
            toks = _split(rest)
            if len(toks) != len(spec.fields):
                names = ", ".join(f.name for f in spec.fields)
                raise AsmError(
                    f"{word} takes {len(spec.fields)} operands ({names}), got {len(toks)}"
                )
            ops = [parse_operand(f, t, syms) for f, t in zip(spec.fields, toks, strict=True)]
            instrs.append(make(word, *ops))
        except (AsmError, EncodeError, ValueError) as e:
            raise AsmError(str(e.args[0]), lineno, raw, file) from None
    lines = [p[4] for p in pending] if state["explicit"] else [p[0] for p in pending]
    if not any(lines):
        lines = None
    return Binary(
        encode_program(instrs),
        list(syms.args),
        bytes(syms.data),
        list(syms.symbols),
        lines,
        state["file"] or ("" if state["explicit"] else file),
    )


# --- builder ---------------------------------------------------------------------------------


_IMMS: dict = {}  # Python numbers -> their fp32 scalar operands (a few distinct values recur)

# Per mnemonic: the (index, kind) of operands `Builder.build` may have to convert.
_SPECIAL_FIELDS: dict[str, tuple] = {
    mn: tuple(
        (i, f.kind)
        for i, f in enumerate(spec.fields)
        if f.kind in (Kind.LABEL, Kind.ARG, Kind.DATA, Kind.SCALAR, Kind.FSCALAR)
    )
    for mn, spec in BY_MNEMONIC.items()
}


class Label:
    """A branch target created by `Builder.label()` and placed with `Builder.place()`."""

    def __init__(self, name: str):
        self.name = name
        self.index: int | None = None


class Builder:
    """Programmatic assembler for compilers: emit instructions, place labels, build a Binary.

        b = Builder()
        x = b.arg("x")                       # argument index
        loop = b.label("loop")
        b.emit("arg", 1, x)
        b.place(loop)
        b.emit("addi", 2, 2, 1)
        b.emit("b.lt", 2, 3, loop)           # Label objects for LABEL fields
        binary = b.build()

    `b.loc(line)` sets the source line of the following instructions (the line table).
    Attribute sugar: `b.addi(2, 2, 1)`, `b.dma_load(...)` (dots in mnemonics become `_`).
    """

    def __init__(self, file: str = ""):
        self.file = file
        self._items: list[tuple[str, tuple]] = []
        self._lines: list[int] = []
        self._line = 0
        self._labels: list[Label] = []
        self.args: list[str] = []
        self._data = bytearray()
        self.symbols: list[tuple[str, int]] = []

    def arg(self, name: str) -> int:
        if not _IDENT.fullmatch(name) or name in self.args or name in _RESERVED:
            raise AsmError(f"bad or duplicate argument name {name!r}")
        self.args.append(name)
        return len(self.args) - 1

    def data(self, name: str, values) -> int:
        """Add a 64-byte aligned blob (a numpy array or bytes); returns its offset."""
        if not _IDENT.fullmatch(name) or name in dict(self.symbols):
            raise AsmError(f"bad or duplicate data symbol name {name!r}")
        self._data.extend(b"\0" * (-len(self._data) % DATA_ALIGN))
        off = len(self._data)
        self.symbols.append((name, off))
        self._data.extend(values.tobytes() if hasattr(values, "tobytes") else bytes(values))
        return off

    def label(self, name: str | None = None) -> Label:
        lab = Label(name or f"L{len(self._labels)}")
        self._labels.append(lab)
        return lab

    def place(self, label: Label) -> Label:
        if label.index is not None:
            raise AsmError(f"label {label.name!r} placed twice")
        label.index = len(self._items)
        return label

    def loc(self, line: int) -> None:
        self._line = line

    @property
    def pc(self) -> int:
        return len(self._items)

    def emit(self, mnemonic: str, *ops) -> int:
        spec = BY_MNEMONIC.get(mnemonic)
        if spec is None:
            raise AsmError(f"unknown mnemonic {mnemonic!r}")
        if len(ops) != len(spec.fields):
            names = ", ".join(f.name for f in spec.fields)
            raise AsmError(
                f"{mnemonic} takes {len(spec.fields)} operands ({names}), got {len(ops)}"
            )
        self._items.append((mnemonic, ops))
        self._lines.append(self._line)
        return len(self._items) - 1

    @staticmethod
    def _resolve(kind: Kind, v, args: dict, symbols: dict):
        """Labels to instruction indices, argument/data names to numbers, numbers and column
        tiles to scalar operands."""
        if isinstance(v, Label):
            if v.index is None:
                raise AsmError(f"label {v.name!r} used but never placed")
            return v.index
        if kind is Kind.ARG and isinstance(v, str):
            if v not in args:
                raise AsmError(f"unknown argument name {v!r}")
            return args[v]
        if kind is Kind.DATA and isinstance(v, str):
            if v not in symbols:
                raise AsmError(f"unknown data symbol {v!r}")
            return symbols[v]
        if kind in (Kind.SCALAR, Kind.FSCALAR) and isinstance(v, (int, float)):
            key = (type(v), v)
            imm = _IMMS.get(key)
            if imm is None:
                imm = _IMMS[key] = Scalar.imm(v)
            return imm
        if kind is Kind.SCALAR and isinstance(v, Tile):
            return Scalar.tile(v)
        return v

    def __getattr__(self, name: str):
        mnemonic = name.replace("_", ".")
        if name.startswith("_") or mnemonic not in BY_MNEMONIC:
            raise AttributeError(name)
        return lambda *ops: self.emit(mnemonic, *ops)

    def build(self) -> Binary:
        code: list[int] = []
        args = {name: i for i, name in enumerate(self.args)}
        symbols = dict(self.symbols)
        with no_gc():
            for mnemonic, ops in self._items:
                spec = BY_MNEMONIC[mnemonic]
                special = _SPECIAL_FIELDS[mnemonic]
                if special:
                    ops = list(ops)
                    for i, kind in special:
                        ops[i] = self._resolve(kind, ops[i], args, symbols)
                    ops = tuple(ops)
                code += encode_ops(spec, ops)  # validates every field
        lines = self._lines if any(self._lines) else None
        return Binary(
            code,
            list(self.args),
            bytes(self._data),
            list(self.symbols),
            lines,
            self.file,
        )
