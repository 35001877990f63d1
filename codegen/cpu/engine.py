"""LLVM driver for the CPU target: optimize at O3 for the host, emit an object, load it.

Stage: codegen/cpu back end. Input: an `llvmlite.ir.Module`; output: optimized LLVM IR text and a
relocatable object (cacheable bytes), and, from an object, a `NativeKernel` holding a callable
entry address (the fallback when no system linker makes a shared object: `loader.py`). Every MCJIT engine gets its own target machine: an engine owns its target machine
and frees it when collected, so sharing one across engines crashes.
"""

from __future__ import annotations

import threading

import llvmlite.binding as llvm

from .loader import NativeKernel
from .target import CpuTarget, cpu_target, host_cpu, machine, target_signature


def host_target_machine(opt: int = 3):
    """A target machine for the host CPU (tests; the compiler uses its `CpuTarget`'s)."""
    return cpu_target().target_machine(opt)


def host_signature() -> str:
    """Identifies the code the host would get."""
    return target_signature(None)


class LLVMCompiler:
    """Owns one target machine used only to optimize and emit objects (never given to an engine)."""

    def __init__(self, target: CpuTarget | None = None) -> None:
        self.target = target or cpu_target()
        self._tm = self.target.target_machine()
        self._lock = threading.Lock()

    def compile(self, llvm_ir: str) -> tuple[str, bytes]:
        """Optimize `llvm_ir` at O3; return (optimized IR text, object code)."""
        with self._lock:
            mod = llvm.parse_assembly(llvm_ir)
            mod.triple = self._tm.triple
            mod.data_layout = str(self._tm.target_data)
            mod.verify()
            pto = llvm.create_pipeline_tuning_options(speed_level=3)
            pto.loop_vectorization = True
            pto.slp_vectorization = True
            pb = llvm.create_pass_builder(self._tm, pto)
            pm = pb.getModulePassManager()
            pm.run(mod, pb)
            text = str(mod)
            obj = self._tm.emit_object(mod)
            return text, obj

    def assembly(self, optimized_ir: str) -> str:
        with self._lock:
            mod = llvm.parse_assembly(optimized_ir)
            return self._tm.emit_assembly(mod)


def load_object(
    obj: bytes, entry: str, globals_: tuple[str, ...] = (), functions: tuple[str, ...] = ()
) -> NativeKernel:
    tm = machine(*host_cpu())  # owned by this engine; the object's code is already chosen
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    addr = engine.get_function_address(entry)
    if not addr:
        raise RuntimeError(f"entry point {entry!r} missing from the compiled object")
    gaddrs = {}
    for g in globals_:
        a = engine.get_global_value_address(g)
        if a:
            gaddrs[g] = a
    faddrs = {f: a for f in functions if (a := engine.get_function_address(f))}
    return NativeKernel(engine, addr, gaddrs, faddrs)
