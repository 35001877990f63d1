"""`jitlang.language.random` against a numpy Philox4x32-10 and the Random123 known answers."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang
import jitlang.language as tl
from jitlang.language import random
from jitlang.language.random import philox_impl, rand

M32 = 0xFFFFFFFF
U32, U64 = np.uint32, np.uint64


# -- the numpy reference ----------------------------------------------------------------------


def philox_ref(seed, c0, c1, c2, c3, n_rounds=10):
    """Philox4x32 (Salmon et al., SC'11) keyed by a 64-bit seed: k0 = low word, k1 = high word."""
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF  # a negative seed sign-extends, as Triton's does
    k0, k1 = seed & M32, seed >> 32
    c0, c1, c2, c3 = (np.asarray(c, dtype=U32) for c in np.broadcast_arrays(c0, c1, c2, c3))
    for _ in range(n_rounds):
        p0 = U64(0xD2511F53) * c0.astype(U64)
        p1 = U64(0xCD9E8D57) * c2.astype(U64)
        c0, c1, c2, c3 = (
            (p1 >> U64(32)).astype(U32) ^ c1 ^ U32(k0),
            p1.astype(U32),
            (p0 >> U64(32)).astype(U32) ^ c3 ^ U32(k1),
            p0.astype(U32),
        )
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


def philox64_ref(c, k, n_rounds=10):
    """Philox4x64 on Python ints: counter words c[0..3], key words k[0..1]."""
    m64 = 2**64 - 1
    c, k = [int(w) for w in c], [int(w) for w in k]
    for _ in range(n_rounds):
        p0, p1 = 0xD2E7470EE14C6C93 * c[0], 0xCA5A826395121157 * c[2]
        c = [(p1 >> 64) ^ c[1] ^ k[0], p1 & m64, (p0 >> 64) ^ c[3] ^ k[1], p0 & m64]
        k = [(k[0] + 0x9E3779B97F4A7C15) & m64, (k[1] + 0xBB67AE8584CAA73B) & m64]
    return c


def randint4x_ref(seed, offsets):
    """Triton's counter: (offset low word, offset high word if 64-bit else 0, 0, 0)."""
    wide = np.asarray(offsets).dtype.itemsize > 4
    offsets = np.asarray(offsets).astype(np.int64)
    lo = (offsets & M32).astype(U32)
    hi = ((offsets >> 32) & M32).astype(U32) if wide else 0 * lo
    return philox_ref(seed, lo, hi, 0, 0)


def uniform_ref(x):
    x = np.asarray(x, U32).view(np.int32).astype(np.int64)
    x = np.where(x < 0, -x - 1, x)
    return x.astype(np.float32) * np.float32(4.6566127342e-10)


def normal_pair_ref(u1, u2):
    u1 = np.maximum(np.float32(1.0e-7), u1)
    th = np.float32(6.283185307179586) * u2
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    return r * np.cos(th), r * np.sin(th)


def rand_ref(seed, offsets):
    return uniform_ref(randint4x_ref(seed, offsets)[0])


def randn_ref(seed, offsets):
    i1, i2, _, _ = randint4x_ref(seed, offsets)
    return normal_pair_ref(uniform_ref(i1), uniform_ref(i2))[0]


# Random123's known-answer vectors for philox4x32-10: counter, key -> output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32,) * 4, (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


M64 = 2**64 - 1
KAT64 = [
    (
        (0, 0, 0, 0),
        (0, 0),
        (0x16554D9ECA36314C, 0xDB20FE9D672D0FDC, 0xD7E772CEE186176B, 0x7E68B68AEC7BA23B),
    ),
    (
        (M64,) * 4,
        (M64, M64),
        (0x87B092C3013FE90B, 0x438C3C67BE8D0224, 0x9CC7D7C69CD777B6, 0xA09CAEBF594F0BA0),
    ),
    (
        (0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89),
        (0x452821E638D01377, 0xBE5466CF34E90C6C),
        (0xA528F45403E61D95, 0x38C72DBD566E9788, 0xA5A1610E72FD18B5, 0x57BD43B5E52B7FE6),
    ),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_reference_known_answers(ctr, key, expected):
    out = philox_ref(key[0] | key[1] << 32, *ctr)
    assert [int(w) for w in out] == list(expected)


@pytest.mark.parametrize("ctr,key,expected", KAT64)
def test_reference64_known_answers(ctr, key, expected):
    assert philox64_ref(ctr, key) == list(expected)


# -- kernels ----------------------------------------------------------------------------------


@jitlang.jit
def philox_impl_kernel(ctr_ptr, key_ptr, out_ptr, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    c0 = tl.load(ctr_ptr + i * 4)
    c1 = tl.load(ctr_ptr + i * 4 + 1)
    c2 = tl.load(ctr_ptr + i * 4 + 2)
    c3 = tl.load(ctr_ptr + i * 4 + 3)
    k0 = tl.load(key_ptr + i * 2)
    k1 = tl.load(key_ptr + i * 2 + 1)
    r0, r1, r2, r3 = philox_impl(c0, c1, c2, c3, k0, k1)
    tl.store(out_ptr + i * 4, r0)
    tl.store(out_ptr + i * 4 + 1, r1)
    tl.store(out_ptr + i * 4 + 2, r2)
    tl.store(out_ptr + i * 4 + 3, r3)


@jitlang.jit
def philox64_kernel(ctr_ptr, seed, out_ptr, u_ptr, BLOCK: tl.constexpr):
    # 64-bit counters select Philox4x64, keyed by (seed, 0)
    i = tl.arange(0, BLOCK)
    c0 = tl.load(ctr_ptr + i * 4)
    c1 = tl.load(ctr_ptr + i * 4 + 1)
    c2 = tl.load(ctr_ptr + i * 4 + 2)
    c3 = tl.load(ctr_ptr + i * 4 + 3)
    r0, r1, r2, r3 = random.philox(seed, c0, c1, c2, c3)
    tl.store(out_ptr + i * 4, r0)
    tl.store(out_ptr + i * 4 + 1, r1)
    tl.store(out_ptr + i * 4 + 2, r2)
    tl.store(out_ptr + i * 4 + 3, r3)
    tl.store(u_ptr + i, random.uint_to_uniform_float(r0))


@jitlang.jit
def randint4x_kernel(out_ptr, seed, n, offset_base, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = i < n
    r0, r1, r2, r3 = random.randint4x(seed, i + offset_base)
    tl.store(out_ptr + i, r0, mask=m)
    tl.store(out_ptr + n + i, r1, mask=m)
    tl.store(out_ptr + 2 * n + i, r2, mask=m)
    tl.store(out_ptr + 3 * n + i, r3, mask=m)


@jitlang.jit
def one_kernel(out_ptr, seed, n, KIND: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    if KIND == "randint":
        r = random.randint(seed, offs)
    elif KIND == "rand":
        r = rand(seed, offs)
    else:
        r = random.randn(seed, offs)
    tl.store(out_ptr + offs, r, mask=offs < n)


@jitlang.jit
def four_kernel(out_ptr, seed, n, NORMAL: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    if NORMAL:
        a, b, c, d = random.randn4x(seed, offs)
    else:
        a, b, c, d = random.rand4x(seed, offs)
    tl.store(out_ptr + offs, a, mask=m)
    tl.store(out_ptr + n + offs, b, mask=m)
    tl.store(out_ptr + 2 * n + offs, c, mask=m)
    tl.store(out_ptr + 3 * n + offs, d, mask=m)


@jitlang.jit
def literal_seed_kernel(out_ptr, SEED: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, random.randint(SEED, offs))


@jitlang.jit
def seeded_dropout(x_ptr, output_ptr, n_elements, p, seed, BLOCK_SIZE: tl.constexpr):
    # Triton's low-memory dropout tutorial: the keep mask is regenerated from (seed, offsets)
    pid = tl.program_id(axis=0)
    block_start = pid * BLOCK_SIZE
    offsets = block_start + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    random = tl_rand(seed, offsets)
    x_keep = random > p
    output = tl.where(x_keep, x / (1 - p), 0.0)
    tl.store(output_ptr + offsets, output, mask=mask)


tl_rand = rand  # the tutorial's `tl.rand`, until jitlang.language exports it


def run_one(kind, seed, n, block=128):
    out = np.zeros(n, np.uint32 if kind == "randint" else np.float32)
    one_kernel[(jitlang.cdiv(n, block),)](out, seed, n, KIND=kind, BLOCK=block)
    return out


# -- tests ------------------------------------------------------------------------------------


def test_philox_impl_known_answers():
    ctr = np.array([c for c, _, _ in KAT], U32)
    key = np.array([k for _, k, _ in KAT], U32)
    ctr = np.concatenate([ctr, np.zeros((1, 4), U32)])  # BLOCK must be a power of two
    key = np.concatenate([key, np.zeros((1, 2), U32)])
    out = np.zeros_like(ctr)
    philox_impl_kernel[(1,)](ctr, key, out, BLOCK=4)
    np.testing.assert_array_equal(out[:3], np.array([e for _, _, e in KAT], U32))


def test_philox_impl_matches_reference_on_random_words():
    rng = np.random.default_rng(3)
    ctr = rng.integers(0, 2**32, (256, 4), dtype=np.uint64).astype(U32)
    key = rng.integers(0, 2**32, (256, 2), dtype=np.uint64).astype(U32)
    out = np.zeros_like(ctr)
    philox_impl_kernel[(1,)](ctr, key, out, BLOCK=256)
    seeds = key[:, 0].astype(np.int64) | key[:, 1].astype(np.int64) << 32
    for row in range(0, 256, 17):
        ref = philox_ref(int(seeds[row]) & 0xFFFFFFFFFFFFFFFF, *ctr[row])
        assert [int(w) for w in out[row]] == [int(w) for w in ref]


def test_philox_impl_64_bit_known_answers():
    ctr = np.array([c for c, _, _ in KAT64] + [(0,) * 4], U64)
    key = np.array([k for _, k, _ in KAT64] + [(0,) * 2], U64)
    out = np.zeros_like(ctr)
    philox_impl_kernel[(1,)](ctr, key, out, BLOCK=4)
    np.testing.assert_array_equal(out[:3], np.array([e for _, _, e in KAT64], U64))


@pytest.mark.parametrize("seed", [5, -3, 2**40 + 1])
def test_philox_64_bit_counters_and_uniforms(seed):
    rng = np.random.default_rng(seed & 0xFFFF)
    ctr = rng.integers(-(2**63), 2**63, (64, 4), dtype=np.int64)
    out, u = np.zeros((64, 4), U64), np.zeros(64, np.float32)
    philox64_kernel[(1,)](ctr, seed, out, u, BLOCK=64)
    for row in range(64):
        ref = philox64_ref(ctr[row].view(U64), (seed & M64, 0))
        assert [int(w) for w in out[row]] == ref
    x = out[:, 0].view(np.int64)
    x = np.where(x < 0, -x - 1, x)  # wraps at INT64_MIN as the kernel does
    np.testing.assert_array_equal(u, x.astype(np.float32) * np.float32(1.0842020432385337e-19))
    assert (u >= 0).all() and (u < 1).all()


@pytest.mark.parametrize("seed", [0, 1, 42, -1, 2**31 - 1, -(2**31), 2**31 + 7, 2**40 + 3])
def test_randint4x_matches_reference(seed):
    n = 1000
    out = np.zeros(4 * n, U32)
    randint4x_kernel[(jitlang.cdiv(n, 256),)](out, seed, n, 0, BLOCK=256)
    ref = randint4x_ref(seed, np.arange(n, dtype=np.int32))
    np.testing.assert_array_equal(out.reshape(4, n), np.stack(ref))


def test_randint4x_negative_int32_offsets_are_their_uint32_bits():
    n = 600
    out = np.zeros(4 * n, U32)
    randint4x_kernel[(jitlang.cdiv(n, 256),)](out, 11, n, -300, BLOCK=256)
    ref = randint4x_ref(11, np.arange(n, dtype=np.int32) - 300)
    np.testing.assert_array_equal(out.reshape(4, n), np.stack(ref))


def test_randint4x_int64_offsets_use_the_high_counter_word():
    n, base = 300, 2**33 + 2**31 - 5  # offsets cross a 2**32 boundary in the low word
    out = np.zeros(4 * n, U32)
    randint4x_kernel[(jitlang.cdiv(n, 128),)](out, 7, n, base, BLOCK=128)
    ref = randint4x_ref(7, np.arange(n, dtype=np.int64) + base)
    np.testing.assert_array_equal(out.reshape(4, n), np.stack(ref))


def test_randint_rand_randn_against_reference():
    seed, n = 1234, 5000
    np.testing.assert_array_equal(run_one("randint", seed, n), randint4x_ref(seed, np.arange(n))[0])
    np.testing.assert_array_equal(run_one("rand", seed, n), rand_ref(seed, np.arange(n)))
    # log/sqrt/sin/cos round differently in every math library: close, not bitwise
    np.testing.assert_allclose(
        run_one("randn", seed, n), randn_ref(seed, np.arange(n)), rtol=1e-5, atol=2e-6
    )


def test_rand_range_and_moments():
    n = 2**16
    u = run_one("rand", 2024, n, block=1024)
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    z = run_one("randn", 2024, n, block=1024)
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02


def test_uniform_conversion_extremes_stay_below_one():
    words = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 1, 0x7FFFFF80], U32)
    u = uniform_ref(words)
    assert (u >= 0).all() and (u < 1).all() and u[2] == u[3]


def test_rand4x_randn4x_against_reference():
    seed, n = 99, 777
    out = np.zeros(4 * n, np.float32)
    four_kernel[(jitlang.cdiv(n, 256),)](out, seed, n, NORMAL=False, BLOCK=256)
    words = randint4x_ref(seed, np.arange(n))
    uniforms = [uniform_ref(w) for w in words]
    np.testing.assert_array_equal(out.reshape(4, n), np.stack(uniforms))
    four_kernel[(jitlang.cdiv(n, 256),)](out, seed, n, NORMAL=True, BLOCK=256)
    normals = [*normal_pair_ref(*uniforms[:2]), *normal_pair_ref(*uniforms[2:])]
    np.testing.assert_allclose(out.reshape(4, n), np.stack(normals), rtol=1e-5, atol=2e-6)


def test_same_seed_same_values_different_seed_differs():
    a, b = run_one("rand", 5, 4096), run_one("rand", 5, 4096)
    np.testing.assert_array_equal(a, b)
    c = run_one("rand", 6, 4096)
    assert (a != c).mean() > 0.99
    d = run_one("rand", 5 + 2**32, 4096)  # differs from seed 5 only in the key's high word
    assert (a != d).mean() > 0.99


def test_seed_above_2_31_is_64_bit():
    for seed in (2**31, 2**32 - 1, 2**32, 2**62 + 12345, 2**63 - 1):
        np.testing.assert_array_equal(run_one("rand", seed, 512), rand_ref(seed, np.arange(512)))


@pytest.mark.parametrize("seed", [0, 17, -5, 3_000_000_000, 2**40 + 9])
def test_literal_seed_typed_like_triton(seed):
    out = np.zeros(64, U32)
    literal_seed_kernel[(1,)](out, SEED=seed, BLOCK=64)
    np.testing.assert_array_equal(out, randint4x_ref(seed, np.arange(64))[0])


@pytest.mark.parametrize("n,p", [(1000, 0.5), (4099, 0.1), (257, 0.9)])
def test_low_memory_dropout(n, p):
    x = np.random.default_rng(n).standard_normal(n, dtype=np.float32)
    out = np.empty_like(x)
    seed = 123
    seeded_dropout[(jitlang.cdiv(n, 1024),)](x, out, n, p, seed, BLOCK_SIZE=1024)
    keep = rand_ref(seed, np.arange(n)) > np.float32(p)
    np.testing.assert_array_equal(out != 0, keep & (x != 0))
    # a block divided by a uniform scalar is a reciprocal multiply (<= 2 ulp, as Triton's div.full)
    ref = np.where(keep, x / (np.float32(1) - np.float32(p)), np.float32(0))
    np.testing.assert_allclose(out, ref, rtol=2.5e-7, atol=0)
    again = np.empty_like(x)
    seeded_dropout[(jitlang.cdiv(n, 1024),)](x, again, n, p, seed, BLOCK_SIZE=1024)
    np.testing.assert_array_equal(out, again)


@jitlang.jit
def signed_counter_kernel(out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    r, _, _, _ = philox_impl(offs, offs, offs, offs, offs, offs)
    tl.store(out_ptr + offs, r)


@jitlang.jit
def float_seed_kernel(out_ptr, seed, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, rand(seed, offs))


def test_philox_impl_rejects_signed_counters():
    with pytest.raises(jitlang.CompilationError, match="uint32 or uint64 counters"):
        signed_counter_kernel[(1,)](np.zeros(16, np.int32), BLOCK=16)


def test_rand_rejects_a_float_seed():
    with pytest.raises(jitlang.CompilationError, match="seed must be an integer"):
        float_seed_kernel[(1,)](np.zeros(16, np.float32), 1.5, BLOCK=16)
