"""Autotuning and heuristics over `@jit` kernels: `Config`, `@autotune`, `@heuristics`.

Stage: runtime, one layer above `jit.py`. Input: a launch `kernel[grid](*args, **meta)` of a
decorated kernel. Output: the same launch of the wrapped kernel, with meta-parameters chosen by
benchmarking each `Config` (autotune) or computed from the arguments (heuristics).

Names and semantics follow Triton's `triton.autotune`, `triton.Config` and `triton.heuristics`.
Where we differ:
- `num_warps`, `num_stages`, `num_ctas` and `maxnreg` default to None (Triton: 4, 3, 1, None);
  set ones are passed to the launch, which accepts and ignores them on the CPU.
- Tuning reports are printed when `autotune(..., print_autotuning=True)` or the attribute
  `Autotuner.print_autotuning` is set, not through an environment variable (only
  `runtime/config.py` reads the environment).
- `configs_timings` maps each config to its median time in ms (Triton keeps the
  [median, 20th, 80th percentile] list the benchmarker returned).
- `warmup` and `rep` are not deprecated: they set the budget (ms) of the default benchmarker,
  `jitlang.testing.do_bench`.
- An array named in `key` contributes its (dtype, shape); Triton hashes the tensor object.
- `perf_model` and `early_config_prune` receive the launch's keyword arguments without `grid`.
- `cache_results=True` keeps timings in the runtime's disk cache, keyed by the compiler version,
  the kernel's source, the tuning key and the configs.
- A sweep shows a progress bar (tqdm) when stderr is a terminal or the code runs in a Jupyter
  kernel, and stays quiet otherwise; `Autotuner.progress` (None: decide so, True, False)
  overrides that.
- On `target="accel"` configs are ranked by the accelerator model's time on the launch's
  machine (`config=`, default nc-v2), not by wall time: timing-only emulation, deterministic,
  ties going to the earlier config (`autotune_accel.ModelSweep`). `configs_timings` then holds
  modelled milliseconds. The sweep runs on `executor` (any `concurrent.futures.Executor`; by
  default a local process pool), and each config's time is kept in the disk cache whatever
  `cache_results` says (modelled times do not vary from run to run). `num_stages` in a `Config`
  reaches the accelerator's compiler.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .errors import CompilationError
from .jit import JITFunction, _default_target

_LAUNCH_OPTIONS = ("num_warps", "num_ctas", "num_stages", "maxnreg")


class AutotunerError(RuntimeError):
    """An autotuner set-up that cannot choose a config (e.g. pruning removed every config)."""


class Config:
    """One candidate set of meta-parameters (and launch options) for the autotuner to try.

    `kwargs` are passed to the kernel as keyword arguments; `pre_hook(nargs)` runs before each
    launch with this config, `nargs` being every argument by name.
    """

    def __init__(
        self,
        kwargs: dict[str, Any],
        num_warps: int | None = None,
        num_stages: int | None = None,
        num_ctas: int | None = None,
        maxnreg: int | None = None,
        pre_hook: Callable[[dict], Any] | None = None,
    ) -> None:
        self.kwargs = dict(kwargs)
        self.num_warps = num_warps
        self.num_stages = num_stages
        self.num_ctas = num_ctas
        self.maxnreg = maxnreg
        self.pre_hook = pre_hook

    def all_kwargs(self) -> dict[str, Any]:
        """The meta-parameters and the set launch options, as keyword arguments of a launch."""
        out = dict(self.kwargs)
        for name in _LAUNCH_OPTIONS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def _identity(self) -> tuple:
        return (*self.all_kwargs().items(), self.pre_hook)

    def __hash__(self) -> int:
        return hash(self._identity())

    def __eq__(self, other) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return self._identity() == other._identity()

    def __str__(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.all_kwargs().items())

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.all_kwargs().items() if k in _LAUNCH_OPTIONS)
        hook = f", pre_hook={self.pre_hook!r}" if self.pre_hook is not None else ""
        return f"Config({self.kwargs!r}{opts}{hook})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; `Config(**d)` rebuilds it (without `pre_hook`)."""
        return {"kwargs": self.kwargs, **{k: getattr(self, k) for k in _LAUNCH_OPTIONS}}


