"""Shared helpers of the accel backend's stage tests: a kernel's tile IR through the passes."""

from __future__ import annotations

from codegen.accel.target import accel_target
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.passes.accel_layout import infer_accel_layouts
from jitlang.passes.accel_memory import plan_memory
from jitlang.verifier import verify
from tests.irutil import kernel_ir

TARGET = accel_target("nc-v2")


def plan_of(jf, *args, target=TARGET, **kwargs):
    fn = optimize_tile_ir(kernel_ir(jf, *args, **kwargs), CompileOptions(target="accel"))
    plan = infer_accel_layouts(fn, target)
    verify(plan.fn)
    return plan


def memory_of(jf, *args, target=TARGET, **kwargs):
    plan = plan_of(jf, *args, target=target, **kwargs)
    return plan, plan_memory(plan, target)
