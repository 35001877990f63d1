"""llvmlite optimisation of the lowered accel module (the scalar part: fold, LICM, strength
reduction; intrinsic calls are kept and ordered by their attributes).

Stage: codegen/accel, between `lower` and `isel`. Input: LLVM IR text; output: optimised text.
Intrinsic declarations get `nomerge`, so no pass folds two calls with different constant
operands into one. The pipeline runs at O2 without vectorisation or unrolling (the sequencer is a scalar machine and
code size is instruction count).
"""

from __future__ import annotations

import threading

import llvmlite.binding as llvm

_lock = threading.Lock()
_tm = None


def _machine():
    global _tm
    if _tm is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _tm = llvm.Target.from_default_triple().create_target_machine(opt=2)
    return _tm


def optimize(text: str) -> str:
    with _lock:
        tm = _machine()
        mod = llvm.parse_assembly(text)
        mod.verify()
        for fn in mod.functions:
            # tile and pattern operands must stay constants: never merge two calls into one
            # with phi'd operands (llvmlite.ir has no `nomerge`; the binding adds it)
            if fn.name.startswith("accel.") and fn.is_declaration:
                fn.add_function_attribute("nomerge")
        pto = llvm.create_pipeline_tuning_options(speed_level=2)
        pto.loop_vectorization = False
        pto.slp_vectorization = False
        pto.loop_unrolling = False
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        return str(mod)
