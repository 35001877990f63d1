"""Casts between pointers and integers, as Triton's `cast` allows them: an integer block becomes a
block of pointers holding those byte addresses (`x.to(tl.pi32_t)`), a pointer becomes its address
(`.to(tl.int64)`) or a not-null test (`.to(tl.int1)`). Checked on the CPU, on the interpreter,
and in the axis info: a byte address stepping by one element is contiguous, one stepping by a
byte is not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError, KernelTypeError
from jitlang.ir import OpKind, PointerType, elem_type, walk
from jitlang.passes.axisinfo import analyze
from jitlang.passes.cse import cse
from jitlang.passes.dce import dce
from jitlang.passes.fold import fold
from tests.irutil import kernel_ir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@jl.jit
def where_ptrs(cond_ptr, a_ptr, b_ptr, out_ptr, n, BLOCK: tl.constexpr):
    # Triton's test_where[*int32]: int64 blocks cast to pointers, chosen, stored as int64
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    decide = tl.load(cond_ptr + offs, mask=mask)
    a = tl.load(a_ptr + offs, mask=mask).to(tl.pi32_t)
    b = tl.load(b_ptr + offs, mask=mask).to(tl.pi32_t)
    tl.store(out_ptr + offs, tl.where(decide, a, b), mask=mask)


@jl.jit
def gather_by_address(addr_ptr, out_ptr, src_ptr, BLOCK: tl.constexpr):
    # src_ptr is not used: it names the array the addresses point into (the interpreter only
    # reaches memory of array arguments)
    offs = tl.arange(0, BLOCK)
    p = tl.load(addr_ptr + offs).to(tl.pi32_t)
    ok = p.to(tl.int1)  # null addresses are skipped
    tl.store(out_ptr + offs, tl.load(p, mask=ok, other=-1))


@jl.jit
def byte_stride(x_ptr, out_ptr, STEP: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    p = (x_ptr.to(tl.int64) + STEP * offs).to(tl.pi32_t)
    tl.store(out_ptr + offs, tl.load(p))


@jl.jit
def byte_stride_2d(x_ptr, out_ptr, R: tl.constexpr, C: tl.constexpr):
    r = tl.arange(0, R)[:, None]
    c = tl.arange(0, C)[None, :]
    p = (x_ptr.to(tl.int64) + (r * C + c) * 4).to(tl.pointer_type(tl.float32))
    tl.store(out_ptr + r * C + c, tl.load(p) + 1.0)


@jl.jit
def addresses(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, (x_ptr + offs).to(tl.int64))
    tl.store(out_ptr + BLOCK, x_ptr.to(tl.int64))


@jl.jit
def scalar_roundtrip(x_ptr, out_ptr):
    addr = x_ptr.to(tl.int64) + 8
    q = addr.to(tl.pointer_type(tl.float32))
    tl.store(out_ptr, tl.load(q))


@jl.jit
def narrow_to_ptr(v_ptr, u_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(v_ptr + offs).to(tl.pi32_t))
    tl.store(out_ptr + BLOCK + offs, tl.load(u_ptr + offs).to(tl.pi32_t))


def _addr(a: np.ndarray, i) -> np.ndarray:
    return (a.ctypes.data + a.itemsize * np.asarray(i)).astype(np.int64)


def test_where_of_cast_pointers_stores_their_addresses():
    rng = np.random.default_rng(17)
    n = 1000
    cond = rng.random(n) < 0.5
    x = rng.integers(-(2**62), 2**62, n, dtype=np.int64)
    y = rng.integers(-(2**62), 2**62, n, dtype=np.int64)
    out = np.zeros(n, np.int64)
    where_ptrs[(jl.cdiv(n, 128),)](cond, x, y, out, n, BLOCK=128)
    np.testing.assert_array_equal(out, np.where(cond, x, y))


def test_loads_through_integer_addresses_and_null_check():
    src = np.arange(100, 132, dtype=np.int32)
    idx = np.array([5, 0, 31, 7] * 4)
    addrs = _addr(src, idx)
    addrs[[1, 6, 11]] = 0  # null pointers: masked off by .to(tl.int1)
    out = np.zeros(16, np.int32)
    gather_by_address[(1,)](addrs, out, src, BLOCK=16)
    ref = np.where(addrs != 0, src[idx], -1)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("step", [4, 1, 8, 2])
def test_byte_address_steps(step):
    x = np.arange(64, dtype=np.int32) * 0x01010101 + 0x00030201
    out = np.zeros(16, np.int32)
    byte_stride[(1,)](x, out, STEP=step, BLOCK=16)
    raw = x.view(np.uint8)
    ref = np.array([raw[step * i : step * i + 4].view(np.int32)[0] for i in range(16)])
    np.testing.assert_array_equal(out, ref)


def test_byte_address_2d():
    x = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    out = np.zeros_like(x)
    byte_stride_2d[(1,)](x, out, R=8, C=16)
    np.testing.assert_array_equal(out, x + 1.0)


def test_pointer_to_int64_is_its_address():
    x = np.zeros(16, np.float64)
    out = np.zeros(17, np.int64)
    addresses[(1,)](x, out, BLOCK=16)
    np.testing.assert_array_equal(out[:16], _addr(x, np.arange(16)))
    assert out[16] == x.ctypes.data


def test_scalar_roundtrip_through_int64():
    x = np.array([1.5, 2.5, 3.5, 4.5], np.float32)
    out = np.zeros(1, np.float32)
    scalar_roundtrip[(1,)](x, out)
    assert out[0] == 3.5


def test_narrow_integers_widen_like_tritons_interpreter():
    # Triton's interpreter converts the integer to uint64: int32 sign-extends, uint32 does not
    v = np.array([-1, 5, -(2**31), 2**31 - 1], np.int32)
    u = v.view(np.uint32).copy()
    out = np.zeros(8, np.int64)
    narrow_to_ptr[(1,)](v, u, out, BLOCK=4)
    np.testing.assert_array_equal(out[:4], v.astype(np.int64))
    np.testing.assert_array_equal(out[4:], u.astype(np.int64))


# -- axis info: contiguity counts elements, the integer counts bytes -------------------------


def _cast_ptr_info(jf, *args, **kw):
    fn = dce(cse(fold(kernel_ir(jf, *args, **kw))))
    info = analyze(fn)
    for op in walk(fn.body):
        if op.kind is OpKind.CAST and isinstance(elem_type(op.result.type), PointerType):
            if not isinstance(elem_type(op.operands[0].type), PointerType):
                return info.get(op.result)
    raise AssertionError("no int -> pointer cast")


@pytest.mark.parametrize("step,contig", [(4, 16), (1, 1), (8, 1), (2, 1)])
def test_axis_info_of_byte_addresses(step, contig):
    x = np.zeros(64, np.int32)
    info = _cast_ptr_info(byte_stride, x, np.zeros(16, np.int32), STEP=step, BLOCK=16)
    assert info.contiguity == (contig,)
    assert info.divisibility == (step,)  # base 16-aligned, so step, not more, is sure


def test_axis_info_of_2d_byte_addresses():
    x = np.zeros((8, 16), np.float32)
    info = _cast_ptr_info(byte_stride_2d, x, np.zeros_like(x), R=8, C=16)
    assert info.contiguity == (1, 16)


def test_axis_info_pointer_to_int_and_back_keeps_element_runs():
    @jl.jit
    def k(x_ptr, out_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        p = (x_ptr + offs).to(tl.int64).to(tl.pi32_t)
        tl.store(out_ptr + offs, tl.load(p))

    @jl.jit
    def k16(x_ptr, out_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)  # int32 elements read as int16: every other int16
        p = (x_ptr + offs).to(tl.int64).to(tl.pointer_type(tl.int16))
        tl.store(out_ptr + offs, tl.load(p))

    x = np.arange(16, dtype=np.int32)
    assert _cast_ptr_info(k, x, np.zeros(16, np.int32), BLOCK=16).contiguity == (16,)
    assert _cast_ptr_info(k16, x, np.zeros(16, np.int16), BLOCK=16).contiguity == (1,)
    out = np.zeros(16, np.int16)
    k16[(1,)](x, out, BLOCK=16)
    np.testing.assert_array_equal(out, x.astype(np.int16))


# -- what does not convert ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,msg",
    [
        ("tl.store(o_ptr, x_ptr.to(tl.int32))", "cannot cast ptr<int32> to int32"),
        ("tl.store(o_ptr, x_ptr.to(tl.float32))", "cannot cast ptr<int32> to fp32"),
        (
            "tl.store(o_ptr, tl.load((1.5 + tl.zeros((4,), tl.float32)).to(tl.pi32_t)))",
            "cannot cast",
        ),
        ("tl.store(o_ptr, x_ptr)", "cannot store pointers (ptr<int32>) into int32"),
    ],
)
def test_bad_pointer_casts_are_located_errors(tmp_path, body, msg):
    src = textwrap.dedent(
        f"""
        import jitlang as jl
        import jitlang.language as tl

        @jl.jit
        def bad(x_ptr, o_ptr):
            {body}
        """
    )
    path = tmp_path / "bad_cast_kernel.py"
    path.write_text(src)
    ns: dict = {}
    exec(compile(src, str(path), "exec"), ns)
    with pytest.raises(KernelTypeError) as e:
        ns["bad"][(1,)](np.zeros(4, np.int32), np.zeros(4, np.int32))
    text = str(e.value)
    assert msg in text, text
    assert f"{path}:7:" in text and "^" in text
    assert isinstance(e.value, CompilationError)


INTERP = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, {root!r})
    import jitlang as jl
    from tests.e2e import test_int_ptr_casts as T

    T.test_where_of_cast_pointers_stores_their_addresses()
    T.test_loads_through_integer_addresses_and_null_check()
    for step in (4, 1, 8, 2):
        T.test_byte_address_steps(step)
    T.test_byte_address_2d()
    T.test_pointer_to_int64_is_its_address()
    T.test_scalar_roundtrip_through_int64()
    T.test_narrow_integers_widen_like_tritons_interpreter()
    x = np.zeros(4, np.int32)
    k = T.gather_by_address.warmup(np.zeros(16, np.int64), x, x, BLOCK=16, grid=(1,))
    assert k.metadata.get("interpreted"), "not interpreted"
    print("ok")
    """
)


