"""The accelerator under attack: random instruction words through the decoder and random
well-formed programs through the emulator.

Stage: test tooling over `isa/`. Input: a seed and counts; output: `AttackReport`s listing every
violation: a Python exception that is not one of the ISA's own error classes (`isa.errors`), a
run that executed past its instruction budget, a byte written outside every allocation of HBM
(HBM is filled with a canary pattern around the arrays), or a caller's array changed by a run
that failed. `python -m jitlang.fuzz.isa_attack --words 1000000 --programs 10000` is the long
mode.
"""

from __future__ import annotations

import argparse
import random
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

CANARY = 0xA5
BASE = 4096
GAP = 256  # canary bytes between allocations


@dataclass
class AttackReport:
    runs: int = 0
    accepted: int = 0  # decoded words / programs that ran to the end
    isa_errors: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, e: BaseException) -> None:
        name = type(e).__name__
        self.isa_errors[name] = self.isa_errors.get(name, 0) + 1

    def __str__(self) -> str:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(self.isa_errors.items()))
        return (
            f"{self.runs} runs in {self.seconds:.1f} s: {self.accepted} clean, ISA errors "
            f"({errs or 'none'}), {len(self.violations)} violations"
        )


# -- the decoder ------------------------------------------------------------------------------
def random_words(rng: random.Random, n: int) -> list[int]:
    """Instruction words from three distributions: uniform bits, a valid opcode with random
    fields, and sparse bits (which pass more field checks)."""
    from isa.table import INSTRUCTIONS

    ops = [s.opcode for s in INSTRUCTIONS]
    words = []
    for _ in range(n):
        w = rng.getrandbits(64)
        r = rng.random()
        if r < 0.4:
            w = (w & ~0xFF) | rng.choice(ops)
        elif r < 0.7:
            w = (w & rng.getrandbits(64) & rng.getrandbits(64) & ~0xFF) | rng.choice(ops)
        words.append(w)
    return words


def attack_decoder(n: int, seed: int = 0, window: int = 8) -> AttackReport:
    """Decode `n` random words (each the start of a `window`-word stream); every decoded
    instruction must re-encode to the same words."""
    from isa.encoding import decode_one, encode
    from isa.errors import IsaError

    rep = AttackReport()
    rng = random.Random(seed)
    t0 = time.perf_counter()
    words = random_words(rng, n + window)
    for i in range(n):
        rep.runs += 1
        stream = words[i : i + window]
        try:
            ins, used = decode_one(stream, 0)
        except IsaError as e:
            rep.count(e)
            continue
        except Exception as e:  # anything else escaping the decoder is a bug
            rep.violations.append(f"decode {[hex(w) for w in stream]}: {_exc(e)}")
            continue
        rep.accepted += 1
        try:
            again = encode(ins)
        except Exception as e:
            rep.violations.append(f"re-encode of {ins}: {_exc(e)}")
            continue
        if list(again) != stream[:used]:
            rep.violations.append(f"{[hex(w) for w in stream[:used]]} re-encodes differently")
    rep.seconds = time.perf_counter() - t0
    return rep


