"""User-facing compile errors: absolute `file:line:col`, the source line, a caret and a hint.

One class per kind of mistake (STYLE rule 8). The frontend raises them with the AST node's
location; `jit` re-raises them with the Python traceback trimmed so users never see compiler
internals.
"""

from __future__ import annotations

import linecache

from .ir import Loc


class TritonError(Exception):
    """Base of the errors jitlang raises on purpose (Triton's `triton.TritonError`)."""


class OutOfResources(TritonError):
    """A kernel needs more of a target's resources than it has (Triton's name)."""

    def __init__(self, required: int, limit: int, name: str) -> None:
        self.required, self.limit, self.name = required, limit, name
        super().__init__(f"out of resource: {name}, required: {required}, hardware limit: {limit}")


class CompilationError(TritonError):
    """A kernel could not be compiled; the message points at the offending source.

    `plain_cause()` is the bare message as the exception Triton's frontend would have raised,
    which Triton chains as its CompilationError's `__cause__` (where Triton's tests read the
    message): a fresh exception, never raised, so it has no traceback and no compiler frames."""

    kind = "error"
    cause_type: type[Exception] = ValueError

    def __init__(self, loc: Loc | None, message: str, hint: str = "") -> None:
        self.loc = loc
        self.message = message
        self.hint = hint
        self.call_sites: list[Loc] = []  # where the inlined @jit helper(s) were called from
        super().__init__(self._render())

    def add_call_site(self, loc: Loc) -> None:
        """Record that the failing code was inlined from a call at `loc` (outermost last)."""
        self.call_sites.append(loc)
        self.args = (self._render(),)

    def plain_cause(self) -> Exception:
        """The bare message, as the exception Triton chains under its CompilationError."""
        return self.cause_type(self.message)

    def _render(self) -> str:
        if self.loc is None or self.loc.line <= 0:
            text = f"{self.kind}: {self.message}"
        else:
            src = linecache.getline(self.loc.file, self.loc.line).rstrip("\n")
            text = f"{self.loc}: {self.kind}: {self.message}"
            if src:
                caret = " " * self.loc.col + "^"
                text += f"\n    {src}\n    {caret}"
        for site in getattr(self, "call_sites", ()):
            src = linecache.getline(site.file, site.line).rstrip("\n")
            text += f"\n  called from {site}"
            if src:
                text += f"\n    {src}\n    {' ' * site.col}^"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UnsupportedSyntaxError(CompilationError):
    kind = "unsupported syntax"
    cause_type = NotImplementedError


class KernelTypeError(CompilationError):
    kind = "type error"
    cause_type = TypeError


class ShapeError(CompilationError):
    kind = "shape error"


class NameNotFoundError(CompilationError):
    kind = "name error"
    cause_type = NameError


class StaticAssertionError(CompilationError):
    kind = "static assertion failed"
    cause_type = AssertionError


class ConstexprError(CompilationError):
    kind = "constexpr error"


REPORT_HINT = (
    "this is a bug in jitlang, not in your kernel: please report it on the jitlang issue "
    "tracker with the kernel's source, this message and the traceback above it "
    "(JITLANG_DUMP_IR=1 prints the IR of each stage for the report)"
)


class InternalCompilerError(CompilationError):
    """The compiler failed on a kernel it should have compiled (an LLVM verification or code
    generation failure, or an exception inside a compiler stage). Names the kernel and keeps the
    original exception as `__cause__`."""

    kind = "internal compiler error"

    def __init__(self, loc: Loc | None, kernel: str, cause: BaseException) -> None:
        self.kernel = kernel
        self.cause = cause
        detail = str(cause).strip().splitlines()
        first = detail[0] if detail else ""
        super().__init__(
            loc,
            f"compiling {kernel} failed inside the compiler: {type(cause).__name__}: {first}",
            REPORT_HINT,
        )


# Triton's name for a failed tl.static_assert (triton.compiler.errors.CompileTimeAssertionFailure)
CompileTimeAssertionFailure = StaticAssertionError
