"""`python -m jitlang`: the command line for a kernel engineer's day (show, profile, check, bench).

Stage: a user-facing tool above the JIT API; nothing here compiles by itself. Input: a Python
file and a kernel in it (`FILE::KERNEL`), an argument signature (`--args`), meta-parameters
(`--meta`) and a grid (`--grid`). Output on stdout: one stage's code, an accelerator profile, a
cross-check report or CPU timings. Errors go to stderr as the compiler's pointed messages
(file:line:col, the source line, a caret), never as Python tracebacks; the exit status is 0 on
success, 1 when the kernel fails (compile error, fault, targets disagree) and 2 for a bad command
line.

Arguments (`--args`, comma-separated, in the order of the kernel's parameters that `--meta` does
not set): an array is `DTYPE[SHAPE]`, e.g. `f32[4096]` or `f16[64,128]`, filled with random
values (`--seed`), or `DTYPE[SHAPE]=VALUE` filled with VALUE; a number is written as itself
(`4096`, `0.5`, `True`). DTYPE is a short name (`f16 bf16 f32 f64 i8 i16 i32 i64 u8 u16 u32 u64
bool`) or a numpy name (`float32`).

Grid (`--grid`): a Python expression giving an int or a tuple of up to three ints, evaluated at
launch over the kernel's arguments by name (arrays too: `x.size`, `a.shape[0]`), its
meta-parameters (also those an autotuner picks) and the functions `cdiv`, `next_power_of_2`,
`min`, `max`: `--grid 4`, `--grid "cdiv(n, BLOCK)"`, `--grid "cdiv(M, BM), cdiv(N, BN)"`.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("tile", "llir", "asm", "accel")
CONFIGS = ("nc-v2", "nc-v3", "both")


class CliError(Exception):
    """A bad command line: the message says what to write instead (exit status 2)."""


class UserCodeError(Exception):
    """The user's file failed while being imported; the message points at the line (status 1)."""


# -- the user's file ----------------------------------------------------------------------------
def load_kernel(spec: str):
    """The kernel object named by `FILE::KERNEL`, importing FILE as a module."""
    file, sep, name = spec.rpartition("::")
    if not sep or not file or not name:
        raise CliError(f"expected FILE::KERNEL (e.g. kernels.py::add_kernel), got {spec!r}")
    path = Path(file)
    if not path.is_file():
        raise CliError(f"{file}: no such file")
    module_name = "_jitlang_cli_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    mod_spec = importlib.util.spec_from_file_location(module_name, path)
    if mod_spec is None or mod_spec.loader is None:
        raise CliError(f"{file}: not a Python file")
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[module_name] = module
    # the file's own folder first, as `python FILE` would have it, so its sibling imports work
    sys.path.insert(0, str(path.resolve().parent))
    try:
        mod_spec.loader.exec_module(module)
    except SyntaxError as e:
        raise UserCodeError(_format_syntax_error(e)) from None
    except Exception as e:
        from .errors import CompilationError

        if isinstance(e, CompilationError):
            raise
        raise UserCodeError(_format_user_exception(e, path)) from None
    kernel = getattr(module, name, None)
    if kernel is None:
        found = sorted(n for n, v in vars(module).items() if _is_kernel(v))
        listing = ", ".join(found) if found else "none"
        raise CliError(f"{file} defines no {name!r}; its kernels: {listing}")
    if not _is_kernel(kernel):
        raise CliError(
            f"{file}::{name} is a {type(kernel).__name__}, not a kernel: decorate it with "
            "@jitlang.jit"
        )
    return kernel


def _is_kernel(obj) -> bool:
    from .autotuner import Autotuner, Heuristics
    from .jit import JITFunction

    return isinstance(obj, (JITFunction, Autotuner, Heuristics))


def _caret_text(file: str, line: int | None, col: int | None, message: str) -> str:
    import linecache

    text = f"{file}:{line or 0}:{(col or 0) + 1}: error: {message}"
    src = linecache.getline(file, line).rstrip("\n") if line else ""
    if src:
        text += f"\n    {src}\n    {' ' * (col or 0)}^"
    return text


def _format_syntax_error(e: SyntaxError) -> str:
    col = (e.offset or 1) - 1
    return _caret_text(e.filename or "<file>", e.lineno, col, f"SyntaxError: {e.msg}")


