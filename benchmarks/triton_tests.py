"""Run Triton's own language tests against jitlang and against Triton's interpreter, and compare.

Triton's test files are not part of this repository: copy them (e.g. test_core.py,
test_standard.py, test_random.py, test_tuple.py from Triton's python/test/unit/language/) into a
directory of your own and point `--tests` at it. Triton itself is only needed for the reference
run (`pip install --no-deps --target DIR triton`, then `--triton DIR`).

    python benchmarks/triton_tests.py run --impl triton  --triton /tmp/trpkg --tests DIR -o tri.xml
    python benchmarks/triton_tests.py run --impl jitlang --tests DIR -o jl.xml [--sample 3]
    python benchmarks/triton_tests.py compare tri.xml jl.xml

`--impl jitlang` makes `import triton` / `triton.language` resolve to `jitlang` /
`jitlang.language` (the module objects themselves), with a `triton._internal_testing` written here
that follows the behaviour of Triton's test helpers (same random data, `is_interpreter()` true so
that both runs take the same test branches), `triton.reinterpret` = `jitlang.reinterpret`, and
tensors on the CPU. Only tests marked `interpreter` run (Triton's interpreter selection).
`--sample k` keeps every k-th collected test (collection order), a deterministic subset.
`compare` prints the share of the tests Triton's interpreter passes that jitlang passes too, and
groups jitlang's failures by test function and by first message line.
"""

from __future__ import annotations

import argparse
import builtins
import collections
import importlib.util
import itertools
import linecache
import os
import re
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

# -- the pytest plugin (both runs) ---------------------------------------------------------------


class HarnessPlugin:
    """The `device` fixture (CPU), the `interpreter` marker, `--sample` and readable exec sources."""

    def __init__(self, sample: int, readable_exec: bool) -> None:
        self.sample = sample
        self.readable_exec = readable_exec
        self.counter = itertools.count()

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "interpreter: runs under Triton's interpreter")

    def pytest_collection_modifyitems(self, config, items):
        if self.sample > 1:
            config.hook.pytest_deselected(
                items=[it for i, it in enumerate(items) if i % self.sample]
            )
            items[:] = [it for i, it in enumerate(items) if i % self.sample == 0]

    def pytest_runtest_setup(self, item):
        # Triton's tests build kernels with exec(source); jitlang compiles from source text, so
        # the exec'd text is kept in linecache as a file-defined kernel's is.
        if self.readable_exec:
            for mod in (getattr(item, "module", None), sys.modules.get("test_core")):
                if mod is not None:
                    mod.exec = self._exec

    def _exec(self, src, globs=None, locs=None):
        if isinstance(src, str):
            name = f"<patched kernel {next(self.counter)}>"
            linecache.cache[name] = (len(src), None, src.splitlines(True), name)
            src = compile(src, name, "exec")
        return builtins.exec(src, globs, locs)


def _device_fixture_module():
    import pytest

    mod = types.ModuleType("triton_tests_fixtures")

    @pytest.fixture
    def device():
        return "cpu"

    @pytest.fixture
    def with_allocator():
        yield  # Triton's installs a GPU allocator for tensor descriptors; the CPU needs none

    mod.device, mod.with_allocator = device, with_allocator
    return mod


# -- the `triton` alias (jitlang runs) -----------------------------------------------------------

INT = ["int8", "int16", "int32", "int64"]
UINT = ["uint8", "uint16", "uint32", "uint64"]
FLOAT = ["float16", "float32", "float64"]