class _KernelWrapper:
    """What `Autotuner` and `Heuristics` share: `kernel[grid](...)`, names, the base kernel."""

    def __init__(self, fn, decorator: str) -> None:
        if not (hasattr(fn, "run") and hasattr(fn, "arg_names")):
            raise TypeError(
                f"@{decorator} decorates a @jitlang.jit kernel, got {type(fn).__name__}; "
                f"put @{decorator} above @jit"
            )
        self.fn = fn
        self.arg_names: list[str] = list(fn.arg_names)
        jit_fn = fn
        while not isinstance(jit_fn, JITFunction):
            jit_fn = jit_fn.fn
        self.jit_fn: JITFunction = jit_fn
        # Triton's name: the innermost Python function
        self.base_fn = jit_fn.fn
        self.__name__ = jit_fn.__name__
        self.__doc__ = jit_fn.__doc__
        self._defaults = {
            name: p.default
            for name, p in jit_fn.signature.parameters.items()
            if p.default is not p.empty
        }

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.run(*args, grid=grid, **kwargs)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            f"{self.__name__} is a @jitlang.jit kernel: launch it with {self.__name__}[grid](...)"
        )

    def _named(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """Every kernel argument by name: defaults, then positional, then keyword ones."""
        named = dict(self._defaults)
        named.update(zip(self.arg_names, args))
        named.update(kwargs)
        return named

    def _check_names(self, names: Iterable[str], what: str) -> None:
        unknown = [n for n in names if n not in self.arg_names]
        if unknown:
            raise ValueError(
                f"{what} names {', '.join(map(repr, unknown))}, which "
                f"{'is not a parameter' if len(unknown) == 1 else 'are not parameters'} of "
                f"{self.__name__}({', '.join(self.arg_names)})"
            )


class Autotuner(_KernelWrapper):
    """A kernel launched with the fastest of several `Config`s, chosen once per tuning key."""

    def __init__(
        self,
        fn,
        arg_names: Sequence[str] | None,
        configs: Sequence[Config],
        key: Sequence[str],
        reset_to_zero: Sequence[str] | None = None,
        restore_value: Sequence[str] | None = None,
        pre_hook: Callable | None = None,
        post_hook: Callable | None = None,
        prune_configs_by: dict | None = None,
        warmup: float | None = None,
        rep: float | None = None,
        do_bench: Callable | None = None,
        cache_results: bool = False,
        print_autotuning: bool = False,
        executor: Any = "process",
    ) -> None:
        super().__init__(fn, "autotune")
        if arg_names is not None:
            self.arg_names = list(arg_names)
        self.configs = list(configs) if configs else [Config({})]
        for c in self.configs:
            if not isinstance(c, Config):
                raise TypeError(f"autotune configs must be jitlang.Config objects, got {c!r}")
            self._check_names(c.kwargs, f"config {c}")
        if isinstance(key, str):
            key = [key]
        self.keys = list(key)
        self._check_names(self.keys, "autotune key")
        self.reset_to_zero = list(reset_to_zero or ())
        self.restore_value = list(restore_value or ())
        self._check_names(self.reset_to_zero, "reset_to_zero")
        self._check_names(self.restore_value, "restore_value")
        self.cache: dict[tuple, Config] = {}
        self.configs_timings: dict[Config, float] = {}
        self.best_config: Config | None = None
        self.bench_time: float | None = None
        self.cache_results = cache_results
        self.print_autotuning = print_autotuning
        from .autotune_accel import check_executor

        check_executor(executor)
        self.executor = executor  # where accel sweeps run: an Executor, "process" or "inline"
        self._pool = None  # executor="process": the local pool, kept for the next sweep
        self._pool_workers = 0
        self._pool_closer = None
        self.tuned_on: str | None = None  # "wall time", or "model:<machine>" for accel
        self.sweep_stats: dict[str, int] = {}  # accel: how the last sweep timed its configs
        self.progress: bool | None = None  # a progress bar over the sweep; None: when interactive
        self._restore_copies: dict[str, Any] = {}
        self.user_defined_pre_hook = pre_hook is not None
        self.user_defined_post_hook = post_hook is not None
        self.pre_hook = pre_hook or self._default_pre_hook
        self.post_hook = post_hook or self._default_post_hook

        prune = dict(prune_configs_by or {})
        unknown = set(prune) - {"perf_model", "top_k", "early_config_prune"}
        if unknown:
            raise ValueError(
                f"prune_configs_by: unknown field(s) {sorted(unknown)}; "
                "use 'perf_model', 'top_k' and 'early_config_prune'"
            )
        self.perf_model = prune.get("perf_model")
        self.configs_top_k = prune.get("top_k", 1.0)
        self.early_config_prune = prune.get("early_config_prune")

        self.num_warmups = warmup
        self.num_reps = rep
        if do_bench is None:
            from .testing import do_bench as default_do_bench

            do_bench = functools.partial(
                default_do_bench,
                warmup=25 if warmup is None else warmup,
                rep=100 if rep is None else rep,
            )
        self.do_bench = do_bench

        # Launch-path lookups, computed once: which tuned names a call must not pass itself.
        self._tuned = frozenset().union(*(c.kwargs for c in self.configs))
        self._arg_set = frozenset(self.arg_names)
        positions = [self.arg_names.index(n) for n in self._tuned]
        self._first_tuned_position = min(positions, default=len(self.arg_names))

    def __repr__(self) -> str:
        return f"Autotuner({self.fn!r}, {len(self.configs)} configs, key={self.keys})"

    # -- hooks -------------------------------------------------------------------------------
    def _default_pre_hook(self, nargs: dict, reset_only: bool = False) -> None:
        for name in self.reset_to_zero:
            if nargs.get(name) is not None:
                _zero(name, nargs[name])
        if not reset_only:
            self._restore_copies = {
                name: _clone(name, nargs[name])
                for name in self.restore_value
                if nargs.get(name) is not None
            }

    def _default_post_hook(self, nargs: dict, exception: BaseException | None) -> None:
        for name, saved in self._restore_copies.items():
            _copy_into(nargs[name], saved)
        self._restore_copies = {}

    # -- launching ---------------------------------------------------------------------------
    def run(self, *args, grid, **kwargs):
        """Launch with the best config for these arguments, tuning first if the key is new."""
        config = self.best_config_for(*args, grid=grid, **kwargs)
        call_kwargs = {**kwargs, **config.all_kwargs()}
        if config.pre_hook is not None:
            config.pre_hook({**self._named(args, kwargs), **call_kwargs})
        return self.fn.run(*args, grid=grid, **call_kwargs)

    def best_config_for(self, *args, grid, **kwargs) -> Config:
        """The config a launch with these arguments runs, tuning first if the key is new (on
        accel that runs no kernel numerically: `jitlang.testing.profile` uses it)."""
        self._check_conflicts(args, kwargs)
        tuned_now = False
        key = None
        if len(self.configs) > 1:
            key = self._tuning_key(args, kwargs)
            config = self.cache.get(key)
            if config is None:
                tuned_now = self._tune(key, args, grid, kwargs)
                config = self.cache[key]
        else:
            config = self.configs[0]
        self.best_config = config
        if self.print_autotuning and tuned_now:
            print(
                f"jitlang autotuning for function {self.__name__},\n"
                f"with key as ({', '.join(map(str, key))}),\n"
                f"finished after {self.bench_time:.2f}s,\nbest config selected: {config};"
            )
        return config

    def warmup(self, *args, **kwargs) -> list:
        """Compile every (pruned) config for these arguments; returns the compiled kernels."""
        kwargs.pop("grid", None)
        nargs = self._named(args, kwargs)
        return [
            self.fn.warmup(*args, **{**kwargs, **c.all_kwargs()})
            for c in self.prune_configs(kwargs, nargs)
        ]

    def _check_conflicts(self, args: tuple, kwargs: dict) -> None:
        if len(args) <= self._first_tuned_position and not (kwargs.keys() & self._tuned):
            return
        passed = set(kwargs) | set(self.arg_names[: len(args)])
        conflicts = sorted(passed & self._tuned)
        raise ValueError(
            f"Conflicting meta-parameters: {', '.join(conflicts)}. Make sure that you don't "
            f"re-define auto-tuned symbols: {self.__name__}'s configs set them"
        )

    def _tuning_key(self, args: tuple, kwargs: dict) -> tuple:
        # on every launch: numpy's str(dtype) costs microseconds, so the key holds dtype objects
        # (they compare equal to their names: np.dtype("float32") == "float32")
        named = dict(zip(self.arg_names, args))
        if kwargs:
            named.update((k, v) for k, v in kwargs.items() if k in self._arg_set)
        key = [
            _key_value(named[k] if k in named else self._defaults[k])
            for k in self.keys
            if k in named or k in self._defaults
        ]
        for v in named.values():
            dtype = getattr(v, "dtype", None)
            if dtype is not None:
                key.append(dtype)
        for option in ("target", "config"):
            if kwargs.get(option) is not None:
                key.append((option, kwargs[option]))
        return tuple(key)

    # -- tuning ------------------------------------------------------------------------------
    def _tune(self, key: tuple, args: tuple, grid, kwargs: dict) -> bool:
        """Fill `self.cache[key]`; True if configs were benchmarked (or read from disk)."""
        nargs = self._named(args, kwargs)
        pruned = self.prune_configs(kwargs, nargs)
        if len(pruned) == 1:
            self.cache[key] = pruned[0]
            return False
        machine = self._accel_machine(kwargs)
        if machine is not None:
            return self._tune_on_model(key, args, grid, kwargs, nargs, pruned, machine)
        self.tuned_on = "wall time"
        if self.cache_results and self._load_timings(key, pruned):
            return True
        start = time.perf_counter()
        sweep = _progress(pruned, f"autotuning {self.__name__}", self.progress)
        timings = {c: self._bench(args, grid, kwargs, nargs, c) for c in sweep}
        self.bench_time = time.perf_counter() - start
        best = min(timings, key=timings.get)
        self.cache[key] = best
        self.configs_timings = timings
        # leave reset_to_zero arguments zeroed for the real launch, as Triton does
        self.pre_hook({**nargs, **kwargs, **best.all_kwargs()}, reset_only=True)
        if self.cache_results:
            self._store_timings(key, timings)
        return True

    def _accel_machine(self, kwargs: dict) -> str | None:
        """The accelerator machine this launch runs on, or None for the CPU."""
        if (kwargs.get("target") or _default_target()) != "accel":
            return None
        from runtime.accel_driver import DEFAULT_CONFIG, config_name

        config = kwargs.get("config")
        return DEFAULT_CONFIG if config is None else config_name(config)

    def _tune_on_model(
        self, key: tuple, args: tuple, grid, kwargs: dict, nargs: dict, pruned, machine: str
    ) -> bool:
        """Rank `pruned` by modelled time on `machine` (ties: the earlier config wins)."""
        from .autotune_accel import ModelSweep

        start = time.perf_counter()
        if self.print_autotuning:
            for c in pruned:
                print(f"Autotuning kernel {self.__name__} with config {c} on {machine}")
        sweep = ModelSweep(self, key, args, grid, kwargs, machine)
        times_ns = sweep.run(pruned, self.executor)
        self.sweep_stats = dict(sweep.stats)
        self.bench_time = time.perf_counter() - start
        self.tuned_on = f"model:{machine}"
        self.configs_timings = {c: t / 1e6 for c, t in zip(pruned, times_ns)}
        best = pruned[min(range(len(pruned)), key=lambda i: (times_ns[i], i))]
        self.cache[key] = best
        self.pre_hook({**nargs, **kwargs, **best.all_kwargs()}, reset_only=True)
        return True

    def _process_pool(self, workers: int):
        """The local process pool of accel sweeps, started on first use (its workers' start-up,
        about 2 s each, is paid once) and kept until `close()` or this tuner goes away."""
        if self._pool is None or self._pool_workers < workers:
            from .autotune_accel import process_pool

            self.close()
            self._pool, self._pool_workers = process_pool(workers), workers
            self._pool_closer = weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool

    def close(self) -> None:
        """Stop the local process pool of accel sweeps (a later sweep starts a new one)."""
        if self._pool_closer is not None:
            self._pool_closer()
        self._pool = self._pool_closer = None
        self._pool_workers = 0

    def _bench(self, args: tuple, grid, kwargs: dict, nargs: dict, config: Config) -> float:
        """Median time (ms) of one config; inf if the config does not compile."""
        if self.print_autotuning:
            print(f"Autotuning kernel {self.__name__} with config {config}")
        current = {**kwargs, **config.all_kwargs()}
        full_nargs = {**nargs, **current}

        def kernel_call():
            if config.pre_hook is not None:
                config.pre_hook(full_nargs)
            self.pre_hook(full_nargs)
            try:
                self.fn.run(*args, grid=grid, **current)
            except Exception as e:
                self.post_hook(full_nargs, exception=e)
                raise
            self.post_hook(full_nargs, exception=None)

        try:
            result = self.do_bench(kernel_call, quantiles=(0.5, 0.2, 0.8))
        except CompilationError as e:
            # a config the compiler rejects loses; if all do, the real launch reports the error
            if self.print_autotuning:
                print(f"Autotuning failed with {e}")
            return float("inf")
        if isinstance(result, (list, tuple)):
            result = result[0]
        return float(result)

    def prune_configs(self, kwargs: dict, nargs: dict | None = None) -> list[Config]:
        """The configs worth benchmarking: `early_config_prune`, then the `perf_model`'s top k."""
        kwargs = {k: v for k, v in kwargs.items() if k != "grid"}
        if nargs is None:
            nargs = self._named((), kwargs)
        nargs = {k: v for k, v in nargs.items() if k not in kwargs}
        pruned = list(self.configs)
        if self.early_config_prune is not None:
            pruned = list(self.early_config_prune(pruned, nargs, **kwargs))
            if not pruned:
                raise AutotunerError(
                    f"No valid autotuner configs after pruning {self.__name__}: "
                    "`early_config_prune` should return at least one config"
                )
        if self.perf_model is not None:
            top_k = self.configs_top_k
            if isinstance(top_k, float) and top_k <= 1.0:
                top_k = max(1, int(len(pruned) * top_k))
            elif isinstance(top_k, bool) or not isinstance(top_k, int):
                raise TypeError(
                    f"prune_configs_by['top_k'] must be a float <= 1.0 or an int, got {top_k!r}"
                )
            if len(pruned) > top_k:
                estimates = {
                    c: self.perf_model(**nargs, **kwargs, **c.all_kwargs()) for c in pruned
                }
                pruned = sorted(pruned, key=estimates.__getitem__)[:top_k]
        return pruned

    # -- disk cache of timings ---------------------------------------------------------------
    def _disk_key(self, key: tuple, configs: list[Config]):
        """(disk cache, digest), or None when timings cannot be cached."""
        if not key or any(c.pre_hook is not None for c in configs):
            return None  # a hook cannot be stored, so neither can its timing
        from runtime.driver import get_runtime

        rt = get_runtime()
        cache = rt.disk_cache
        if cache is None:
            return None
        text = repr(
            (
                "autotune",
                rt.version,
                self.jit_fn.dependency_hash(),
                self.__name__,
                [str(k) for k in key],
                [repr(c) for c in configs],
            )
        )
        return cache, hashlib.sha256(text.encode()).hexdigest()

    def _load_timings(self, key: tuple, configs: list[Config]) -> bool:
        where = self._disk_key(key, configs)
        if where is None:
            return False
        cache, digest = where
        hit = cache.get(digest)
        if hit is None:
            return False
        try:
            by_json = {repr(Config(**c.to_json())): c for c in configs}
            timings = {by_json[repr(Config(**d))]: float(t) for d, t in hit[1]["configs_timings"]}
        except (KeyError, TypeError, ValueError):
            return False  # written by an incompatible version: tune again
        self.configs_timings = timings
        self.cache[key] = min(timings, key=timings.get)
        self.bench_time = 0.0
        return True

    def _store_timings(self, key: tuple, timings: dict[Config, float]) -> None:
        where = self._disk_key(key, list(timings))
        if where is None:
            return
        cache, digest = where
        meta = {
            "key": [str(k) for k in key],
            "configs_timings": [[c.to_json(), t] for c, t in timings.items()],
        }
        try:
            cache.put(digest, b"", meta)
        except TypeError:
            pass  # config values JSON cannot encode: the timings stay in memory only


def autotune(
    configs: Sequence[Config],
    key: Sequence[str],
    prune_configs_by: dict | None = None,
    reset_to_zero: Sequence[str] | None = None,
    restore_value: Sequence[str] | None = None,
    pre_hook: Callable | None = None,
    post_hook: Callable | None = None,
    warmup: float | None = None,
    rep: float | None = None,
    do_bench: Callable | None = None,
    cache_results: bool = False,
    print_autotuning: bool = False,
    executor: Any = "process",
) -> Callable[[Any], Autotuner]:
    """Decorate a `@jit` kernel (or a `@heuristics` one) to pick the fastest of `configs`.

        @autotune(configs=[Config({"BLOCK": 128}), Config({"BLOCK": 1024})], key=["n"])
        @jit
        def kernel(x_ptr, n, BLOCK: tl.constexpr): ...

    The configs are benchmarked whenever the values of the `key` arguments (and the dtypes of the
    array arguments) change; the choice is kept in `.cache`. Each config runs the kernel many
    times: `reset_to_zero` names arrays zeroed before each run, `restore_value` arrays restored
    after each. `pre_hook(nargs, reset_only=False)` / `post_hook(nargs, exception)` replace those
    defaults. `prune_configs_by` may hold `early_config_prune(configs, nargs, **kwargs)`, and
    `perf_model(**nargs, **kwargs, **config_kwargs)` with `top_k` (an int, or a fraction <= 1.0).
    `do_bench(fn, quantiles)` replaces the benchmarker; `warmup`/`rep` set the default one's
    budget in ms. `print_autotuning` prints what was tried and chosen.

    On `target="accel"` the configs are ranked by modelled time on the launch's machine, and
    `executor` runs the sweep: "process" (default) a local process pool, "inline" this process,
    or any `concurrent.futures.Executor` (e.g. a dask.distributed client's `get_executor()`).
    """

    def decorator(fn):
        return Autotuner(
            fn,
            None,
            configs,
            key,
            reset_to_zero,
            restore_value,
            pre_hook=pre_hook,
            post_hook=post_hook,
            prune_configs_by=prune_configs_by,
            warmup=warmup,
            rep=rep,
            do_bench=do_bench,
            cache_results=cache_results,
            print_autotuning=print_autotuning,
            executor=executor,
        )

    return decorator


class Heuristics(_KernelWrapper):
    """A kernel whose meta-parameters `values` are computed from the other arguments."""

    def __init__(self, fn, arg_names: Sequence[str] | None, values: dict[str, Callable]) -> None:
        super().__init__(fn, "heuristics")
        if arg_names is not None:
            self.arg_names = list(arg_names)
        self.values = dict(values)
        self._check_names(self.values, "heuristics")
        for name, heur in self.values.items():
            if not callable(heur):
                raise TypeError(
                    f"heuristics[{name!r}] must be a function of the arguments dict, got {heur!r}"
                )

    def __repr__(self) -> str:
        return f"Heuristics({self.fn!r}, {sorted(self.values)})"

    def _compute(self, args: tuple, kwargs: dict) -> dict:
        named = self._named(args, kwargs)
        for name, heur in self.values.items():
            # later heuristics see the values of earlier ones, as in Triton
            named[name] = kwargs[name] = heur(named)
        return kwargs

    def run(self, *args, grid, **kwargs):
        return self.fn.run(*args, grid=grid, **self._compute(args, kwargs))

    def warmup(self, *args, **kwargs):
        kwargs.pop("grid", None)
        return self.fn.warmup(*args, **self._compute(args, kwargs))


def heuristics(values: dict[str, Callable[[dict], Any]]) -> Callable[[Any], Heuristics]:
    """Decorate a `@jit` kernel to compute meta-parameters from its arguments.

        @heuristics({"BLOCK": lambda args: next_power_of_2(args["n"])})
        @jit
        def kernel(x_ptr, n, BLOCK: tl.constexpr): ...

    Each function receives every argument by name (and the values of the heuristics before it).
    """

    def decorator(fn):
        return Heuristics(fn, None, values)

    return decorator


# -- argument helpers (numpy arrays, and torch tensors where torch is installed) -------------
def _in_jupyter() -> bool:
    """True inside a Jupyter (ipykernel) kernel, where a notebook shows stderr."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _progress(items: list, desc: str, setting: bool | None):
    """`items`, wrapped in a tqdm progress bar when someone is watching (or `setting` says so)."""
    if setting is None:
        stderr = sys.stderr
        setting = _in_jupyter() or bool(stderr is not None and stderr.isatty())
    if not setting or len(items) < 2:
        return items
    try:
        if _in_jupyter() and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
    except ImportError:  # tqdm is a dependency, but a missing one must not stop a launch
        return items
    return tqdm(items, desc=desc, unit="config", leave=False)


def _key_value(v):
    if type(v) is int:
        return v
    if isinstance(v, np.ndarray) or hasattr(v, "data_ptr"):
        return (str(v.dtype), tuple(v.shape))
    if isinstance(v, list):
        return tuple(_key_value(x) for x in v)
    return v


def _zero(name: str, v) -> None:
    if hasattr(v, "zero_"):
        v.zero_()
    elif hasattr(v, "__setitem__") and hasattr(v, "dtype"):
        v[...] = 0
    else:
        raise TypeError(f"reset_to_zero: argument {name!r} is a {type(v).__name__}, not an array")


def _clone(name: str, v):
    if hasattr(v, "clone"):
        return v.clone()
    if hasattr(v, "copy") and hasattr(v, "dtype"):
        return v.copy()
    raise TypeError(f"restore_value: argument {name!r} is a {type(v).__name__}, not an array")


def _copy_into(dst, src) -> None:
    if hasattr(dst, "copy_"):
        dst.copy_(src)
    else:
        dst[...] = src


__all__ = ["Autotuner", "AutotunerError", "Config", "Heuristics", "autotune", "heuristics"]
