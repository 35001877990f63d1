"""Accelerator driver: compiles a specialization for the emulated tile accelerator and launches it.

Stage: runtime (beside `cpu_driver`). Input: a `@jit` kernel and its specialization key; output:
a `CompiledKernel` whose `launch(grid, args)` copies the array arguments' bytes into emulated
HBM, runs the binary over the grid on `isa`'s emulator (programs spread over the config's cores)
and copies back only the arrays the kernel may store to. The launcher passes every array's byte
range after the run-time arguments (as for the CPU's bounds checks), which is what lets a numpy
array be found from its address. Emulator faults become jitlang errors with the kernel source
position, the program and the address.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import struct
import sys
import threading
import time
import warnings

import numpy as np

from codegen.accel.debug import (
    LOG_HEADER,
    PRINT_LOG,
    PRINT_SITES,
    RECORD_MARK,
    operand_words,
    record_words,
)
from codegen.accel.lower import NOALIAS, SPECIALIZE
from isa.binary import Binary
from isa.emulator import Emulator
from isa.errors import DeviceAssertError, EmulatorError
from isa.errors import OutOfBoundsError as IsaOOB
from isa.memory import Hbm

HBM_BASE = 4096
ALIGN = 64
DEFAULT_CONFIG = "nc-v2"  # the machine target="accel" compiles for unless config= names one
MAX_VARIANTS = 8  # value-specialized builds per kernel (run-time strides); more run generic
MIN_BATCH_GRID = 24  # smaller grids run the unbatched build (faster below ~24 programs: measured)


def config_name(config) -> str:
    """A launch's config= as a machine name of `isa.machine.CONFIGS` (ValueError otherwise)."""
    from isa.machine import CONFIGS

    name = config.lower() if isinstance(config, str) else None
    if name not in CONFIGS:
        raise ValueError(
            f"unknown accelerator config {config!r}; known: {', '.join(sorted(CONFIGS))}"
        )
    return name


def accel_target_name(config, num_stages) -> str:
    """The kernel-cache target of an accel launch with config=/num_stages= (either may be
    None): "accel", or "accel@<machine>[:stages=<n>]" (read back by `parse_target_name`)."""
    name = DEFAULT_CONFIG if config is None else config_name(config)
    if num_stages is not None:
        if isinstance(num_stages, bool) or not isinstance(num_stages, int) or num_stages < 1:
            raise ValueError(f"num_stages must be an integer >= 1, got {num_stages!r}")
        return f"accel@{name}:stages={num_stages}"
    return "accel" if name == DEFAULT_CONFIG else f"accel@{name}"


def parse_target_name(target: str) -> tuple[str, int | None]:
    """(machine, num_stages) of a target named by `accel_target_name`."""
    rest = target.removeprefix("accel").removeprefix("@") or DEFAULT_CONFIG
    name, _, stages = rest.partition(":stages=")
    return name, int(stages) if stages else None


class AccelExecutionError(RuntimeError):
    """The emulated accelerator faulted while running a kernel (the message names the line)."""


class AccelAsm(dict):
    """`asm["tile"]`, `asm["llir"]`, `asm["accel"]` (annotated disassembly; also `asm["asm"]`)."""

    def __init__(self, tile: str, llir: str, binary: bytes) -> None:
        super().__init__(tile=tile, llir=llir, binary=binary)

    def __missing__(self, key):
        if key in ("accel", "asm"):
            from codegen.accel.emit import annotate

            text = annotate(Binary.from_bytes(self["binary"]))
            self["accel"] = self["asm"] = text
            return text
        raise KeyError(f"{key!r}: available are 'tile', 'llir', 'accel', 'asm', 'binary'")


