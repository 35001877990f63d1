"""The runtime that owns process-wide state: worker pool, LLVM compiler, disk cache.

`get_runtime().compile(jit_fn, key, target)` produces a `CompiledKernel` for one specialization:
from the on-disk cache when present and valid, otherwise through `jitlang.compiler`.
"""

from __future__ import annotations

import hashlib
import threading
import time

from .config import get_options
from .launch import WorkerPool


class AsmDict(dict):
    """`asm["tile"]`, `asm["llir"]`, `asm["asm"]` (host assembly, produced on first access)."""

    def __init__(self, tile: str, llir: str, runtime: Runtime) -> None:
        super().__init__(tile=tile, llir=llir)
        self._runtime = runtime

    def __missing__(self, key):
        if key == "asm":
            text = self._runtime.llvm.assembly(self["llir"])
            self["asm"] = text
            return text
        raise KeyError(f"{key!r}: available are 'tile', 'llir', 'asm'")

    def keys(self):
        return ["tile", "llir", "asm"]

    def __contains__(self, key) -> bool:
        return key in ("tile", "llir", "asm")


class CompiledKernel:
    """One specialization of a kernel for one target; `kernel[grid](*args)` launches it too."""

    def __init__(self, jf, key, target: str, native, meta: dict, asm: AsmDict) -> None:
        self.jf = jf
        self.key = key
        self.target = target
        self.native = native
        self.metadata = meta
        self.asm = asm
        self.name = meta["name"]
        # globals the kernel's code read at compile time; a launch checks they are unchanged
        self.guards = jf.guards() if hasattr(jf, "guards") else ()

        self.launch = native.launch  # the hot path: no extra Python frame
        self.bounds_check = bool(meta.get("bounds_check"))

    def guards_hold(self) -> bool:
        for g, name, v in self.guards:
            cur = g.get(name)
            if cur is v:
                continue
            a = cur.value if isinstance(cur, _constexpr()) else cur
            b = v.value if isinstance(v, _constexpr()) else v
            if type(a) is not type(b) or a != b:
                return False
        return True

    def __getitem__(self, grid):
        def run(*args, **kwargs):
            return self.jf.run(*args, grid=grid, target=self.target, **kwargs)

        return run

    def __repr__(self) -> str:
        return f"CompiledKernel({self.name}, target={self.target})"


class _InterpretedKernel:
    def __init__(self, fn) -> None:
        self.fn = fn
        self.n = len(fn.params)

    def launch(self, grid, args) -> None:
        from jitlang.interpreter import run_grid

        vals = list(args[: self.n])
        ext = list(args[self.n :])
        ranges = [(ext[i], ext[i + 1]) for i in range(0, len(ext), 2)]
        run_grid(self.fn, grid, vals, ranges)


def _constexpr():
    from jitlang.language.core import constexpr

    return constexpr


