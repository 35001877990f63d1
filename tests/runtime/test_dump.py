"""JITLANG_DUMP_DIR writes every stage's IR, and the files parse back where they should."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_dump_dir_writes_each_stage(tmp_path):
    script = tmp_path / "k.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np, jitlang as jl, jitlang.language as tl
            @jl.jit
            def scale(x_ptr, n, BLOCK: tl.constexpr):
                offs = tl.arange(0, BLOCK)
                tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) * 2, mask=offs < n)
            x = np.ones(8, np.float32)
            scale[(1,)](x, 8, BLOCK=8)
            assert (x == 2).all()
            """
        )
    )
    dump = tmp_path / "dump"
    env = {"JITLANG_DUMP_DIR": str(dump), "JITLANG_CACHE": "0", "PATH": "/usr/bin:/bin"}
    import os

    env = dict(os.environ, **env)
    subprocess.run([sys.executable, str(script)], env=env, check=True, timeout=120)
    names = sorted(p.name for p in dump.iterdir())
    assert names == [
        "scale.0-frontend.tile",
        "scale.1-fold.tile",
        "scale.2-cse.tile",
        "scale.3-dce.tile",
        "scale.4-layout.tile",
        "scale.llvm-O3.ll",
        "scale.llvm.ll",
    ]
    assert "func @scale" in (dump / "scale.3-dce.tile").read_text()
    import llvmlite.binding as llvm

    from codegen.cpu.engine import host_target_machine

    host_target_machine()
    llvm.parse_assembly((dump / "scale.llvm.ll").read_text()).verify()
