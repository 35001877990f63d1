"""Binary encoder and decoder, derived from the instruction table.

Input/output: `Instr` (spec + operand values) <-> a list of 64-bit words. Fields are packed
LSB-first after the 8-bit opcode, in table order; composite operands (tiles, HBM patterns,
scalars) are packed by their sub-field layouts from `isa.operands`. Decoding checks every field
(valid opcode, enum codes, dtypes, canonical padding) so that every word sequence either decodes to
an instruction whose assembly text re-encodes to the same words, or raises `DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from isa import dtypes
from isa.errors import DecodeError, EncodeError
from isa.operands import (
    HBM_LAYOUT,
    SCALAR_IMM,
    SCALAR_REG,
    SCALAR_TILE,
    SPACE_NONE,
    SPACE_PSUM,
    TILE_LAYOUT,
    HbmAP,
    Scalar,
    Tile,
)
from isa.table import (
    BY_MNEMONIC,
    BY_OPCODE,
    OPCODE_BITS,
    SCALAR_PAYLOAD_BITS,
    WORD_BITS,
    Field,
    InstrSpec,
    Kind,
)

MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Instr:
    """A decoded instruction: its table entry and one operand value per field."""

    spec: InstrSpec
    ops: tuple

    @property
    def mnemonic(self) -> str:
        return self.spec.mnemonic

    def op(self, name: str):
        for f, v in zip(self.spec.fields, self.ops, strict=True):
            if f.name == name:
                return v
        raise KeyError(name)

    def __str__(self) -> str:
        from isa.asm import format_instr

        return format_instr(self)


def make(mnemonic: str, *ops) -> Instr:
    """Build an instruction by mnemonic, checking operand count and ranges (for builders)."""
    spec = BY_MNEMONIC.get(mnemonic)
    if spec is None:
        raise EncodeError(f"unknown mnemonic {mnemonic!r}")
    if len(ops) != len(spec.fields):
        names = ", ".join(f.name for f in spec.fields)
        raise EncodeError(f"{mnemonic} takes {len(spec.fields)} operands ({names}), got {len(ops)}")
    ins = Instr(spec, tuple(ops))
    encode(ins)  # validates every field
    return ins


# --- integers --------------------------------------------------------------------------------


def _check_int(value, bits: int, signed: bool, what: str) -> int:
    if not isinstance(value, int):
        raise EncodeError(f"{what}: expected an integer, got {value!r}")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise EncodeError(
            f"{what}: {value} does not fit in {bits} {'signed' if signed else 'unsigned'} bits"
        )
    return value & ((1 << bits) - 1)


def _sext(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _pack_layout(values, layout, what: str) -> tuple[int, int]:
    out, shift = 0, 0
    for v, (name, bits, signed) in zip(values, layout, strict=True):
        out |= _check_int(v, bits, signed, f"{what}.{name}") << shift
        shift += bits
    return out, shift


def _unpack_layout(raw: int, layout) -> list[int]:
    vals, shift = [], 0
    for _, bits, signed in layout:
        v = (raw >> shift) & ((1 << bits) - 1)
        vals.append(_sext(v, bits) if signed else v)
        shift += bits
    return vals


# --- composite operands ----------------------------------------------------------------------


def _pack_tile(t, what: str) -> int:
    if not isinstance(t, Tile):
        raise EncodeError(f"{what}: expected a Tile, got {t!r}")
    if t.is_none:
        if t != Tile.NONE:
            raise EncodeError(f"{what}: an absent tile (space 0) must be Tile.NONE")
        return 0
    if t.space > SPACE_PSUM:
        raise EncodeError(f"{what}: bad space {t.space}")
    if not dtypes.valid(t.dtype):
        raise EncodeError(f"{what}: bad dtype code {t.dtype}")
    if not 1 <= t.pn <= 128:
        raise EncodeError(f"{what}: partition count {t.pn} not in 1..128")
    return _pack_layout(t.to_fields(), TILE_LAYOUT, what)[0]


def _unpack_tile(raw: int) -> Tile:
    if raw == 0:
        return Tile.NONE
    f = _unpack_layout(raw, TILE_LAYOUT)
    if f[0] == SPACE_NONE:
        raise DecodeError("absent tile operand with nonzero fields")
    if f[0] > SPACE_PSUM:
        raise DecodeError(f"bad tile space code {f[0]}")
    if not dtypes.valid(f[1]):
        raise DecodeError(f"bad dtype code {f[1]}")
    if not 1 <= f[5] <= 128:
        raise DecodeError(f"bad partition count {f[5]}")
    return Tile.from_fields(f)


def _pack_hbm(a, what: str) -> int:
    if not isinstance(a, HbmAP):
        raise EncodeError(f"{what}: expected an HbmAP, got {a!r}")
    if not dtypes.valid(a.dtype):
        raise EncodeError(f"{what}: bad dtype code {a.dtype}")
    return _pack_layout(a.to_fields(), HBM_LAYOUT, what)[0]


def _unpack_hbm(raw: int) -> HbmAP:
    f = _unpack_layout(raw, HBM_LAYOUT)
    if not dtypes.valid(f[0]):
        raise DecodeError(f"bad dtype code {f[0]}")
    return HbmAP.from_fields(f)


def _pack_scalar(s, what: str, allow_tile: bool) -> int:
    if not isinstance(s, Scalar):
        raise EncodeError(f"{what}: expected a Scalar, got {s!r}")
    if s.tag == SCALAR_IMM:
        payload = _check_int(s.value, 32, False, what)
    elif s.tag == SCALAR_REG:
        payload = _check_int(s.value, 6, False, what)
    elif s.tag == SCALAR_TILE and allow_tile:
        if not isinstance(s.value, Tile) or s.value.is_none:
            raise EncodeError(f"{what}: a scalar column must be a present tile")
        payload = _pack_tile(s.value, what)
    else:
        raise EncodeError(f"{what}: bad scalar operand {s!r}")
    return s.tag | (payload << (2 if allow_tile else 1))


def _unpack_scalar(raw: int, allow_tile: bool) -> Scalar:
    tag_bits = 2 if allow_tile else 1
    tag, payload = raw & ((1 << tag_bits) - 1), raw >> tag_bits
    if tag == SCALAR_IMM:
        if payload >> 32:
            raise DecodeError("scalar immediate with nonzero padding")
        return Scalar(SCALAR_IMM, payload)
    if tag == SCALAR_REG:
        if payload >> 6:
            raise DecodeError("scalar register with nonzero padding")
        return Scalar(SCALAR_REG, payload)
    if tag == SCALAR_TILE:
        t = _unpack_tile(payload)
        if t.is_none:
            raise DecodeError("scalar column tile is absent")
        return Scalar(SCALAR_TILE, t)
    raise DecodeError(f"bad scalar tag {tag}")


# --- fields ----------------------------------------------------------------------------------


def pack_field(f: Field, v) -> int:
    what = f.name
    k = f.kind
    if k is Kind.TILE:
        return _pack_tile(v, what)
    if k is Kind.HBM:
        return _pack_hbm(v, what)
    if k is Kind.SCALAR:
        return _pack_scalar(v, what, True)
    if k is Kind.FSCALAR:
        return _pack_scalar(v, what, False)
    if k is Kind.ENUM:
        try:
            return int(f.enum(v))
        except ValueError:
            raise EncodeError(f"{what}: {v!r} is not a {f.enum.__name__}") from None
    return _check_int(v, f.bits, f.signed, what)


def unpack_field(f: Field, raw: int):
    k = f.kind
    if k is Kind.TILE:
        return _unpack_tile(raw)
    if k is Kind.HBM:
        return _unpack_hbm(raw)
    if k is Kind.SCALAR:
        return _unpack_scalar(raw, True)
    if k is Kind.FSCALAR:
        return _unpack_scalar(raw, False)
    if k is Kind.ENUM:
        try:
            return f.enum(raw)
        except ValueError:
            raise DecodeError(f"field {f.name}: {raw} is not a {f.enum.__name__}") from None
    return _sext(raw, f.bits) if f.signed else raw


assert SCALAR_PAYLOAD_BITS >= 32


# --- instructions ----------------------------------------------------------------------------


def encode(ins: Instr) -> list[int]:
    """Encode one instruction into its 64-bit words."""
    spec = ins.spec
    if len(ins.ops) != len(spec.fields):
        raise EncodeError(f"{spec.mnemonic}: expected {len(spec.fields)} operands")
    value, shift = spec.opcode, OPCODE_BITS
    for f, v in zip(spec.fields, ins.ops, strict=True):
        try:
            value |= pack_field(f, v) << shift
        except EncodeError as e:
            raise EncodeError(f"{spec.mnemonic}: {e}") from None
        shift += f.bits
    return [(value >> (WORD_BITS * i)) & MASK64 for i in range(spec.nwords)]


def decode_one(words, pos: int) -> tuple[Instr, int]:
    """Decode the instruction starting at word `pos`; returns it and its length in words."""
    if pos >= len(words):
        raise DecodeError(f"word {pos}: past the end of the code")
    first = int(words[pos])
    opcode = first & ((1 << OPCODE_BITS) - 1)
    spec = BY_OPCODE.get(opcode)
    if spec is None:
        raise DecodeError(f"word {pos}: invalid opcode {opcode:#04x}")
    n = spec.nwords
    if pos + n > len(words):
        raise DecodeError(f"word {pos}: {spec.mnemonic} needs {n} words, code ends first")
    value = 0
    for i in range(n):
        value |= int(words[pos + i]) << (WORD_BITS * i)
    if value >> spec.nbits:
        raise DecodeError(f"word {pos}: {spec.mnemonic} has nonzero padding bits")
    ops, shift = [], OPCODE_BITS
    for f in spec.fields:
        raw = (value >> shift) & ((1 << f.bits) - 1)
        try:
            ops.append(unpack_field(f, raw))
        except DecodeError as e:
            raise DecodeError(f"word {pos}: {spec.mnemonic}: {e}") from None
        shift += f.bits
    return Instr(spec, tuple(ops)), n


def encode_program(instrs) -> list[int]:
    words: list[int] = []
    for ins in instrs:
        words.extend(encode(ins))
    return words


def decode_program(words) -> list[Instr]:
    """Decode a whole code section; raises DecodeError at the first invalid instruction."""
    out, pos = [], 0
    while pos < len(words):
        ins, n = decode_one(words, pos)
        out.append(ins)
        pos += n
    return out


def decode_prefix(words) -> tuple[list[Instr], DecodeError | None]:
    """Decode as far as possible: the valid instructions and the error that stopped decoding."""
    out, pos = [], 0
    while pos < len(words):
        try:
            ins, n = decode_one(words, pos)
        except DecodeError as e:
            return out, e
        out.append(ins)
        pos += n
    return out, None
