"""jitlang.language: Triton's `triton.language` names for writing kernels.

import jitlang.language as tl
"""

from . import extra, math  # noqa: F401  (tl.math.exp, tl.extra.libdevice.exp etc.)
from .core import *  # noqa: F401,F403
from .core import BUILTINS, DTYPES, Builtin, constexpr, dtype  # noqa: F401
from .random import (  # noqa: F401
    pair_uniform_to_normal,
    philox,
    philox_impl,
    rand,
    rand4x,
    randint,
    randint4x,
    randn,
    randn4x,
    uint_to_uniform_float,
)