# -- the emulator -----------------------------------------------------------------------------
class _Programs:
    """Random programs that encode: operands drawn near the arrays and the on-chip tiles a real
    kernel uses (so they get past the first check), with branches, loops and faults mixed in."""

    def __init__(self, rng: random.Random) -> None:
        from isa import dtypes

        self.rng = rng
        self.dtypes = [int(d) for d in dtypes.DType]

    def reg(self) -> int:
        return self.rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, self.rng.randint(0, 63)])

    def tile(self):
        from isa.operands import Tile

        rng = self.rng
        if rng.random() < 0.05:
            return Tile.NONE
        if rng.random() < 0.75:  # the program's common shape: operands that agree
            pn, dims, dt = self.shape
            p0 = 0
        else:
            pn = rng.choice([1, 2, 16, 32, 64, 128, rng.randint(1, 128)])
            dims = tuple(
                (rng.choice([1, 1, 2, 0, -1, 4]), rng.choice([1, 2, 4, 8, 16, 33]))
                for _ in range(rng.randint(1, 3))
            )
            dt = rng.choice(self.dtypes)
            p0 = rng.choice([0, 0, 32, 64, 96]) if pn <= 32 else 0
        off = rng.choice([0, 0, 64, 256, 512, 1024, rng.randint(-64, 1 << 17)])
        space = 2 if rng.random() < 0.15 else 1
        return Tile(space, dt, rng.choice([0, 0, 0, 4]), off, p0, pn, dims)

    def hbm(self):
        from isa.operands import HbmAP

        rng = self.rng
        dims = tuple(
            (
                rng.choice([1, 2, 8, 0, -1, 64]),
                rng.choice([1, 2, 4, 8, 16, 100]),
                rng.choice([0, 0, 0, 4, 5]),
            )  # fmt: skip
            for _ in range(rng.randint(1, 4))
        )
        return HbmAP(
            rng.choice(self.dtypes),
            rng.choice([1, 2, 3, 3, self.reg()]),
            rng.choice([0, 0, 16, 256, -8, rng.randint(-4096, 4096)]),
            dims,
            rng.choice([0, 0, 0, 6]),
        )

    def value(self, f, n_instr: int):
        from isa.operands import Scalar
        from isa.table import Kind

        rng = self.rng
        k = f.kind
        if k is Kind.REG:
            return self.reg()
        if k is Kind.LABEL:
            return rng.randrange(n_instr)
        if k is Kind.TILE:
            return self.tile()
        if k is Kind.HBM:
            return self.hbm()
        if k is Kind.ENUM:
            return rng.choice(list(f.enum))
        if k is Kind.ARG:
            return rng.choice([0, 1, 2, 3, 9])
        if k is Kind.DATA:
            return rng.choice([0, 8, 1 << 20])
        if k in (Kind.SCALAR, Kind.FSCALAR):
            r = rng.random()
            if r < 0.6:
                return Scalar.imm(rng.choice([0.0, 1.0, -2.5, 1e30, float("nan"), 3.0]))
            if r < 0.85 or k is Kind.FSCALAR:
                return Scalar.reg(self.reg())
            return Scalar.tile(self.tile())
        if f.bits >= 32:
            return rng.choice([0, 1, 7, 64, -1, 1 << 20]) if f.signed else rng.choice([0, 1, 64])
        lo, hi = (-(1 << (f.bits - 1)), (1 << (f.bits - 1)) - 1) if f.signed else (0, 2**f.bits - 1)
        return rng.choice([v for v in (0, 1, 2, 8) if lo <= v <= hi] + [rng.randint(lo, hi)])

    def program(self):
        from isa.binary import Binary
        from isa.encoding import Instr, encode
        from isa.errors import EncodeError
        from isa.operands import Tile
        from isa.table import BY_MNEMONIC, INSTRUCTIONS, Uop

        rng = self.rng
        n = rng.randint(2, 16)
        self.shape = (
            rng.choice([1, 4, 32, 128]),
            ((1, rng.choice([1, 4, 8, 16])),) if rng.random() < 0.7 else ((4, 2), (1, 4)),
            rng.choice([0, 0, 0, 5, 5, *self.dtypes]),  # f32 and i32 most often
        )
        body = []
        prologue = [
            ("arg", (1, 0)),
            ("arg", (2, 1)),
            ("arg", (3, 2)),
            ("li", (4, rng.choice([0, 1, 3, 16, -1]))),
            ("li", (5, rng.choice([2, 5, 100]))),
            ("li", (6, rng.choice([0, 64, 4096, 1 << 40]))),
            ("memset", (Tile(1, 0, 0, 0, 0, 128, ((1, 1024),)), self.value_fscalar())),
            ("memset", (Tile(2, 0, 0, 0, 0, 128, ((1, 256),)), self.value_fscalar())),
        ]
        for m, ops in prologue:
            body.append(Instr(BY_MNEMONIC[m], ops))
        total = len(body) + n + 1
        pool = [s for s in INSTRUCTIONS if s.uop is not Uop.HALT]
        engine = [s for s in pool if s.uop is Uop.ENGINE]
        words: list[int] = []
        for ins in body:
            words.extend(encode(ins))
        for _ in range(n):
            for _try in range(50):  # operands the encoding rejects: draw again
                spec = rng.choice(engine if rng.random() < 0.6 else pool)
                ins = Instr(spec, tuple(self.value(f, total) for f in spec.fields))
                try:
                    enc = encode(ins)
                except EncodeError:
                    continue
                break
            else:
                ins = Instr(BY_MNEMONIC["nop"], ())
                enc = encode(ins)
            body.append(ins)
            words.extend(enc)
        body.append(Instr(BY_MNEMONIC["halt"], ()))
        words.extend(encode(body[-1]))
        return Binary(words, ["a", "b", "c"], b"\x01" * 64, [], [0] * len(body), "attack.s")

    def value_fscalar(self):
        from isa.operands import Scalar

        return Scalar.imm(self.rng.choice([0.0, 1.0, -1.0]))


