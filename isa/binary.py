"""The binary container: code words, kernel argument names, a data section, a line table.

Serialised layout (little-endian): magic b"JLISABIN", u16 version, u16 flags, then u32 counts
(code words, args, data bytes, data symbols, line entries), the code as u64 words, each argument
name (u16 length + UTF-8), the data bytes, each data symbol (u16 length + UTF-8 name, u32 offset),
the line table (one u32 per instruction, 0 = unknown) and the source file name (u16 + UTF-8).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from isa.errors import BinaryFormatError

MAGIC = b"JLISABIN"
VERSION = 1
_HEADER = struct.Struct("<8sHHIIIII")


@dataclass
class Binary:
    code: list[int]  # 64-bit instruction words
    args: list[str] = field(default_factory=list)  # kernel argument names, in order
    data: bytes = b""  # data section, copied to HBM at launch
    symbols: list[tuple[str, int]] = field(default_factory=list)  # (name, offset) in data
    lines: list[int] | None = None  # per instruction: source line (None: no line table)
    file: str = ""  # source file the line table refers to

    def to_bytes(self) -> bytes:
        lines = self.lines or []
        out = [
            _HEADER.pack(
                MAGIC,
                VERSION,
                0,
                len(self.code),
                len(self.args),
                len(self.data),
                len(self.symbols),
                len(lines),
            ),
            struct.pack(f"<{len(self.code)}Q", *self.code),
        ]
        for a in self.args:
            out.append(_str(a))
        out.append(bytes(self.data))
        for name, off in self.symbols:
            out.append(_str(name) + struct.pack("<I", off))
        out.append(struct.pack(f"<{len(lines)}I", *lines))
        out.append(_str(self.file))
        return b"".join(out)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Binary:
        r = _Reader(blob)
        magic, version, _flags, ncode, nargs, ndata, nsyms, nlines = r.unpack(_HEADER)
        if magic != MAGIC:
            raise BinaryFormatError("not a jitlang accelerator binary (bad magic)")
        if version != VERSION:
            raise BinaryFormatError(f"unsupported binary version {version} (expected {VERSION})")
        code = list(r.unpack(struct.Struct(f"<{ncode}Q")))
        args = [r.string() for _ in range(nargs)]
        data = r.take(ndata)
        syms = []
        for _ in range(nsyms):
            name = r.string()
            syms.append((name, r.unpack(struct.Struct("<I"))[0]))
        lines = list(r.unpack(struct.Struct(f"<{nlines}I"))) or None
        file = r.string()
        if r.pos != len(blob):
            raise BinaryFormatError(f"{len(blob) - r.pos} trailing bytes after the binary")
        return cls(code, args, data, syms, lines, file)

    def line_of(self, pc: int) -> int:
        if self.lines and 0 <= pc < len(self.lines):
            return self.lines[pc]
        return 0


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<H", len(b)) + b


class _Reader:
    def __init__(self, blob: bytes):
        self.blob, self.pos = blob, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.blob):
            raise BinaryFormatError("truncated binary")
        out = self.blob[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def unpack(self, st: struct.Struct) -> tuple:
        return st.unpack(self.take(st.size))

    def string(self) -> str:
        (n,) = self.unpack(struct.Struct("<H"))
        try:
            return self.take(n).decode()
        except UnicodeDecodeError:
            raise BinaryFormatError("bad UTF-8 string in binary") from None
