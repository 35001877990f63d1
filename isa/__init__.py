"""isa: the tile accelerator (instruction set, encoding, assembler, emulator, timing, profile).

Public entry points (imported lazily so that `import isa` stays cheap):
    isa.run(binary, args, grid, config, profile) -> RunResult     (isa.runner)
    isa.assemble(text) -> Binary, isa.disassemble(binary) -> str  (isa.asm)
    isa.Builder                                                   (programmatic assembler)
    isa.Binary                                                    (container, to/from bytes)
"""

from __future__ import annotations

_EXPORTS = {
    "run": "isa.runner",
    "RunResult": "isa.runner",
    "assemble": "isa.asm",
    "disassemble": "isa.asm",
    "Builder": "isa.asm",
    "Binary": "isa.binary",
    "Emulator": "isa.emulator",
    "get_config": "isa.machine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'isa' has no attribute {name!r}")
