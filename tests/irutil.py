"""Helpers for tests that look at the IR of a kernel for given arguments."""

from __future__ import annotations

from jitlang.frontend.visitor import build_kernel


def kernel_ir(jf, *args, **kwargs):
    """The (unoptimized, verified-by-caller) tile IR of `jf` specialized for these arguments."""
    key, _rt, _values, _target = jf._fast(*args, **kwargs)
    fn, _ctx = build_kernel(jf, jf._params(key), jf.fn.__name__)
    return fn
