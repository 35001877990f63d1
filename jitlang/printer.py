"""Prints tile IR as MLIR-like text (for `asm["tile"]`, IR dumps and snapshot tests)."""

from __future__ import annotations

import enum

from .ir import Const, Function, Op, OpKind, Region, Value


class _Namer:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.used: set[str] = set()

    def __call__(self, v: Value) -> str:
        name = self.names.get(v.id)
        if name is None:
            base = v.name or ""
            name = f"%{base}" if base and f"%{base}" not in self.used else None
            if name is None:
                k = len(self.names)
                name = f"%{base}{k}" if base else f"%{k}"
                while name in self.used:
                    k += 1
                    name = f"%{base}{k}" if base else f"%{k}"
            self.names[v.id] = name
            self.used.add(name)
        return name


def _attr_text(op: Op) -> str:
    a = op.attr
    if a is None:
        return ""
    if isinstance(a, Const):
        return f" {a.value!r}"
    parts = []
    for name, f in a.__dataclass_fields__.items():
        v = getattr(a, name)
        if v == f.default:
            continue
        parts.append(v.value if isinstance(v, enum.Enum) and name in _BARE else f"{name}={_fmt(v)}")
    return " " + " ".join(parts) if parts else ""


_BARE = ("op", "pred", "kind")


def _fmt(v) -> str:
    if isinstance(v, enum.Enum):
        return str(v.value)
    return repr(v)


def _print_region(region: Region, namer: _Namer, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for op in region.ops:
        lhs = ", ".join(namer(r) for r in op.results)
        lhs = f"{lhs} = " if lhs else ""
        operands = ", ".join(namer(v) for v in op.operands)
        types = ", ".join(str(r.type) for r in op.results)
        types = f" : {types}" if types else ""
        line = f"{pad}{lhs}{op.kind.value}{_attr_text(op)}"
        line += f" {operands}" if operands else ""
        line += f"{types}  // {op.loc.line}:{op.loc.col + 1}"
        out.append(line)
        for i, r in enumerate(op.regions):
            args = ", ".join(f"{namer(a)}: {a.type}" for a in r.args)
            label = _region_label(op.kind, i)
            out.append(f"{pad}  ^{label}({args}):")
            _print_region(r, namer, indent + 2, out)


def _region_label(kind: OpKind, i: int) -> str:
    if kind is OpKind.IF:
        return ("then", "else")[i]
    if kind is OpKind.WHILE:
        return ("before", "after")[i]
    if kind in (OpKind.REDUCE, OpKind.SCAN):
        return "combine"
    return "body"


def print_function(fn: Function) -> str:
    namer = _Namer()
    params = ", ".join(
        f"{namer(a)}: {p.type}" + (f" {{div={p.divisibility}}}" if p.divisibility > 1 else "")
        for p, a in zip(fn.params, fn.body.args)
    )
    out = [f"func @{fn.name}({params}) {{"]
    _print_region(fn.body, namer, 1, out)
    out.append("}")
    return "\n".join(out) + "\n"
