"""Profiler: records + their `Timeline` -> a summary, a text table, Chrome trace JSON and a PNG.

Input: the emulator's `ExecRecord`s, the `Timeline` `isa.timing.simulate` made of them, the
`MachineConfig`. Output: a `Profile` with total time, per-engine busy time and utilisation, DMA
bytes, FLOPs, MFU, DMA bandwidth use, a roofline position and per-source-line time; exported as a
Chrome trace (opens in Perfetto / chrome://tracing) and a matplotlib timeline.

Conventions: utilisation is busy time over the whole run of the cores used (a kernel on one core
of a two-core device is measured against one core); "active" utilisation divides by the span from
an engine's first start to its last end instead. DMA utilisation is bandwidth use: bytes moved over
(run time x cores used x per-core DMA bandwidth, min(queues x queue bandwidth, HBM bandwidth)).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isa.machine import MachineConfig
from isa.timing import ENGINE_NAMES, Timeline, _jit, simulate
from isa.trace import CostKind, Engine, ExecRecord, RecordStream

__all__ = ["LineStat", "Profile", "record_flops"]

_COMPUTE = (Engine.PE, Engine.ACT, Engine.DVE, Engine.POOL)


def record_flops(record: ExecRecord) -> int:
    """FLOPs of one record: `params.flops`, or 2*K*M*N for a matmul that left it at 0."""
    return _flops(record.cost, record.params)


def _flops(kind: CostKind, p) -> int:
    if p.flops or kind != CostKind.MATMUL:
        return p.flops
    return 2 * p.k * p.m * p.free


def _dma_bytes(record: ExecRecord) -> int:
    return _bytes(record.cost, record.params)


def _bytes(kind: CostKind, p) -> int:
    if kind == CostKind.DMA:
        return p.bytes
    if kind == CostKind.ATOMIC:
        return 2 * p.bytes
    return 0


def _pe_peak_flops_per_ns(dtype_bytes: int, config: MachineConfig) -> float:
    if dtype_bytes >= 4:
        tflops = config.pe_tflops_fp32
    elif dtype_bytes == 1:
        tflops = max(config.pe_tflops_fp8, config.pe_tflops_bf16)
    else:
        tflops = config.pe_tflops_bf16
    return tflops * 1e3  # 1 TFLOP/s = 1e3 FLOP/ns


@dataclass(frozen=True)
class LineStat:
    """What one kernel source line cost (line 0 collects records without a line)."""

    line: int
    instructions: int
    busy_ns: float  # engine/queue occupancy summed over the line's records
    engines: dict[str, float]  # busy ns per engine name
    dma_bytes: int
    flops: int


@dataclass
class Profile:
    records: Sequence[ExecRecord]
    timeline: Timeline
    config: MachineConfig
    flops: int
    pe_flops: int
    pe_ideal_ns: float  # time the PE needs for `pe_flops` at the peak of each matmul's dtype
    dma_bytes: int
    engine_counts: dict[str, int]
    active_ns: dict[str, float]  # per engine: first start to last end, summed over cores
    dma_queue_busy_ns: dict[tuple[int, int], float] = field(default_factory=dict)
    mode: str = "numeric"  # how the records were produced: "numeric" or "timing-only"

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        records: Sequence[ExecRecord],
        timeline: Timeline,
        config: MachineConfig,
        mode: str = "numeric",
    ) -> Profile:
        """Summarise `records` as timed by `timeline` (from `simulate(records, config)`).
        `mode` says which emulation produced the records ("numeric" or "timing-only")."""
        if mode not in ("numeric", "timing-only"):
            raise ValueError(f"mode must be 'numeric' or 'timing-only', got {mode!r}")
        if len(records) != len(timeline.starts_ns):
            raise ValueError(
                f"timeline has {len(timeline.starts_ns)} entries for {len(records)} records; "
                "pass the records that were given to simulate()"
            )
        cols = _Columns(records, config)
        eng, starts, ends = cols.engine, timeline.starts_ns, timeline.ends_ns
        counts = dict.fromkeys(ENGINE_NAMES, 0)
        for e, c in enumerate(np.bincount(eng, minlength=len(ENGINE_NAMES)).tolist()):
            counts[ENGINE_NAMES[e]] += c
        pe = (eng == Engine.PE) & (cols.flops != 0)
        dma = np.flatnonzero(eng == Engine.DMA)
        n_eng = len(Engine)
        n_cores = int(cols.core.max()) + 1 if len(eng) else 0
        n_queues = int(cols.queue[dma].max()) + 1 if len(dma) else 1
        first, last, seen = _spans(cols.core * n_eng + eng, starts, ends, n_cores * n_eng)
        busy, used = _sums(cols.core[dma] * n_queues + cols.queue[dma], ends[dma] - starts[dma],
                           n_cores * n_queues)  # fmt: skip
        queue_busy = {divmod(k, n_queues): float(busy[k]) for k in used.tolist()}
        active = dict.fromkeys(ENGINE_NAMES, 0.0)
        for k in seen.tolist():  # in order of first appearance, as the sum always ran
            active[ENGINE_NAMES[k % n_eng]] += float(last[k]) - float(first[k])
        flops = int(cols.flops.sum())
        pe_flops = int(cols.flops[pe].sum())
        pe_ideal = _sum_in_order(cols.pe_ns[pe])
        dma_bytes = int(cols.dma_bytes[dma].sum())
        return cls(
            records=records,
            timeline=timeline,
            config=config,
            flops=flops,
            pe_flops=pe_flops,
            pe_ideal_ns=pe_ideal,
            dma_bytes=dma_bytes,
            engine_counts=counts,
            active_ns=active,
            dma_queue_busy_ns=dict(sorted(queue_busy.items())),
            mode=mode,
        )

    @classmethod
    def from_records(
        cls, records: Sequence[ExecRecord], config: MachineConfig, mode: str = "numeric"
    ) -> Profile:
        """Simulate and summarise in one step."""
        return cls.build(records, simulate(records, config), config, mode)

    # --- numbers --------------------------------------------------------------------------------

    @property
    def cores_used(self) -> int:
        return self.timeline.cores_used

    @property
    def time_ns(self) -> float:
        return self.timeline.total_ns

    def _capacity_ns(self) -> float:
        """Run time times cores used: what 100% of one engine kind would be."""
        return self.time_ns * self.cores_used

    def dma_bw_utilization(self) -> float:
        cap = self._capacity_ns() * self.config.dma_bytes_per_ns
        return self.dma_bytes / cap if cap else 0.0

    def mfu(self) -> float:
        cap = self._capacity_ns()
        return self.pe_ideal_ns / cap if cap else 0.0

    def peak_flops_per_ns(self) -> float:
        """PE peak of one core for this kernel's dtype mix (bf16 when it has no matmul)."""
        if self.pe_ideal_ns:
            return self.pe_flops / self.pe_ideal_ns
        return _pe_peak_flops_per_ns(2, self.config)

    def roofline(self) -> dict:
        """Where the kernel sits: arithmetic intensity over DMA bytes vs the machine's ridge."""
        cores = self.cores_used
        peak = self.peak_flops_per_ns() * cores
        bw = self.config.dma_bytes_per_ns * cores
        intensity = self.flops / self.dma_bytes if self.dma_bytes else float("inf")
        attainable = min(peak, intensity * bw)
        achieved = self.flops / self.time_ns if self.time_ns else 0.0
        return {
            "arithmetic_intensity": intensity,  # FLOP per DMA byte
            "ridge_point": peak / bw,  # FLOP per byte where memory and compute bounds meet
            "bound": "memory" if intensity < peak / bw else "compute",
            "peak_flops_per_s": peak * 1e9,
            "bandwidth_bytes_per_s": bw * 1e9,
            "attainable_flops_per_s": attainable * 1e9,
            "achieved_flops_per_s": achieved * 1e9,
            "fraction_of_attainable": achieved / attainable if attainable else 0.0,
        }

    def summary(self) -> dict:
        """Every headline number as plain Python values (JSON-serialisable)."""
        cap = self._capacity_ns()
        busy = self.timeline.busy_ns
        engines = {}
        for name in ("PE", "ACT", "DVE", "POOL", "DMA", "SEQ"):
            active = self.active_ns[name]
            engines[name] = {
                "busy_ns": busy[name],
                "utilization": busy[name] / cap if cap else 0.0,
                "active_utilization": busy[name] / active if active else 0.0,
                "instructions": self.engine_counts[name],
            }
        # DMA: bandwidth use instead of occupancy (busy_ns is summed over the queues)
        dma, active = engines["DMA"], self.active_ns["DMA"]
        dma["utilization"] = self.dma_bw_utilization()
        dma["active_utilization"] = (
            self.dma_bytes / (active * self.config.dma_bytes_per_ns) if active else 0.0
        )
        dma["queues_used"] = len(self.dma_queue_busy_ns)
        queue_cap = cap * self.config.dma_queues
        dma["queue_occupancy"] = busy["DMA"] / queue_cap if queue_cap else 0.0
        return {
            "config": self.config.name,
            "mode": self.mode,
            "cores_used": self.cores_used,
            "cycles": self.timeline.cycles,
            "time_ns": self.time_ns,
            "engines": engines,
            "dma_bytes": self.dma_bytes,
            "flops": self.flops,  # every engine's (the emulator counts elementwise ops too)
            "pe_flops": self.pe_flops,  # the tensor engine's: what MFU measures
            "mfu": self.mfu(),
            "dma_bw_utilization": self.dma_bw_utilization(),
            "instructions": len(self.records),
            "roofline": self.roofline(),
        }

    def by_line(self) -> dict[int, LineStat]:
        """Time per kernel source line, ordered by line number."""
        cols = _Columns(self.records, self.config)
        occ = self.timeline.ends_ns - self.timeline.starts_ns
        acc: dict[int, list] = {}
        for (line,), at in _groups(cols.line, 0):
            engines = {
                ENGINE_NAMES[e]: _sum_in_order(occ[at[on]])
                for (e,), on in _groups(cols.engine[at], 0)
            }
            acc[line] = [
                len(at),
                _sum_in_order(occ[at]),
                engines,
                int(cols.dma_bytes[at].sum()),
                int(cols.flops[at].sum()),
            ]
        return {line: LineStat(line, *acc[line]) for line in sorted(acc)}

    # --- presentation ---------------------------------------------------------------------------

    def format(self, top_lines: int = 10) -> str:
        """A readable text report."""
        s = self.summary()
        cfg = self.config
        out = [
            f"accelerator profile: {cfg.name}, {s['cores_used']} core(s), "
            f"{s['instructions']} instructions ({self.mode} emulation)",
            f"total {s['time_ns'] / 1e3:,.3f} us = {s['cycles']:,} cycles at the PE clock "
            f"({cfg.pe_clock_ghz} GHz)",
            "",
            f"{'engine':<8}{'busy us':>12}{'util':>8}{'active':>8}{'instrs':>9}",
        ]
        for name, e in s["engines"].items():
            out.append(
                f"{name:<8}{e['busy_ns'] / 1e3:>12,.3f}{e['utilization']:>8.1%}"
                f"{e['active_utilization']:>8.1%}{e['instructions']:>9,}"
            )
        out.append(
            "(util: of the run; active: from the engine's first start to its last end; DMA: "
            "bandwidth use, busy summed over queues)"
        )
        roof = s["roofline"]
        out += [
            "",
            f"DMA   {s['dma_bytes']:,} bytes, {s['dma_bw_utilization']:.1%} of "
            f"{cfg.dma_bytes_per_ns:g} B/ns per core",
            f"FLOPs {s['flops']:,} ({s['pe_flops']:,} on the PE), MFU {s['mfu']:.1%}",
            f"roofline: {roof['arithmetic_intensity']:.1f} FLOP/B (ridge "
            f"{roof['ridge_point']:.1f}), {roof['bound']}-bound, achieved "
            f"{roof['achieved_flops_per_s'] / 1e12:.2f} of "
            f"{roof['attainable_flops_per_s'] / 1e12:.2f} attainable TFLOP/s",
        ]
        lines = sorted(self.by_line().values(), key=lambda x: (-x.busy_ns, x.line))[:top_lines]
        if lines:
            out += ["", f"{'line':>6}{'busy us':>12}{'instrs':>9}  engines"]
            for st in lines:
                engines = ", ".join(
                    f"{k} {v / 1e3:.2f}" for k, v in sorted(st.engines.items()) if v
                )
                out.append(
                    f"{st.line:>6}{st.busy_ns / 1e3:>12,.3f}{st.instructions:>9,}  {engines}"
                )
        return "\n".join(out)

    def _lane(self, r: ExecRecord) -> tuple[int, str]:
        """The trace thread (id, name) of a record: one per engine, one per DMA queue."""
        if r.engine == Engine.DMA:
            return 16 + r.queue, f"DMA q{r.queue}"
        return int(r.engine), ENGINE_NAMES[r.engine]

    def chrome_trace(self) -> dict:
        """The Chrome trace event document (see `write_chrome_trace`)."""
        events: list[dict] = []
        lanes: dict[tuple[int, int], str] = {}
        starts, ends = self.timeline.starts_ns, self.timeline.ends_ns
        for i, r in enumerate(self.records):
            tid, lane = self._lane(r)
            lanes[(r.core, tid)] = lane
            args = {"pc": r.pc, "line": r.line, "program": r.program}
            if r.params.bytes:
                args["bytes"] = r.params.bytes
            flops = record_flops(r)
            if flops:
                args["flops"] = flops
            events.append(
                {
                    "name": r.mnemonic,
                    "cat": ENGINE_NAMES[r.engine],
                    "ph": "X",
                    "pid": r.core,
                    "tid": tid,
                    "ts": float(starts[i]) / 1e3,
                    "dur": float(ends[i] - starts[i]) / 1e3,
                    "args": args,
                }
            )
        meta: list[dict] = []
        for core in sorted({core for core, _ in lanes}):
            meta.append(_meta("process_name", core, 0, {"name": f"core {core}"}))
            meta.append(_meta("process_sort_index", core, 0, {"sort_index": core}))
        for (core, tid), lane in sorted(lanes.items()):
            meta.append(_meta("thread_name", core, tid, {"name": lane}))
            meta.append(_meta("thread_sort_index", core, tid, {"sort_index": tid}))
        return {
            "traceEvents": meta + events,
            "displayTimeUnit": "ns",
            "otherData": {"config": self.config.name, "time_ns": self.time_ns},
        }

    def write_chrome_trace(self, path: str | Path) -> Path:
        """Write Chrome trace event JSON: a process per core, a thread per engine / DMA queue."""
        path = Path(path)
        # json.dumps runs the C encoder; json.dump to a file streams through the Python one
        path.write_text(json.dumps(self.chrome_trace(), separators=(",", ":")))
        return path

    def plot(self, path: str | Path, max_legend: int = 12, max_rows: int = 48) -> Path:
        """Write a timeline PNG: one row per engine (and DMA queue) per core, bars by mnemonic.

        Beyond `max_rows` rows the DMA queues of a core share one row (drawn translucent).
        """
        # the object API with an Agg canvas: no pyplot global state, no display needed
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        path = Path(path)
        starts = self.timeline.starts_ns / 1e3
        widths = (self.timeline.ends_ns - self.timeline.starts_ns) / 1e3
        lanes = {(r.core, self._lane(r)[0]) for r in self.records}
        merge_dma = len(lanes) > max_rows
        rows: dict[tuple[int, int], str] = {}
        groups: dict[tuple[tuple[int, int], str], list[int]] = {}
        time_by_mnemonic: dict[str, float] = {}
        for i, r in enumerate(self.records):
            tid, lane = self._lane(r)
            if merge_dma and r.engine == Engine.DMA:
                tid, lane = 16, "DMA"
            rows[(r.core, tid)] = f"c{r.core} {lane}"
            groups.setdefault(((r.core, tid), r.mnemonic), []).append(i)
            time_by_mnemonic[r.mnemonic] = time_by_mnemonic.get(r.mnemonic, 0.0) + widths[i]
        order = sorted(rows)
        y_of = {key: y for y, key in enumerate(order)}
        mnemonics = sorted(time_by_mnemonic, key=lambda m: (-time_by_mnemonic[m], m))
        palette = _palette(len(mnemonics))
        color = {m: palette[i] for i, m in enumerate(mnemonics)}

        fig = Figure(figsize=(12, 1.2 + 0.35 * max(len(order), 1)), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for (row, mnemonic), idx in sorted(groups.items()):
            ix = np.asarray(idx)
            spans = list(zip(starts[ix].tolist(), widths[ix].tolist(), strict=True))
            alpha = 0.3 if merge_dma and row[1] == 16 else 1.0
            ax.broken_barh(
                spans, (y_of[row] - 0.4, 0.8), facecolors=color[mnemonic], linewidth=0, alpha=alpha
            )
        ax.set_yticks(range(len(order)), [rows[k] for k in order])
        ax.invert_yaxis()
        ax.set_xlim(0, max(self.time_ns / 1e3, 1e-3))
        ax.set_xlabel("time (us)")
        s = self.summary()
        pe_util = s["engines"]["PE"]["utilization"]
        ax.set_title(
            f"{self.config.name}: {s['time_ns'] / 1e3:,.2f} us, PE {pe_util:.0%}, "
            f"DMA bw {s['dma_bw_utilization']:.0%}, MFU {s['mfu']:.0%}"
        )
        handles = [_legend_patch(color[m], m) for m in mnemonics[:max_legend]]
        if handles:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png")
        return path


class _Columns:
    """Per-record facts as arrays, worked out once per distinct record of the records'
    `RecordStream`: engine, core, DMA queue, source line, FLOPs, DMA bytes, and the ns the PE
    needs for the FLOPs at its peak."""

    def __init__(self, records: Sequence[ExecRecord], config: MachineConfig):
        stream = RecordStream.of(records)
        tpl = stream.templates
        # FLOPs, DMA bytes and PE ns once per body that a record has (records of one
        # instruction share it; a kept memo's stream lists bodies no record of it uses)
        per_body: dict = {}  # (params object, cost kind) -> (flops, bytes, PE ns)
        n = len(tpl.bodies)
        k_engine, k_flops, k_bytes, k_pe_ns = [0] * n, [0] * n, [0] * n, [0.0] * n
        bodies = tpl.bodies
        tids = stream.tids
        body = tpl.body[tids]  # each record's: a stream also has a template per pc
        for b in np.flatnonzero(np.bincount(body, minlength=n)).tolist():
            _, engine, kind, params, _, _ = bodies[b]
            key = (id(params), kind)
            v = per_body.get(key)
            if v is None:
                f = _flops(kind, params)
                v = per_body[key] = (
                    f,
                    _bytes(kind, params),
                    f / _pe_peak_flops_per_ns(params.dtype_bytes, config),
                )
            k_engine[b] = engine
            k_flops[b], k_bytes[b], k_pe_ns[b] = v
        self.engine = np.array(k_engine, np.int64)[body]
        self.flops = np.array(k_flops, np.int64)[body]
        self.dma_bytes = np.array(k_bytes, np.int64)[body]
        self.pe_ns = np.array(k_pe_ns, np.float64)[body]
        self.queue, self.line = tpl.queue[tids], tpl.line[tids]
        self.core = np.zeros(len(tids), np.int64)
        for start, end, _, core in stream.segments():
            self.core[start:end] = core


@_jit
def _spans(keys, starts, ends, n_keys):
    """Per key: the earliest start and latest end of its records, and the keys in order of
    first appearance."""
    first = np.full(n_keys, np.inf)
    last = np.full(n_keys, -np.inf)
    order = np.empty(n_keys, np.int64)
    n = 0
    for i in range(len(keys)):
        k = keys[i]
        if first[k] == np.inf:
            order[n] = k
            n += 1
        if starts[i] < first[k]:
            first[k] = starts[i]
        if ends[i] > last[k]:
            last[k] = ends[i]
    return first, last, order[:n]


@_jit
def _sums(keys, values, n_keys):
    """Per key: the sum of its values added left to right (as `_sum_in_order`), and the keys
    that occur, in order."""
    sums = np.zeros(n_keys)
    seen = np.zeros(n_keys, np.bool_)
    for i in range(len(keys)):
        k = keys[i]
        if seen[k]:
            sums[k] += values[i]
        else:
            sums[k] = values[i]
            seen[k] = True
    return sums, np.flatnonzero(seen)


def _groups(keys: np.ndarray, radix: int):
    """((key digits), record positions) of each distinct key, in order of first appearance;
    a key is split as (key // radix, key % radix) when radix is given."""
    if not len(keys):
        return
    uniq, first = np.unique(keys, return_index=True)
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], uniq)
    bounds = np.append(bounds, len(keys))
    for j in np.argsort(first, kind="stable").tolist():
        k = int(uniq[j])
        at = order[bounds[j] : bounds[j + 1]]
        yield ((k // radix, k % radix) if radix else (k,)), at


def _sum_in_order(values: np.ndarray) -> float:
    """values[0] + values[1] + ... added left to right (as a Python loop would: the same
    float), 0.0 for none."""
    if not len(values):
        return 0.0
    return float(np.add.accumulate(values)[-1])


def _meta(name: str, pid: int, tid: int, args: dict) -> dict:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def _palette(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def _legend_patch(color, label: str):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, label=label)


# --- machine generations side by side -------------------------------------------------------------

_COMPARED_ENGINES = ("PE", "ACT", "DVE", "POOL", "DMA")


@dataclass
class Comparison:
    """Profiles of one kernel on several machine configs (generations), side by side."""

    profiles: list[Profile]

    def summary(self) -> dict:
        """Per config: time, what bounds it (compute or memory) and each engine's utilisation
        (DMA: bandwidth use), plus the speed-up over the first config."""
        out = {}
        base = self.profiles[0].time_ns if self.profiles else 0.0
        for p in self.profiles:
            s = p.summary()
            out[p.config.name] = {
                "time_ns": s["time_ns"],
                "speedup": base / s["time_ns"] if s["time_ns"] else 0.0,
                "bound": s["roofline"]["bound"],
                "cores_used": s["cores_used"],
                "mode": s["mode"],
                "mfu": s["mfu"],
                "fraction_of_attainable": s["roofline"]["fraction_of_attainable"],
                "utilization": {e: s["engines"][e]["utilization"] for e in _COMPARED_ENGINES},
            }
        return out

    def format(self) -> str:
        s = self.summary()
        names = list(s)
        width = max(12, *(len(n) + 2 for n in names))
        head = f"{'':<22}" + "".join(f"{n:>{width}}" for n in names)
        rows = [
            ("time us", lambda r: f"{r['time_ns'] / 1e3:,.2f}"),
            ("speed-up", lambda r: f"{r['speedup']:.2f}x"),
            ("bound", lambda r: r["bound"]),
            ("cores used", lambda r: str(r["cores_used"])),
            ("MFU", lambda r: f"{r['mfu']:.1%}"),
            ("of attainable", lambda r: f"{r['fraction_of_attainable']:.1%}"),
        ]
        rows += [
            (
                f"{e} util" + (" (bandwidth)" if e == "DMA" else ""),
                lambda r, e=e: f"{r['utilization'][e]:.1%}",
            )
            for e in _COMPARED_ENGINES
        ]
        out = ["machine generations compared", head]
        for label, cell in rows:
            out.append(f"{label:<22}" + "".join(f"{cell(s[n]):>{width}}" for n in names))
        return "\n".join(out)
