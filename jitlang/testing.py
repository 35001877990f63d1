"""Benchmarking and checking helpers: `do_bench`, `assert_close`, `perf_report`, `cross_check`.

Stage: user-facing tools around launches; nothing here compiles. Input: a callable that launches
kernels, or arrays to compare. Output: times in milliseconds, assertion errors that say where
results differ, tables, CSV files and plots.

Names and semantics follow Triton's `triton.testing`. Where we differ:
- `do_bench` flushes the CPU caches between runs by writing a 32 MiB buffer (Triton clears the
  GPU's L2); the flush is outside the timed region, and nothing is subtracted from the times.
- `assert_close` chooses default tolerances by dtype (the table `DEFAULT_TOLERANCES`; Triton's
  default is atol=1e-2, rtol=0) and reports the largest differences and the first mismatch.
- `Mark.run` prints a plain-text table and returns a `Table`, or a pandas DataFrame when pandas
  is installed; plots are drawn with matplotlib's Agg canvas, so no display is needed.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# Writing this many bytes between timed runs evicts the kernel's data from the caches (the
# largest last-level cache we target is 32 MiB).
FLUSH_BYTES = 32 * 1024 * 1024

_RETURN_MODES = ("min", "max", "mean", "median", "all")


# -- timing -----------------------------------------------------------------------------------
def do_bench(
    fn: Callable[[], Any],
    warmup: float = 25,
    rep: float = 100,
    grad_to_none: Sequence[Any] | None = None,
    quantiles: Sequence[float] | None = None,
    return_mode: str = "mean",
):
    """Time `fn()` in milliseconds.

    Runs `fn` once, estimates its time (with a cache flush before each call) over 5 calls, then
    runs it for about `warmup` ms untimed and about `rep` ms timed, one cache flush before each
    timed call. Returns the `quantiles` of the times (a float for one quantile, else a list), or
    else their `return_mode`: "min", "max", "mean", "median" or "all" (the list of times).
    `grad_to_none` lists objects whose `.grad` is set to None before each timed call.
    """
    if return_mode not in _RETURN_MODES:
        raise ValueError(
            f"return_mode must be one of {', '.join(_RETURN_MODES)}, got {return_mode!r}"
        )
    if quantiles is not None:
        quantiles = [float(q) for q in quantiles]
        if any(not 0.0 <= q <= 1.0 for q in quantiles):
            raise ValueError(f"quantiles must lie in [0, 1], got {quantiles}")
    fn()
    flush = np.empty(FLUSH_BYTES, dtype=np.uint8)
    flush.fill(0)  # first touch maps the pages; keep that out of the estimate

    clock = time.perf_counter
    start = clock()
    for _ in range(5):
        flush.fill(0)
        fn()
    estimate_ms = max((clock() - start) * 1e3 / 5, 1e-6)
    n_warmup = max(1, int(warmup / estimate_ms))
    n_repeat = max(1, int(rep / estimate_ms))

    for _ in range(n_warmup):
        fn()
    times = []
    for _ in range(n_repeat):
        if grad_to_none is not None:
            for x in grad_to_none:
                x.grad = None
        flush.fill(0)
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return _summarize(times, quantiles, return_mode)


def _summarize(times: list[float], quantiles: list[float] | None, return_mode: str):
    if quantiles is not None:
        out = [float(q) for q in np.quantile(np.asarray(times), quantiles)]
        return out[0] if len(out) == 1 else out
    if return_mode == "all":
        return times
    if return_mode == "min":
        return min(times)
    if return_mode == "max":
        return max(times)
    if return_mode == "median":
        return statistics.median(times)
    return statistics.fmean(times)


# -- comparing --------------------------------------------------------------------------------
# (atol, rtol) when the caller gives none, by the name of the less precise dtype compared; the
# float rows are torch.testing.assert_close's defaults. Integers and bools compare exactly.
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-7, 1e-7),
    "float32": (1e-5, 1.3e-6),
    "float16": (1e-5, 1e-3),
    "bfloat16": (1e-5, 1.6e-2),
    "float8_e5m2": (1e-5, 2.5e-1),
    "float8_e4m3fn": (1e-5, 1.25e-1),
    "float8_e4m3fnuz": (1e-5, 1.25e-1),
    "float8_e5m2fnuz": (1e-5, 2.5e-1),
    "float8_e4m3b11fnuz": (1e-5, 1.25e-1),
}


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            import ml_dtypes

            return x.float().numpy().astype(ml_dtypes.bfloat16)
        return x.numpy()
    return np.asarray(x)


def _default_tolerance(dtype: np.dtype) -> tuple[float, float]:
    if dtype.kind in "biu":
        return 0.0, 0.0
    tol = DEFAULT_TOLERANCES.get(dtype.name)
    if tol is not None:
        return tol
    if dtype.kind == "c":
        return DEFAULT_TOLERANCES["float64" if dtype.itemsize > 8 else "float32"]
    return 1e-5, float(np.finfo(dtype).eps) if dtype.kind == "f" else 1.3e-6


def assert_close(x, y, atol=None, rtol=None, err_msg: str = "") -> None:
    """Assert `|x - y| <= atol + rtol * |y|` elementwise (NaNs equal NaNs, infinities match).

    `x` and `y` are arrays, scalars or lists (torch tensors too). Without `atol`/`rtol`, the
    tolerances follow the less precise dtype of the two (`DEFAULT_TOLERANCES`); each may also
    be a function of that dtype, as in Triton. The error names how many elements differ, the
    largest absolute and relative differences and where, and the first mismatching index.
    """
    a, b = _to_numpy(x), _to_numpy(y)
    if a.shape != b.shape and a.size != 1 and b.size != 1:
        raise AssertionError(_prefix(err_msg) + f"Shapes differ: {a.shape} vs {b.shape}")
    # the looser default of the two dtypes
    tol_a, tol_b = _default_tolerance(a.dtype), _default_tolerance(b.dtype)
    loose = a.dtype if tol_a[1] >= tol_b[1] else b.dtype
    default_atol, default_rtol = max(tol_a[0], tol_b[0]), max(tol_a[1], tol_b[1])
    atol = default_atol if atol is None else (atol(loose) if callable(atol) else float(atol))
    rtol = default_rtol if rtol is None else (rtol(loose) if callable(rtol) else float(rtol))

    a64, b64 = _as_float64(a), _as_float64(b)
    a64, b64 = np.broadcast_arrays(a64, b64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a64 - b64)
        if a.dtype.kind in "biu" and b.dtype.kind in "biu":
            # compared as integers: float64 would round int64s beyond 2**53
            close = np.broadcast_to(a == b, diff.shape).copy()
        else:
            close = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
        if atol or rtol or not (a.dtype.kind in "biu" and b.dtype.kind in "biu"):
            close |= np.isfinite(diff) & (diff <= atol + rtol * np.abs(b64))
    if close.all():
        return
    bad = ~close
    n_bad, n = int(bad.sum()), close.size
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = diff / np.abs(b64)
    abs_at = _argmax_index(np.where(bad, diff, -np.inf))
    rel_at = _argmax_index(np.where(bad, np.nan_to_num(rel, nan=np.inf), -np.inf))
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    lines = [
        f"Arrays are not close (atol={atol:g}, rtol={rtol:g}; {a.dtype} vs {b.dtype}).",
        f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)",
        f"Greatest absolute difference: {diff[abs_at]:g} at index {abs_at}",
        f"Greatest relative difference: {rel[rel_at]:g} at index {rel_at}",
        f"First mismatch at index {first}: x={a64[first].item()!r} y={b64[first].item()!r}",
    ]
    raise AssertionError(_prefix(err_msg) + "\n".join(lines))


def _prefix(err_msg: str) -> str:
    return f"{err_msg}\n" if err_msg else ""


def _as_float64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)


def _argmax_index(values: np.ndarray) -> tuple[int, ...]:
    if values.ndim == 0:
        return ()
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(values)), values.shape))


# Float tolerances of `cross_check`, per dtype: (ulp, rtol, atol, nrtol). An element passes when
# it is within `ulp` units in the last place, or within atol + rtol * |reference|, or within
# nrtol * max |reference| of the whole array. Each bound belongs to an op family: `ulp` to
# elementwise and transcendental math (the CPU's vector math is within a few ulp of the correctly
# rounded result, the accelerator's activation engine computes in fp32: 64 ulp covers both);
# rtol/atol to fp16/bf16 rounding of intermediates; nrtol to reductions and `dot`, whose sums are
# accumulated in different orders on the two targets, so an element that cancels to near zero
# carries an error relative to the terms it summed, not to itself.
CROSS_CHECK_TOLERANCES = {
    "float32": (64, 1e-5, 1e-6, 2e-5),
    "float16": (4, 1e-3, 1e-3, 2e-3),
    "bfloat16": (4, 8e-3, 8e-3, 1.6e-2),
    "float64": (64, 1e-12, 1e-14, 1e-12),
}


class CrossCheckReport(dict):
    """name -> {"dtype", "max_abs", "max_rel", "max_ulp", "targets"} for every array that some
    target wrote; `str()` is a table."""

    def __str__(self) -> str:
        rows = [f"{'array':<16} {'dtype':<9} {'max abs':>11} {'max rel':>11} {'max ulp':>8}"]
        for name, r in self.items():
            rows.append(
                f"{name:<16} {r['dtype']:<9} {r['max_abs']:>11.3g} {r['max_rel']:>11.3g} "
                f"{r['max_ulp']:>8d}"
            )
        return "\n".join(rows)


def _ordered(a: np.ndarray) -> np.ndarray:
    """Float bit patterns as integers that order like the floats (for ulp distances)."""
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(bits).astype(np.int64)
    big = np.int64(1) << (8 * a.dtype.itemsize - 1)
    return np.where(i < 0, -(i + big), i)


def _compare(name: str, ref: np.ndarray, got: np.ndarray, tol, target: str, first: str) -> dict:
    """Differences of one array between two targets; raises AssertionError past tolerance."""
    ref, got = np.asarray(ref), np.asarray(got)
    report = {"dtype": str(ref.dtype), "max_abs": 0.0, "max_rel": 0.0, "max_ulp": 0}
    if ref.dtype.kind not in "f" and ref.dtype.name != "bfloat16":
        bad = ref.view(np.uint8).reshape(ref.shape + (-1,)) != got.view(np.uint8).reshape(
            ref.shape + (-1,)
        )
        bad = bad.any(axis=-1) if bad.ndim else bad
        if ref.dtype.kind in "iub":
            d = np.abs(ref.astype(np.float64) - got.astype(np.float64))
            report["max_abs"] = float(d.max()) if d.size else 0.0
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise AssertionError(
                f"cross_check: array {name!r} differs between targets {first!r} and {target!r} "
                f"(compared bitwise, {ref.dtype}): {int(bad.sum())} of {bad.size} elements, "
                f"first at index {idx}: {ref[idx]!r} vs {got[idx]!r}"
            )
        return report
    ulp_tol, rtol, atol, nrtol = tol
    r64, g64 = ref.astype(np.float64), got.astype(np.float64)
    finite = np.isfinite(r64)
    scale = float(np.abs(r64[finite]).max()) if finite.any() else 0.0
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(r64 - g64)
        rel = np.where(r64 != 0, diff / np.abs(r64), np.where(diff == 0, 0.0, np.inf))
        ulp = np.abs(_ordered(ref) - _ordered(got))
    same = (r64 == g64) | (np.isnan(r64) & np.isnan(g64))
    ok = same | (ulp <= ulp_tol) | (np.isfinite(diff) & (diff <= atol + rtol * np.abs(r64)))
    ok |= np.isfinite(diff) & (diff <= nrtol * scale)
    fin = ~same & np.isfinite(diff)
    if fin.any():
        report["max_abs"] = float(diff[fin].max())
        report["max_rel"] = float(rel[fin].max())
        report["max_ulp"] = int(ulp[fin].max())
    if not ok.all():
        bad = ~ok
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"cross_check: array {name!r} differs between targets {first!r} and {target!r} "
            f"({ref.dtype}; tolerance {ulp_tol} ulp, atol={atol:g} + rtol={rtol:g}, or "
            f"{nrtol:g} x max |reference| = {nrtol * scale:g}): "
            f"{int(bad.sum())} of {bad.size} elements, first at index {idx}: "
            f"{ref[idx]!r} vs {got[idx]!r} (max abs {report['max_abs']:.3g}, max rel "
            f"{report['max_rel']:.3g}, max ulp {report['max_ulp']})"
        )
    return report


def cross_check(
    kernel,
    grid,
    *args,
    targets: Sequence[str] = ("cpu", "accel"),
    atol=None,
    rtol=None,
    ulp=None,
    **kwargs,
) -> CrossCheckReport:
    """Launch `kernel[grid](*args, **kwargs)` on each of `targets` and compare what they wrote.

    Each target runs on its own copies of the array arguments. Every array that any target
    wrote is compared with the first target's result: bitwise for integers and booleans, for
    floats within `CROSS_CHECK_TOLERANCES` (or the `ulp`/`rtol`/`atol` given). Returns a
    `CrossCheckReport` (max abs/rel/ulp error per array); raises `AssertionError` naming the
    array and the first differing index. The first target's results are written into `args`,
    as a plain launch would.
    """
    if len(targets) < 1:
        raise ValueError("cross_check needs at least one target")
    results = []
    for target in targets:
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        kernel[grid](*copies, target=target, **kwargs)
        results.append(copies)
    names = list(getattr(kernel, "arg_names", []))
    report = CrossCheckReport()
    for i, orig in enumerate(args):
        if not isinstance(orig, np.ndarray):
            continue
        name = names[i] if i < len(names) else f"#{i}"
        raw = orig.view(np.uint8) if orig.flags.c_contiguous else orig.copy().view(np.uint8)
        wrote = [
            t for t, c in zip(targets, results) if not np.array_equal(c[i].view(np.uint8), raw)
        ]
        if not wrote:
            continue
        base = CROSS_CHECK_TOLERANCES.get(orig.dtype.name, (64, 1e-5, 1e-6, 2e-5))
        tol = (
            base[0] if ulp is None else ulp,
            base[1] if rtol is None else rtol,
            base[2] if atol is None else atol,
            base[3] if rtol is None and atol is None else 0.0,
        )
        entry = None
        for target, copies in zip(targets[1:], results[1:]):
            r = _compare(name, results[0][i], copies[i], tol, target, targets[0])
            if entry is None or r["max_abs"] > entry["max_abs"]:
                entry = r
        entry = entry or {"dtype": str(orig.dtype), "max_abs": 0.0, "max_rel": 0.0, "max_ulp": 0}
        entry["targets"] = wrote
        report[name] = entry
    for orig, ref in zip(args, results[0]):
        if isinstance(orig, np.ndarray):
            orig[...] = ref
    return report


def profile(kernel, grid, *args, config: str = "nc-v2", timing_only: bool = False, **meta):
    """Run `kernel[grid](*args, **meta)` on the emulated accelerator (machine `config`) and
    return its `isa.profile.Profile`: `.summary()` is the dict `python -m isa profile --json`
    prints, `.format()` a table, `.write_chrome_trace(path)` a Perfetto timeline.

    `timing_only=True` runs addresses, sizes and dependencies without computing tile data (for
    shapes too large to emulate numerically): the arrays are left untouched, the profile's
    `mode` is "timing-only", and a kernel whose control flow or addresses depend on loaded
    data raises an error saying so (`isa.errors.TimingOnlyError`, reported as a kernel error).
    An `@autotune` kernel is profiled with the config it chooses for this machine (tuning on
    the model first if needed)."""
    from isa.machine import get_config
    from isa.profile import Profile
    from isa.timing import simulate

    from .autotuner import Autotuner, Heuristics

    # compiled for the machine it runs on (SBUF size, queues), unless the kernel has a
    # parameter named `config`: then it runs the default machine's build
    if "config" not in getattr(kernel, "arg_names", ()):
        meta = {**meta, "config": config}
    while isinstance(kernel, (Autotuner, Heuristics)):  # down to the @jit kernel
        if isinstance(kernel, Autotuner):
            best = kernel.best_config_for(*args, grid=grid, target="accel", **meta)
            meta = {**meta, **best.all_kwargs()}
        else:
            meta = kernel._compute(args, dict(meta))
        kernel = kernel.fn
    compiled = kernel.warmup(*args, target="accel", **meta)
    native = compiled.native
    native.record_config = config
    native.timing_only = timing_only
    try:
        kernel[grid](*args, target="accel", **meta)
        records = native.last_records
    finally:
        native.record_config = None
        native.timing_only = False
        native.last_records = []
    cfg = get_config(config)
    mode = "timing-only" if timing_only else "numeric"
    return Profile.build(records, simulate(records, cfg), cfg, mode=mode)


def compare_generations(
    kernel, grid, *args, configs=("nc-v2", "nc-v3"), timing_only: bool = False, **meta
):
    """Profile `kernel[grid](*args, **meta)` on each machine generation in `configs` and return
    an `isa.profile.Comparison`: `.format()` prints them side by side (time, speed-up, compute
    or memory bound, per-engine utilisation), `.summary()` is the same as a dict. The kernel is
    compiled for each generation (its SBUF and queues) and run on its cores, clocks and
    bandwidths."""
    from isa.profile import Comparison

    if not configs:
        raise ValueError("compare_generations needs at least one machine config")
    return Comparison(
        [profile(kernel, grid, *args, config=c, timing_only=timing_only, **meta) for c in configs]
    )


# -- performance reports ----------------------------------------------------------------------
class Benchmark:
    """One plot of `perf_report`: `x_names` over `x_vals`, one line per value of `line_arg`.

    `x_vals` holds scalars (every name in `x_names` takes the value) or tuples (one value per
    name). `args` are keyword arguments fixed for every call; `styles` are (color, linestyle).
    """

    def __init__(
        self,
        x_names: list[str],
        x_vals: list[Any],
        line_arg: str,
        line_vals: list[Any],
        line_names: list[str],
        plot_name: str,
        args: dict[str, Any],
        xlabel: str = "",
        ylabel: str = "",
        x_log: bool = False,
        y_log: bool = False,
        styles: list[tuple[str, str]] | None = None,
    ) -> None:
        if len(line_names) != len(line_vals):
            raise ValueError(
                f"Benchmark {plot_name!r}: {len(line_vals)} line_vals but "
                f"{len(line_names)} line_names"
            )
        self.x_names = list(x_names)
        self.x_vals = list(x_vals)
        self.x_log = x_log
        self.line_arg = line_arg
        self.line_vals = list(line_vals)
        self.line_names = list(line_names)
        self.y_log = y_log
        self.styles = styles
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.plot_name = plot_name
        self.args = dict(args)


class Table:
    """A small column table, what `Mark.run` returns when pandas is not installed."""

    def __init__(self, columns: list[str], rows: list[list[Any]] | None = None) -> None:
        self.columns = list(columns)
        self.rows = [list(r) for r in rows or []]

    def __getitem__(self, column: str) -> list[Any]:
        i = self.columns.index(column)
        return [r[i] for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, columns: list[str]) -> Table:
        idx = [self.columns.index(c) for c in columns]
        return Table(columns, [[r[i] for i in idx] for r in self.rows])

    def to_string(self) -> str:
        """Right-aligned columns with a row index, like pandas' `DataFrame.to_string`."""
        cells = [["", *self.columns]] + [
            [str(i), *(_cell(v) for v in r)] for i, r in enumerate(self.rows)
        ]
        widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
        return "\n".join(
            " ".join(c.rjust(w) for c, w in zip(row, widths)).rstrip() for row in cells
        )

    __str__ = to_string

    def to_csv(self, path: str, precision: int = 6) -> None:
        def fmt(v):
            if isinstance(v, float) or isinstance(v, np.floating):
                return f"{float(v):.{precision}f}"
            return "" if v is None else str(v)

        with open(path, "w") as f:
            f.write(",".join(self.columns) + "\n")
            for r in self.rows:
                f.write(",".join(fmt(v) for v in r) + "\n")


