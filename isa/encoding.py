"""Binary encoder and decoder, derived from the instruction table.

Input/output: `Instr` (spec + operand values) <-> a list of 64-bit words. Fields are packed
LSB-first after the 8-bit opcode, in table order; composite operands (tiles, HBM patterns,
scalars) are packed by their sub-field layouts from `isa.operands`. Decoding checks every field
(valid opcode, enum codes, dtypes, canonical padding) so that every word sequence either decodes to
an instruction whose assembly text re-encodes to the same words, or raises `DecodeError`.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
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


def _layout_plan(layout) -> tuple:
    """(name, shift, lo, hi, mask, bits, signed) per sub-field of a composite layout."""
    out, shift = [], 0
    for name, bits, signed in layout:
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        out.append((name, shift, lo, hi, (1 << bits) - 1, bits, signed))
        shift += bits
    return tuple(out)


_LAYOUT_PLANS: dict = {}


def _plan_of(layout) -> tuple:
    plan = _LAYOUT_PLANS.get(id(layout))
    if plan is None:
        plan = _LAYOUT_PLANS[id(layout)] = _layout_plan(layout)
    return plan


def _pack_layout(values, layout, what: str) -> int:
    out = 0
    for v, (name, shift, lo, hi, mask, bits, signed) in zip(values, _plan_of(layout), strict=True):
        if type(v) is not int or v < lo or v > hi:
            _check_int(v, bits, signed, f"{what}.{name}")  # raises (or accepts an int subclass)
        out |= (v & mask) << shift
    return out


def _unpack_layout(raw: int, layout) -> list[int]:
    vals = []
    for _, shift, _, _, mask, bits, signed in _plan_of(layout):
        v = (raw >> shift) & mask
        if signed and v >> (bits - 1):
            v -= 1 << bits
        vals.append(v)
    return vals


# --- composite operands ----------------------------------------------------------------------


# Memo tables of composite operands (tiles, patterns, scalars): compiled programs use the same
# few operands over and over, so packing/unpacking each distinct one once makes building and
# decoding several times faster. Keys are the (immutable, hashable) operand or its raw bits;
# only successes are stored, so errors are raised exactly as without the tables.
_PACKED: dict = {}
_UNPACKED: dict = {}
_ENCODED: dict = {}  # (opcode, operands) -> words
_DECODED: dict = {}  # an instruction's bits -> Instr
_MEMO_LIMIT = 1 << 20


def _memo_put(table: dict, key, value) -> None:
    if len(table) >= _MEMO_LIMIT:
        table.clear()
    table[key] = value


def _pack_tile(t, what: str) -> int:
    if type(t) is Tile:
        raw = _PACKED.get(t)
        if raw is None:
            raw = _pack_tile_checked(t, what)
            _memo_put(_PACKED, t, raw)
        return raw
    return _pack_tile_checked(t, what)


def _pack_tile_checked(t, what: str) -> int:
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
    return _pack_layout(t.to_fields(), TILE_LAYOUT, what)


def _unpack_tile(raw: int) -> Tile:
    key = (Kind.TILE, raw)
    t = _UNPACKED.get(key)
    if t is None:
        t = _unpack_tile_checked(raw)
        _memo_put(_UNPACKED, key, t)
    return t


def _unpack_tile_checked(raw: int) -> Tile:
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
    # not memoised: HBM patterns differ in nearly every instruction of a compiled kernel
    return _pack_hbm_checked(a, what)


def _pack_hbm_checked(a, what: str) -> int:
    if not isinstance(a, HbmAP):
        raise EncodeError(f"{what}: expected an HbmAP, got {a!r}")
    if not dtypes.valid(a.dtype):
        raise EncodeError(f"{what}: bad dtype code {a.dtype}")
    return _pack_layout(a.to_fields(), HBM_LAYOUT, what)


def _unpack_hbm(raw: int) -> HbmAP:
    # not memoised: HBM patterns differ in nearly every instruction of a compiled kernel
    return _unpack_hbm_checked(raw)


def _unpack_hbm_checked(raw: int) -> HbmAP:
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
    return list(encode_ops(ins.spec, ins.ops))


def encode_ops(spec: InstrSpec, ops: tuple) -> tuple[int, ...]:
    """Encode an instruction given as its table entry and operands (checks every field)."""
    try:
        key = (spec.opcode, ops)
        words = _ENCODED.get(key)
    except TypeError:  # an unhashable operand: encode (and report) without the memo
        key = words = None
    if words is None:
        words = _encode(spec, ops)
        if key is not None:
            _memo_put(_ENCODED, key, words)
    return words


def _encode(spec: InstrSpec, ops) -> tuple[int, ...]:
    plan = _ENC_PLANS[spec.opcode]
    if len(ops) != len(plan):
        raise EncodeError(f"{spec.mnemonic}: expected {len(spec.fields)} operands")
    value = spec.opcode
    for (f, shift, fast_hi), v in zip(plan, ops):
        if type(v) is int and 0 <= v <= fast_hi:  # a plain integer field, in range
            value |= v << shift
            continue
        try:
            value |= pack_field(f, v) << shift
        except EncodeError as e:
            raise EncodeError(f"{spec.mnemonic}: {e}") from None
    n = _NWORDS[spec.opcode]
    if n == 1:
        return (value,)
    if n == 2:
        return (value & MASK64, value >> WORD_BITS)
    return tuple((value >> (WORD_BITS * i)) & MASK64 for i in range(n))


_PLAIN = frozenset({Kind.REG, Kind.IMM, Kind.LABEL, Kind.ARG, Kind.DATA})


def _enc_plan(spec: InstrSpec) -> tuple:
    """(field, shift, largest value taken as is: -1 for fields that need packing)."""
    out, shift = [], OPCODE_BITS
    for f in spec.fields:
        hi = -1
        if f.kind in _PLAIN:
            hi = (1 << (f.bits - 1)) - 1 if f.signed else (1 << f.bits) - 1
        out.append((f, shift, hi))
        shift += f.bits
    return tuple(out)


def _unpacker(f: Field):
    """How to turn a field's raw bits into its operand (None: the bits are the value)."""
    k = f.kind
    if k is Kind.TILE:
        return _unpack_tile
    if k is Kind.HBM:
        return _unpack_hbm
    if k in (Kind.SCALAR, Kind.FSCALAR):
        return lambda raw: _unpack_scalar(raw, k is Kind.SCALAR)
    if k is Kind.ENUM or f.signed:
        return lambda raw: unpack_field(f, raw)
    return None


