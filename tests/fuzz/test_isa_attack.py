"""The accelerator under attack: random words through the decoder, random programs through the
emulator. Only the ISA's own error classes may escape; no run goes past its instruction budget,
writes outside its allocations or changes the caller's arrays when it fails. The fast samples
run in the suite; the long mode (1,000,000 words, 10,000 programs) is a benchmark-marked test
and `python -m jitlang.fuzz.isa_attack`.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from jitlang.fuzz import isa_attack as A


def test_decoder_random_words():
    rep = A.attack_decoder(50_000, seed=11)
    assert not rep.violations, "\n".join(rep.violations[:10])
    assert rep.accepted > 200 and rep.isa_errors  # both paths were reached


@pytest.mark.parametrize("seed", [1, 2])
def test_emulator_random_programs(seed):
    rep = A.attack_emulator(40, seed=seed)
    assert not rep.violations, "\n".join(rep.violations[:10])
    assert rep.runs == 40 and len(rep.isa_errors) >= 3


def test_budget_is_enforced():
    """A program that loops forever stops with the ISA's BudgetExceededError."""
    from isa.asm import Builder
    from isa.errors import BudgetExceededError

    b = Builder()
    top = b.place(b.label("top"))
    b.emit("addi", 1, 1, 1)
    b.emit("jmp", top)
    b.emit("halt")
    rep = A.AttackReport()
    A.run_program(b.build(), random.Random(0), 500, rep, "endless")
    assert not rep.violations and rep.isa_errors == {BudgetExceededError.__name__: 1}


def test_canary_check_catches_a_stray_write():
    """The out-of-allocation check can fail: a byte written between two arrays is seen."""
    arrays = A._arrays(random.Random(0))
    hbm, slots, _ = A._hbm_with_canaries(arrays, b"\x00" * 8)
    before = hbm.data.copy()
    hbm.data[slots[0] + arrays[0].nbytes + 3] ^= 0xFF
    outside = np.ones(hbm.data.size, bool)
    for lo, hi, _ in hbm.regions:
        outside[lo:hi] = False
    assert np.flatnonzero(outside & (hbm.data != before)).size == 1


@pytest.mark.benchmark
def test_long_mode():
    dec = A.attack_decoder(1_000_000, seed=2026)
    emu = A.attack_emulator(10_000, seed=2026)
    assert not dec.violations and not emu.violations, (str(dec), str(emu))
