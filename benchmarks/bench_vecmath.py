"""Speed of codegen/cpu/vecmath.py against numpy: ns per element on float32 arrays, one thread.

Each function is compiled into ``void f(float* in, float* out, i64 n)`` that maps 16-lane vectors
(n must be a multiple of 16), at O3 for the host CPU. Two sizes: 2^22 elements (32 MiB of traffic,
close to memory bound for the cheap functions) and 2^13 elements repeated (in L1/L2: compute bound).
Run: ``python benchmarks/bench_vecmath.py``.
"""

from __future__ import annotations

import ctypes
import sys
import time
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from codegen.cpu.vecmath import get_math_function  # noqa: E402

SIZES = (1 << 22, 1 << 13)
LANES = 16
REPEATS = 7
_I64 = ir.IntType(64)


def _define_map(module: ir.Module, name: str, elem: ir.Type) -> None:
    vty = ir.VectorType(elem, LANES)
    ptr = elem.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr, ptr, _I64]), f"map_{name}")
    src, dst, n = fn.args
    entry, head, body, done = (fn.append_basic_block(s) for s in ("entry", "head", "body", "done"))
    b = ir.IRBuilder(entry)
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(_I64)
    i.add_incoming(ir.Constant(_I64, 0), entry)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)
    x = b.load(b.bitcast(b.gep(src, [i]), vty.as_pointer()), align=4)
    y = b.call(get_math_function(module, name, vty), [x])
    b.store(y, b.bitcast(b.gep(dst, [i]), vty.as_pointer()), align=4)
    i.add_incoming(b.add(i, ir.Constant(_I64, LANES)), body)
    b.branch(head)
    b.position_at_end(done)
    b.ret_void()


def _compile(module: ir.Module):
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(str(module))
    mod.verify()
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3
    )
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
    pb.getModulePassManager().run(mod, pb)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    return engine


def _best_ns_per_element(call, n: int) -> float:
    inner = max(1, (1 << 22) // n)  # small arrays: time many calls per sample
    call()  # warm up (page faults, caches)
    best = min(_timed(call, inner) for _ in range(REPEATS))
    return best / (n * inner) * 1e9


def _timed(call, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        call()
    return time.perf_counter() - t0


def _numpy_erf():
    try:
        from scipy.special import erf
    except ImportError:
        return None, "-"
    return erf, "scipy.special.erf"


def main() -> None:
    cases = {  # name: (input range, numpy function, its label)
        "exp": ((-80, 80), np.exp, "np.exp"),
        "log": ((1e-3, 1e3), np.log, "np.log"),
        "sin": ((-100, 100), np.sin, "np.sin"),
        "cos": ((-100, 100), np.cos, "np.cos"),
        "erf": ((-4, 4), *_numpy_erf()),
        "tanh": ((-10, 10), np.tanh, "np.tanh"),
    }
    module = ir.Module(name="bench_vecmath")
    module.triple = llvm.get_process_triple()
    for name in cases:
        _define_map(module, name, ir.FloatType())
    engine = _compile(module)
    proto = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

    rng = np.random.default_rng(0)
    for n in SIZES:
        print(f"\n{n} float32 elements, one thread, host cpu {llvm.get_host_cpu_name()}")
        print(
            f"{'function':10s} {'jitlang ns/el':>14s} {'numpy ns/el':>12s} {'speedup':>8s}  numpy"
        )
        for name, ((lo, hi), np_fn, label) in cases.items():
            x = rng.uniform(lo, hi, n).astype(np.float32)
            out = np.empty_like(x)
            fn = proto(engine.get_function_address(f"map_{name}"))
            src, dst = x.ctypes.data, out.ctypes.data  # outside the timed call: not free
            ours = _best_ns_per_element(lambda fn=fn, src=src, dst=dst, n=n: fn(src, dst, n), n)
            if np_fn is None:
                print(f"{name:10s} {ours:14.3f} {'-':>12s} {'-':>8s}  (scipy not installed)")
                continue
            theirs = _best_ns_per_element(lambda np_fn=np_fn, x=x, out=out: np_fn(x, out=out), n)
            print(f"{name:10s} {ours:14.3f} {theirs:12.3f} {theirs / ours:7.2f}x  {label}")


if __name__ == "__main__":
    main()
