"""Program batching against the unbatched build on generated kernels (jitlang.fuzz): every
grid is batched (the driver's minimum grid lowered to 1) and every output array must be
bit-identical to the unbatched run. Kernels the pass refuses, or the accelerator cannot run,
are skipped; enough of them must batch for the test to mean something."""

from __future__ import annotations

import numpy as np

import runtime.accel_driver as accel_driver
from jitlang.fuzz.execute import launch_args, load_kernel
from jitlang.fuzz.families import generate

SEEDS = range(0, 24)


def test_generated_kernels_batched_match_unbatched(tmp_path, monkeypatch):
    monkeypatch.setattr(accel_driver, "MIN_BATCH_GRID", 1)
    batched = 0
    for seed in SEEDS:
        case = generate(seed, frozenset({"float64"}))
        path = tmp_path / f"batch_fuzz_{seed}.py"
        path.write_text(case.source)
        kernel = load_kernel(str(path), f"batch_fuzz_{seed}")
        outs = []
        try:
            for on in (False, True):
                args = launch_args(case.args)
                native = kernel.warmup(*args, target="accel").native
                native.batching = on
                kernel[tuple(case.grid)](*args, target="accel")
                outs.append([a.copy() for a in args if isinstance(a, np.ndarray)])
        except Exception as e:  # a documented accelerator limit of the unbatched kernel
            assert not outs, f"seed {seed}: only the batched run failed: {e}"
            continue
        if native.batched is None:
            continue
        assert native.batch_error is None, (seed, native.batch_error)
        batched += native._batched.batch > 0
        for got, want in zip(outs[1], outs[0], strict=True):
            assert got.tobytes() == want.tobytes(), f"seed {seed} ({case.family})"
    assert batched >= 8, batched