def _cell(v) -> str:
    if v is None:
        return "NaN"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


class Mark:
    """A function with its benchmarks, made by `perf_report`; `.run()` measures and reports."""

    def __init__(self, fn: Callable[..., Any], benchmarks) -> None:
        self.fn = fn
        self.benchmarks = benchmarks

    def _run(
        self,
        bench: Benchmark,
        save_path: str | None,
        show_plots: bool,
        print_data: bool,
        diff_col: bool = False,
        save_precision: int = 6,
        **kwargs,
    ):
        x_names = bench.x_names
        y_min = [f"{n}-min" for n in bench.line_names]
        y_max = [f"{n}-max" for n in bench.line_names]
        table = Table(x_names + bench.line_names + y_min + y_max)
        for x in bench.x_vals:
            xs = list(x) if isinstance(x, (list, tuple)) else [x] * len(x_names)
            if len(xs) != len(x_names):
                raise ValueError(
                    f"Benchmark {bench.plot_name!r}: expected {len(x_names)} values, got {x}"
                )
            x_args = dict(zip(x_names, xs))
            mids, lows, highs = [], [], []
            for y in bench.line_vals:
                ret = self.fn(**x_args, **{bench.line_arg: y}, **bench.args, **kwargs)
                mid, low, high = _split_result(ret, bench.plot_name)
                mids.append(mid)
                lows.append(low)
                highs.append(high)
            table.rows.append(xs + mids + lows + highs)

        if bench.plot_name:
            self._plot(bench, table, save_path, show_plots)
        out = table.select(x_names + bench.line_names)
        if diff_col and len(out.columns) == 2:
            c0, c1 = out.columns
            out = Table([c0, c1, "Diff"], [[a, b, _diff(b, a)] for a, b in out.rows])
        if print_data:
            print(bench.plot_name + ":")
            print(out.to_string())
        if save_path:
            out.to_csv(os.path.join(save_path, f"{bench.plot_name}.csv"), save_precision)
        return _as_dataframe(out)

    def _plot(self, bench: Benchmark, table: Table, save_path, show_plots: bool) -> None:
        if show_plots:
            import matplotlib.pyplot as plt

            fig = plt.figure()
        else:
            from matplotlib.figure import Figure  # the Agg canvas; no display, no global state

            fig = Figure()
        ax = fig.add_subplot()
        xs = table[bench.x_names[0]]
        for i, name in enumerate(bench.line_names):
            color = bench.styles[i][0] if bench.styles else None
            style = bench.styles[i][1] if bench.styles else None
            ax.plot(xs, _floats(table[name]), label=name, color=color, ls=style)
            lows, highs = table[f"{name}-min"], table[f"{name}-max"]
            if any(v is not None for v in lows) and any(v is not None for v in highs):
                ax.fill_between(xs, _floats(lows), _floats(highs), alpha=0.15, color=color)
        ax.legend()
        ax.set_xlabel(bench.xlabel or bench.x_names[0])
        ax.set_ylabel(bench.ylabel)
        ax.set_xscale("log" if bench.x_log else "linear")
        ax.set_yscale("log" if bench.y_log else "linear")
        if save_path:
            fig.savefig(os.path.join(save_path, f"{bench.plot_name}.png"))
        if show_plots:
            import matplotlib.pyplot as plt

            plt.show()
            plt.close(fig)

    def run(
        self,
        show_plots: bool = False,
        print_data: bool = False,
        save_path: str | None = None,
        return_df: bool = False,
        **kwargs,
    ):
        """Call the function over every benchmark's grid and report.

        `print_data` prints a table per benchmark; `save_path` (a directory, created if needed)
        receives `<plot_name>.png`, `<plot_name>.csv` and a `results.html` showing the plots.
        With `return_df`, returns the table (a list of them for several benchmarks). Extra
        keyword arguments go to the function.
        """
        single = isinstance(self.benchmarks, Benchmark)
        benchmarks = [self.benchmarks] if single else list(self.benchmarks)
        save_path = os.fspath(save_path) if save_path else None
        if save_path:
            os.makedirs(save_path, exist_ok=True)
        tables = [self._run(b, save_path, show_plots, print_data, **kwargs) for b in benchmarks]
        if save_path:
            with open(os.path.join(save_path, "results.html"), "w") as html:
                html.write("<html><body>\n")
                for b in benchmarks:
                    html.write(f'<image src="{b.plot_name}.png"/>\n')
                html.write("</body></html>\n")
        if return_df:
            return tables[0] if single else tables
        return None


def _split_result(ret, plot_name: str):
    """(mid, min, max) from a benchmark function's number or 3-tuple."""
    if isinstance(ret, (tuple, list)):
        if len(ret) != 3:
            raise ValueError(
                f"Benchmark {plot_name!r}: the function returned {len(ret)} values; "
                "return a number or a (mid, min, max) tuple"
            )
        return tuple(ret)
    return ret, None, None


def _floats(values: list) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _diff(b, a):
    return None if a is None or b is None else b - a


def _as_dataframe(table: Table):
    try:
        import pandas as pd
    except ImportError:
        return table
    return pd.DataFrame(table.rows, columns=table.columns)


def perf_report(benchmarks: Benchmark | Sequence[Benchmark]) -> Callable[[Callable], Mark]:
    """Mark a function for benchmarking over `benchmarks` (one `Benchmark` or a list); call
    `.run()` on the result."""
    return lambda fn: Mark(fn, benchmarks)


__all__ = [
    "DEFAULT_TOLERANCES",
    "FLUSH_BYTES",
    "Benchmark",
    "Mark",
    "Table",
    "assert_close",
    "compare_generations",
    "cross_check",
    "do_bench",
    "perf_report",
    "profile",
]
