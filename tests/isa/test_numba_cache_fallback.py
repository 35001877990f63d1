"""isa.sequencer.njit: `cache=True` degrades to a per-process compile where numba has nowhere to
keep its cache (it raises RuntimeError at decoration then), instead of failing the import."""

from __future__ import annotations

import pytest

from isa.sequencer import njit


def _fake_numba(calls):
    def jit(**kwargs):
        calls.append(kwargs)
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file")
        return lambda fn: ("compiled", fn)

    return jit


def test_cache_falls_back_to_a_process_compile():
    calls = []

    def f(x):
        return x

    out = njit(cache=True, inline="always", _njit=_fake_numba(calls))(f)
    assert out == ("compiled", f)
    assert calls == [{"cache": True, "inline": "always"}, {"inline": "always"}]


def test_without_cache_a_runtime_error_still_raises():
    def jit(**kwargs):
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        njit(inline="always", _njit=jit)(lambda x: x)


def test_the_real_sequencer_functions_are_compiled():
    import isa.sequencer as S

    compiled = [v for v in vars(S).values() if hasattr(v, "py_func")]
    assert compiled, "no numba-compiled function in isa.sequencer"
