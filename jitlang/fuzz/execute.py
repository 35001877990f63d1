"""Fuzz execution: one case on each target, compared; the result is an `Outcome`.

Stage: test tooling, run inside the worker process (`jitlang.fuzz.worker`) or in-process. Input:
a kernel module's path, the case's launch (`Case.args`, grid) and targets; output: an `Outcome`
whose `signature` names the failure ("mismatch:accel:o3_ptr", "error:cpu:InternalCompilerError",
...) so the shrinker can keep exactly that failure while it cuts the kernel down.

Targets: "interpret" runs the frontend's tile IR, before any pass, on the numpy interpreter (the
definition of the semantics, so fold/CSE/DCE are under test too); "cpu" and "accel" are ordinary
launches. "cpu_split" is the CPU again, compiled without bounds checks (they turn the lockstep
schedule off) and launched on a 2-thread pool forced into parallel mode: a persistent grid is
then split into windows of rounds wherever its check (codegen/cpu/roundsplit.py) allows, any
other grid into slices of programs; `Outcome.notes["cpu_split"]` says which. Results are compared with `jitlang.testing`'s own rules (`_compare`,
`CROSS_CHECK_TOLERANCES`) against the first target that ran, as `cross_check` does.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import traceback
from dataclasses import dataclass, field

import numpy as np

from .inputs import decode, make_array

TARGET_ORDER = ("interpret", "cpu", "cpu_split", "accel")


@dataclass
class Outcome:
    status: str  # "pass" | "fail" | "invalid"
    signature: str = ""
    message: str = ""
    unsupported: dict[str, str] = field(default_factory=dict)  # target -> documented reason
    notes: dict[str, str] = field(default_factory=dict)  # target -> how it ran (cpu_split)

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @staticmethod
    def from_json(d: dict) -> Outcome:
        return Outcome(**d)


def load_kernel(path: str, modname: str):
    """Import the module at `path` (its source lines are what errors quote) and return `kernel`."""
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod  # helpers resolve their globals through the module
    spec.loader.exec_module(mod)
    return mod.kernel


def launch_args(args: list[dict]) -> list:
    """The positional launch arguments of a case: arrays (fresh, from their seeds), scalars and
    constexprs, in the kernel's parameter order."""
    out = []
    for a in args:
        if a["kind"] == "array" and "data" in a:
            out.append(decode(a["data"]))
        elif a["kind"] == "array":
            shape, edge, huge = tuple(a["shape"]), a.get("edge", 0.15), a.get("huge", True)
            out.append(make_array(a["dtype"], shape, a["seed"], edge, huge))
        elif a["kind"] == "scalar" and a["dtype"].startswith("float"):
            out.append(float(a["value"]))
        else:
            out.append(int(a["value"]))
    return out


def _module_text(kernel) -> str:
    try:
        with open(inspect.getsourcefile(kernel.fn)) as f:
            return f.read()
    except (OSError, TypeError):
        return ""


def _interpret(kernel, grid, args) -> None:
    """The numpy interpreter on the frontend's IR (no passes), with the launch's array ranges."""
    from jitlang.frontend.visitor import build_kernel
    from jitlang.interpreter import run_grid
    from jitlang.verifier import verify

    key, rt, values, _ = kernel._fast(*args)
    fn, _ = build_kernel(kernel, kernel._params(key), kernel.fn.__name__)
    verify(fn)
    ext = kernel._extents(key, values)
    g = tuple(grid) + (1,) * (3 - len(grid))
    run_grid(fn, g, list(rt), [(ext[i], ext[i + 1]) for i in range(0, len(ext), 2)])


