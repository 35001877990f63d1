"""`tl.extra.libdevice` (and `tl.extra.cuda.libdevice`, `tl.extra.hip.libdevice`): the vendor
math library names Triton kernels call, mapped onto jitlang's own math where an equivalent
exists. Calling any other libdevice function is a compile error at its line that names it.

Mapped (elementwise on float blocks and scalars; the same code on CPU, interpreter, accel):
  as tl functions: abs fabs exp exp2 log log2 sqrt rsqrt sin cos tanh erf floor ceil fma
    fmax fmin sqrt_rn div_rn umulhi fast_expf fast_logf fast_dividef
  composed: pow powf exp10 log10 log1p expm1 sinh cosh tan trunc round rint nearbyint fmod
    copysign isnan isinf isfinited signbit rcp_rn add_rn sub_rn mul_rn saturatef
"""

from __future__ import annotations

from ..core import Builtin

MAPPED = """
abs fabs exp exp2 log log2 sqrt rsqrt sin cos tanh erf floor ceil fma fmax fmin sqrt_rn div_rn
umulhi fast_expf fast_logf fast_dividef pow powf exp10 log10 log1p expm1 sinh cosh tan trunc
round rint nearbyint fmod copysign isnan isinf isfinited signbit rcp_rn add_rn sub_rn mul_rn
saturatef
""".split()

for _n in MAPPED:
    globals()[_n] = Builtin(f"libdevice.{_n}")


def __getattr__(name: str) -> Builtin:
    # every other libdevice name exists so that a kernel using it fails at its line, by name
    if name.startswith("_"):
        raise AttributeError(name)
    return Builtin(f"libdevice.{name}")
