"""`tl.extra`: Triton's namespace for vendor libraries. jitlang's targets have no CUDA or HIP
libdevice; `tl.extra.libdevice`, `tl.extra.cuda.libdevice` and `tl.extra.hip.libdevice` map the
libdevice math functions that have an equivalent onto jitlang's math (see `libdevice`)."""

from . import cuda, hip, libdevice  # noqa: F401
