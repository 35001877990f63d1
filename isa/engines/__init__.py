"""Engine instruction semantics in numpy, one module per engine family.

`HANDLERS` maps each table entry's `handler` name to its function; importing this package
registers them all. See `isa.engines.common` for the handler contract.
"""

from __future__ import annotations

from isa.engines import compute, dma  # noqa: F401  (registers the handlers)
from isa.engines.common import HANDLERS, Ctx, binop, compute_form, convert
from isa.engines.compute import philox, uniform_of_u32

__all__ = ["HANDLERS", "Ctx", "binop", "compute_form", "convert", "philox", "uniform_of_u32"]
