"""LLVM driver for the CPU target: optimize at O3 for the host, emit an object, load it.

Stage: codegen/cpu back end. Input: an `llvmlite.ir.Module`; output: optimized LLVM IR text and a
relocatable object (cacheable bytes), and, from an object, a `NativeKernel` holding a callable
entry address. Every MCJIT engine gets its own target machine: an engine owns its target machine
and frees it when collected, so sharing one across engines crashes.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import llvmlite.binding as llvm

_init_lock = threading.Lock()
_initialized = False


def _ensure_init() -> None:
    global _initialized
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialized = True


def host_target_machine(opt: int = 3):
    _ensure_init()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=opt,
        reloc="pic",
        codemodel="jitdefault",
    )


def host_signature() -> str:
    """Identifies the code the host would get (part of every cache key)."""
    _ensure_init()
    return f"{llvm.get_process_triple()}|{llvm.get_host_cpu_name()}|{llvm.get_host_cpu_features().flatten()}|llvm{llvm.llvm_version_info}"


class LLVMCompiler:
    """Owns one target machine used only to optimize and emit objects (never given to an engine)."""

    def __init__(self) -> None:
        self._tm = host_target_machine()
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


@dataclass
class NativeKernel:
    engine: object  # keeps the code alive
    address: int
    globals: dict[str, int]


def load_object(obj: bytes, entry: str, globals_: tuple[str, ...] = ()) -> NativeKernel:
    _ensure_init()
    tm = host_target_machine()  # owned by this engine
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
    return NativeKernel(engine, addr, gaddrs)


def set_pointer_global(kernel: NativeKernel, name: str, value: int) -> None:
    addr = kernel.globals.get(name)
    if addr:
        ctypes.c_void_p.from_address(addr).value = value