def _format_user_exception(e: Exception, path: Path) -> str:
    """The innermost frame of the user's file that raised `e`, with a caret."""
    target = str(path.resolve())
    frames = [f for f in traceback.extract_tb(e.__traceback__) if _same_file(f.filename, target)]
    message = f"{type(e).__name__}: {e}"
    if not frames:
        return f"{path}: error while importing: {message}"
    f = frames[-1]
    return _caret_text(f.filename, f.lineno, getattr(f, "colno", 0), message)


def _same_file(a: str, b: str) -> bool:
    try:
        return str(Path(a).resolve()) == b
    except OSError:
        return False


# -- arguments ----------------------------------------------------------------------------------
def _dtypes() -> dict[str, Any]:
    import ml_dtypes

    short = {
        "f16": np.float16,
        "bf16": ml_dtypes.bfloat16,
        "f32": np.float32,
        "f64": np.float64,
        "i8": np.int8,
        "i16": np.int16,
        "i32": np.int32,
        "i64": np.int64,
        "u8": np.uint8,
        "u16": np.uint16,
        "u32": np.uint32,
        "u64": np.uint64,
        "bool": np.bool_,
        "i1": np.bool_,
        "bfloat16": ml_dtypes.bfloat16,
    }
    for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64"):
        short[name] = np.dtype(name).type
    for name in ("uint8", "uint16", "uint32", "uint64"):
        short[name] = np.dtype(name).type
    return short


def split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets and parentheses: "f32[4,8],7" -> ["f32[4,8]", "7"]."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    last = "".join(cur).strip()
    if last or parts:
        parts.append(last)
    if any(not p for p in parts):
        raise CliError(f"--args: empty argument in {text!r}")
    return parts


