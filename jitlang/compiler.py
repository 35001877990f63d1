"""The compilation pipeline, one named step per line: Python AST -> tile IR -> passes -> target.

`compile_kernel` is the only place that knows the order of the stages; each stage lives in its
own module (frontend, passes, codegen). Options are passed explicitly (`CompileOptions`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .ir import Function
from .passes import PIPELINE
from .passes.axisinfo import analyze
from .passes.layout import infer_layouts
from .printer import print_function
from .verifier import verify
from .version import COMPILER_VERSION  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class CompileOptions:
    target: str = "cpu"
    verify_each_pass: bool = True
    dump_ir: bool = False  # print each stage's IR
    dump_dir: str | None = None  # write each stage's IR to files here
    bounds_check: bool = False  # check every load/store/atomic against its array (debug)
    # loop-load buffers (multi-buffering) a launch or `Config` asks for; None: the backend picks
    num_stages: int | None = None
    # step "batch_programs": (lanes, groups, group_major): `groups` groups of `lanes` program ids
    # (on partitions) side by side, their straight-line ops interleaved op by op or (group_major)
    # one group's after another's; None: (partitions, 2, False). The accel driver picks it per
    # kernel and machine by modelled time (runtime.accel_driver.BATCH_SHAPES)
    batch_shape: tuple[int, int, bool] | None = None


def _dump(options: CompileOptions, name: str, stage: str, text: str) -> None:
    if options.dump_ir:
        print(f"// -----// {name}: {stage} //----- //\n{text}")
    if options.dump_dir:
        import os

        os.makedirs(options.dump_dir, exist_ok=True)
        path = os.path.join(options.dump_dir, f"{name}.{stage}")
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)


@dataclass
class CompileResult:
    name: str
    tile_ir: str
    llvm_ir: str  # optimized
    object_code: bytes
    params: list
    print_sites: list
    assert_sites: list
    timings: dict = field(default_factory=dict)
    bounds_sites: list = field(default_factory=list)
    lockstep: bool = False  # programs interleaved per loop iteration (codegen.cpu.lower)


def optimize_tile_ir(fn: Function, options: CompileOptions) -> Function:
    """Run the tile-IR pass pipeline (`jitlang.passes.PIPELINE`), verifying after each pass."""
    verify(fn)
    _dump(options, fn.name, "0-frontend.tile", print_function(fn))
    for i, (name, p) in enumerate(PIPELINE, 1):
        fn = p(fn)
        if options.verify_each_pass:
            verify(fn)
        if options.dump_ir or options.dump_dir:
            _dump(options, fn.name, f"{i}-{name}.tile", print_function(fn))
    return fn


def compile_cpu(fn: Function, options: CompileOptions, compiler, target) -> CompileResult:
    """Tile IR -> LLVM IR (codegen.cpu) -> O3 object (codegen.cpu.engine) for `target`, a
    `codegen.cpu.target.CpuTarget` that every stage below reads."""
    from codegen.cpu.lower import lower_to_llvm

    t0 = time.perf_counter()
    fn = optimize_tile_ir(fn, options)  # fold, cse, dce
    fn = infer_layouts(fn, target)  # dot tiling, convert_layout for strided dot operands
    if options.verify_each_pass:
        verify(fn)
    if options.dump_ir or options.dump_dir:
        _dump(options, fn.name, f"{len(PIPELINE) + 1}-layout.tile", print_function(fn))
    tile_text = print_function(fn)
    axis = analyze(fn)  # contiguity/divisibility for vector loads
    t1 = time.perf_counter()
    module, low = lower_to_llvm(
        fn, axis, fn.name, options.bounds_check, target
    )  # fused chunk loops per block sink
    raw = str(module)
    if options.dump_ir or options.dump_dir:
        _dump(options, fn.name, "llvm.ll", raw)
    t2 = time.perf_counter()
    llir, obj = compiler.compile(raw)  # llvmlite: O3 for the host CPU, object code
    t3 = time.perf_counter()
    if options.dump_dir:
        _dump(options, fn.name, "llvm-O3.ll", llir)
    return CompileResult(
        fn.name,
        tile_text,
        llir,
        obj,
        [(p.name, str(p.type)) for p in fn.params],
        low.print_sites,
        [(msg, str(loc)) for msg, loc in low.assert_sites],
        {"frontend+passes": t1 - t0, "lowering": t2 - t1, "llvm": t3 - t2},
        [list(x) for x in low.bounds.sites] if low.bounds is not None else [],
        low.lockstep,
    )


@dataclass
class AccelCompileResult:
    name: str
    tile_ir: str  # optimized tile IR and the accel layouts
    llvm_ir: str  # after llvmlite O2
    binary: bytes  # isa.binary.Binary.to_bytes()
    params: list
    stored: list[int]  # parameter indices the kernel may write through
    config: str
    timings: dict = field(default_factory=dict)
    assert_sites: list = field(default_factory=list)  # (message, file:line:col) per `check` code
    batch: int = 0  # program ids of grid axis 0 one program runs (0: not batched)
    batch_groups: int = 0  # groups of lanes side by side in a batched program (0: not batched)
    batchable: bool = False  # step "batch_programs" would batch this kernel


def _check_accel_limits(fn: Function) -> None:
    """What the accelerator refuses at the op's line (TargetLimitError): a sum, product or
    custom reduction or scan of an fp8 block (the engines reduce with one rounding where the
    CPU rounds every step to fp8; max and min are exact and run)."""
    from .ir import OpKind, ReduceKind, scalar_dtype, walk
    from .passes.accel_layout import TargetLimitError

    exact = (ReduceKind.MAX, ReduceKind.MIN, ReduceKind.ARGMAX, ReduceKind.ARGMIN)
    for op in walk(fn.body):
        if op.kind not in (OpKind.REDUCE, OpKind.SCAN) or op.attr.kind in exact:
            continue
        for v in op.operands:
            dt = scalar_dtype(v.type)
            if dt is not None and dt.is_fp8:
                raise TargetLimitError(
                    op.loc,
                    f"a {op.attr.kind.value} {op.kind.value} of {dt} on the accelerator (its "
                    f"engines reduce with one rounding; {dt} rounds each step on the CPU)",
                    "reduce it in float32: `tl.sum(x, dtype=tl.float32)` or "
                    "`x.to(tl.float32)` first",
                )


def compile_accel(fn: Function, options: CompileOptions, target) -> AccelCompileResult:
    """Tile IR -> accel layouts and memory plan -> LLVM IR with accel.* intrinsics -> O2 ->
    isel -> regalloc -> schedule -> encoding (codegen.accel; DESIGN.md section 2). With the
    target step "batch_programs", program ids of grid axis 0 run B at a time when the kernel
    allows it (`passes.accel_batch`; the result's `batch` says B)."""
    from isa.machine import get_config

    from .passes.accel_batch import batchable
    from .passes.accel_fp8 import emulate_fp8, needs_emulation
    from .passes.accel_memory import OutOfChipMemoryError
    from .passes.accel_poll import has_polls, lower_polls, poll_load_ns
    from .passes.accel_reuse import copy_function, reuse_row_loads

    t0 = time.perf_counter()
    fn = optimize_tile_ir(fn, options)  # fold, cse, dce
    _check_accel_limits(fn)
    if needs_emulation(fn):  # fp8 formats the machine lacks, through its fp8 types and int ops
        fn = optimize_tile_ir(emulate_fp8(fn), options)
    if has_polls(fn):  # tl.atomic_poll: a `while` of loads, its timeout in modelled time
        try:
            config = get_config(target.config)
        except (ValueError, AttributeError):  # a target built for a test: the default machine
            config = get_config()
        fn = optimize_tile_ir(lower_polls(fn, poll_load_ns(config)), options)
    builds = [(fn, [])]
    if "hoist_loads" in target.steps:  # one load of a row several loops walk in one trip
        pairs: list = []
        spans: list = []
        rfn = reuse_row_loads(copy_function(fn), pairs, spans)
        if spans:
            builds.insert(0, (optimize_tile_ir(rfn, options), pairs))
    can_batch = batchable(fn) is None
    for k, (kfn, pairs) in enumerate(builds):
        last = k == len(builds) - 1
        try:
            res = _compile_accel_batched(kfn, options, target, t0, pairs, can_batch)
        except OutOfChipMemoryError:  # the reused rows do not fit: the build without
            if last:
                raise
            continue
        res.batchable = can_batch
        return res
    raise AssertionError("unreachable")


def _compile_accel_batched(fn, options, target, t0, noalias, can_batch) -> AccelCompileResult:
    """With the target step "batch_programs", program ids of grid axis 0 B at a time when the
    kernel allows it; else (or when no batched shape compiles) the unbatched build."""
    from codegen.accel.lower import UnsupportedOnAccelError

    from .passes.accel_batch import batch_programs
    from .passes.accel_batch_masks import version_masks
    from .passes.accel_layout import TargetLimitError
    from .passes.accel_memory import OutOfChipMemoryError

    if can_batch and "batch_programs" in target.steps:
        # B program ids on the partitions, `batch_groups` groups of them side by side (one's
        # loads overlap another's compute); when the tiles do not fit, fewer groups, then B halves
        p, groups, major = options.batch_shape or (target.partitions, 2, False)
        tries = [(p, c) for c in range(groups, 1, -1)] + [(p >> i, 1) for i in range(5)]
        for b, copies in tries:
            try:
                bfn = batch_programs(fn, b, copies, major)
                bfn = version_masks(optimize_tile_ir(bfn, options))
                if options.verify_each_pass:
                    verify(bfn)
                res = _compile_accel_fn(bfn, options, target, t0, noalias)
            except (TargetLimitError, OutOfChipMemoryError):
                continue
            except UnsupportedOnAccelError:
                break  # a batched shape the backend lacks: the unbatched build
            res.batch, res.batch_groups = b * copies, copies
            return res
    return _compile_accel_fn(fn, options, target, t0, noalias)


def _compile_accel_fn(
    fn: Function, options: CompileOptions, target, t0, noalias=()
) -> AccelCompileResult:
    from codegen.accel import emit, isel, regalloc, schedule
    from codegen.accel.llvm import optimize
    from codegen.accel.lower import lower_to_llvm

    from .passes.accel_access import stored_params
    from .passes.accel_layout import format_plan, infer_accel_layouts
    from .passes.accel_memory import plan_memory

    plan = infer_accel_layouts(fn, target)  # partitions per block, convert_layout, DMA kinds
    if options.verify_each_pass:
        verify(plan.fn)
    plan.noalias += [p for p in noalias if p not in plan.noalias]  # accel_reuse's assumptions
    mem = plan_memory(plan, target)  # SBUF buffers from lifetimes
    tile_text = print_function(plan.fn) + "\n" + format_plan(plan)
    t1 = time.perf_counter()
    module, tables = lower_to_llvm(plan, mem, target, fn.name)  # scalar LLVM + intrinsic calls
    raw = str(module)
    if options.dump_ir or options.dump_dir:
        _dump(options, fn.name, "accel.ll", raw)
    t2 = time.perf_counter()
    llir = optimize(raw)  # llvmlite O2: fold, LICM, strength reduction of the scalar part
    t3 = time.perf_counter()
    mf = isel.select(llir, fn.name, tables)  # LLVM instructions -> ISA on virtual registers
    mf = regalloc.allocate(mf, target, mem.spill_offset)  # linear scan, spills to SBUF
    mf = schedule.schedule(mf, target)  # DMA queues, program order
    binary = emit.encode(mf, fn.loc.file, [p.name for p in fn.params])  # Builder + line table
    t4 = time.perf_counter()
    if options.dump_ir or options.dump_dir:
        _dump(options, fn.name, "accel.s", emit.annotate(binary))
    return AccelCompileResult(
        fn.name,
        tile_text,
        llir,
        binary.to_bytes(),
        [(p.name, str(p.type)) for p in fn.params],
        stored_params(plan.fn),
        target.config,
        {
            "frontend+passes": t1 - t0,
            "lowering": t2 - t1,
            "llvm": t3 - t2,
            "backend": t4 - t3,
        },
        list(tables.assert_sites),
    )
