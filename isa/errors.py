"""Error classes of the accelerator package: one class per kind of failure.

Every emulator error carries the instruction's address (pc), mnemonic, the program id and, when the
binary has a line table, the kernel source line, so a failure points at the code that caused it.
"""

from __future__ import annotations


class IsaError(Exception):
    """Base of every error raised by `isa`."""


class EncodeError(IsaError, ValueError):
    """An operand value does not fit its field (raised by the encoder and the assembler)."""


class DecodeError(IsaError):
    """A word sequence is not a valid instruction encoding."""


class BinaryFormatError(IsaError):
    """A serialised binary is malformed (bad magic, version or truncated sections)."""


class AsmError(IsaError):
    """A syntax or semantic error in assembly text, with its line number."""

    def __init__(self, message: str, line: int = 0, text: str = "", file: str = "<asm>"):
        self.line = line
        self.text = text
        self.file = file
        loc = f"{file}:{line}: " if line else ""
        src = f"\n    {text.strip()}" if text else ""
        super().__init__(f"{loc}{message}{src}")


class EmulatorError(IsaError):
    """A fault while running a binary; `pc`, `mnemonic`, `line` and `program` locate it."""

    kind = "fault"

    def __init__(
        self,
        message: str,
        pc: int = -1,
        mnemonic: str = "",
        line: int = 0,
        program: int = -1,
        file: str = "",
    ):
        self.message = message
        self.pc = pc
        self.mnemonic = mnemonic
        self.line = line
        self.program = program
        self.file = file
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.line:
            where.append(f"{self.file or 'kernel'}:{self.line}")
        if self.pc >= 0:
            where.append(f"pc {self.pc}" + (f" ({self.mnemonic})" if self.mnemonic else ""))
        if self.program >= 0:
            where.append(f"program {self.program}")
        prefix = ", ".join(where)
        return (
            f"{prefix}: {self.kind}: {self.message}" if prefix else f"{self.kind}: {self.message}"
        )

    def locate(self, pc: int, mnemonic: str, line: int, program: int, file: str) -> EmulatorError:
        """Fill in the location once the dispatcher knows it (engine code raises without it)."""
        if self.pc < 0:
            self.pc, self.mnemonic, self.line = pc, mnemonic, line
        if self.program < 0:
            self.program = program
        self.file = self.file or file
        self.args = (self._render(),)
        return self


class OutOfBoundsError(EmulatorError):
    kind = "out-of-bounds access"


class UninitializedReadError(EmulatorError):
    kind = "read of never-written memory"


class TileShapeError(EmulatorError):
    kind = "tile shape not allowed"


class InvalidInstructionError(EmulatorError):
    kind = "invalid instruction"


class BudgetExceededError(EmulatorError):
    kind = "instruction budget exceeded"


class ArgumentError(EmulatorError):
    kind = "bad kernel argument"


class DeviceAssertError(EmulatorError):
    """A `check` instruction found its condition false (a failed device assertion); `code`
    is the instruction's immediate."""

    kind = "device assertion failed"

    def __init__(self, message: str, code: int = 0, **kw):
        self.code = code
        super().__init__(message, **kw)


class TimingOnlyError(EmulatorError):
    """Timing-only emulation met something it cannot time without tile data: a branch, an
    address or a loop bound computed from a value that `ld` read from a tile."""

    kind = "cannot time without data"
