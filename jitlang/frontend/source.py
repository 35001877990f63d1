"""Parsing of `@jit` function sources into ASTs with absolute source positions.

Stage: frontend input. `parse_function(fn)` returns the function's `ast.FunctionDef`, its file and
the line/column offsets that turn AST positions into absolute `file:line:col` locations.
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import os
import textwrap
from dataclasses import dataclass

from ..errors import CompilationError
from ..ir import Loc


@dataclass(frozen=True)
class Source:
    file: str
    first_line: int  # line of the `def` (decorators excluded) in the file
    indent: int  # columns removed by dedenting
    text: str  # dedented source
    tree: ast.FunctionDef

    def loc(self, node: ast.AST) -> Loc:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        return Loc(self.file, self.first_line + line - 1, col + self.indent)


@functools.lru_cache(maxsize=32)
def _module_defs(text: str) -> dict[tuple[str, int], int]:
    """(function name, first line incl. decorators) -> last line, for every def in a module."""
    out = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out[(node.name, first)] = node.end_lineno
    return out


def _source_lines(fn) -> tuple[list[str], int]:
    """The function's source lines and first line, like `inspect.getsourcelines` but from one
    parse of its module (cached) instead of tokenizing: cheap on a cached kernel's first launch."""
    code = getattr(fn, "__code__", None)
    if code is not None:
        lines = linecache.getlines(code.co_filename, fn.__globals__)
        if lines:
            try:
                end = _module_defs("".join(lines)).get((fn.__name__, code.co_firstlineno))
            except (SyntaxError, ValueError):
                end = None
            if end is not None:
                return lines[code.co_firstlineno - 1 : end], code.co_firstlineno
    return inspect.getsourcelines(fn)


def parse_function(fn) -> Source:
    try:
        lines, start = _source_lines(fn)
        file = inspect.getsourcefile(fn) or inspect.getfile(fn)
    except (OSError, TypeError) as e:
        raise CompilationError(
            None,
            f"cannot read the source of {fn.__qualname__}: {e}",
            "define kernels in a file or notebook cell, not with exec/eval",
        ) from None
    raw = "".join(lines)
    text = textwrap.dedent(raw)
    first = lines[0]
    indent = len(first) - len(first.lstrip()) if text != raw else 0
    file = os.path.abspath(file) if not file.startswith("<") else file
    tree = ast.parse(text)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        raise CompilationError(Loc(file, start, 0), f"{fn.__qualname__} is not a plain function")
    # drop decorators: positions stay absolute because `start` is the first decorator line
    return Source(file, start, indent, text, fdef)
