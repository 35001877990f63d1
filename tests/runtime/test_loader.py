"""Loading compiled kernels: shared objects via dlopen (no LLVM needed), MCJIT as the fallback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from runtime.cpu_driver import _load


@jl.jit
def scale(x, out, K: tl.constexpr):
    offs = tl.arange(0, 16)
    tl.store(out + offs, tl.load(x + offs) * K)


def _payload(K):
    from runtime.driver import get_runtime

    k = scale.warmup(np.ones(16, np.float32), np.ones(16, np.float32), K=K, grid=(1,))
    return get_runtime()._build(scale, k.key, "cpu")


@pytest.mark.skipif(shutil.which("ld") is None and shutil.which("cc") is None, reason="no linker")
def test_specializations_with_one_entry_name_do_not_alias():
    """Each specialization is a shared object exporting the same entry name: every load must get
    its own library (the dynamic loader reuses a library loaded under the same file name)."""
    x = np.arange(16, dtype=np.float32)
    for K in (2, 3, 5):
        out = np.zeros(16, np.float32)
        scale[(1,)](x, out, K=K)
        np.testing.assert_array_equal(out, x * K)
    payload, meta = _payload(7)
    assert meta["so_size"] > 0
    assert _load(payload, meta["name"], meta).address


def test_mcjit_fallback_without_shared_object():
    payload, meta = _payload(11)
    obj = payload[: len(payload) - meta["so_size"]]
    native = _load(obj, meta["name"], dict(meta, so_size=0))
    assert native.address and not hasattr(native.engine, "_name")  # an MCJIT engine, not a CDLL


def test_cached_first_launch_does_not_import_llvm(tmp_path):
    """A script whose kernel is in the disk cache never loads LLVM (llvmlite.binding)."""
    script = tmp_path / "k.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, numpy as np
            import jitlang as jl, jitlang.language as tl
            @jl.jit
            def twice(x, BLOCK: tl.constexpr):
                offs = tl.arange(0, BLOCK)
                tl.store(x + offs, tl.load(x + offs) * 2)
            x = np.ones(8, np.float32)
            twice[(1,)](x, BLOCK=8)
            assert (x == 2).all()
            print("llvm" if "llvmlite.binding" in sys.modules else "no-llvm")
            """
        )
    )
    env = dict(os.environ, JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    assert run() == "llvm"  # compiled
    if shutil.which("ld") or shutil.which("cc"):
        assert run() == "no-llvm"  # loaded from the disk cache
