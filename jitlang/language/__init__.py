"""jitlang.language: Triton's `triton.language` names for writing kernels.

import jitlang.language as tl
"""

from . import math  # noqa: F401  (tl.math.exp etc.)
from .core import *  # noqa: F401,F403
from .core import BUILTINS, DTYPES, Builtin, constexpr, dtype  # noqa: F401