def test_interpreter_agrees(tmp_path):
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, "-c", INTERP.format(root=ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr


# -- the accelerator: addresses are HBM addresses; scalars convert, address blocks do not ------


def test_accel_scalar_addresses_convert():
    x = np.array([1.5, 2.5, 3.5, 4.5], np.float32)
    out = np.zeros(1, np.float32)
    scalar_roundtrip[(1,)](x, out, target="accel")
    assert out[0] == 3.5

    @jl.jit
    def shifted(x_ptr, o_ptr, B: tl.constexpr):
        p = (x_ptr.to(tl.int64) + 4).to(tl.pi32_t)
        tl.store(o_ptr + tl.arange(0, B), tl.load(p + tl.arange(0, B)))

    src = np.arange(9, dtype=np.int32)
    outs = [np.zeros(8, np.int32) for _ in range(2)]
    for o, target in zip(outs, ("cpu", "accel")):
        shifted[(1,)](src, o, B=8, target=target)
        np.testing.assert_array_equal(o, src[1:])


def test_accel_refuses_blocks_of_addresses_at_the_line():
    from jitlang.passes.accel_layout import TargetLimitError

    x = np.arange(64, dtype=np.int32)
    with pytest.raises(TargetLimitError) as e:
        byte_stride[(1,)](x, np.zeros(16, np.int32), STEP=4, BLOCK=16, target="accel")
    assert "test_int_ptr_casts.py:" in str(e.value) and "int64" in str(e.value)


@jl.jit
def shift_through_address(x_ptr, addr, B: tl.constexpr):
    offs = tl.arange(0, B)
    v = tl.load(x_ptr + offs)
    tl.store(addr.to(tl.pi32_t) + offs + 1, v)  # the same array, one element on


def test_store_through_an_integer_address_into_the_loaded_array():
    x = np.arange(257, dtype=np.int32)
    ref = x.copy()
    ref[1:] = x[:256]
    shift_through_address[(1,)](x, x.ctypes.data, B=256)
    np.testing.assert_array_equal(x, ref)