def _internal_testing(triton, tl):
    """A `triton._internal_testing` for jitlang: the helpers Triton's tests import."""
    import numpy as np
    import torch
    from numpy.random import RandomState

    m = types.ModuleType("triton._internal_testing")
    m.int_dtypes, m.uint_dtypes, m.float_dtypes = INT, UINT, FLOAT
    m.integral_dtypes = INT + UINT
    m.float_dtypes_with_bfloat16 = FLOAT + ["bfloat16"]
    m.dtypes = INT + UINT + FLOAT
    m.dtypes_with_bfloat16 = m.dtypes + ["bfloat16"]
    m.torch_float8_dtypes = ["float8_e4m3fn", "float8_e5m2"]
    m.torch_dtypes = ["bool"] + INT + ["uint8"] + FLOAT + ["bfloat16"]
    m.is_interpreter = lambda: True  # the branches Triton's interpreter run takes
    for name in (
        "is_cuda is_hip is_hopper is_xpu is_hip_cdna is_hip_cdna2 is_hip_cdna3 is_hip_cdna4 "
        "is_ampere_or_newer is_blackwell is_hopper_or_newer"
    ).split():
        setattr(m, name, lambda: False)

    def numpy_random(shape, dtype_str, rs=None, low=None, high=None):
        shape = (shape,) if isinstance(shape, int) else shape
        rs = RandomState(seed=17) if rs is None else rs
        if dtype_str in INT + UINT:
            info = np.iinfo(getattr(np, dtype_str))
            lo = info.min if low is None else max(low, info.min)
            hi = info.max if high is None else min(high, info.max)
            x = rs.randint(lo, hi, shape, dtype=getattr(np, dtype_str))
            x[x == 0] = 1  # no zero divisors
            return x
        if dtype_str and "float8" in dtype_str:
            return rs.randint(20, 40, shape, dtype=np.int8)
        if dtype_str in FLOAT:
            return rs.normal(0, 1, shape).astype(dtype_str)
        if dtype_str == "bfloat16":
            bits = rs.normal(0, 1, shape).astype("float32").view("uint32")
            return (bits & np.uint32(0xFFFF0000)).view("float32")
        if dtype_str in ("bool", "int1", "bool_"):
            return rs.normal(0, 1, shape) > 0.0
        raise RuntimeError(f"Unknown dtype {dtype_str}")

    def to_triton(x, device, dst_type=None):
        t = x.dtype.name
        if t in UINT:  # torch has no arithmetic on wide uints: a signed tensor, reinterpreted
            return triton.reinterpret(torch.tensor(x.astype(t[1:]), device=device), getattr(tl, t))
        if dst_type and "float8" in dst_type:
            return triton.reinterpret(torch.tensor(x, device=device), getattr(tl, dst_type))
        if t == "float32" and dst_type == "bfloat16":
            return torch.tensor(x, device=device).bfloat16()
        return torch.tensor(x, device=device)

    canon = {"bool": "int1", "float8_e4m3fn": "float8e4nv", "float8_e5m2": "float8e5"}

    def torch_dtype_name(dtype):
        if isinstance(dtype, tl.dtype):
            return dtype.name
        if isinstance(dtype, torch.dtype):
            return re.match(r"^torch\.(\w+)$", str(dtype)).group(1)
        raise TypeError(f"not a triton or torch dtype: {type(dtype)}")

    def to_numpy(x):
        if isinstance(x, triton.TensorWrapper):
            return x.base.cpu().numpy().astype(getattr(np, torch_dtype_name(x.dtype)))
        if isinstance(x, torch.Tensor):
            return x.cpu().float().numpy() if x.dtype is torch.bfloat16 else x.cpu().numpy()
        raise ValueError(f"Not a triton-compatible tensor: {x}")

    m.numpy_random, m.to_triton, m.to_numpy = numpy_random, to_triton, to_numpy
    m.torch_dtype_name = torch_dtype_name
    m.str_to_triton_dtype = lambda s: getattr(tl, canon.get(s, s))
    return m


class _Missing:
    """A `triton.language` name jitlang lacks but a test module needs at import time (in a
    parametrize list): any use of it fails, so those tests fail instead of the whole file."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr):
        raise AttributeError(f"jitlang.language has no {self._name}")

    def __repr__(self) -> str:
        return f"<missing tl.{self._name}>"


def _interpreter_error(jitlang):
    """`triton.runtime.errors.InterpreterError` for jitlang runs. Triton's tests expect it where
    Triton's interpreter runs the kernel and `triton.CompilationError` where Triton compiles it
    (`errc = triton.CompilationError if not is_interpreter() else InterpreterError`); jitlang
    compiles, so its CompilationError answers either, as does its own interpreter's error."""

    answers = (jitlang.InterpreterError, jitlang.CompilationError)

    class Meta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, answers)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, answers)

    return Meta(
        "InterpreterError", (jitlang.InterpreterError,), {"__doc__": _interpreter_error.__doc__}
    )


def install_alias() -> None:
    import jitlang
    import jitlang.language
    import jitlang.language.math
    import jitlang.testing

    triton = types.ModuleType("triton")
    for name in jitlang.__all__:
        setattr(triton, name, getattr(jitlang, name))
    triton.language, triton.testing = jitlang.language, jitlang.testing
    triton.__path__ = []  # a package: submodules come from sys.modules below
    extra = types.ModuleType("triton.language.extra")
    extra.libdevice = types.ModuleType("triton.language.extra.libdevice")  # no vendor library
    runtime = types.ModuleType("triton.runtime")
    runtime.errors = types.ModuleType("triton.runtime.errors")
    runtime.errors.InterpreterError = _interpreter_error(jitlang)
    triton.runtime = runtime
    for name in ("float8e4b15",):
        if not hasattr(jitlang.language, name):
            setattr(jitlang.language, name, _Missing(name))
    sys.modules.update(
        {
            "triton": triton,
            "triton.language": jitlang.language,
            "triton.language.math": jitlang.language.math,
            "triton.language.extra": extra,
            "triton.language.extra.libdevice": extra.libdevice,
            "triton.testing": jitlang.testing,
            "triton.runtime": runtime,
            "triton.runtime.errors": runtime.errors,
        }
    )
    sys.modules["triton._internal_testing"] = _internal_testing(triton, jitlang.language)


