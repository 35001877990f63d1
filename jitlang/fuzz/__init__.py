"""Differential fuzzing of jitlang: random kernels on the interpreter, the CPU and the accelerator.

Stage: test tooling over the whole pipeline. `gen` writes seeded, well-typed kernels as Python
source; `runner` runs them on each target in a worker process (crashes stay contained);
`execute` compares the targets with `jitlang.testing`'s tolerance rules; `shrink` cuts a failing
kernel down by delta debugging; `repro` writes the result as a file that runs with
`python FILE`. `python -m jitlang.fuzz --count N --seed S --targets cpu,accel,interpret` is the
command line (see `__main__`).
"""

from __future__ import annotations

from .execute import Outcome, execute
from .families import generate
from .gen import Case
from .runner import Runner

__all__ = ["Case", "Outcome", "Runner", "execute", "generate"]
