"""Autotuning on the accelerator model: each config timed by the emulator's timing model.

Stage: runtime, beside `autotuner.py` (which calls `ModelSweep` when a launch targets `accel`).
Input: an `Autotuner`, a launch (arguments, grid, keyword arguments), the machine generation and
the configs to try. Output: each config's modelled time in nanoseconds (inf when the compiler
rejects it), the same on every run and every host.

How a config is timed:
- Resolved in this process first: `@heuristics` values are computed and the grid is evaluated,
  so what is left is a plain `@jit` kernel, keyword arguments and a grid tuple.
- Timing-only emulation (`jitlang.testing.profile(timing_only=True)`): addresses, sizes and
  dependencies, no tile data, so the arrays only need their dtype, shape, strides and alignment.
  A `SweepTask` holds exactly that plus the kernel's module, file and qualified name: it pickles
  small and goes to any `concurrent.futures.Executor` (a local process pool by default; a
  `dask.distributed` client's `get_executor()` spreads the sweep over a cluster). The worker
  imports the kernel (by module, else from its file) and checks its source hash.
- What cannot be shipped (a kernel defined inside a function, a tensor descriptor argument, an
  unpicklable value, a config with a `pre_hook`) or fails in a worker for a reason other than a compile error is timed in
  this process instead, where a real error surfaces with its usual message.
- A kernel whose addresses or control flow depend on loaded data cannot be timed without data:
  it runs numerically on copies of the arrays, here, with the autotuner's hooks.
- Timing-only results are kept in the runtime's disk cache, one entry per config, keyed by the
  compiler version, a hash of the accelerator model (`isa/`), the kernel's sources, the tuning
  key, every argument's dtype/shape (or value), the grid, the config and the machine.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import math
import multiprocessing
import pickle
import sys
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CompilationError
from .jit import JITFunction, _normalize_grid

# Launch options that `jitlang.testing.profile` sets itself (the machine is its `config`).
_PROFILE_OWNS = ("target", "config")
# how those options appear in an autotuner's tuning key
_OPTION_KEYS = (("target",), ("config",))


@dataclass(frozen=True)
class ArraySpec:
    """What timing-only emulation needs of an array argument: dtype, shape, strides, and where
    it lies: arguments whose bytes overlap (an in-place kernel's input and output, two views of
    one array) share a `group`, one buffer on the other side, since the driver runs another
    build for overlapping arrays. The driver copies each group to a 64-byte aligned place in
    HBM, so what else matters is the address modulo 16, which the specialization key reads."""

    dtype: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    group: int
    offset: int  # byte offset of the first element from the group's lowest byte
    span: int  # the group's bytes
    align: int  # the group's lowest address modulo 16


def array_specs(args) -> tuple:
    """`args` with every array (numpy, or a torch CPU tensor) replaced by its `ArraySpec`."""
    arrays = {i: _as_numpy(a) for i, a in enumerate(args)}
    arrays = {i: a for i, a in arrays.items() if a is not None}
    bounds = {i: _byte_bounds(a) for i, a in arrays.items()}
    groups: list[list[int]] = []  # [lo, hi] of each group, in address order
    group_of = {}
    for i in sorted(bounds, key=bounds.get):
        lo, hi = bounds[i]
        if groups and lo < groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], hi)
        else:
            groups.append([lo, hi])
        group_of[i] = len(groups) - 1
    out = list(args)
    number: dict[int, int] = {}  # groups numbered in argument order: the same specs every run
    for i, a in arrays.items():
        g = group_of[i]
        glo, ghi = groups[g]
        addr = a.__array_interface__["data"][0]
        out[i] = ArraySpec(
            a.dtype.name,
            tuple(a.shape),
            tuple(a.strides),
            number.setdefault(g, len(number)),
            addr - glo,
            ghi - glo,
            glo % 16,
        )
    return tuple(out)


def make_arrays(args: tuple) -> list:
    """`args` with every `ArraySpec` replaced by a zero-filled array of that layout (numpy's
    zeros are mapped lazily), the arrays of one group sharing one buffer."""
    buffers: dict[int, tuple[np.ndarray, int]] = {}
    out = []
    for a in args:
        if not isinstance(a, ArraySpec):
            out.append(a)
            continue
        if a.group not in buffers:
            buf = np.zeros(a.span + 128, np.uint8)
            pad = (a.align - buf.__array_interface__["data"][0]) % 64
            buffers[a.group] = buf, pad
        buf, pad = buffers[a.group]
        out.append(np.ndarray(a.shape, _dtype(a.dtype), buf, pad + a.offset, a.strides or None))
    return out


@dataclass(frozen=True)
class SweepTask:
    """One config's timing-only run, in a form any executor can ship to another process."""

    module: str
    file: str | None
    qualname: str
    source_hash: str
    args: tuple
    kwargs: tuple  # sorted (name, value) pairs: the resolved meta-parameters and options
    grid: tuple[int, int, int]
    machine: str
    versions: tuple[str, str]  # (compiler, accelerator model) the tuner's process runs

    def kernel(self) -> JITFunction:
        """The `@jit` kernel this task names, imported in this process; ImportError if it
        cannot be found or its sources differ from the ones the tuner saw."""
        module = sys.modules.get(self.module)
        if module is None:
            try:
                module = importlib.import_module(self.module)
            except ImportError:
                module = _load_file(self.module, self.file)
        obj: Any = module
        for part in self.qualname.split("."):
            obj = getattr(obj, part, None)
        while obj is not None and not isinstance(obj, JITFunction):
            obj = getattr(obj, "fn", None)
        if obj is None:
            raise ImportError(f"no @jit kernel {self.qualname} in module {self.module}")
        if obj.dependency_hash() != self.source_hash:
            raise ImportError(f"kernel {self.qualname}: this process sees other sources")
        return obj


