"""The batched-build choice kept in the disk cache (runtime.accel_driver.ChoiceStore): a fresh
process with a warm cache loads the chosen build only and probes nothing; the entry's key holds
what the choice depends on (grid, scalar arguments, the arrays' HBM layout), and an entry that
is not one the store wrote is a miss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from runtime import accel_driver
from runtime.accel_driver import BATCH_SHAPES, ChoiceStore, launch_key
from runtime.cache import DiskCache

ROOT = Path(__file__).resolve().parents[2]

# one process: softmax on 300 rows of 256 (grid >= MIN_BATCH_GRID), numeric run, then the
# choice's state as JSON; PROBE=0 makes any probe or extra candidate build fail loudly
SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, os, sys
    import numpy as np
    import jitlang as jl
    import runtime.accel_driver as ad
    spec = importlib.util.spec_from_file_location("tk", sys.argv[1])
    tk = importlib.util.module_from_spec(spec); spec.loader.exec_module(tk)
    if os.environ["PROBE"] == "0":
        def refuse(*a, **k):
            raise AssertionError("probed with a warm cache")
        ad._modelled_ns = refuse
    rows, cols = 300, 256
    x = np.random.default_rng(1).standard_normal((rows, cols)).astype(np.float32)
    y = np.zeros_like(x)
    args = (y, x, cols, cols, rows, cols)
    compiled = tk.softmax_kernel.warmup(*args, target="accel", BLOCK_SIZE=cols)
    tk.softmax_kernel[(rows,)](*args, target="accel", BLOCK_SIZE=cols)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    ch = compiled.native.batched
    prof = jl.testing.profile(tk.softmax_kernel, (rows,), *args, timing_only=True, BLOCK_SIZE=cols)
    [k] = ch.chosen.values()
    [times] = ch.modelled.values()
    print(json.dumps({
        "disk_hits": ch.disk_hits, "builds": len(ch.builds), "error": ch.probe_error,
        "chosen": [k.batch, k.meta["batch_groups"]], "us": prof.time_ns / 1e3,
        "times": sorted([list(s) + [ns] for s, ns in times.items()]),
        "y": float(y.sum()),
    }))
    """
)


def _run(cache: Path, probe: bool) -> dict:
    env = dict(os.environ, JITLANG_CACHE_DIR=str(cache), PROBE="1" if probe else "0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "tests" / "e2e" / "tutorial_kernels.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_warm_cache_first_launch_probes_nothing(tmp_path):
    cold = _run(tmp_path, probe=True)
    assert cold["disk_hits"] == 0 and cold["error"] is None
    assert cold["builds"] >= 2 and len(cold["times"]) >= 2  # candidates were compared
    warm = _run(tmp_path, probe=False)  # a probe would raise in this process
    assert warm["disk_hits"] == 1 and warm["builds"] == 1  # the chosen build only
    assert warm["chosen"] == cold["chosen"] and warm["us"] == cold["us"]
    assert warm["times"] == cold["times"] and warm["y"] == cold["y"]


class _Kernel:
    """What `launch_key` reads of an AccelKernel."""

    def __init__(self, n: int, ptr_params: list[int], batch: int = 0) -> None:
        self.n, self.ptr_params, self.batch = n, ptr_params, batch


def _args(x: np.ndarray, y: np.ndarray, *scalars):
    """Launcher-style arguments: values, then each array's byte range."""
    ranges = []
    for a in (x, y):
        base = a.base if a.base is not None else a
        ranges += [base.ctypes.data, base.ctypes.data + base.nbytes]
    return (x.ctypes.data, y.ctypes.data, *scalars, *ranges)


def test_launch_key_holds_grid_scalars_and_layout():
    k = _Kernel(4, [0, 1])
    x, y = np.zeros(1024, np.float32), np.zeros(1024, np.float32)
    base = launch_key(k, (64, 1, 1), _args(x, y, 1024, 0.5))
    other_x, other_y = np.zeros(1024, np.float32), np.zeros(1024, np.float32)
    # other arrays of the same sizes, wherever the host put them: the same key
    assert launch_key(k, (64, 1, 1), _args(other_x, other_y, 1024, 0.5)) == base
    assert launch_key(k, (64, 1, 1), _args(other_y, other_x, 1024, 0.5)) == base
    both = np.zeros(2048, np.float32)  # one region for both: which pointers share one matters
    assert launch_key(k, (64, 1, 1), _args(both[:1024], both[1024:], 1024, 0.5)) != base
    assert launch_key(k, (32, 1, 1), _args(x, y, 1024, 0.5)) != base
    assert launch_key(k, (64, 1, 1), _args(x, y, 512, 0.5)) != base
    assert launch_key(k, (64, 1, 1), _args(x, y, 1024, 0.25)) != base
    big = np.zeros(2048, np.float32)  # x's view at an offset: DMA addresses move
    assert launch_key(k, (64, 1, 1), _args(big[16:1040], y, 1024, 0.5)) != base
    assert launch_key(k, (64, 1, 1), _args(x, np.zeros(1040, np.float32), 1024, 0.5)) != base


def test_store_round_trip_and_foreign_entries(tmp_path, monkeypatch):
    cache = DiskCache(tmp_path, "v1")
    store = ChoiceStore(cache, "ab" * 32)
    key = ((64, 1, 1), (1024,), ((0, 0), (1, 0)), (4096, 4096))
    assert store.get(key) is None
    times = {(256, 2, False): 1.5e5, (512, 4, False): 1.25e5}
    store.put(key, (128, 4, False), times)
    assert store.get(key) == ((128, 4, False), times)
    assert ChoiceStore(cache, "cd" * 32).get(key) is None  # other builds: another entry
    assert store.get(((32, 1, 1),) + key[1:]) is None
    cache.put(store.digest(key), b"", {"shape": "4 groups"})  # not what the store writes
    assert store.get(key) is None
    before = store.digest(key)  # another candidate list: another entry
    monkeypatch.setattr(accel_driver, "BATCH_SHAPES", BATCH_SHAPES[:2])
    assert store.digest(key) != before and store.get(key) is None
