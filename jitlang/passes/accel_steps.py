"""The accelerator backend's tile-IR optimisation steps, in the order they run.

Stage: accel backend, the start of `accel_layout.infer_accel_layouts`. Input: verified,
optimized tile IR and the target (`codegen.accel.target.AccelTarget`, whose `steps` name the
steps to run). Output: an equivalent kernel for layout inference; `noalias` receives the pointer
pairs `hoist_loads` assumed apart (the launch checks them). The steps: "full_blocks"
(`accel_full_blocks`), "uniform_masks" (`accel_uniform_masks`), "expand_loads"
(`accel_expand_loads`), "square_sums" (`accel_square_sums`), "hoist_loads" and the unrolling of
"multi_buffer" (`accel_hoist`, with the target's `num_stages`), with `x + dot(a, b)` as
`dot(a, b, x)` always and "narrow_acc" (`accel_narrow_acc`) between them.
"""

from __future__ import annotations

from ..ir import Function

# Loads in flight per loop when the launch gives no num_stages (step multi_buffer): two
# buffers per loop load, one filled by DMA while the engines read the other.
DEFAULT_STAGES = 2


def apply_tile_steps(fn: Function, target, noalias: list[tuple[int, int]]) -> Function:
    """Run the target's tile-IR steps on `fn` (see the module docstring)."""
    if "full_blocks" in getattr(target, "steps", ()):
        from .accel_full_blocks import split_loops_once
        from .dce import dce

        fn = dce(split_loops_once(fn))
    if "uniform_masks" in getattr(target, "steps", ()):
        from .accel_uniform_masks import version_uniform_masks

        fn = version_uniform_masks(fn)
    if "expand_loads" in getattr(target, "steps", ()):
        from .accel_expand_loads import expand_loads

        fn = expand_loads(fn)
    if "square_sums" in getattr(target, "steps", ()):
        from .accel_square_sums import drop_zero_adds

        fn = drop_zero_adds(fn)
    if "hoist_loads" in getattr(target, "steps", ()):
        from .accel_hoist import hoist_invariant_loads

        fn = hoist_invariant_loads(fn, noalias)
    from .accel_narrow_acc import fuse_dot_add

    fuse_dot_add(fn)
    if "narrow_acc" in getattr(target, "steps", ()):
        from .accel_narrow_acc import narrow_dot_accumulators

        fn = narrow_dot_accumulators(fn)
    if "multi_buffer" in getattr(target, "steps", ()):
        from .accel_hoist import pipeline_loop_loads

        stages = getattr(target, "num_stages", None)
        stages = DEFAULT_STAGES if stages is None else stages
        fn = pipeline_loop_loads(fn, stages, target.sbuf_bytes_per_partition)
    return fn