class ArgSpec:
    """One `--args` entry: an array to make or a number."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.dtype = None
        self.shape: tuple[int, ...] = ()
        self.fill = None
        self.value: Any = None
        if "[" in text:
            self._parse_array(text)
        else:
            self.value = _parse_number(text, "--args")

    def _parse_array(self, text: str) -> None:
        head, _, rest = text.partition("[")
        dims, close, fill = rest.partition("]")
        dtypes = _dtypes()
        if head.strip() not in dtypes:
            raise CliError(
                f"--args: unknown dtype {head.strip()!r} in {text!r}; use one of "
                "f16, bf16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, bool"
            )
        if not close:
            raise CliError(f"--args: missing ']' in {text!r}")
        try:
            shape = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise CliError(
                f"--args: the shape of {text!r} must be integers, e.g. f32[64,128]"
            ) from None
        if not shape or any(d < 0 for d in shape):
            raise CliError(f"--args: bad shape in {text!r}")
        fill = fill.strip()
        if fill and not fill.startswith("="):
            raise CliError(f"--args: after ']' expected '=VALUE' in {text!r}")
        self.dtype = np.dtype(dtypes[head.strip()])
        self.shape = shape
        if fill:
            self.fill = _parse_number(fill[1:].strip(), "--args")

    @property
    def is_array(self) -> bool:
        return self.dtype is not None

    def make(self, rng: np.random.Generator):
        if not self.is_array:
            return self.value
        if self.fill is not None:
            return np.full(self.shape, self.fill, dtype=self.dtype)
        kind = self.dtype.kind
        if kind == "b":
            return rng.random(self.shape) < 0.5
        if kind in "iu":
            low = 0 if kind == "u" else -64
            return rng.integers(low, 64, size=self.shape).astype(self.dtype)
        return rng.standard_normal(self.shape).astype(self.dtype)


def _parse_number(text: str, what: str):
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.lower()
        if lowered in ("inf", "-inf", "nan", "+inf"):
            return float(lowered)
        raise CliError(f"{what}: {text!r} is neither a number nor DTYPE[SHAPE]") from None
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    raise CliError(f"{what}: {text!r} is not a number")


def parse_meta(items: Sequence[str]) -> dict[str, Any]:
    """`["BLOCK=1024", "ACT='relu'"]` -> {"BLOCK": 1024, "ACT": "relu"}; bare words are strings."""
    meta = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise CliError(f"--meta: expected NAME=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()  # a bare word such as leaky_relu
        meta[name] = value
    return meta


# -- the grid -----------------------------------------------------------------------------------
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}
_ATTRS = ("size", "shape", "ndim")


class GridExpr:
    """`--grid`: an expression over the launch's arguments, evaluated at each launch."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise CliError(f"--grid: not an expression: {text!r} ({e.msg})") from None

    def __call__(self, names: dict[str, Any]) -> tuple[int, ...]:
        import jitlang as jl

        env = {
            "cdiv": jl.cdiv,
            "next_power_of_2": jl.next_power_of_2,
            "min": min,
            "max": max,
            **names,
        }
        value = self._eval(self.tree.body, env)
        grid = value if isinstance(value, tuple) else (value,)
        if not 1 <= len(grid) <= 3 or not all(_is_int(g) for g in grid):
            raise CliError(f"--grid {self.text!r} gave {value!r}: expected 1 to 3 integers")
        return tuple(int(g) for g in grid)

    def _eval(self, node: ast.AST, env: dict[str, Any]):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in env:
                known = ", ".join(sorted(k for k in env if not callable(env[k])))
                raise CliError(f"--grid: unknown name {node.id!r}; known: {known}")
            return env[node.id]
        if isinstance(node, ast.Tuple):
            return tuple(self._eval(e, env) for e in node.elts)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self._eval(node.operand, env)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fn = self._eval(node.func, env)
            if not callable(fn):
                raise CliError(f"--grid: {node.func.id!r} is not a function")
            return fn(*(self._eval(a, env) for a in node.args))
        if isinstance(node, ast.Attribute) and node.attr in _ATTRS:
            return getattr(self._eval(node.value, env), node.attr)
        if isinstance(node, ast.Subscript):
            return self._eval(node.value, env)[self._eval(node.slice, env)]
        raise CliError(
            f"--grid: {ast.unparse(node)!r} is not allowed; use numbers, names, + - * // % **, "
            "cdiv(), next_power_of_2(), min(), max(), .size/.shape/.ndim and [i]"
        )


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# -- a launch -----------------------------------------------------------------------------------
class Launch:
    """The kernel with its arguments: positional values, keyword meta-parameters, the grid."""

    def __init__(self, ns: argparse.Namespace) -> None:
        self.kernel = load_kernel(ns.kernel)
        self.meta = parse_meta(ns.meta or [])
        self.specs = [ArgSpec(t) for t in split_top_level(ns.args)] if ns.args else []
        self.seed = ns.seed
        self.grid = GridExpr(ns.grid) if getattr(ns, "grid", None) else None
        names = list(self.kernel.arg_names)
        unknown = [m for m in self.meta if m not in names]
        if unknown:
            raise CliError(
                f"--meta: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a "
                f"parameter of {self.kernel.__name__}({', '.join(names)})"
            )
        tuned = _tuned_names(self.kernel)
        free = [n for n in names if n not in self.meta and n not in tuned]
        if len(self.specs) > len(free):
            raise CliError(
                f"--args: {len(self.specs)} arguments for {len(free)} parameters "
                f"({', '.join(free)}) of {self.kernel.__name__}"
            )
        self.assigned = free[: len(self.specs)]

    @property
    def jit_fn(self):
        """The plain @jit kernel under any autotune/heuristics decorators."""
        from .jit import JITFunction

        fn = self.kernel
        while not isinstance(fn, JITFunction):
            fn = fn.fn
        return fn

    def arguments(self) -> tuple[list, dict[str, Any]]:
        """Fresh (positional, keyword) arguments; the same values for the same seed.

        Arrays go positionally (`cross_check` copies positional arrays per target); a
        meta-parameter placed between them goes positionally too."""
        rng = np.random.default_rng(self.seed)
        values = {n: s.make(rng) for n, s in zip(self.assigned, self.specs)}
        meta = dict(self.meta)
        positional = []
        remaining = set(values)
        for name in self.kernel.arg_names:
            if not remaining:
                break
            if name in values:
                positional.append(values[name])
                remaining.discard(name)
            elif name in meta:
                positional.append(meta.pop(name))
            else:
                break  # a parameter with a default: the rest go by keyword
        for name in remaining:
            meta[name] = values[name]
        return positional, meta

    def grid_fn(self) -> Callable[[dict], tuple[int, ...]]:
        if self.grid is None:
            raise CliError("--grid is required to launch the kernel, e.g. --grid 'cdiv(n, BLOCK)'")
        return self.grid


def _tuned_names(kernel) -> set[str]:
    from .autotuner import Autotuner, Heuristics

    names: set[str] = set()
    while isinstance(kernel, (Autotuner, Heuristics)):
        if isinstance(kernel, Autotuner):
            for c in kernel.configs:
                names |= set(c.kwargs)
        else:
            names |= set(kernel.values)
        kernel = kernel.fn
    return names


