"""`tl.rand` and friends: Triton's counter-based Philox generator, written in jitlang itself.

Library stage, no compiler code: every function here is a `@jit` helper that kernels inline.
Input: a seed (a run-time integer scalar or a Python int) and a block of integer offsets;
output: blocks of random uint32, float32 in [0, 1) or float32 ~ N(0, 1). The values are
bit-for-bit Triton's (`triton/language/random.py`) for the same seed and offsets: Philox
4x32 with 10 rounds, key = (seed low 32 bits, seed high 32 bits), counter = (offset low 32
bits, offset high 32 bits, 0, 0), the same float conversion and the same Box-Muller transform
(the last one up to the rounding of log/sqrt/sin/cos, which no two math libraries share).
"""

from __future__ import annotations

from ..jit import jit
from . import core as tl

__all__ = [
    "pair_uniform_to_normal",
    "philox",
    "philox_impl",
    "rand",
    "rand4x",
    "randint",
    "randint4x",
    "randn",
    "randn4x",
    "uint_to_uniform_float",
]

N_ROUNDS_DEFAULT = 10  # Philox4x32-10: 10 rounds is the published, crush-resistant choice

# The Philox constants (Salmon et al., SC'11): round multipliers and Weyl key increments
# (golden ratio and sqrt(3) - 1), for 32-bit words and for 64-bit words.
PHILOX_ROUND_A = 0xD2511F53
PHILOX_ROUND_B = 0xCD9E8D57
PHILOX_KEY_A = 0x9E3779B9
PHILOX_KEY_B = 0xBB67AE85
PHILOX64_ROUND_A = 0xD2E7470EE14C6C93
PHILOX64_ROUND_B = 0xCA5A826395121157
PHILOX64_KEY_A = 0x9E3779B97F4A7C15
PHILOX64_KEY_B = 0xBB67AE8584CAA73B