class _SplitLauncher:
    """The "cpu_split" execution: its own runtime (no bounds checks, no disk cache) and a
    2-thread pool, owned by the process that runs the cases."""

    def __init__(self) -> None:
        from dataclasses import replace

        from runtime.driver import Runtime
        from runtime.launch import WorkerPool

        self.runtime = Runtime()
        self.runtime.options = replace(
            self.runtime.options, bounds_check=False, cache_enabled=False
        )
        self.pool = WorkerPool(2)

    def run(self, kernel, grid, args: list) -> str:
        """Launch once, split between the two threads; "rounds <k>" if windows of rounds ran,
        "programs" if slices of programs did (a lockstep kernel's check said -1, or no
        lockstep kernel), "single" for a one-program grid."""
        from runtime.launch import Launcher

        key, rt, _values, _ = kernel._fast(*args)
        native = self.runtime.compile(kernel, key, "cpu").native
        check = native.launcher.rounds
        said: list[int] = []

        def rounds(buf: bytes) -> int:
            said.append(check(buf))
            return said[-1]

        g = tuple(grid) + (1,) * (3 - len(grid))
        total = g[0] * g[1] * g[2]
        launcher = Launcher(
            native.cfunc, self.pool, pieces_per_thread=1, rounds=rounds if check else None
        )
        launcher.stats(total).choice = "parallel"
        saved, native.launcher = native.launcher, launcher
        try:
            native.launch(g, rt)
        finally:
            native.launcher = saved
        if total <= 1:
            return "single"
        return f"rounds {said[-1]}" if said and said[-1] >= 2 else "programs"


_split: _SplitLauncher | None = None


def run_one(kernel, grid, args: list, target: str) -> str:
    """Runs the kernel on `target`; a note on how it ran ("" but for cpu_split)."""
    global _split
    if target == "interpret":
        _interpret(kernel, grid, args)
    elif target == "cpu_split":
        if _split is None:
            _split = _SplitLauncher()
        return _split.run(kernel, grid, args)
    else:
        kernel[tuple(grid)](*args, target=target)
    return ""


def _documented_limit(target: str, e: BaseException) -> str | None:
    """The reason when `e` is a target's documented limit rather than a bug."""
    if target == "accel":
        from codegen.accel.lower import UnsupportedOnAccelError
        from jitlang.passes.accel_layout import TargetLimitError

        if isinstance(e, (UnsupportedOnAccelError, TargetLimitError)):
            return str(e).splitlines()[0]
    return None


