"""`python -m jitlang`: every subcommand on a small kernel file, in-process and as a subprocess, and
every error path (pointed errors from the user's file, clear messages for bad command lines)."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jitlang import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KERNELS = """\
import jitlang as jl
import jitlang.language as tl


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


@jl.jit
def scale_kernel(x_ptr, SCALE: tl.constexpr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * SCALE, mask=mask)


@jl.autotune(configs=[jl.Config({"BLOCK": 64}), jl.Config({"BLOCK": 128})], key=["n"])
@jl.jit
def tuned_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + 1.0, mask=mask)


@jl.jit
def bad_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, undefined_name + 1)


@jl.jit
def oob_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, offs.to(tl.float32))


not_a_kernel = 3
"""

ADD = ["--args", "f32[1000],f32[1000],f32[1000],1000", "--meta", "BLOCK=256"]
GRID = ["--grid", "cdiv(n, BLOCK)"]


@pytest.fixture(scope="module")
def kfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "kernels.py"
    path.write_text(KERNELS)
    return str(path)


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# -- subprocess: the real entry point ---------------------------------------------------------
def _python(*argv, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, "-m", "jitlang", *argv],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=300,
    )


def test_help_of_every_subcommand():
    r = _python("--help")
    assert r.returncode == 0
    for command in ("show", "profile", "check", "bench"):
        assert command in r.stdout
        sub = _python(command, "--help")
        assert sub.returncode == 0, sub.stderr
        assert "FILE::KERNEL" in sub.stdout and "--args" in sub.stdout


def test_subprocess_check_and_compile_error(kfile):
    r = _python("check", f"{kfile}::add_kernel", *ADD, *GRID)
    assert r.returncode == 0, r.stderr
    assert "out_ptr" in r.stdout and "OK: cpu and accel agree" in r.stdout
    r = _python("show", f"{kfile}::bad_kernel", "--args", "f32[16],16", "--meta", "BLOCK=16")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert f"{kfile}:33:" in r.stderr and "undefined_name" in r.stderr
    assert r.stderr.splitlines()[-1].strip() == "^"


def test_subprocess_bad_usage_exits_2():
    r = _python("show")
    assert r.returncode == 2 and "FILE::KERNEL" in r.stderr
    r = _python("frobnicate", "x.py::k")
    assert r.returncode == 2 and "invalid choice" in r.stderr


# -- in-process: each command -----------------------------------------------------------------
@pytest.mark.parametrize(
    "stage,target,needle",
    [
        ("tile", "cpu", "func @add_kernel"),
        ("llir", "cpu", "define"),
        ("asm", "cpu", "add_kernel"),
        ("tile", "accel", "accel layouts"),
        ("llir", "accel", "@accel.dma.load"),
        ("accel", "cpu", "dma.load"),
    ],
)
def test_show_stages(kfile, stage, target, needle):
    code, out, err = run(
        ["show", f"{kfile}::add_kernel", *ADD, "--stage", stage, "--target", target]
    )
    assert code == 0, err
    assert needle in out


def test_show_accel_has_source_lines(kfile):
    code, out, _ = run(["show", f"{kfile}::add_kernel", *ADD, "--stage", "accel"])
    assert code == 0
    assert "# x = tl.load(x_ptr + offs, mask=mask)" in out


def test_show_asm_is_host_only(kfile):
    code, _, err = run(
        ["show", f"{kfile}::add_kernel", *ADD, "--stage", "asm", "--target", "accel"]
    )
    assert code == 2 and "--stage accel" in err


def test_meta_between_arguments_goes_positionally(kfile):
    """SCALE sits between x_ptr and out_ptr: --args fill the other parameters in order."""
    code, out, err = run(
        [
            "check",
            f"{kfile}::scale_kernel",
            "--args",
            "f32[300],f32[300]=0,300",
            "--meta",
            "SCALE=3.0",
            "--meta",
            "BLOCK=128",
            "--grid",
            "cdiv(x_ptr.size, BLOCK)",
        ]
    )
    assert code == 0, err
    assert "out_ptr" in out and "x_ptr" not in out


def test_check_autotuned_kernel_uses_its_configs_in_the_grid(kfile):
    code, out, err = run(
        ["check", f"{kfile}::tuned_kernel", "--args", "f32[500],f32[500],500", *GRID]
    )
    assert code == 0, err
    assert "out_ptr" in out


def test_profile_both_machines_with_trace_and_plot(kfile, tmp_path):
    trace, plot = tmp_path / "t.json", tmp_path / "p.png"
    argv = ["profile", f"{kfile}::add_kernel", *ADD, *GRID, "--config", "both"]
    code, out, err = run([*argv, "--trace", str(trace), "--plot", str(plot)])
    assert code == 0, err
    assert "accelerator profile: nc-v2" in out and "accelerator profile: nc-v3" in out
    assert "as fast as nc-v2" in out
    for config in ("nc-v2", "nc-v3"):
        doc = json.loads((tmp_path / f"t.{config}.json").read_text())
        assert doc["otherData"]["config"] == config
        assert any(e.get("name") == "dma.load" for e in doc["traceEvents"])
        assert (tmp_path / f"p.{config}.png").read_bytes()[:4] == b"\x89PNG"


def test_profile_json(kfile):
    code, out, err = run(["profile", f"{kfile}::add_kernel", *ADD, *GRID, "--json"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["config"] == "nc-v2" and summary["dma_bytes"] >= 3 * 1000 * 4
    assert summary["cores_used"] >= 1


def test_profile_out_of_bounds_is_pointed(kfile):
    code, _, err = run(
        ["profile", f"{kfile}::oob_kernel", "--args", "f32[100],100", "--meta", "BLOCK=64"]
        + ["--grid", "4"]
    )
    assert code == 1
    assert f"{kfile}:39" in err and "out-of-bounds" in err and "Traceback" not in err


def test_bench(kfile):
    code, out, err = run(
        ["bench", f"{kfile}::add_kernel", *ADD, *GRID, "--warmup", "1", "--rep", "5"]
    )
    assert code == 0, err
    assert "median" in out and "GB/s" in out


# -- errors -----------------------------------------------------------------------------------
def test_user_file_syntax_error(tmp_path):
    f = tmp_path / "broken.py"
    f.write_text("import jitlang as jl\n\ndef k(:\n    pass\n")
    code, _, err = run(["show", f"{f}::k"])
    assert code == 1
    assert f"{f}:3:" in err and "SyntaxError" in err and "def k(:" in err and "^" in err


def test_user_file_raises_while_importing(tmp_path):
    f = tmp_path / "raises.py"
    f.write_text("x = 1\nsizes = {}\nblock = sizes['BLOCK']\n")
    code, _, err = run(["show", f"{f}::k"])
    assert code == 1
    assert f"{f}:3:" in err and "KeyError" in err and "block = sizes['BLOCK']" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["show", "kernels.py"], "expected FILE::KERNEL"),
        (["show", "/nonexistent/k.py::k"], "no such file"),
        (["show", "{f}::nope"], "defines no 'nope'; its kernels: add_kernel"),
        (["show", "{f}::not_a_kernel"], "not a kernel"),
        (["show", "{f}::add_kernel", "--args", "q32[4]"], "unknown dtype 'q32'"),
        (["show", "{f}::add_kernel", "--args", "f32[4x]"], "must be integers"),
        (["show", "{f}::add_kernel", "--args", "f32[4"], "missing ']'"),
        (["show", "{f}::add_kernel", "--args", "f32[4],,3"], "empty argument"),
        (["show", "{f}::add_kernel", "--args", "hello"], "neither a number"),
        (["show", "{f}::add_kernel", "--args", "1,2,3,4,5,6"], "6 arguments for 5 parameters"),
        (["show", "{f}::add_kernel", "--meta", "BLOCK"], "expected NAME=VALUE"),
        (["show", "{f}::add_kernel", "--meta", "BLOK=4"], "BLOK is not a parameter"),
        (["check", "{f}::add_kernel", *ADD, "--grid", "cdiv(q, BLOCK)"], "unknown name 'q'"),
        (["check", "{f}::add_kernel", *ADD, "--grid", "n / BLOCK"], "is not allowed"),
        (["check", "{f}::add_kernel", *ADD, "--grid", "1.5"], "expected 1 to 3 integers"),
        (["check", "{f}::add_kernel", *ADD, "--grid", "(4"], "not an expression"),
        (["check", "{f}::add_kernel", *ADD, *GRID, "--targets", "gpu"], "--targets"),
    ],
)
def test_bad_command_lines(kfile, argv, message):
    code, out, err = run([a.replace("{f}", kfile) for a in argv])
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in err


def test_missing_grid_is_a_usage_error(kfile, capsys):
    code, _, _ = run(["check", f"{kfile}::add_kernel", *ADD])
    assert code == 2
    assert "--grid" in capsys.readouterr().err


def test_kernel_launch_error_without_traceback(kfile):
    code, _, err = run(
        ["check", f"{kfile}::add_kernel", "--args", "f32[8],f32[8]", "--meta", "BLOCK=8"]
        + ["--grid", "1"]
    )
    assert code == 1
    assert "out_ptr" in err and "Traceback" not in err


# -- the pieces -------------------------------------------------------------------------------
def test_split_top_level():
    assert cli.split_top_level("f32[4,8], 7 ,i8[2]=1") == ["f32[4,8]", "7", "i8[2]=1"]
    assert cli.split_top_level("") == []


def test_arg_specs_make_arrays():
    rng = np.random.default_rng(0)
    a = cli.ArgSpec("f16[3,5]").make(rng)
    assert a.dtype == np.float16 and a.shape == (3, 5) and np.isfinite(a).all()
    z = cli.ArgSpec("i32[7]=-2").make(rng)
    assert z.dtype == np.int32 and (z == -2).all()
    u = cli.ArgSpec("u8[1000]").make(rng)
    assert u.dtype == np.uint8 and u.max() < 64
    assert cli.ArgSpec("bf16[2]").make(rng).dtype.name == "bfloat16"
    assert cli.ArgSpec("0.5").make(rng) == 0.5 and cli.ArgSpec("True").make(rng) is True
    assert np.isinf(cli.ArgSpec("-inf").make(rng))


def test_parse_meta():
    meta = cli.parse_meta(["BLOCK=1024", "ACT=leaky_relu", "S='x'", "F=0.5", "B=True"])
    assert meta == {"BLOCK": 1024, "ACT": "leaky_relu", "S": "x", "F": 0.5, "B": True}


def test_grid_expressions():
    x = np.zeros((10, 6))
    g = cli.GridExpr("cdiv(n, B), x.shape[1] // 2, max(1, n % 3)")
    assert g({"n": 100, "B": 32, "x": x}) == (4, 3, 1)
    assert cli.GridExpr("4")({}) == (4,)
    assert cli.GridExpr("next_power_of_2(x.size) // 64")({"x": x}) == (1,)
    with pytest.raises(cli.CliError, match="__import__"):
        cli.GridExpr("__import__('os').getcwd()")({})
    with pytest.raises(cli.CliError, match="expected 1 to 3"):
        cli.GridExpr("1, 2, 3, 4")({})


def test_autotuned_kernel_show_needs_its_meta(kfile):
    code, out, err = run(
        ["show", f"{kfile}::tuned_kernel", "--args", "f32[64],f32[64],64", "--meta", "BLOCK=64"]
    )
    assert code == 0, err
    assert "func @tuned_kernel" in out


def test_module_docstring_documents_the_grid():
    assert "--grid" in textwrap.dedent(cli.__doc__) and "cdiv(n, BLOCK)" in cli.__doc__


def test_readme_command_line_example(tmp_path):
    """The README's `check` example runs on the tour's add_kernel."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    tour = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    kernel = tour[: tour.index("x, y = np.random")]  # the imports and add_kernel
    (tmp_path / "kernels.py").write_text(kernel)
    example = re.search(r"    (python -m jitlang check kernels\.py.*?)\n\n", readme, re.S).group(1)
    argv = shlex.split(example.replace("\\\n", " "))[3:]
    code, out, err = run([a.replace("kernels.py", str(tmp_path / "kernels.py")) for a in argv])
    assert code == 0, err
    assert "OK: cpu and accel agree" in out