class AccelKernel:
    def __init__(self, binary: bytes, meta: dict) -> None:
        self.meta = meta
        self.binary = Binary.from_bytes(binary)
        self.emulator = Emulator(self.binary, meta["config"])
        kinds = [t for _n, t in meta["params"]]
        self.n = len(kinds)
        self.ptr_params = [i for i, t in enumerate(kinds) if t.startswith("ptr<")]
        self.float_params = {i for i, t in enumerate(kinds) if t in ("fp16", "bf16", "fp32")}
        self.stored = set(meta["stored"])
        self.cols = {int(k): v for k, v in meta.get("cols", {}).items()}
        self.last_wall_s = 0.0
        self.record_config: str | None = None  # set by jitlang.testing.profile
        # set by jitlang.testing.profile(timing_only=True): the emulator runs addresses, the
        # scoreboard and the timing model only; no tile data is computed or copied back
        self.timing_only = False
        self._lock = threading.Lock()
        self.last_records: list = []
        syms = dict(self.binary.symbols)
        # argument pairs the code assumes do not overlap (a hoisted load past stores); a launch
        # where they do runs `rebuild()`, the build without that step (set by the compiler)
        self.noalias = [tuple(p) for p in json.loads(_blob(self.binary, NOALIAS) or "[]")]
        self.rebuild = None
        self._fallback = None
        # integer arguments (indices) that are run-time strides of indirect DMAs: a launch runs
        # `respecialize(values)`, a build with their values compiled in (set by the compiler)
        self.specialize = json.loads(_blob(self.binary, SPECIALIZE) or "[]")
        self.respecialize = None
        self._variants: dict[tuple, AccelKernel] = {}
        # program batching (jitlang.passes.accel_batch): this build runs `batch` program ids of
        # grid axis 0 per program and takes the grid's axis-0 size as a last parameter; an
        # unbatched build of a batchable kernel runs large grids through `batched()` (set by
        # the compiler) unless `batching` is off
        self.batch = int(meta.get("batch", 0))
        self.batched = None
        self.batching = True
        self._batched: AccelKernel | None = None
        self.batch_error: str | None = None  # why the batched build failed to compile
        self.log_at = syms.get(PRINT_LOG)  # device_print: the log header's data offset
        self.print_sites, self.log_bytes = [], 0
        if self.log_at is not None:
            self.log_bytes = struct.unpack_from("<I", self.binary.data, self.log_at + 4)[0]
            at = syms[PRINT_SITES]
            self.print_sites = json.loads(bytes(self.binary.data[at : self.log_at]).rstrip(b"\0"))

    def launch(self, grid, args) -> None:
        with self._lock:  # one emulator per kernel: launches from several threads take turns
            self._launch(grid, args)

    def _launch(self, grid, args, programs: int | None = None) -> None:
        """Run the launch; `programs`: only the first that many programs of grid axis 0 (as
        this build counts them: batched ones when batched) run, with the grid's sizes unchanged
        for the kernel (a timing probe)."""
        if (
            programs is None
            and self.batched is not None
            and self.batching
            and int(grid[0]) >= MIN_BATCH_GRID
        ):
            if self.batch_error is None:
                try:  # the fastest batched build for this launch's shape (BatchChoice)
                    self._batched = self.batched(self, grid, args)
                except Exception as e:  # the unbatched build still runs the kernel
                    self.batch_error = f"{type(e).__name__}: {e}"
            if self._batched is not None:
                return self._delegate(self._batched, grid, args)
        n = self.n - (1 if self.batch else 0)  # the grid size parameter is not an argument
        vals = list(args[:n])
        ext = list(args[n:])
        ranges = [(ext[2 * j], ext[2 * j + 1]) for j in range(len(self.ptr_params))]
        if self.specialize and self.respecialize is not None:
            key = tuple(int(vals[i]) for i in self.specialize)
            variant = self._variants.get(key)
            if variant is None and len(self._variants) < MAX_VARIANTS:
                variant = self._variants[key] = self.respecialize(key)
            if variant is not None:
                keep = [v for i, v in enumerate(vals) if i not in self.specialize]
                return self._delegate(variant, grid, keep + ext, programs)
        if self.noalias and self._overlap(ranges):
            if self._fallback is None:
                self._fallback = self.rebuild()
            return self._delegate(self._fallback, grid, args, programs)
        regions, slots, cursor = _place(ranges)
        data = np.zeros(cursor + ALIGN, np.uint8)
        if not self.timing_only:  # a timing-only run reads no tile data: the zeros do
            for (lo, hi), s in zip(regions, slots, strict=True):
                data[s : s + hi - lo] = _host(lo, hi)
        names = [self.meta["params"][i][0] for i in self.ptr_params]
        hbm_regions = [(s, s + hi - lo, "array") for (lo, hi), s in zip(regions, slots)]
        for j, i in enumerate(self.ptr_params):
            lo, hi = ranges[j]
            k = _region_of(regions, lo, hi)
            vals[i] = slots[k] + (vals[i] - regions[k][0]) if k >= 0 else 0
            if k >= 0:
                hbm_regions = [
                    (s, e, names[j]) if s == slots[k] and n == "array" else (s, e, n)
                    for s, e, n in hbm_regions
                ]
        for i in self.float_params:
            vals[i] = int(np.array([vals[i]], np.float32).view(np.uint32)[0])
        if self.batch:
            vals.append(int(grid[0]))
            grid = (-(-int(grid[0]) // self.batch), int(grid[1]), int(grid[2]))
        if programs is not None:
            grid = (min(int(grid[0]), programs), int(grid[1]), int(grid[2]))
        data_base = 0
        if self.binary.data:  # the data section (and the print log after it) follows the arrays
            data_base = cursor
            extra = -(-(len(self.binary.data) + self.log_bytes) // ALIGN) * ALIGN
            data = np.concatenate([data[:cursor], np.zeros(extra + ALIGN, np.uint8)])
            data[data_base : data_base + len(self.binary.data)] = np.frombuffer(
                self.binary.data, np.uint8
            )
            hbm_regions.append((data_base, data_base + extra, "the data section"))
        hbm = Hbm(data, hbm_regions)
        emu, record = self.emulator, self.record_config is not None
        if record and self.record_config != self.meta["config"]:
            emu = Emulator(self.binary, self.record_config)
        t0 = time.perf_counter()
        from jitlang.progress import program_bar

        total = int(grid[0]) * int(grid[1]) * int(grid[2])
        progress, close_bar = program_bar(total, f"emulating {self.meta.get('name', 'kernel')}")
        try:
            run_args = (hbm, np.array(vals, np.int64), tuple(grid), data_base, record)
            extra = {"progress": progress} if progress is not None else {}
            if self.timing_only:
                records, _ = emu.run(*run_args, timing_only=True, **extra)
            else:
                records, _ = emu.run(*run_args, **extra)
        except EmulatorError as e:
            raise self._error(e) from None
        finally:
            close_bar()
            emu.release()  # a compiled kernel must not pin a core's on-chip memory
        self.last_records = records if record else []
        self.last_wall_s = time.perf_counter() - t0
        if self.timing_only:
            return  # nothing was computed: the caller's arrays keep their values
        if self.log_at is not None:
            _print_log(data[data_base + self.log_at :], self.print_sites, self.log_bytes)
        written = {
            _region_of(regions, *ranges[j])
            for j, i in enumerate(self.ptr_params)
            if i in self.stored
        }
        for k in sorted(w for w in written if w >= 0):
            lo, hi = regions[k]
            _host(lo, hi)[...] = data[slots[k] : slots[k] + hi - lo]

    def _delegate(self, other: AccelKernel, grid, args, programs: int | None = None) -> None:
        """Run another build of this kernel for this launch, as if it were this one."""
        other.record_config, other.timing_only = self.record_config, self.timing_only
        other._launch(grid, args, programs)
        self.last_records, self.last_wall_s = other.last_records, other.last_wall_s

    def _overlap(self, ranges) -> bool:
        at = {i: ranges[j] for j, i in enumerate(self.ptr_params)}
        for a, b in self.noalias:
            (lo_a, hi_a), (lo_b, hi_b) = at[a], at[b]
            if lo_a < hi_b and lo_b < hi_a:
                return True
        return False

    def _error(self, e: EmulatorError):
        from runtime.cpu_driver import DeviceAssertionError, OutOfBoundsError

        if isinstance(e, DeviceAssertError):
            sites = self.meta.get("assert_sites", [])
            msg, loc = sites[e.code] if e.code < len(sites) else ("", "")
            text = f"{loc}: device assertion failed in program {e.program}"
            return DeviceAssertionError(text + (f": {msg}" if msg else ""))

        line = getattr(e, "line", 0) or 0
        file = self.binary.file
        where = f"{file}:{line}:{self.cols.get(line, 0) + 1}" if line else file
        program = getattr(e, "program", None)
        at = f", pc {e.pc} ({e.mnemonic})" if getattr(e, "pc", -1) >= 0 else ""
        msg = getattr(e, "message", None)
        body = f"{e.kind}: {msg}" if msg is not None else str(e)
        text = f"{where}: {body} (program {program}{at})"
        if isinstance(e, IsaOOB):
            return OutOfBoundsError(text)
        return AccelExecutionError(text)


def _print_log(log: np.ndarray, sites: list, capacity: int) -> None:
    """Print the records of a launch's print log (codegen.accel.debug) as the CPU prints them:
    one line per element, `pid (x, y, z) [idx (i, ...)] <prefix>[ (operand k)] <value>`."""
    used = int(log[:4].view(np.uint32)[0])
    words = log[LOG_HEADER : LOG_HEADER + min(used, capacity)].view(np.uint32)
    lines, k = [], 0
    while k + 4 <= len(words) and int(words[k]) >> 24 == RECORD_MARK >> 24:
        site, x, y, z = (int(w) for w in words[k : k + 4])
        prefix, hex_, operands, _loc = sites[site & 0xFFFFFF]
        if k + record_words(operands) > len(words):
            break
        k += 4
        head = f"pid ({x}, {y}, {z})"
        if not operands:
            lines.append(f"{head} {prefix}")
        cols = []
        for dt, shape in operands:
            n = operand_words(dt, shape)
            vals = words[k : k + n]
            k += n
            if n != math.prod(shape):  # 64-bit integers: (low, high) word pairs
                vals = vals.view(np.uint64) if dt != "int64" else vals.view(np.int64)
            cols.append(vals)
        # element by element, every operand of an element together (the operands of one print
        # have one shape, or are all scalars), as the CPU walks them
        shape = operands[0][1] if operands else []
        sep = "" if prefix.endswith((" ", ":")) or not prefix else " "
        for e in range(math.prod(shape)):
            where = head
            if shape:
                where += " idx (" + ", ".join(str(int(i)) for i in np.unravel_index(e, shape)) + ")"
            for j, ((dt, _), vals) in enumerate(zip(operands, cols, strict=True)):
                text = _print_value(dt, int(vals[e]), hex_)
                suffix = f" (operand {j})" if len(operands) > 1 else ""
                lines.append(f"{where} {prefix}{suffix}{sep}{text}")
    if lines:
        print("\n".join(lines), file=sys.stdout)
    if used > capacity:
        warnings.warn(
            f"device_print: the print log holds {capacity} bytes; {used - capacity} bytes of "
            "records were dropped",
            RuntimeWarning,
            stacklevel=4,
        )


def _print_value(dt: str, w: int, hex_: bool) -> str:
    """One element's text, as runtime.cpu_driver formats it."""
    mask = 2**64 - 1
    if dt.startswith("fp") or dt == "bf16":
        val = float(np.array([w & 0xFFFFFFFF], np.uint32).view(np.float32)[0])
        return val.hex() if hex_ else repr(val)
    if dt == "ptr":
        return hex(w & mask)
    if dt.startswith("uint"):
        return hex(w & mask) if hex_ else str(w & mask)
    if dt != "int64":
        w = int(np.array([w & 0xFFFFFFFF], np.uint32).view(np.int32)[0])
    if hex_:
        return hex(w & mask)
    return str(bool(w)) if dt == "int1" else str(w)


def _blob(binary: Binary, name: str) -> bytes | None:
    """Data-section blob `name` (up to the next symbol; trailing padding dropped)."""
    offs = sorted(off for _, off in binary.symbols)
    at = dict(binary.symbols).get(name)
    if at is None:
        return None
    end = next((o for o in offs if o > at), len(binary.data))
    return bytes(binary.data[at:end]).rstrip(b"\0")


def _host(lo: int, hi: int) -> np.ndarray:
    return np.frombuffer((ctypes.c_uint8 * (hi - lo)).from_address(lo), np.uint8)


def _place(ranges) -> tuple[list, list[int], int]:
    """The arrays' merged byte ranges, the emulated HBM address of each and the end of the last
    (the launch's HBM layout: from `HBM_BASE`, each region `ALIGN`-aligned)."""
    regions = _merge([r for r in ranges if r[1] > r[0]])
    slots, cursor = [], HBM_BASE
    for lo, hi in regions:
        slots.append(cursor)
        cursor += -(-(hi - lo) // ALIGN) * ALIGN
    return regions, slots, cursor


def _merge(ranges):
    out: list[list[int]] = []
    for lo, hi in sorted(set(ranges)):
        if out and lo < out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [tuple(r) for r in out]


def _region_of(regions, lo, hi) -> int:
    for k, (a, b) in enumerate(regions):
        if a <= lo and hi <= b and hi > lo:
            return k
    return -1


def compile_accel_kernel(
    runtime,
    jf,
    key,
    config: str = DEFAULT_CONFIG,
    steps=None,
    num_stages: int | None = None,
    batch_shape: tuple[int, int, bool] | None = None,
):
    """Build (or fetch from the disk cache) the accel binary of one specialization; `steps`:
    the backend's optimisation steps (default: all, `codegen.accel.target.OPT_STEPS`);
    `num_stages`: the launch's multi-buffering request (`CompileOptions.num_stages`)."""
    from codegen.accel.target import accel_target

    over = {} if steps is None else {"steps": tuple(steps)}
    target = accel_target(config, num_stages=num_stages, **over)
    compiled = _compile_for(runtime, jf, key, target, num_stages, batch_shape)
    native = compiled.native
    names = [n for n, _t in native.meta["params"]]
    # value-specialized builds need each specialized value to be a kernel argument (the parts
    # of a tensor descriptor are not: those kernels keep their generic build)
    if native.specialize and all(names[i] in jf.arg_names for i in native.specialize):
        where = [jf.arg_names.index(names[i]) for i in native.specialize]

        def respecialize(values):
            k = list(key)
            for at, v in zip(where, values, strict=True):
                k[at] = ("c", v)
            return compile_accel_kernel(
                runtime, jf, tuple(k), config, steps, num_stages, batch_shape
            ).native

        native.respecialize = respecialize
    if native.meta.get("batchable") and "batch_programs" not in target.steps:
        more = tuple(target.steps) + ("batch_programs",)
        cache = runtime.disk_cache
        store = None
        if cache is not None:
            batched = accel_target(config, num_stages=num_stages, steps=more)
            store = ChoiceStore(cache, _digest(jf, key, batched, num_stages))
        native.batched = BatchChoice(
            lambda shape: (
                compile_accel_kernel(runtime, jf, key, config, more, num_stages, shape).native
            ),
            target.partitions,
            store,
        )
    if native.noalias:
        fewer = tuple(s for s in target.steps if s != "hoist_loads")
        compiled.native.rebuild = lambda: (
            compile_accel_kernel(runtime, jf, key, config, fewer, num_stages, batch_shape).native
        )
    return compiled


# the batched builds a launch chooses from, as (groups, group_major) over all partitions
# (CompileOptions.batch_shape); measured on 4096x1024 fp32 rows (tests/e2e/test_accel_batch_choice):
# softmax is fastest with 4 groups on nc-v2 and 2 group-major ones on nc-v3, layer norm with 2
# interleaved groups, vector add with 1
BATCH_SHAPES: tuple[tuple[int, bool], ...] = ((1, False), (2, False), (2, True), (4, False))


class BatchChoice:
    """`choice(kernel, grid, args)`: the batched build of `kernel` (an unbatched build of a
    batchable kernel) that the timing model finds fastest for this launch, among the builds of
    `BATCH_SHAPES`, each compiled (and disk-cached) by `build(shape)` on first use.

    Each candidate is timed on the machine it was compiled for by timing-only emulation of a
    prefix of the launch with the launch's own arguments: the first n programs of grid axis 0,
    with n one round of programs over the cores (a batched program's cost is its whole row
    group, the same for every round) and 2n; when the whole grid is that small it runs whole,
    else the time extrapolates linearly to the grid. Deterministic; the choice is kept per
    `launch_key` (`chosen`), the seconds spent choosing (candidate builds and probes) in
    `probe_s`. A kernel that timing-only emulation cannot run (control flow on loaded data)
    gets the default shape.

    With a `ChoiceStore`, a choice is also written to the disk cache and read back by a later
    process, which then loads the chosen build only: no other candidate, no probe.
    """

    def __init__(self, build, partitions: int, store: ChoiceStore | None = None) -> None:
        self.build, self.partitions, self.store = build, partitions, store
        self.builds: dict[tuple, AccelKernel] = {}
        self.chosen: dict[tuple, AccelKernel] = {}
        self.modelled: dict[tuple, dict[tuple, float]] = {}  # per launch key: ns per candidate
        self.probe_s = 0.0
        self.disk_hits = 0  # choices read back from the disk cache
        self.probe_error: str | None = None  # why timing failed (the default shape was used)
        self.default = (partitions, 2, False)  # CompileOptions.batch_shape's default

    def __call__(self, kernel: AccelKernel, grid, args) -> AccelKernel:
        key = launch_key(kernel, grid, args)
        hit = self.chosen.get(key)
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        try:
            stored = self.store.get(key) if self.store is not None else None
            if stored is not None:
                shape, times = stored
                self.disk_hits += 1
                chosen = self._get(shape)
            else:
                shape, times = self._probe(grid, args)
                chosen = self._get(shape)
                if self.store is not None and self.probe_error is None:
                    self.store.put(key, shape, times)
        finally:
            self.probe_s += time.perf_counter() - t0
        self.modelled[key] = times
        self.chosen[key] = chosen
        return chosen

    def _probe(self, grid, args) -> tuple[tuple[int, int, bool], dict[tuple, float]]:
        """(the requested shape of the fastest candidate, modelled ns per built shape)."""
        try:
            times, best = {}, None
            for groups, major in BATCH_SHAPES:
                shape = (self.partitions, groups, major)
                if self._same_as_built(shape):
                    continue
                k = self._get(shape)
                built = (k.batch, int(k.meta.get("batch_groups", 0)), major)
                if built in times or not k.batch:  # a fallback shape already timed, or unbatched
                    continue
                times[built] = _modelled_ns(k, grid, args)
                if best is None or times[built] < times[best[0]]:  # ties: the earlier shape
                    best = (built, shape)
            return (best[1] if best is not None else self.default), times
        except Exception as e:  # e.g. control flow on loaded data (no timing-only run)
            self.probe_error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            return self.default, {}

    def _same_as_built(self, shape: tuple[int, int, bool]) -> bool:
        """Whether `shape`'s build would be one already built, so it need not be compiled: a
        request for g interleaved groups tries g, g - 1, ..., 2 groups, then one group of fewer
        programs; when a request for fewer groups fell back (its tiles do not fit on chip), the
        larger request (more tiles live at once) fails down to that request and falls back the
        same way."""
        _p, groups, major = shape
        for (_p2, want, major2), k in self.builds.items():
            got = int(k.meta.get("batch_groups", 0))
            if not major and not major2 and got < want <= groups:
                return True
        return False

    def _get(self, shape: tuple[int, int, bool]) -> AccelKernel:
        k = self.builds.get(shape)
        if k is None:
            k = self.builds[shape] = self.build(shape)
        return k


def launch_key(kernel: AccelKernel, grid, args) -> tuple:
    """What a launch's batched-build choice depends on besides the builds themselves: the grid,
    the non-pointer argument values (loop bounds, strides, float scalars) and the arrays' layout
    as the kernel sees it: which pointers share a region, each pointer's offset in its region and
    the regions' sizes (the timing model charges a DMA by its shape and strides, and orders DMAs
    by the byte ranges they touch, so where a region lands in HBM does not matter, nor the order
    the host allocated the arrays in). Not the arrays' contents: timing-only emulation reads none.
    """
    n = kernel.n - (1 if kernel.batch else 0)
    ptrs = set(kernel.ptr_params)
    ext = list(args[n:])
    ranges = [(int(ext[2 * j]), int(ext[2 * j + 1])) for j in range(len(kernel.ptr_params))]
    regions = _merge([r for r in ranges if r[1] > r[0]])
    seen: dict[int, int] = {}  # region index -> its number in the pointers' order
    where = []
    for j, i in enumerate(kernel.ptr_params):
        k = _region_of(regions, *ranges[j])
        if k < 0:
            where.append(None)
            continue
        number = seen.setdefault(k, len(seen))
        where.append((number, int(args[i]) - regions[k][0]))
    sizes = [0] * len(seen)
    for k, number in seen.items():
        sizes[number] = regions[k][1] - regions[k][0]
    return (
        tuple(int(g) for g in grid),
        tuple(v for i, v in enumerate(args[:n]) if i not in ptrs),
        tuple(where),
        tuple(sizes),
    )


class ChoiceStore:
    """Batched-build choices in the disk cache (`runtime.cache.DiskCache`, atomic writes), one
    entry per launch key under a digest of `builds` (the digest every candidate's cache key
    derives from: kernel sources, specialization, target and its steps, stages, isa sources)
    and the candidate list. An entry holds the chosen shape and each candidate's modelled ns."""

    def __init__(self, cache, builds: str) -> None:
        self.cache, self.builds = cache, builds

    def digest(self, key: tuple) -> str:
        parts = ("batch_choice", self.builds, BATCH_SHAPES, key)
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def get(self, key: tuple) -> tuple[tuple[int, int, bool], dict[tuple, float]] | None:
        hit = self.cache.get(self.digest(key))
        if hit is None:
            return None
        try:
            _payload, meta = hit
            p, groups, major = meta["shape"]
            times = {(int(b), int(g), bool(m)): float(ns) for b, g, m, ns in meta["modelled"]}
            return (int(p), int(groups), bool(major)), times
        except (KeyError, TypeError, ValueError):  # not an entry this class wrote: probe again
            return None

    def put(self, key: tuple, shape, times: dict[tuple, float]) -> None:
        meta = {
            "shape": list(shape),
            "modelled": [[b, g, m, ns] for (b, g, m), ns in times.items()],
        }
        self.cache.put(self.digest(key), b"", meta)


def _modelled_ns(k: AccelKernel, grid, args) -> float:
    """The modelled time of launching batched build `k` on `grid` (see `BatchChoice`)."""
    from isa.machine import get_config
    from isa.timing import simulate

    cfg = get_config(k.meta["config"])
    g0, rest = int(grid[0]), int(grid[1]) * int(grid[2])
    programs = -(-g0 // k.batch)  # batched programs along axis 0
    one = -(-cfg.cores // rest)  # axis-0 programs for one program per core

    def run(n: int) -> float:
        saved = k.record_config, k.timing_only
        k.record_config, k.timing_only = cfg.name, True
        try:
            k._launch(grid, args, n)
            return simulate(k.last_records, cfg).total_ns
        finally:
            k.record_config, k.timing_only = saved
            k.last_records = []

    if programs <= 2 * one:
        return run(programs)
    t1, t2 = run(one), run(2 * one)
    return t2 + (programs - 2 * one) * (t2 - t1) / one


def _digest(jf, key, target, num_stages=None, batch_shape=None) -> str:
    """The disk-cache key of one accel build."""
    from jitlang.jit import isa_source_hash

    name = jf.fn.__name__
    # the compiler's own sources are in the cache's version; the assembler's are here
    parts = (jf.dependency_hash(), key, "accel", name, target.key, num_stages, isa_source_hash())
    if batch_shape is not None:  # (absent from the key when unset: existing entries stay)
        parts += (("batch_shape", tuple(batch_shape)),)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _compile_for(runtime, jf, key, target, num_stages=None, batch_shape=None):
    digest = _digest(jf, key, target, num_stages, batch_shape)
    cache = runtime.disk_cache
    hit = cache.get(digest) if cache is not None else None
    if hit is not None:
        try:
            return _load(jf, key, *hit)
        except Exception:
            pass  # an unloadable entry is rebuilt below
    binary, meta = _build(runtime, jf, key, target, num_stages, batch_shape)
    if cache is not None:
        cache.put(digest, binary, meta)
    return _load(jf, key, binary, meta)


def _build(runtime, jf, key, target, num_stages=None, batch_shape=None):
    from jitlang.compiler import CompileOptions, compile_accel
    from jitlang.frontend.visitor import build_kernel
    from jitlang.ir import walk

    t0 = time.perf_counter()
    fn, _ctx = build_kernel(jf, jf._params(key), jf.fn.__name__)
    cols: dict[int, int] = {}
    for op in walk(fn.body):
        if op.loc.file == fn.loc.file:
            cols.setdefault(op.loc.line, op.loc.col)
    opts = CompileOptions(
        target="accel",
        dump_ir=runtime.options.dump_ir,
        dump_dir=str(runtime.options.dump_dir) if runtime.options.dump_dir else None,
        num_stages=num_stages,
        batch_shape=None if batch_shape is None else tuple(batch_shape),
    )
    res = compile_accel(fn, opts, target)
    meta = {
        "name": res.name,
        "params": res.params,
        "stored": res.stored,
        "config": res.config,
        "tile": res.tile_ir,
        "llir": res.llvm_ir,
        "num_stages": num_stages,
        "compile_seconds": time.perf_counter() - t0,
        "timings": res.timings,
        "bounds_check": True,  # the launcher appends array byte ranges: how HBM is filled
        "cols": {str(k): v for k, v in cols.items()},
        "assert_sites": [list(x) for x in res.assert_sites],
        "batch": res.batch,
        "batch_groups": res.batch_groups,
        "batchable": res.batchable,
    }
    return res.binary, meta


def _load(jf, key, binary: bytes, meta: dict):
    from .driver import CompiledKernel

    native = AccelKernel(binary, meta)
    return CompiledKernel(
        jf, key, "accel", native, meta, AccelAsm(meta["tile"], meta["llir"], binary)
    )