def _kind(e: BaseException) -> str:
    """The class and the gist of an error's message, without locations, names or numbers, so a
    shrunk kernel keeps the same error rather than any error of the same class."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    first = re.sub(r"^\S+:\d+:\d+: ", "", first)
    first = re.sub(r"'[^']*'|`[^`]*`|<[^>]*>|\d+", "_", first)
    return f"{type(e).__name__}:{first[:60]}"


def _describe(e: BaseException) -> str:
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(tb[-6:])[-3000:]


# the float dtypes from the least to the most precise, as `jitlang.testing` names them
_PRECISION = ("bfloat16", "float16", "float32", "float64")


def loosest_float(source: str, args: list[dict]) -> str | None:
    """The least precise float dtype a kernel computes in (its arrays and `tl.<dtype>` names).

    A value computed in float32 and stored to a float64 array carries float32 rounding, which
    float64's tolerance does not allow: each float array is compared with the tolerance of the
    loosest precision the kernel used, from the same table."""
    used = {a["dtype"] for a in args if a["kind"] == "array"}
    used |= {d for d in _PRECISION if f"tl.{d}" in source}
    used |= {"float32" for a in args if a["kind"] == "scalar" and a["dtype"] == "float32"}
    if "float32" in used or any(c in source for c in (".5", ".0", "e-")):
        used.add("float32")  # float literals and int / int are float32
    return next((d for d in _PRECISION if d in used), None)


def compare_results(
    names, originals, results: dict[str, list], precision: str | None = None
) -> tuple[str, str] | None:
    """The first difference between targets, as (signature, message), or None.

    The arrays compared are those some target wrote (as in `cross_check`), each against the
    first target's copy, with `jitlang.testing`'s tolerance table and comparison (float arrays
    with the looser of their own row and `precision`'s)."""
    from jitlang.testing import CROSS_CHECK_TOLERANCES, _compare

    targets = list(results)
    first = targets[0]
    for i, orig in enumerate(originals):
        if not isinstance(orig, np.ndarray):
            continue
        raw = orig.view(np.uint8)
        wrote = [t for t in targets if not np.array_equal(results[t][i].view(np.uint8), raw)]
        if not wrote:
            continue
        tol = CROSS_CHECK_TOLERANCES.get(orig.dtype.name, (64, 1e-5, 1e-6, 2e-5))
        if precision is not None and orig.dtype.name in CROSS_CHECK_TOLERANCES:
            tol = tuple(map(max, tol, CROSS_CHECK_TOLERANCES[precision]))
        for t in targets[1:]:
            try:
                _compare(names[i], results[first][i], results[t][i], tol, t, first)
            except AssertionError as e:
                return f"mismatch:{t}:{names[i]}", str(e)
    return None


def _check_reference(source: str, names, originals, got: list) -> tuple[str, str] | None:
    """The case's numpy reference against the first target's results (same comparison)."""
    from jitlang.testing import CROSS_CHECK_TOLERANCES, _compare

    env = {"np": np}
    exec(compile(source, "<fuzz reference>", "exec"), env)
    inputs = {n: (a.copy() if isinstance(a, np.ndarray) else a) for n, a in zip(names, originals)}
    with np.errstate(all="ignore"):
        expected = env["reference"](inputs)
    for name, want in expected.items():
        i = names.index(name)
        tol = CROSS_CHECK_TOLERANCES.get(want.dtype.name, (64, 1e-5, 1e-6, 2e-5))
        try:
            _compare(name, want, got[i], tol, "the first target", "numpy")
        except AssertionError as e:
            return f"mismatch:numpy:{name}", str(e)
    return None


def execute(
    kernel,
    case_args: list[dict],
    grid,
    targets,
    status=None,
    precision: str | None = None,
    reference: str = "",
) -> Outcome:
    """Run the kernel on every target (in `TARGET_ORDER`) on fresh copies and compare.

    `status(target)` is called before each target runs (the worker records it, so a crash of the
    process can be blamed on the right target)."""
    from jitlang.errors import CompilationError

    originals = launch_args(case_args)
    names = [a["name"] for a in case_args]
    results: dict[str, list] = {}
    errors: dict[str, BaseException] = {}
    unsupported: dict[str, str] = {}
    notes: dict[str, str] = {}
    for t in [t for t in TARGET_ORDER if t in targets]:
        if status is not None:
            status(t)
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in originals]
        try:
            with np.errstate(all="ignore"):
                note = run_one(kernel, grid, copies, t)
        except Exception as e:  # every failure of a target is a finding: classify it below
            reason = _documented_limit(t, e)
            if reason is not None:
                unsupported[t] = reason
            else:
                errors[t] = e
            continue
        results[t] = copies
        if note:
            notes[t] = note
    if errors:
        ran = [t for t in targets if t not in unsupported]
        kinds = {_kind(e) for e in errors.values()}
        if len(errors) == len(ran) and len(kinds) == 1:
            e = next(iter(errors.values()))
            status_ = "invalid" if isinstance(e, CompilationError) else "fail"
            sig = f"{'invalid' if status_ == 'invalid' else 'error:all'}:{_kind(e)}"
            return Outcome(status_, sig, _describe(e), unsupported, notes)
        t, e = next(iter(errors.items()))
        return Outcome("fail", f"error:{t}:{_kind(e)}", _describe(e), unsupported, notes)
    if precision is None:
        precision = loosest_float(_module_text(kernel), case_args)
    diff = compare_results(names, originals, results, precision) if len(results) > 1 else None
    if diff is not None:
        return Outcome("fail", diff[0], diff[1], unsupported, notes)
    if reference and results:
        diff = _check_reference(reference, names, originals, next(iter(results.values())))
        if diff is not None:
            return Outcome("fail", diff[0], diff[1], unsupported, notes)
    return Outcome("pass", "", "", unsupported, notes)