# -- commands ------------------------------------------------------------------------------------


def run(args) -> int:
    files = [os.path.join(args.tests, f) for f in args.files]
    pytest_args = [*files, "-p", "no:cacheprovider", "-m", "interpreter", "-q"]
    pytest_args += ["-o", f"junit_suite_name={args.impl}", f"--junitxml={args.output}"]
    if args.timeout and importlib.util.find_spec("pytest_timeout") is not None:
        pytest_args += ["--timeout", str(args.timeout)]
    elif args.timeout:
        print("note: pytest-timeout is not installed; tests run without a time limit")
    if args.impl == "triton":  # a fresh process: Triton's package, its interpreter
        env = dict(os.environ, TRITON_INTERPRET="1")
        env["PYTHONPATH"] = os.pathsep.join([args.triton, args.tests, env.get("PYTHONPATH", "")])
        cmd = [
            sys.executable,
            __file__,
            "_pytest",
            "--sample",
            str(args.sample),
            "--",
            *pytest_args,
        ]
        return subprocess.call(cmd, env=env)
    sys.path.insert(0, args.tests)
    install_alias()
    return _pytest(pytest_args, args.sample, readable_exec=True)


def _pytest(pytest_args, sample: int, readable_exec: bool) -> int:
    import pytest

    plugins = [HarnessPlugin(sample, readable_exec), _device_fixture_module()]
    return pytest.main(pytest_args, plugins=plugins)


def _load(path):
    out = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        status, msg = "pass", ""
        for child in tc:
            if child.tag in ("failure", "error"):
                status, msg = "fail", (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag == "skipped":
                status = "skip"
        out[(tc.get("classname"), tc.get("name"))] = (status, msg)
    return out


def compare(args) -> int:
    tri, jl = _load(args.triton_xml), _load(args.jitlang_xml)
    both = [k for k in tri if k in jl]
    passed = [k for k in both if tri[k][0] == "pass"]
    ok = [k for k in passed if jl[k][0] == "pass"]
    print(f"tests in both runs: {len(both)}; Triton's interpreter passes {len(passed)}")
    print(f"jitlang passes {len(ok)} of them: {100 * len(ok) / max(1, len(passed)):.2f}%")
    by_fn, by_msg = collections.Counter(), collections.Counter()
    for k in passed:
        if jl[k][0] != "pass":
            by_fn[f"{k[0]}::{k[1].split('[')[0]}"] += 1
            first = (jl[k][1].strip().splitlines() or [""])[0]
            by_msg[re.sub(r"\d+", "N", first)[:150]] += 1
    for title, counter in (("by test function", by_fn), ("by first message line", by_msg)):
        if counter:
            print(f"\njitlang failures {title}:")
            for text, n in counter.most_common(args.top):
                print(f"  {n:5d}  {text}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the tests on one implementation")
    r.add_argument("--impl", choices=("jitlang", "triton"), required=True)
    r.add_argument("--tests", required=True, help="directory holding Triton's test files")
    r.add_argument("--files", nargs="+", default=["test_core.py"])
    r.add_argument("--triton", help="directory Triton is installed in (for --impl triton)")
    r.add_argument("--sample", type=int, default=1, help="keep every k-th test")
    r.add_argument("--timeout", type=int, default=120, help="per test (needs pytest-timeout)")
    r.add_argument("-o", "--output", required=True, help="JUnit XML result file")
    c = sub.add_parser("compare", help="compare two result files")
    c.add_argument("triton_xml")
    c.add_argument("jitlang_xml")
    c.add_argument("--top", type=int, default=30)
    i = sub.add_parser("_pytest")  # internal: the Triton run's child process
    i.add_argument("--sample", type=int, default=1)
    i.add_argument("rest", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.cmd == "run":
        if args.impl == "triton" and not args.triton:
            p.error("--impl triton needs --triton DIR")
        return run(args)
    if args.cmd == "compare":
        return compare(args)
    return _pytest([a for a in args.rest if a != "--"], args.sample, readable_exec=False)


if __name__ == "__main__":
    sys.exit(main())
