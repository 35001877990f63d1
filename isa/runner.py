"""`isa.run`: the driver-facing entry point (arguments in, results and profile out).

Input: a binary (a `Binary`, its serialised bytes, or assembly text), kernel arguments (numpy
arrays, ints, floats), a grid and a machine config. Arrays are copied into emulated HBM (64-byte
aligned, starting at 4096 so that address 0 is never valid), the grid runs, and every array is
copied back into the caller's array. With `profile=True` the records go through the timing
model (`isa.timing`) and the profiler (`isa.profile`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from isa.binary import Binary
from isa.emulator import DEFAULT_BUDGET, Emulator
from isa.errors import ArgumentError
from isa.machine import MachineConfig, get_config
from isa.memory import Hbm
from isa.trace import ExecRecord

HBM_BASE = 4096
ALIGN = 64


@dataclass
class RunResult:
    records: list[ExecRecord] | None
    instructions: int  # instructions executed over the whole grid
    wall_s: float  # emulator wall time
    config: MachineConfig
    addresses: list[int] = field(default_factory=list)  # HBM address (or value) of each arg
    timeline: object = None  # isa.timing.Timeline when profiled
    profile: object = None  # isa.profile.Profile when profiled
    timing_only: bool = False  # no tile data was computed (arrays were not written)

    def summary(self) -> dict:
        """The profile's summary (profiles on demand if the run was recorded)."""
        if self.profile is None:
            self._build_profile()
        return self.profile.summary()

    def _build_profile(self) -> None:
        if self.records is None:
            raise ValueError("this run was not recorded; pass profile=True or record=True")
        from isa.profile import Profile
        from isa.timing import simulate

        self.timeline = simulate(self.records, self.config)
        mode = "timing-only" if self.timing_only else "numeric"
        self.profile = Profile.build(self.records, self.timeline, self.config, mode=mode)


def _as_binary(binary) -> Binary:
    if isinstance(binary, Binary):
        return binary
    if isinstance(binary, (bytes, bytearray)):
        return Binary.from_bytes(bytes(binary))
    if isinstance(binary, str):
        from isa.asm import assemble

        return assemble(binary)
    raise TypeError(f"expected a Binary, bytes or assembly text, got {type(binary).__name__}")


def _grid3(grid) -> tuple[int, int, int]:
    g = (grid,) if isinstance(grid, int) else tuple(grid)
    if not 1 <= len(g) <= 3 or any(int(v) < 1 for v in g):
        raise ValueError(f"grid must be 1 to 3 positive sizes, got {grid!r}")
    return tuple(int(v) for v in g) + (1,) * (3 - len(g))


def layout_args(args, data: bytes) -> tuple[np.ndarray, list[int], list[int], int]:
    """Place arrays and the data section in HBM. Returns (Hbm, arg values, array slots, data
    section address)."""
    values, slots, cursor = [], [], HBM_BASE
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            slots.append(cursor)
            values.append(cursor)
            cursor += -(-max(a.nbytes, 1) // ALIGN) * ALIGN
        elif isinstance(a, (bool, np.bool_)):
            values.append(int(a))
            slots.append(-1)
        elif isinstance(a, (int, np.integer)):
            v = int(a)
            if not -(1 << 63) <= v < 1 << 63:
                raise ArgumentError(f"argument {i}: {v} does not fit in int64")
            values.append(v)
            slots.append(-1)
        elif isinstance(a, (float, np.floating)):
            values.append(int(np.array([a], np.float32).view(np.uint32)[0]))
            slots.append(-1)
        else:
            raise ArgumentError(f"argument {i}: unsupported type {type(a).__name__}")
    data_base = cursor
    cursor += -(-len(data) // ALIGN) * ALIGN
    hbm = np.zeros(cursor + ALIGN, np.uint8)
    for a, s in zip(args, slots, strict=True):
        if s >= 0:
            raw = np.ascontiguousarray(a).view(np.uint8).reshape(-1)
            hbm[s : s + raw.size] = raw
    hbm[data_base : data_base + len(data)] = np.frombuffer(data, np.uint8)
    regions = [
        (s, s + a.nbytes, f"argument {i}")
        for i, (a, s) in enumerate(zip(args, slots, strict=True))
        if s >= 0
    ]
    if data:
        regions.append((data_base, data_base + len(data), "the data section"))
    return Hbm(hbm, regions), values, slots, data_base


def run(
    binary,
    args=(),
    grid=(1,),
    config: str | MachineConfig = "nc-v2",
    profile: bool = False,
    record: bool | None = None,
    budget: int = DEFAULT_BUDGET,
    timing_only: bool = False,
) -> RunResult:
    """Run `binary` over `grid` with `args`; arrays are updated in place with what the kernel
    wrote. `record` (default: `profile`) keeps one ExecRecord per executed instruction.
    `timing_only`: addresses, sizes and dependencies only, no tile data; arrays are left
    untouched (see `isa.emulator`)."""
    b = _as_binary(binary)
    cfg = get_config(config)
    record = profile if record is None else record
    args = list(args)
    if b.args and len(args) != len(b.args):
        raise ArgumentError(
            f"the kernel takes {len(b.args)} arguments ({', '.join(b.args)}), got {len(args)}"
        )
    hbm, values, slots, data_base = layout_args(args, b.data)
    emu = Emulator(b, cfg)
    t0 = time.perf_counter()
    records, executed = emu.run(
        hbm, np.array(values, np.int64), _grid3(grid), data_base, record, budget, timing_only
    )
    wall = time.perf_counter() - t0
    for a, s in zip(args, slots, strict=True):
        if s >= 0 and a.nbytes and not timing_only:
            back = hbm.data[s : s + a.nbytes].view(a.dtype).reshape(a.shape)
            a[...] = back
    res = RunResult(records if record else None, executed, wall, cfg, values)
    res.timing_only = timing_only
    if profile:
        res._build_profile()
    return res
