"""Reading a kernel's source: one parse of its module finds the function, as inspect would."""

from __future__ import annotations

import inspect

import jitlang as jl
import jitlang.language as tl
from jitlang.frontend.source import _source_lines, parse_function


@jl.jit(do_not_specialize=["n"])
def multi_line_header(
    x_ptr,
    n,
    BLOCK: tl.constexpr,
):
    tl.store(x_ptr + tl.arange(0, BLOCK), 1.0)


def make_nested(k):
    @jl.jit
    def nested(x_ptr):
        tl.store(x_ptr, k)

    return nested


def test_matches_inspect():
    for jf in (multi_line_header, make_nested(3)):
        assert _source_lines(jf.fn) == inspect.getsourcelines(jf.fn)
        src = parse_function(jf.fn)
        assert src.tree.name == jf.fn.__name__
        assert src.file == __file__


def same_name():
    return 1


first_same_name = same_name


def same_name():  # noqa: F811  (a redefinition: each keeps its own lines)
    return 2


def test_redefined_names_keep_their_own_lines():
    assert "return 1" in "".join(_source_lines(first_same_name)[0])
    assert "return 2" in "".join(_source_lines(same_name)[0])
