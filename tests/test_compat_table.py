"""The README's Triton compatibility table is generated from jitlang.language and cannot go stale."""

from __future__ import annotations

import os

import jitlang.language as tl
from jitlang.frontend.builtins import TENSOR_METHODS
from jitlang.language import compat

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
BEGIN, END = "<!-- compat:begin -->", "<!-- compat:end -->"


def test_readme_holds_the_generated_table():
    text = open(README, encoding="utf-8").read()
    assert BEGIN in text and END in text, "the README lost its compatibility table markers"
    section = text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert section == compat.markdown(), (
        "README table is stale: run `python -m jitlang.language.compat` and paste it between "
        "the compat markers"
    )


def test_statuses_follow_what_jitlang_has():
    for name, status, note in compat.table():
        kind, _, n = name.partition(".")
        has = hasattr(tl, n) if kind == "tl" else (n in TENSOR_METHODS or n in {"T", "advance"})
        assert (status != "no") == has, name
        if status == "differs":
            assert note, name


def test_every_note_names_a_triton_name():
    known = set(compat.TRITON_NAMES) | {f"tensor.{m}" for m in compat.TRITON_TENSOR_METHODS}
    assert set(compat.NOTES) <= known, set(compat.NOTES) - known