def _arrays(rng: random.Random) -> list[np.ndarray]:
    return [
        np.arange(64, dtype=np.float32) * rng.choice([1.0, -0.5]),
        np.arange(100, dtype=np.int32),
        np.full(48, 7, np.uint8),
    ]


def _hbm_with_canaries(arrays, data: bytes):
    """HBM holding the arrays and the data section, with canary bytes around each."""
    from isa.memory import Hbm

    slots, cursor = [], BASE
    for a in arrays:
        slots.append(cursor)
        cursor += -(-a.nbytes // 64) * 64 + GAP
    data_base = cursor
    cursor += -(-len(data) // 64) * 64 + GAP
    buf = np.full(cursor, CANARY, np.uint8)
    regions = []
    for a, s in zip(arrays, slots):
        buf[s : s + a.nbytes] = a.view(np.uint8).reshape(-1)
        regions.append((s, s + a.nbytes, "array"))
    buf[data_base : data_base + len(data)] = np.frombuffer(data, np.uint8)
    regions.append((data_base, data_base + len(data), "data"))
    return Hbm(buf, regions), slots, data_base


def run_program(binary, rng: random.Random, budget: int, rep: AttackReport, label: str) -> None:
    """One program on a canaried HBM (through `Emulator`) and on the caller's arrays (through
    `isa.run`); violations go to `rep`."""
    import isa
    from isa.emulator import Emulator
    from isa.errors import IsaError

    arrays = _arrays(rng)
    hbm, slots, data_base = _hbm_with_canaries(arrays, binary.data)
    grid = rng.choice([(1, 1, 1), (2, 1, 1), (1, 2, 1)])
    before = hbm.data.copy()
    rep.runs += 1
    try:
        _, executed = Emulator(binary, "nc-v2").run(
            hbm, np.array(slots, np.int64), grid, data_base, False, budget
        )
        if executed > budget:
            rep.violations.append(f"{label}: executed {executed} > budget {budget}")
        rep.accepted += 1
    except IsaError as e:
        rep.count(e)
    except Exception as e:  # not an ISA error: the emulator itself broke
        rep.violations.append(f"{label}: emulator raised {_exc(e)}")
    outside = np.ones(hbm.data.size, bool)
    for lo, hi, _ in hbm.regions:
        outside[lo:hi] = False
    changed = np.flatnonzero(outside & (hbm.data != before))
    if changed.size:
        rep.violations.append(f"{label}: wrote outside every allocation at bytes {changed[:8]}")
    # the caller's arrays: untouched when the run fails, same dtype and shape when it succeeds
    mine = _arrays(random.Random(0))
    copies = [a.copy() for a in mine]
    try:
        isa.run(binary, copies, grid[:1], budget=budget)
    except IsaError:
        for a, c in zip(mine, copies):
            if not np.array_equal(a.view(np.uint8), c.view(np.uint8)):
                rep.violations.append(f"{label}: a failed isa.run changed the caller's arrays")
                break
    except Exception as e:
        rep.violations.append(f"{label}: isa.run raised {_exc(e)}")
    for a, c in zip(mine, copies):
        if a.dtype != c.dtype or a.shape != c.shape:
            rep.violations.append(f"{label}: isa.run changed an array's dtype or shape")


def attack_emulator(n: int, seed: int = 0, budget: int = 3000) -> AttackReport:
    rep = AttackReport()
    rng = random.Random(seed)
    gen = _Programs(rng)
    gen.shape = (1, ((1, 1),), gen.dtypes[0])
    t0 = time.perf_counter()
    for i in range(n):
        binary = gen.program()
        run_program(binary, rng, budget, rep, f"program {i} (seed {seed})")
    rep.seconds = time.perf_counter() - t0
    return rep


def _exc(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
    return f"{type(e).__name__}: {str(e)[:200]} at {where}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jitlang.fuzz.isa_attack", description=__doc__)
    p.add_argument("--words", type=int, default=1_000_000)
    p.add_argument("--programs", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    bad = 0
    for name, rep in (
        ("decoder", attack_decoder(a.words, a.seed)),
        ("emulator", attack_emulator(a.programs, a.seed)),
    ):
        print(f"{name}: {rep}")
        for v in rep.violations[:20]:
            print(f"  {v}")
        bad += len(rep.violations)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
