"""Runtime configuration: the environment -> `RuntimeOptions`.

This is the one module that reads environment variables (STYLE rule 7). Everything else receives a
frozen `RuntimeOptions`, either passed explicitly or from `get_options()`, which reads the
environment once per process.

| Variable               | Values         | Default                | Effect                        |
|------------------------|----------------|------------------------|-------------------------------|
| `JITLANG_CACHE_DIR`    | a directory    | `~/.cache/jitlang` (1) | where compiled kernels live   |
| `JITLANG_CACHE`        | `1`, `0` (2)   | `1`                    | `0` disables the disk cache   |
| `JITLANG_DUMP_IR`      | `1`, `0` (2)   | `0`                    | print each stage's IR         |
| `JITLANG_DUMP_DIR`     | a directory    | unset                  | write each stage's IR here    |
| `JITLANG_BOUNDS_CHECK` | `1`, `0` (2)   | `0`                    | bounds-check CPU loads/stores |
| `JITLANG_INTERPRET`    | `1`, `0` (2)   | `0`                    | run the tile-IR interpreter   |
| `JITLANG_NUM_THREADS`  | integer >= 1   | usable CPUs (3)        | threads a CPU launch uses     |
| `JITLANG_TARGET`       | `cpu`, `accel` | `cpu`                  | target if a launch names none |
| `JITLANG_CPU`          | cpu[,+f,-f...] | the host               | compile for this LLVM CPU (4) |

(1) `$XDG_CACHE_HOME/jitlang` when `XDG_CACHE_HOME` is set. Relative paths are made absolute and `~`
    is expanded when the variable is read.
(2) Also accepted: `true`/`false`, `yes`/`no`, `on`/`off`, any case.
(3) The CPUs this process may run on (its affinity mask), which is `os.cpu_count()` unless the
    process is pinned.
(4) An LLVM CPU name and optional features, e.g. `x86-64-v3` (AVX2 + FMA) or `znver3,-avx2`: code
    is shaped and compiled for that CPU instead of the host (it must be one the host can run).

A variable set to the empty string counts as unset. A bad value raises `ValueError` naming the
variable and the values it accepts; an unknown `JITLANG_*` variable (usually a typo) warns.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Targets a launch may name; the drivers in `runtime/` implement them.
TARGETS = ("cpu", "accel")

# Every variable this module reads, in the order of the table above.
ENV_VARS = (
    "JITLANG_CACHE_DIR",
    "JITLANG_CACHE",
    "JITLANG_DUMP_IR",
    "JITLANG_DUMP_DIR",
    "JITLANG_BOUNDS_CHECK",
    "JITLANG_INTERPRET",
    "JITLANG_NUM_THREADS",
    "JITLANG_TARGET",
    "JITLANG_CPU",
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class UnknownVariableWarning(UserWarning):
    """A `JITLANG_*` environment variable that jitlang does not read (usually a typo)."""


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _default_cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or ""
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root.absolute() / "jitlang"


@dataclass(frozen=True)
class RuntimeOptions:
    """Runtime settings; the module docstring names the variable behind each field."""

    cache_dir: Path = field(default_factory=lambda: _default_cache_dir({}))
    cache_enabled: bool = True
    dump_ir: bool = False
    dump_dir: Path | None = None
    bounds_check: bool = False
    interpret: bool = False
    num_threads: int = field(default_factory=_usable_cpus)
    default_target: str = "cpu"
    cpu: str | None = None  # JITLANG_CPU: an LLVM CPU spec; None is the host


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = _get(environ, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(
        f"{name}={value!r} is not a boolean: use 1 or 0 (or true/false, yes/no, on/off)"
    )


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    value = _get(environ, name)
    if value is None:
        return None
    return Path(value).expanduser().absolute()


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _get(environ, name)
    if value is None:
        return default
    number = int(value) if value.isascii() and value.isdigit() else 0
    if number < 1:
        raise ValueError(f"{name}={value!r} is not valid: use a positive integer such as 4")
    return number


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _get(environ, name)
    if value is None:
        return default
    if value.lower() not in choices:
        accepted = ", ".join(choices)
        raise ValueError(f"{name}={value!r} is not valid: use one of {accepted}")
    return value.lower()


def _cpu_spec(environ: Mapping[str, str], name: str) -> str | None:
    value = _get(environ, name)
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    if (
        not parts[0]
        or parts[0][0] in "+-"
        or any(len(p) < 2 or p[0] not in "+-" for p in parts[1:])
    ):
        raise ValueError(
            f"{name}={value!r} is not valid: use an LLVM CPU name with optional +/- features, "
            "e.g. x86-64-v3 or znver3,-avx2"
        )
    return ",".join(parts)


def _warn_unknown(environ: Mapping[str, str]) -> None:
    for name in sorted(environ):
        if name.startswith("JITLANG_") and name not in ENV_VARS:
            # Match without the shared prefix, or every name looks close to every other.
            suffixes = [known.removeprefix("JITLANG_") for known in ENV_VARS]
            close = difflib.get_close_matches(name.removeprefix("JITLANG_"), suffixes, n=1)
            if close:
                hint = f"; did you mean JITLANG_{close[0]}?"
            else:
                hint = f"; known: {', '.join(ENV_VARS)}"
            warnings.warn(
                f"jitlang ignores the environment variable {name}{hint}",
                UnknownVariableWarning,
                stacklevel=3,
            )


def options_from_env(environ: Mapping[str, str] = os.environ) -> RuntimeOptions:
    """Read `RuntimeOptions` from `environ`; raise `ValueError` naming the first bad variable."""
    _warn_unknown(environ)
    return RuntimeOptions(
        cache_dir=_path(environ, "JITLANG_CACHE_DIR") or _default_cache_dir(environ),
        cache_enabled=_bool(environ, "JITLANG_CACHE", True),
        dump_ir=_bool(environ, "JITLANG_DUMP_IR", False),
        dump_dir=_path(environ, "JITLANG_DUMP_DIR"),
        bounds_check=_bool(environ, "JITLANG_BOUNDS_CHECK", False),
        interpret=_bool(environ, "JITLANG_INTERPRET", False),
        num_threads=_positive_int(environ, "JITLANG_NUM_THREADS", _usable_cpus()),
        default_target=_choice(environ, "JITLANG_TARGET", TARGETS, "cpu"),
        cpu=_cpu_spec(environ, "JITLANG_CPU"),
    )


# The process's options, read from the environment on first use. The one global of its kind: the
# environment itself is process-wide, and reading it once keeps later changes from taking effect
# half-way through a run.
_options: RuntimeOptions | None = None


def get_options() -> RuntimeOptions:
    """The process-wide options, read from `os.environ` on the first call."""
    global _options
    if _options is None:
        _options = options_from_env(os.environ)
    return _options


def reset_options() -> None:
    """Forget the process-wide options so the next `get_options()` reads the environment again."""
    global _options
    _options = None