def run_task(task: SweepTask) -> tuple[str, Any]:
    """Time one config (in whichever process the executor chose): ("ok", ns), or
    ("compile_error", text), ("needs_data", text), ("retry", text) for the tuner to handle."""
    try:
        kernel = task.kernel()
    except Exception as e:  # not importable here: the tuner times it in its own process
        return "retry", f"{type(e).__name__}: {e}"
    if code_versions() != task.versions:  # the tuner's process or this one predates an edit
        return "retry", "this process runs other compiler or accelerator-model sources"
    args = make_arrays(task.args)
    try:
        return model_time(kernel, task.grid, args, dict(task.kwargs), task.machine)
    except Exception as e:
        return "retry", f"{type(e).__name__}: {e}"


def model_time(kernel, grid, args, kwargs: dict, machine: str) -> tuple[str, Any]:
    """Timing-only modelled time of one launch on `machine`: ("ok", ns), ("compile_error",
    text) or ("needs_data", text); other errors propagate."""
    from .testing import profile

    meta = {k: v for k, v in kwargs.items() if k not in _PROFILE_OWNS}
    try:
        prof = profile(kernel, grid, *args, config=machine, timing_only=True, **meta)
    except CompilationError as e:
        return "compile_error", str(e)
    except Exception as e:
        if _needs_data(e):
            return "needs_data", str(e)
        raise
    return "ok", float(prof.time_ns)