# -- commands -----------------------------------------------------------------------------------
def cmd_show(ns: argparse.Namespace, out) -> int:
    launch = Launch(ns)
    args, kwargs = launch.arguments()
    target = "accel" if ns.stage == "accel" else ns.target
    if ns.stage == "asm" and target != "cpu":
        raise CliError(
            "--stage asm is the host's assembly (CPU); the accelerator's is --stage accel"
        )
    compiled = launch.jit_fn.warmup(*args, target=target, **kwargs)
    out.write(compiled.asm[ns.stage].rstrip("\n") + "\n")
    return 0


def cmd_profile(ns: argparse.Namespace, out) -> int:
    from . import testing

    launch = Launch(ns)
    grid = launch.grid_fn()
    configs = ["nc-v2", "nc-v3"] if ns.config == "both" else [ns.config]
    # an @autotune kernel whose tuned names --meta leaves open is tuned on each machine's model
    open_names = _tuned_names(launch.kernel) - set(launch.meta)
    kernel = launch.kernel if open_names else launch.jit_fn
    profiles = []
    for config in configs:
        args, kwargs = launch.arguments()  # same inputs for every machine
        prof = testing.profile(
            kernel, grid, *args, config=config, timing_only=ns.timing_only, **kwargs
        )
        profiles.append(prof)
        suffix = f".{config}" if len(configs) > 1 else ""
        if ns.json:
            out.write(json.dumps(prof.summary(), indent=2) + "\n")
        else:
            if kernel is not launch.jit_fn and getattr(kernel, "best_config", None) is not None:
                out.write(f"autotuned on {config}'s model: {kernel.best_config}\n")
            out.write(prof.format(top_lines=ns.top_lines) + "\n\n")
        if ns.trace:
            path = prof.write_chrome_trace(_with_suffix(ns.trace, suffix))
            out.write(f"trace written to {path} (open it in https://ui.perfetto.dev)\n")
        if ns.plot:
            path = prof.plot(_with_suffix(ns.plot, suffix))
            out.write(f"timeline written to {path}\n")
    if len(profiles) == 2 and not ns.json:
        out.write("\n" + compare_profiles(profiles) + "\n")
    return 0


def compare_profiles(profiles) -> str:
    """The profiles side by side, one column per machine (`isa.profile.Comparison`: time,
    speed-up, bound, MFU, per-engine utilisation), and the speed-up in words."""
    from isa.profile import Comparison

    lines = [Comparison(list(profiles)).format()]
    base = profiles[0]
    for p in profiles[1:]:
        if p.time_ns:
            lines.append(
                f"{p.config.name} runs {base.time_ns / p.time_ns:.2f}x as fast as {base.config.name}"
            )
    return "\n".join(lines)


def _with_suffix(path: str, suffix: str) -> str:
    if not suffix:
        return path
    p = Path(path)
    return str(p.with_name(p.stem + suffix + p.suffix))


def cmd_check(ns: argparse.Namespace, out) -> int:
    from . import testing

    launch = Launch(ns)
    grid = launch.grid_fn()
    targets = [t.strip() for t in ns.targets.split(",") if t.strip()]
    bad = [t for t in targets if t not in ("cpu", "accel")]
    if bad or not targets:
        raise CliError(f"--targets: expected a list of cpu, accel; got {ns.targets!r}")
    args, kwargs = launch.arguments()
    report = testing.cross_check(launch.kernel, grid, *args, targets=targets, **kwargs)
    out.write(str(report) + "\n")
    written = ", ".join(report) if report else "no array"
    out.write(f"OK: {' and '.join(targets)} agree ({written} written)\n")
    return 0


def cmd_bench(ns: argparse.Namespace, out) -> int:
    from . import testing

    launch = Launch(ns)
    grid = launch.grid_fn()
    args, kwargs = launch.arguments()
    kernel = launch.kernel

    def run():
        kernel[grid](*args, target="cpu", **kwargs)

    run()  # compile (and autotune) outside the timing
    median, low, high = testing.do_bench(
        run, warmup=ns.warmup, rep=ns.rep, quantiles=(0.5, 0.2, 0.8)
    )
    arrays = [a for a in [*args, *kwargs.values()] if isinstance(a, np.ndarray)]
    nbytes = sum(a.nbytes for a in arrays)
    out.write(
        f"{kernel.__name__} on the CPU: median {median * 1e3:,.1f} us "
        f"(20%: {low * 1e3:,.1f}, 80%: {high * 1e3:,.1f})\n"
    )
    if nbytes and median > 0:
        out.write(
            f"{nbytes / median / 1e6:,.2f} GB/s if each of the {len(arrays)} arrays "
            f"({nbytes:,} bytes) is moved once\n"
        )
    return 0


