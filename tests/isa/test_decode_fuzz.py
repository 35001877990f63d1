"""Decoder fuzzing: random words either decode (and then re-encode identically) or raise
DecodeError; nothing else ever escapes."""

from __future__ import annotations

import random

import pytest

from isa.asm import assemble, disassemble
from isa.binary import Binary
from isa.encoding import decode_one, encode
from isa.errors import BinaryFormatError, DecodeError
from isa.table import INSTRUCTIONS


def _fuzz_words(rng: random.Random, n: int) -> list[int]:
    words = [rng.getrandbits(64) for _ in range(n)]
    if rng.random() < 0.7:  # a valid opcode makes the field checks run
        words[0] = (words[0] & ~0xFF) | rng.choice(INSTRUCTIONS).opcode
    if rng.random() < 0.5:  # sparse bits pass more field checks
        words = [w & rng.getrandbits(64) & rng.getrandbits(64) for w in words]
        words[0] = (words[0] & ~0xFF) | rng.choice(INSTRUCTIONS).opcode
    return words


def test_random_words_decode_cleanly():
    rng = random.Random(0)
    ok = 0
    for _ in range(20000):
        words = _fuzz_words(rng, 12)
        try:
            ins, n = decode_one(words, 0)
        except DecodeError:
            continue
        ok += 1
        assert encode(ins) == words[:n]
    assert ok > 100


def test_decoded_random_programs_roundtrip_through_text():
    rng = random.Random(1)
    done = 0
    for _ in range(3000):
        words = _fuzz_words(rng, 12)
        try:
            ins, n = decode_one(words, 0)
        except DecodeError:
            continue
        labels_ok = all(
            v == 0 for f, v in zip(ins.spec.fields, ins.ops, strict=True) if f.kind.value == "label"
        )
        if not labels_ok:
            continue
        b = Binary(words[:n])
        assert assemble(disassemble(b)).to_bytes() == b.to_bytes()
        done += 1
    assert done > 20


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_binary_container(seed):
    rng = random.Random(seed)
    good = Binary([1, 2], ["a"], b"xyz", [("s", 0)], [3, 4], "f").to_bytes()
    for _ in range(500):
        blob = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            blob[rng.randrange(len(blob))] = rng.getrandbits(8)
        blob = bytes(blob[: rng.randint(0, len(blob))]) if rng.random() < 0.3 else bytes(blob)
        try:
            Binary.from_bytes(blob)
        except BinaryFormatError:
            pass
