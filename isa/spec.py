"""Generates the ISA reference (`isa/SPEC.md`) from the instruction table.

Input: `isa.table` (instructions, fields, enums), `isa.operands` (composite layouts) and the
timing model's cost formula texts (`isa.timing.COST_DOCS`). Output: Markdown. A test checks that
the committed SPEC.md equals `generate()`; regenerate with `python -m isa spec`.
"""

from __future__ import annotations

from pathlib import Path

from isa import dtypes
from isa.operands import HBM_LAYOUT, TILE_LAYOUT
from isa.table import (
    INSTRUCTIONS,
    KIND_BITS,
    NUM_REGS,
    OPCODE_BITS,
    WORD_BITS,
    AccMode,
    ActFn,
    AluOp,
    AtomicOp,
    Cond,
    Kind,
    RandMode,
    ReduceOp,
    TensorOp,
)
from isa.trace import Engine

SPEC_PATH = Path(__file__).with_name("SPEC.md")

_KIND_SYNTAX = {
    Kind.REG: "`r0`..`r63` (r0 reads as 0)",
    Kind.IMM: "integer (decimal or 0x hex)",
    Kind.LABEL: "label name, or `@index`",
    Kind.ENUM: "lower-case enum name",
    Kind.ARG: "`.arg` name or index",
    Kind.DATA: "`.data` name (`name+offset`) or byte offset",
    Kind.TILE: "`sb.f32[p0:p1, rB+off, (stride,size)...]`, `ps.` for PSUM, `_` when absent",
    Kind.HBM: "`hbm.bf16[rB+off, (stride,size[,rBound])..., limit=rL]`",
    Kind.SCALAR: "fp32 literal (`1.5`, `-inf`, `bits:0x7fc00000`), register, or [P, 1] tile",
    Kind.FSCALAR: "fp32 literal or register",
}


def _cost_docs() -> dict:
    try:
        from isa.timing import COST_DOCS
    except ImportError:  # pragma: no cover - the timing model ships with the package
        return {}
    return COST_DOCS


def _layout_table(layout) -> list[str]:
    rows = ["| sub-field | bits | signed |", "|---|---|---|"]
    rows += [f"| {n} | {b} | {'yes' if s else 'no'} |" for n, b, s in layout]
    return rows


def generate() -> str:
    costs = _cost_docs()
    out = [
        "# jitlang accelerator ISA",
        "",
        "Generated from `isa/table.py` by `python -m isa spec`; do not edit by hand.",
        "",
        "## Encoding",
        "",
        f"An instruction is 1..N little-endian {WORD_BITS}-bit words. Bits 0..{OPCODE_BITS - 1} "
        "of the first word hold the opcode (0 is invalid); the fields follow LSB-first in the "
        "order listed, and every bit above the last field must be zero. Branch targets are "
        "instruction indices. The sequencer has "
        f"{NUM_REGS} int64 registers; `r0` always reads 0.",
        "",
        "Every word sequence either decodes to an instruction whose canonical text assembles "
        "back to the same words, or is rejected with `DecodeError`.",
        "",
        "## Operand kinds",
        "",
        "| kind | bits | assembly syntax |",
        "|---|---|---|",
    ]
    for k in Kind:
        bits = KIND_BITS.get(k, "per field")
        out.append(f"| {k.value} | {bits} | {_KIND_SYNTAX[k]} |")
    out += [
        "",
        "### Tile (on-chip access pattern)",
        "",
        "Partitions `[p0, p0+pn)`; the first element of each partition is at byte "
        "`regs[reg] + off`; free dims are `(stride, size)` in elements, row-major, unused dims "
        "`(0, 1)`. Space 0 = absent, 1 = SBUF, 2 = PSUM. The byte offset must be aligned to "
        "the dtype size.",
        "",
        *_layout_table(TILE_LAYOUT),
        "",
        "### HBM access pattern",
        "",
        "Base byte address `regs[reg] + off`; up to 4 dims `(stride, size, bound)` in elements, "
        "row-major. `bound` names a register with the number of valid indices of that dim (r0: "
        "all); `limit` names a register with an exclusive byte address limit (r0: none). Masked "
        "elements are not accessed: loads give the fill value, stores skip them.",
        "",
        *_layout_table(HBM_LAYOUT),
        "",
        "### Scalars",
        "",
        "`scalar`: 2-bit tag (0 fp32 immediate, 1 register whose low 32 bits are read as fp32, "
        "2 a [P, 1] tile giving one value per partition) and a payload. `fscalar`: 1-bit tag "
        "(immediate or register) and 32 bits.",
        "",
        "## Data types",
        "",
        "| code | name | numpy |",
        "|---|---|---|",
    ]
    for d in dtypes.DType:
        out.append(f"| {int(d)} | {dtypes.NAMES[d]} | {dtypes.NUMPY[d].name} |")
    out += ["", "## Enumerations", ""]
    for e in (AluOp, Cond, TensorOp, ActFn, ReduceOp, AccMode, RandMode, AtomicOp):
        doc = " ".join((e.__doc__ or "").split())
        names = ", ".join(f"{m.name.lower()}={int(m)}" for m in e)
        out += [f"- **{e.__name__}**: {names}" + (f". {doc}" if doc else "")]
    out += ["", "## Cost formulas", "", "| cost kind | formula |", "|---|---|"]
    for kind, text in costs.items():
        out.append(f"| {kind.name} | {text} |")
    out += ["", "## Instructions", ""]
    for engine in Engine:
        specs = [s for s in INSTRUCTIONS if s.engine == engine]
        if not specs:
            continue
        out += [f"### {engine.name}", ""]
        for s in specs:
            syntax = s.mnemonic + (" " + ", ".join(f.name for f in s.fields) if s.fields else "")
            out += [
                f"#### `{s.mnemonic}`",
                "",
                f"`{syntax}` — opcode {s.opcode} ({s.opcode:#04x}), {s.nwords} word"
                f"{'s' if s.nwords > 1 else ''} ({s.nbits} bits), engine {engine.name}, cost "
                f"{s.cost.name}: {costs.get(s.cost, '?')}",
                "",
                s.semantics,
                "",
            ]
            if s.fields:
                out += ["| field | kind | bits | bit offset |", "|---|---|---|---|"]
                off = OPCODE_BITS
                for f in s.fields:
                    out.append(f"| {f.name} | {f.type_text} | {f.bits} | {off} |")
                    off += f.bits
                out.append("")
    return "\n".join(out).rstrip() + "\n"


def write(path: Path = SPEC_PATH) -> Path:
    path.write_text(generate())
    return path


if __name__ == "__main__":
    print(write())
