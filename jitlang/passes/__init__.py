"""Tile-IR passes. Each is a function `Function -> Function` in its own module; `PIPELINE` is
the order the compiler runs them in (see `jitlang.compiler`)."""

from .cse import cse
from .dce import dce
from .fold import fold

# canonicalize: fold constants (and splats of constants), then share and drop what is redundant
PIPELINE = (
    ("fold", fold),  # constant folding; splat(const) -> block const
    ("cse", cse),  # common subexpressions of pure ops within a region and its children
    ("dce", dce),  # remove pure ops whose results are unused
)

__all__ = ["PIPELINE", "cse", "dce", "fold"]