class Runtime:
    def __init__(self) -> None:
        self.options = get_options()
        self.pool = WorkerPool(self.options.num_threads)
        self._llvm = None
        self._cache = None
        self._lock = threading.Lock()
        self._version = None

    @property
    def cpu_target(self):
        """The CPU target description (the host's, or JITLANG_CPU's), probed on first compile."""
        from codegen.cpu.target import cpu_target

        return cpu_target(self.options.cpu)

    @property
    def llvm(self):
        if self._llvm is None:
            from codegen.cpu.engine import LLVMCompiler

            self._llvm = LLVMCompiler(self.cpu_target)
        return self._llvm

    @property
    def version(self) -> str:
        if self._version is None:
            from codegen.cpu.hostid import host_identity
            from jitlang.jit import compiler_source_hash
            from jitlang.version import COMPILER_VERSION

            host = host_identity(self.options.cpu)
            self._version = f"{COMPILER_VERSION}-{compiler_source_hash()}-{host}"
        return self._version

    @property
    def disk_cache(self):
        if self._cache is None and self.options.cache_enabled:
            from .cache import DiskCache

            self._cache = DiskCache(self.options.cache_dir, self.version)
        return self._cache

    def compile(self, jf, key, target: str) -> CompiledKernel:
        if self.options.interpret and target == "cpu":
            return self._interpreted(jf, key, target)
        if target != "cpu":
            if target == "accel":
                return self._compile_accel(jf, key)
            raise ValueError(f"unknown target {target!r}; use 'cpu' or 'accel'")
        name = jf.fn.__name__
        digest = hashlib.sha256(
            repr((jf.dependency_hash(), key, target, name, self.options.bounds_check)).encode()
        ).hexdigest()
        cache = self.disk_cache
        hit = cache.get(digest) if cache is not None else None
        if hit is not None:
            obj, meta = hit
            try:
                return self._load(jf, key, target, obj, meta)
            except Exception:
                pass  # an unloadable entry is rebuilt below
        obj, meta = self._build(jf, key, target)
        if cache is not None:
            cache.put(digest, obj, meta)
        return self._load(jf, key, target, obj, meta)

    def _compile_accel(self, jf, key) -> CompiledKernel:
        """The accelerator path (runtime.accel_driver): compile or fetch from the disk cache."""
        from .accel_driver import compile_accel_kernel

        return compile_accel_kernel(self, jf, key)

    def _build(self, jf, key, target):
        from jitlang.compiler import CompileOptions, compile_cpu
        from jitlang.frontend.visitor import build_kernel

        t0 = time.perf_counter()
        fn, _ctx = build_kernel(jf, jf._params(key), jf.fn.__name__)
        opts = CompileOptions(
            target=target,
            verify_each_pass=True,
            dump_ir=self.options.dump_ir,
            dump_dir=str(self.options.dump_dir) if self.options.dump_dir else None,
            bounds_check=self.options.bounds_check,
        )
        res = compile_cpu(fn, opts, self.llvm, self.cpu_target)
        arg_kinds = []
        for _pname, ptype in res.params:
            arg_kinds.append("f" if ptype in ("fp16", "bf16", "fp32", "fp64") else "i")
        meta = {
            "name": res.name,
            "arg_kinds": arg_kinds,
            "params": res.params,
            "print_sites": res.print_sites,
            "assert_sites": res.assert_sites,
            "tile": res.tile_ir,
            "llir": res.llvm_ir,
            "compile_seconds": time.perf_counter() - t0,
            "timings": res.timings,
            "bounds_check": self.options.bounds_check,
            "bounds_sites": res.bounds_sites,
            "n_ptr": sum(1 for _p, t in res.params if t.startswith("ptr<")),
            "lockstep": res.lockstep,
        }
        from codegen.cpu.loader import link_shared

        so = link_shared(res.object_code)
        meta["so_size"] = len(so) if so else 0
        return res.object_code + (so or b""), meta

    def _interpreted(self, jf, key, target) -> CompiledKernel:
        """JITLANG_INTERPRET=1: run the optimized tile IR on the numpy interpreter."""
        from jitlang.compiler import CompileOptions, optimize_tile_ir
        from jitlang.frontend.visitor import build_kernel
        from jitlang.printer import print_function

        fn, _ctx = build_kernel(jf, jf._params(key), jf.fn.__name__)
        fn = optimize_tile_ir(fn, CompileOptions(target=target))
        meta = {
            "name": fn.name,
            "params": [(p.name, str(p.type)) for p in fn.params],
            "bounds_check": True,  # the launcher passes array ranges: the interpreter's memory
            "interpreted": True,
            "tile": print_function(fn),
        }
        native = _InterpretedKernel(fn)
        return CompiledKernel(jf, key, target, native, meta, AsmDict(meta["tile"], "", self))

    def _load(self, jf, key, target, obj: bytes, meta: dict) -> CompiledKernel:
        from .cpu_driver import CpuKernel

        native = CpuKernel(meta["name"], obj, meta, self.pool)
        return CompiledKernel(
            jf, key, target, native, meta, AsmDict(meta["tile"], meta["llir"], self)
        )


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = Runtime()
    return _runtime