# -- the parser ---------------------------------------------------------------------------------
def _add_kernel_args(p: argparse.ArgumentParser, grid: bool) -> None:
    p.add_argument(
        "kernel", metavar="FILE::KERNEL", help="a Python file and a kernel defined in it"
    )
    p.add_argument(
        "--args",
        default="",
        metavar="ARGS",
        help="comma-separated arguments: arrays as DTYPE[SHAPE] (random) or DTYPE[SHAPE]=VALUE, "
        'numbers as themselves, e.g. "f32[4096],f32[4096],f32[4096],4096"',
    )
    p.add_argument(
        "--meta",
        action="append",
        metavar="NAME=VALUE",
        help="a meta-parameter (constexpr) value; repeat for several",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random arrays (default 0)")
    if grid:
        p.add_argument(
            "--grid",
            metavar="EXPR",
            required=True,
            help="programs to launch: an int or tuple expression over the arguments and meta, "
            'e.g. 4, "cdiv(n, BLOCK)", "cdiv(M, BM), cdiv(N, BN)"',
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jitlang",
        description="Show, profile, check and time jitlang kernels from the command line.",
        epilog="Example: python -m jitlang check kernels.py::add_kernel "
        '--args "f32[4096],f32[4096],f32[4096],4096" --meta BLOCK=1024 --grid "cdiv(n, BLOCK)"',
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="on an unexpected error, print the Python traceback (for bug reports)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "show",
        help="print a compilation stage's code",
        description="Compile the kernel for the argument signature and print one stage.",
    )
    _add_kernel_args(p, grid=False)
    p.add_argument(
        "--stage",
        choices=STAGES,
        default="tile",
        help="tile: the tile IR after the passes; llir: optimized LLVM IR; asm: host assembly; "
        "accel: accelerator assembly with source lines (default tile)",
    )
    p.add_argument(
        "--target",
        choices=("cpu", "accel"),
        default="cpu",
        help="target of the tile and llir stages (default cpu)",
    )
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "profile",
        help="run on the emulated accelerator and print its profile",
        description="Compile for the accelerator, run it on the emulator and print the profile.",
    )
    _add_kernel_args(p, grid=True)
    p.add_argument("--config", choices=CONFIGS, default="nc-v2", help="machine (default nc-v2)")
    p.add_argument("--trace", metavar="OUT.json", help="write a Perfetto/Chrome trace")
    p.add_argument("--plot", metavar="OUT.png", help="write the engine timeline as a PNG")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--timing-only",
        action="store_true",
        help="time addresses, sizes and dependencies without computing tile data",
    )
    p.add_argument(
        "--top-lines", type=int, default=10, metavar="N", help="source lines listed (default 10)"
    )
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser(
        "check",
        help="run on several targets and compare the results",
        description="Run jitlang.testing.cross_check on random inputs and print its report.",
    )
    _add_kernel_args(p, grid=True)
    p.add_argument(
        "--targets", default="cpu,accel", help="comma-separated targets (default cpu,accel)"
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "bench",
        help="time the kernel on the CPU",
        description="Time launches on the CPU with jitlang.testing.do_bench (caches flushed).",
    )
    _add_kernel_args(p, grid=True)
    p.add_argument("--warmup", type=float, default=25, help="warm-up time in ms (default 25)")
    p.add_argument("--rep", type=float, default=100, help="timed duration in ms (default 100)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None, out=None, err=None) -> int:
    """Run the command line; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed by argparse
        return int(e.code or 0)
    try:
        return ns.func(ns, out)
    except CliError as e:
        err.write(f"python -m jitlang {ns.command}: error: {e}\n")
        return 2
    except UserCodeError as e:
        err.write(f"{e}\n")
        return 1
    except Exception as e:
        err.write(_describe(e) + "\n")
        if ns.traceback:
            traceback.print_exception(e, file=err)
        return 1


def _describe(e: Exception) -> str:
    """What the user reads for an error from compiling or running the kernel."""
    from .errors import TritonError

    if isinstance(e, (TritonError, AssertionError)) or type(e).__name__ in (
        "OutOfBoundsError",
        "AccelExecutionError",
        "TimingOnlyError",
    ):
        return str(e)
    return f"error: {type(e).__name__}: {e}\n(add --traceback for the Python traceback)"