@jit
def philox_impl(c0, c1, c2, c3, k0, k1, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """Run `n_rounds` Philox rounds on counter (c0, c1, c2, c3) with key (k0, k1).

    All six inputs are uint32 (Philox4x32) or all uint64 (Philox4x64), blocks or scalars;
    returns the four output words.
    """
    if c0.dtype == tl.uint32:
        A = tl.full((), PHILOX_ROUND_A, tl.uint32)
        B = tl.full((), PHILOX_ROUND_B, tl.uint32)
        KEY_A = PHILOX_KEY_A
        KEY_B = PHILOX_KEY_B
    else:
        tl.static_assert(c0.dtype == tl.uint64, "philox_impl needs uint32 or uint64 counters")
        A = tl.full((), PHILOX64_ROUND_A, tl.uint64)
        B = tl.full((), PHILOX64_ROUND_B, tl.uint64)
        KEY_A = PHILOX64_KEY_A
        KEY_B = PHILOX64_KEY_B
    for _ in tl.static_range(n_rounds):
        _c0, _c2 = c0, c2
        c0 = tl.umulhi(B, _c2) ^ c1 ^ k0
        c2 = tl.umulhi(A, _c0) ^ c3 ^ k1
        c1 = B * _c2
        c3 = A * _c0
        k0 = k0 + KEY_A
        k1 = k1 + KEY_B
    return c0, c1, c2, c3


@jit
def philox(seed, c0, c1, c2, c3, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """Philox of counter (c0, c1, c2, c3) keyed by a 64-bit `seed`, as Triton keys it.

    The seed widens to uint64 (sign-extending a signed seed, so seed -1 is all ones). With
    32-bit counters (Philox4x32) the key is (seed low word, seed high word); with 64-bit
    counters (Philox4x64) it is (seed, 0). Counters are reinterpreted as unsigned.
    """
    # tl.cast and tl.zeros_like type a Python int as Triton's `tl.to_tensor` does
    tl.static_assert(tl.zeros_like(seed).dtype.is_int(), "the philox seed must be an integer")
    seed = tl.cast(seed, tl.uint64)
    if tl.zeros_like(c0).dtype.primitive_bitwidth == 32:
        word = tl.uint32
        seed_hi = ((seed >> 32) & 0xFFFFFFFF).to(tl.uint32)
        seed_lo = (seed & 0xFFFFFFFF).to(tl.uint32)
    else:
        tl.static_assert(
            tl.zeros_like(c0).dtype.primitive_bitwidth == 64, "philox needs 32- or 64-bit counters"
        )
        word = tl.uint64
        seed_hi = tl.full((), 0, tl.uint64)
        seed_lo = seed
    c0 = tl.cast(c0, word, bitcast=True)
    c1 = tl.cast(c1, word, bitcast=True)
    c2 = tl.cast(c2, word, bitcast=True)
    c3 = tl.cast(c3, word, bitcast=True)
    return philox_impl(c0, c1, c2, c3, seed_lo, seed_hi, n_rounds)


@jit
def randint4x(seed, offset, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """Four blocks of random uint32 for a `seed` scalar and an integer `offset` block.

    The most efficient entry point: one Philox call gives all four words. A 64-bit offset
    fills the first two counter words (low, high); a 32-bit one only the first.
    """
    offset_lo = offset.to(tl.uint32)
    _0 = offset_lo * 0
    if offset.dtype.primitive_bitwidth > 32:
        offset_hi = (offset >> 32).to(tl.uint32)
    else:
        offset_hi = _0
    return philox(seed, offset_lo, offset_hi, _0, _0, n_rounds)


@jit
def randint(seed, offset, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """A block of random uint32 (the first word of `randint4x`)."""
    ret, _, _, _ = randint4x(seed, offset, n_rounds)
    return ret


@jit
def uint_to_uniform_float(x):
    """A random 32- or 64-bit integer to a float32 uniform in [0, 1).

    Folds the integer onto [0, INT_MAX] (x or -x - 1, reinterpreted as signed) and scales by
    the largest float for which INT_MAX * scale still rounds below 1.0.
    """
    if x.dtype.primitive_bitwidth == 32:
        x = x.to(tl.int32, bitcast=True)
        scale = 4.6566127342e-10
    else:
        tl.static_assert(x.dtype.primitive_bitwidth == 64, "needs a 32- or 64-bit integer")
        x = x.to(tl.int64, bitcast=True)
        scale = 1.0842020432385337e-19
    x = tl.where(x < 0, -x - 1, x)
    return x * scale


@jit
def rand(seed, offset, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """A block of random float32 uniform in [0, 1) for a `seed` scalar and an `offset` block."""
    source = randint(seed, offset, n_rounds)
    return uint_to_uniform_float(source)


@jit
def rand4x(seed, offsets, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """Four blocks of random float32 uniform in [0, 1) from one Philox call."""
    i1, i2, i3, i4 = randint4x(seed, offsets, n_rounds)
    u1 = uint_to_uniform_float(i1)
    u2 = uint_to_uniform_float(i2)
    u3 = uint_to_uniform_float(i3)
    u4 = uint_to_uniform_float(i4)
    return u1, u2, u3, u4


@jit
def pair_uniform_to_normal(u1, u2):
    """Box-Muller: two uniforms in [0, 1) to two independent standard normals."""
    u1 = tl.maximum(1.0e-7, u1)  # log(0) would give an infinite radius
    th = 6.283185307179586 * u2
    r = tl.sqrt(-2.0 * tl.log(u1))
    return r * tl.cos(th), r * tl.sin(th)


@jit
def randn(seed, offset, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """A block of random float32 ~ N(0, 1) for a `seed` scalar and an `offset` block."""
    i1, i2, _, _ = randint4x(seed, offset, n_rounds)
    u1 = uint_to_uniform_float(i1)
    u2 = uint_to_uniform_float(i2)
    n1, _ = pair_uniform_to_normal(u1, u2)
    return n1


@jit
def randn4x(seed, offset, n_rounds: tl.constexpr = N_ROUNDS_DEFAULT):
    """Four blocks of random float32 ~ N(0, 1) from one Philox call."""
    u1, u2, u3, u4 = rand4x(seed, offset, n_rounds)
    n1, n2 = pair_uniform_to_normal(u1, u2)
    n3, n4 = pair_uniform_to_normal(u3, u4)
    return n1, n2, n3, n4
