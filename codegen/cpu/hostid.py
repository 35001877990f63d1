"""A cheap identity of the host CPU for the disk cache's version, read without LLVM.

Stage: codegen/cpu, used by the runtime before anything is compiled. Input: `/proc/cpuinfo` (on
Linux) or LLVM's host CPU name and features (elsewhere), the `JITLANG_CPU` spec and the llvmlite
version; output: a short hex digest. Two hosts with the same CPU model and feature flags get the
same code from LLVM, so they may share cache entries; anything else gets a different digest.
Reading it costs well under a millisecond, where importing llvmlite's binding costs ~100 ms:
that keeps a script's first launch from the disk cache cheap.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import sys

# /proc/cpuinfo keys that decide the code LLVM generates (x86 and Arm spellings)
_KEYS = {
    "vendor_id",
    "cpu family",
    "model",
    "model name",
    "stepping",
    "flags",
    "Features",
    "CPU implementer",
    "CPU architecture",
    "CPU variant",
    "CPU part",
    "isa",
    "uarch",
}


def _cpuinfo() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 16)
    except OSError:
        return None
    first = text.split("\n\n", 1)[0]
    lines = []
    for line in first.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in _KEYS:
            lines.append(f"{key.strip()}={value.strip()}")
    return "\n".join(lines) if lines else None


@functools.lru_cache(maxsize=8)
def host_identity(spec: str | None) -> str:
    import llvmlite  # the package only (its version), not the LLVM binding

    cpu = _cpuinfo()
    if cpu is None:  # not Linux: ask LLVM
        from .target import target_signature

        cpu = target_signature(None)
    parts = [sys.platform, platform.machine(), cpu, spec or "host", llvmlite.__version__]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
