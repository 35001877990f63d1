"""The host's cache sizes, for decisions made at load time (no LLVM needed).

Stage: codegen/cpu, read by the runtime when it loads a kernel. Input: the system's description
of cpu0's caches (Linux sysfs); output: the byte threshold above which a launch's output is
written with streaming stores (see `stream.py`, which reads it from the `STREAM_GLOBAL` the
driver sets). This module must stay light: no llvmlite import.
"""

from __future__ import annotations

import functools
import glob

STREAM_GLOBAL = "jl_stream_bytes"  # i64 in every kernel that may stream
DEFAULT_LLC_BYTES = 32 << 20


@functools.lru_cache(maxsize=1)
def last_level_cache_bytes() -> int:
    """Size of the largest cache cpu0 reports, or `DEFAULT_LLC_BYTES` when the system does not
    say (another OS, a container without sysfs)."""
    best = 0
    for d in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            with open(f"{d}/size") as f:
                text = f.read().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
        digits = text.rstrip("KMGkmg")
        if digits.isdigit():
            best = max(best, int(digits) * scale)
    return best or DEFAULT_LLC_BYTES


def stream_threshold() -> int:
    """Bytes one store of a launch must write before they bypass the caches: half the last-level
    cache, past which the output cannot stay cached beside the inputs it was computed from."""
    return last_level_cache_bytes() // 2
