"""`tl.extra.cuda`: only its `libdevice` math exists on jitlang's targets."""

from ...core import Builtin
from .. import libdevice  # noqa: F401


def __getattr__(name: str) -> Builtin:
    # CUDA-only helpers (globaltimer, smid, ...) fail at the kernel line that uses them
    if name.startswith("_"):
        raise AttributeError(name)
    return Builtin(f"extra.cuda.{name}")
