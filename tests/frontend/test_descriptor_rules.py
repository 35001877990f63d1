"""Tensor descriptors follow Triton's rules on their block: a row of the block (its last
dimension) holds at least 16 bytes, and a descriptor has 1 to 5 dimensions. Triton's message, at
the kernel's line, for `tl.make_tensor_descriptor` and for host-side `TensorDescriptor`
arguments alike; blocks of exactly 16 bytes a row still load and store correctly."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import ShapeError
from jitlang.tools.tensor_descriptor import TensorDescriptor

TRITON_MSG = "Descriptor block shape must have at least 16 bytes in the last dimension"


@jl.jit
def load_rows(ptr, out_ptr, BM: tl.constexpr, BN: tl.constexpr):
    desc = tl.make_tensor_descriptor(ptr, [64, 64], [64, 1], [BM, BN])
    r = tl.arange(0, BM)[:, None]
    c = tl.arange(0, BN)[None, :]
    tl.store(out_ptr + r * BN + c, desc.load([1, 3]))


@jl.jit
def store_rows(ptr, BM: tl.constexpr, BN: tl.constexpr):
    desc = tl.make_tensor_descriptor(ptr, [64, 64], [64, 1], [BM, BN])
    desc.store([0, 60], desc.load([2, 0]) + 1)


@jl.jit
def host_desc(d, BM: tl.constexpr, BN: tl.constexpr):
    d.store([0, 0], d.load([0, 0]) * 2)


@jl.jit
def rank6(ptr):
    desc = tl.make_tensor_descriptor(
        ptr, [2, 2, 2, 2, 2, 4], [32, 16, 8, 4, 4, 1], [1, 1, 1, 1, 1, 4]
    )
    desc.load([0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize(
    "dtype,bn,got",
    [
        (np.int32, 2, "2 * 4 = 8 bytes"),
        (np.int16, 4, "4 * 2 = 8 bytes"),
        (np.float64, 1, "1 * 8 = 8 bytes"),
        (np.int8, 8, "8 * 1 = 8 bytes"),
        (np.bool_, 64, "64 * 0 = 0 bytes"),
    ],
)
def test_short_rows_are_rejected_with_tritons_message(dtype, bn, got):
    x = np.zeros((64, 64), dtype)
    with pytest.raises(ShapeError) as e:
        load_rows[(1,)](x, np.zeros((8, bn), dtype), BM=8, BN=bn)
    text = str(e.value)
    assert f"{TRITON_MSG}, but got {got}" in text
    assert "test_descriptor_rules.py:21:" in text and "^" in text  # the make_tensor_descriptor line
    with pytest.raises(ShapeError, match=TRITON_MSG):
        store_rows[(1,)](x, BM=8, BN=bn)


def test_tritons_own_cases():
    # test_tma_load_block_shape_err / test_tma_store_block_shape_err: [1, 2] int32, [8, 4] int16
    with pytest.raises(ShapeError, match="2 \\* 4 = 8 bytes"):
        load_rows[(1,)](np.zeros((64, 64), np.int32), np.zeros((1, 2), np.int32), BM=1, BN=2)
    with pytest.raises(ShapeError, match="4 \\* 2 = 8 bytes"):
        store_rows[(1,)](np.zeros((64, 64), np.int16), BM=8, BN=4)


@pytest.mark.parametrize(
    "dtype,bn", [(np.int32, 4), (np.float16, 8), (np.float64, 2), (np.int8, 16), (np.uint8, 32)]
)
def test_rows_of_16_bytes_work(dtype, bn):
    x = (np.arange(64 * 64) % 97).astype(dtype).reshape(64, 64)
    out = np.zeros((4, bn), dtype)
    load_rows[(1,)](x, out, BM=4, BN=bn)
    np.testing.assert_array_equal(out, x[1:5, 3 : 3 + bn])  # offsets count elements
    y = x.copy()
    store_rows[(1,)](y, BM=4, BN=bn)
    ref = x.copy()
    cols = ref[:4, 60 : 60 + bn].shape[1]  # the block hangs over the last column: dropped
    ref[:4, 60 : 60 + cols] = (x[2:6, :cols] + 1).astype(dtype)
    np.testing.assert_array_equal(y, ref)


def test_host_descriptor_with_short_rows_is_rejected_at_launch():
    x = np.ones((8, 8), np.float32)
    ok = TensorDescriptor.from_tensor(x, [2, 4])
    host_desc[(1,)](ok, BM=2, BN=4)
    assert (x[:2, :4] == 2).all() and (x[2:] == 1).all()
    bad = TensorDescriptor.from_tensor(x, [2, 2])  # constructing it is fine, as in Triton
    with pytest.raises(ShapeError, match="2 \\* 4 = 8 bytes"):
        host_desc[(1,)](bad, BM=2, BN=2)


def test_rank_above_5_is_rejected():
    with pytest.raises(ShapeError, match="Expected 1 <= ndim <= 5 but got 6 dimensions"):
        rank6[(1,)](np.zeros(64, np.float32))
