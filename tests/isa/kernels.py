"""Test helper: wrap a few lines of assembly in loads and stores of [P, F] arrays and run it."""

from __future__ import annotations

import numpy as np

from isa import dtypes
from isa.runner import run


def tile_run(body: str, inputs: dict, outputs: dict, config: str = "nc-v2", **kw) -> dict:
    """Load each input [P, F] array into SBUF (partition p = row p), run `body` with `{name}`
    replaced by the tile text of each array, store the outputs and return them by name.
    `outputs` maps names to (shape, dtype)."""
    arrays = dict(inputs)
    for name, (shape, dt) in outputs.items():
        arrays[name] = np.zeros(shape, dt)
    lines, fmt, args, off = [], {}, [], 0
    for i, (name, a) in enumerate(arrays.items()):
        p, f = a.shape
        dt = dtypes.NAMES[dtypes.from_numpy(a.dtype)]
        fmt[name] = f"sb.{dt}[0:{p}, {off}, (1,{f})]"
        args.append(a)
        lines.append(f"arg r{i + 1}, {i}")
        if name in inputs:
            lines.append(f"dma.load 0, {fmt[name]}, hbm.{dt}[r{i + 1}+0, ({f},{p}), (1,{f})], 0.0")
        off += -(-f * a.dtype.itemsize // 64) * 64
    lines += body.format(**fmt).strip().splitlines()
    for i, (name, a) in enumerate(arrays.items()):
        if name in outputs:
            p, f = a.shape
            dt = dtypes.NAMES[dtypes.from_numpy(a.dtype)]
            lines.append(f"dma.store 1, hbm.{dt}[r{i + 1}+0, ({f},{p}), (1,{f})], {fmt[name]}")
    lines.append("halt")
    run("\n".join(lines), args, config=config, **kw)
    return {name: arrays[name] for name in outputs}