class ModelSweep:
    """The configs of one tuning key timed on the model (see the module docstring)."""

    def __init__(self, tuner, key: tuple, args: tuple, grid, kwargs: dict, machine: str) -> None:
        self.tuner = tuner
        self.key = key
        self.args = args
        self.grid = grid
        self.kwargs = kwargs
        self.machine = machine
        self.jit_fn: JITFunction = tuner.jit_fn
        self.versions = code_versions()  # a worker running other code hands its tasks back
        # how each config was timed: read from the disk cache, by a task (on the executor, or
        # inline), in this process after the task could not be shipped or failed, numerically
        self.stats = {"disk": 0, "task": 0, "here": 0, "numeric": 0}

    def run(self, configs: list, executor) -> list[float]:
        """Modelled time (ns) of each config, in order; inf where the compiler rejects one."""
        times: list[float | None] = [None] * len(configs)
        launches = [self._resolve(c) for c in configs]
        tasks = [self._task(c, launch) for c, launch in zip(configs, launches)]
        cache = self._disk_cache()
        digests = [self._digest(t) if t is not None and cache else None for t in tasks]
        for i, d in enumerate(digests):
            hit = cache.get(d) if d else None
            if hit is not None and isinstance(hit[1].get("time_ns"), (int, float)):
                times[i] = float(hit[1]["time_ns"])
                self.stats["disk"] += 1
        todo = [i for i in range(len(configs)) if times[i] is None]
        shipped = [i for i in todo if tasks[i] is not None]
        results = dict(self._submit([tasks[i] for i in shipped], executor, shipped))
        for i in todo:
            status, value = results.get(i, ("retry", "not shipped"))
            how = "task"
            if status == "retry":
                status, value = self._here(configs[i], launches[i])
                how = "here"
            if status == "needs_data":
                value, status = self._numeric(configs[i], launches[i]), "numeric"
                how = "numeric"
            self.stats[how] += 1
            if status == "compile_error":
                if self.tuner.print_autotuning:
                    print(f"Autotuning failed with {value}")
                value = math.inf
            times[i] = float(value)
            if status == "ok" and digests[i]:
                self._store(cache, digests[i], configs[i], float(value))
        return times  # type: ignore[return-value]

    # -- resolving a config to a plain launch ------------------------------------------------
    def _resolve(self, config):
        """(jit kernel, keyword arguments, grid tuple) of a launch with `config`, heuristics
        applied; None when the chain of wrappers is not heuristics over a `@jit` kernel."""
        from .autotuner import Heuristics

        call = {**self.kwargs, **config.all_kwargs()}
        fn = self.tuner.fn
        while isinstance(fn, Heuristics):
            call = fn._compute(self.args, dict(call))
            fn = fn.fn
        if not isinstance(fn, JITFunction):
            return None
        grid = self.grid
        if callable(grid):
            values, _target = fn._bind(self.args, call)
            grid = grid(dict(zip(fn.arg_names, values)))
        return fn, call, _normalize_grid(grid)

    def _task(self, config, launch) -> SweepTask | None:
        """The config's task if it can be shipped to another process (else None)."""
        if launch is None or config.pre_hook is not None:
            return None  # a hook cannot travel, and may matter to what the kernel does
        fn, call, grid = launch
        if "<locals>" in fn.fn.__qualname__:
            return None
        try:
            args = array_specs(self.args)
            file = fn.fn.__code__.co_filename
            task = SweepTask(
                fn.fn.__module__,
                file if Path(file).is_file() else None,
                fn.fn.__qualname__,
                fn.dependency_hash(),
                args,
                tuple(sorted(call.items())),
                grid,
                self.machine,
                self.versions,
            )
            pickle.dumps(task)
        except Exception:  # a tensor descriptor, an unpicklable constexpr, ...
            return None
        return task

    # -- running -----------------------------------------------------------------------------
    def _submit(self, tasks: list[SweepTask], executor, where: list[int]):
        """(index, result) per task, run by `executor` ("process": a local pool, "inline": this
        process); a task the executor refuses or loses comes back as a "retry"."""
        from .autotuner import _progress

        desc = f"autotuning {self.tuner.__name__} on {self.machine}"
        if not tasks:
            return []
        if executor == "process":
            from runtime.config import get_options

            workers = min(len(tasks), get_options().num_threads)
            # one task, or one CPU: a pool would only add its start-up
            executor = "inline" if workers < 2 else self.tuner._process_pool(workers)
        if executor == "inline":
            return [
                (i, run_task(t))
                for i, t in _progress(list(zip(where, tasks)), desc, self.tuner.progress)
            ]
        futures = []
        for i, t in zip(where, tasks):
            try:
                futures.append((i, executor.submit(run_task, t)))
            except Exception as e:  # e.g. a shut-down executor
                futures.append((i, f"{type(e).__name__}: {e}"))
        out = []
        for i, f in _progress(futures, desc, self.tuner.progress):
            if isinstance(f, str):
                out.append((i, ("retry", f)))
                continue
            try:
                out.append((i, f.result()))
            except Exception as e:  # a worker that died, a task that would not pickle
                out.append((i, ("retry", f"{type(e).__name__}: {e}")))
                if isinstance(e, BrokenExecutor):
                    self.tuner.close()  # the next sweep starts a new pool
        return out

    def _here(self, config, launch) -> tuple[str, Any]:
        """Timing-only run in this process (errors other than compile errors propagate)."""
        if launch is None:
            fn, call, grid = self.tuner.fn, {**self.kwargs, **config.all_kwargs()}, self.grid
        else:
            fn, call, grid = launch
        return model_time(fn, grid, list(self.args), call, self.machine)

    def _numeric(self, config, launch) -> float:
        """Numeric emulation on copies of the arrays, with the config's and the tuner's hooks."""
        from .testing import profile

        tuner = self.tuner
        copies = [_copy(a) for a in self.args]
        current = {**self.kwargs, **config.all_kwargs()}
        nargs = {**tuner._named(tuple(copies), self.kwargs), **current}
        fn, call, grid = launch or (tuner.fn, current, self.grid)
        meta = {k: v for k, v in call.items() if k not in _PROFILE_OWNS}
        if config.pre_hook is not None:
            config.pre_hook(nargs)
        tuner.pre_hook(nargs)
        try:
            prof = profile(fn, grid, *copies, config=self.machine, **meta)
        except CompilationError:
            tuner.post_hook(nargs, exception=None)
            return math.inf
        except Exception as e:
            tuner.post_hook(nargs, exception=e)
            raise
        tuner.post_hook(nargs, exception=None)
        return float(prof.time_ns)

    # -- disk cache --------------------------------------------------------------------------
    def _disk_cache(self):
        from runtime.driver import get_runtime

        return get_runtime().disk_cache

    def _digest(self, task: SweepTask) -> str:
        """The config's disk-cache key. The machine stands for the launch's target and config=
        (so config="nc-v2" finds what a launch naming no machine stored)."""
        own = [(k, v) for k, v in task.kwargs if k not in _PROFILE_OWNS]
        key = [str(k) for k in self.key if not (type(k) is tuple and k[:1] in _OPTION_KEYS)]
        text = repr(
            (
                "autotune-accel",
                task.versions,
                task.source_hash,
                task.module,
                task.qualname,
                key,
                task.args,
                own,
                task.grid,
                task.machine,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def _store(self, cache, digest: str, config, time_ns: float) -> None:
        meta = {
            "time_ns": time_ns,
            "machine": self.machine,
            "key": [str(k) for k in self.key],
            "config": repr(config),
        }
        cache.put(digest, b"", meta)


def code_versions(loaded: bool = True) -> tuple[str, str]:
    """(compiler version, accelerator-model version). `loaded`: of the code this process runs
    (hashed when it first needed them, as the runtime's version is); else of the files as they
    are now, what a process started now would run. A worker whose versions differ from the
    tuner's (sources edited in between, another install) must not time for it."""
    if not loaded:
        from .jit import compiler_source_hash
        from .version import COMPILER_VERSION

        return f"{COMPILER_VERSION}-{compiler_source_hash()}", _isa_hash()
    from codegen.cpu.hostid import host_identity
    from runtime.driver import get_runtime

    rt = get_runtime()  # its version ends with the host, which accelerator code ignores
    return rt.version.removesuffix("-" + host_identity(rt.options.cpu)), model_version()


@functools.cache  # the sources this process loaded: hashed once, as the runtime's version is
def model_version() -> str:
    """A hash of the accelerator package's sources (emulator, timing model, machine configs):
    the compiler version does not cover them, and modelled times depend on them."""
    return _isa_hash()


def _isa_hash() -> str:
    from .jit import isa_source_hash

    return isa_source_hash()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool for sweeps. Spawned, not forked: the tuner's process runs threads (the
    launch pool, LLVM) that a fork would copy in whatever state they are."""
    return ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"))


def check_executor(executor) -> None:
    if executor in ("process", "inline") or isinstance(executor, Executor):
        return
    if callable(getattr(executor, "submit", None)):
        return  # duck-typed: anything with submit(fn, *args) -> future
    raise TypeError(
        f"autotune executor must be a concurrent.futures.Executor, 'process' or 'inline', "
        f"got {executor!r}"
    )


# -- helpers -----------------------------------------------------------------------------------
def _needs_data(e: BaseException) -> bool:
    """True for the error of a timing-only run that met data-dependent control or addresses."""
    from isa.errors import TimingOnlyError

    while e is not None:
        if isinstance(e, TimingOnlyError):
            return True
        e = e.__cause__ or e.__context__
    return False


def _as_numpy(a) -> np.ndarray | None:
    if isinstance(a, np.ndarray):
        return a
    if type(a).__module__.startswith("torch") and hasattr(a, "data_ptr"):
        return _torch_numpy(a)
    return None


def _copy(a):
    if isinstance(a, np.ndarray):
        return a.copy()
    if hasattr(a, "clone") and hasattr(a, "data_ptr"):
        return a.clone()
    return a


def _torch_numpy(t) -> np.ndarray:
    """A CPU tensor's memory as a numpy array of the same dtype (ml_dtypes for bf16/fp8)."""
    t = t.detach()
    try:
        return t.numpy()
    except TypeError:  # bfloat16, float8: numpy has no such dtype
        import ml_dtypes

        np_type = np.dtype(getattr(ml_dtypes, str(t.dtype).removeprefix("torch.")))
        bits = {1: "uint8", 2: "int16"}[np_type.itemsize]
        torch = sys.modules["torch"]  # `t` is a torch tensor: torch is loaded (never imported here)
        return t.view(getattr(torch, bits)).numpy().view(np_type)


def _dtype(name: str) -> np.dtype:
    try:
        return np.dtype(name)
    except TypeError:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))


def _byte_bounds(a: np.ndarray) -> tuple[int, int]:
    if hasattr(np, "byte_bounds"):
        return np.byte_bounds(a)
    return np.lib.array_utils.byte_bounds(a)


def _load_file(module: str, file: str | None):
    """Import a kernel's module from its file when its name does not import (a script run as
    __main__ on the tuner's side, a directory not on this worker's path)."""
    if not file:
        raise ImportError(f"module {module} of the kernel is not importable here")
    name = f"_jitlang_tune_{hashlib.sha256(file.encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the kernel's file {file}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod
