"""Progress bars for long work (large emulations), shown only when someone is watching: a
terminal on stderr or a Jupyter kernel; quiet otherwise (CI, pipes, tests)."""

from __future__ import annotations

import importlib.util
import sys

MIN_PROGRAMS = 256  # emulations of fewer programs finish before a bar is worth drawing


def watching() -> bool:
    from .autotuner import _in_jupyter

    stderr = sys.stderr
    return _in_jupyter() or bool(stderr is not None and stderr.isatty())


def program_bar(total: int, desc: str):
    """A `progress(done, total)` callback drawing a tqdm bar, and a `close()`; (None, no-op)
    when nobody watches or the grid is small."""
    if total < MIN_PROGRAMS or not watching():
        return None, lambda: None
    try:
        from .autotuner import _in_jupyter

        if _in_jupyter() and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return None, lambda: None
    bar = tqdm(total=total, desc=desc, unit="program", leave=False, mininterval=0.2)

    def progress(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return progress, bar.close