def _plan(spec: InstrSpec) -> tuple:
    """How to cut a spec's fields out of its bits: (field, shift, mask, unpacker) per field."""
    out, shift = [], OPCODE_BITS
    for f in spec.fields:
        out.append((f, shift, (1 << f.bits) - 1, _unpacker(f)))
        shift += f.bits
    return tuple(out)


_PLANS: dict[int, tuple] = {op: _plan(spec) for op, spec in BY_OPCODE.items()}
_ENC_PLANS: dict[int, tuple] = {op: _enc_plan(spec) for op, spec in BY_OPCODE.items()}
_NBITS: dict[int, int] = {op: spec.nbits for op, spec in BY_OPCODE.items()}
_NWORDS: dict[int, int] = {op: spec.nwords for op, spec in BY_OPCODE.items()}
_OPMASK = (1 << OPCODE_BITS) - 1


def decode_one(words, pos: int) -> tuple[Instr, int]:
    """Decode the instruction starting at word `pos`; returns it and its length in words."""
    if pos >= len(words):
        raise DecodeError(f"word {pos}: past the end of the code")
    first = int(words[pos])
    spec = BY_OPCODE.get(first & _OPMASK)
    if spec is None:
        raise DecodeError(f"word {pos}: invalid opcode {first & _OPMASK:#04x}")
    n = _NWORDS[spec.opcode]
    if pos + n > len(words):
        raise DecodeError(f"word {pos}: {spec.mnemonic} needs {n} words, code ends first")
    value = first
    for i in range(1, n):
        value |= int(words[pos + i]) << (WORD_BITS * i)
    ins = _DECODED.get(value)
    if ins is not None:
        return ins, n
    if value >> _NBITS[spec.opcode]:
        raise DecodeError(f"word {pos}: {spec.mnemonic} has nonzero padding bits")
    ops = []
    try:
        for _, shift, mask, unpack in _PLANS[spec.opcode]:
            raw = (value >> shift) & mask
            ops.append(raw if unpack is None else unpack(raw))
    except DecodeError as e:
        raise DecodeError(f"word {pos}: {spec.mnemonic}: {e}") from None
    ins = Instr(spec, tuple(ops))
    _memo_put(_DECODED, value, ins)
    return ins, n


@contextmanager
def no_gc():
    """Pause the cyclic garbage collector: building or decoding a program allocates many small
    acyclic objects, which would trigger full collections over everything alive (several times
    slower for programs of 50k+ instructions)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def encode_program(instrs) -> list[int]:
    words: list[int] = []
    for ins in instrs:
        words.extend(encode(ins))
    return words


def _decode_all(words) -> tuple[list[Instr], DecodeError | None]:
    """Decode until the end or the first invalid instruction. Instructions seen before come
    from the memo table after a dictionary lookup; the others go through `decode_one`."""
    if type(words) is not list:
        words = [int(w) for w in words]
    out: list[Instr] = []
    pos, end = 0, len(words)
    memo, nwords, mask = _DECODED, _NWORDS, _OPMASK
    with no_gc():
        while pos < end:
            first = words[pos]
            n = nwords.get(first & mask, 0)
            ins = None
            if n == 1:
                ins = memo.get(first)
            elif n and pos + n <= end:
                value = first
                for i in range(1, n):
                    value |= words[pos + i] << (WORD_BITS * i)
                ins = memo.get(value)
            if ins is None:
                try:
                    ins, n = decode_one(words, pos)
                except DecodeError as e:
                    return out, e
            out.append(ins)
            pos += n
    return out, None


def decode_program(words) -> list[Instr]:
    """Decode a whole code section; raises DecodeError at the first invalid instruction."""
    out, err = _decode_all(words)
    if err is not None:
        raise err
    return out


def decode_prefix(words) -> tuple[list[Instr], DecodeError | None]:
    """Decode as far as possible: the valid instructions and the error that stopped decoding."""
    return _decode_all(words)
