"""End to end: the launch API — argument binding, its errors, grids, warmup and specialization."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl


@jl.jit
def _axpy(x_ptr, out_ptr, alpha, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * alpha, mask=mask)


def _ok(kernel=_axpy, n=100):
    """The kernel still launches and computes the right thing."""
    x = np.arange(n, dtype=np.float32)
    out = np.zeros(n, np.float32)
    kernel[(jl.cdiv(n, 32),)](x, out, 2.0, n, BLOCK=32)
    np.testing.assert_array_equal(out, x * 2)


def test_basic_launch_returns_compiled_kernel():
    x = np.arange(10, dtype=np.float32)
    out = np.zeros(10, np.float32)
    k = _axpy[(1,)](x, out, 3.0, 10, BLOCK=32)
    np.testing.assert_array_equal(out, x * 3)
    assert "tile" in k.asm


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((np.zeros(4, np.float32), np.zeros(4, np.float32), 1.0), {"BLOCK": 32}),  # missing n
        ((np.zeros(4, np.float32),), {"BLOCK": 32}),  # several missing
        ((np.zeros(4, np.float32), np.zeros(4, np.float32), 1.0, 4, 32, 7), {}),  # extra
        ((np.zeros(4, np.float32), np.zeros(4, np.float32), 1.0, 4), {"BLOCK": 32, "BLOKC": 1}),
        ((np.zeros(4, np.float32), np.zeros(4, np.float32), 1.0, 4), {}),  # constexpr missing
        ((np.zeros(4, np.float32), np.zeros(4, np.float32), 1.0, 4, 32), {"BLOCK": 32}),  # twice
    ],
    ids=["missing", "missing_many", "extra", "unknown_kw", "missing_constexpr", "duplicate"],
)
def test_bad_argument_lists(args, kwargs):
    with pytest.raises(TypeError, match="_axpy") as e:
        _axpy[(1,)](*args, **kwargs)
    if "unknown" in str(e.value) or "unexpected" in str(e.value):
        assert "BLOKC" in str(e.value)
    _ok()


def test_unknown_keyword_names_it():
    x = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="BLOKC"):
        _axpy[(1,)](x, x, 1.0, 4, BLOCK=32, BLOKC=1)


@pytest.mark.parametrize(
    "bad, name",
    [
        (np.zeros(4, np.complex64), "x_ptr"),
        (np.zeros(4, np.str_), "x_ptr"),
        ([1.0, 2.0], "x_ptr"),
        ("abc", "x_ptr"),
    ],
    ids=["complex_array", "str_array", "list", "str"],
)
def test_unsupported_argument_types(bad, name):
    x = np.zeros(4, np.float32)
    args = {"x_ptr": x, "out_ptr": x, "alpha": 1.0, "n": 4}
    args[name] = bad
    with pytest.raises(TypeError, match=f"'{name}'"):
        _axpy[(1,)](args["x_ptr"], args["out_ptr"], args["alpha"], args["n"], BLOCK=32)
    _ok()


def test_none_where_a_pointer_is_used_is_a_compile_error():
    # None is a constexpr argument (as in Triton): using it as a pointer fails to compile
    x = np.zeros(4, np.float32)
    with pytest.raises(jl.CompilationError) as info:
        _axpy[(1,)](None, x, 1.0, 4, BLOCK=32)
    assert not isinstance(info.value, jl.InternalCompilerError), str(info.value)
    _ok()


def test_int_too_large():
    x = np.zeros(4, np.float32)
    with pytest.raises((ValueError, TypeError), match="n"):
        _axpy[(1,)](x, x, 1.0, 2**70, BLOCK=32)
    _ok()


@pytest.mark.parametrize(
    "grid",
    [(-1,), (2.0,), (1, 1, 1, 1), "abc", (1, -2), (1, None), (), lambda meta: (-3,), 1.5],
    ids=[
        "negative",
        "float",
        "4dims",
        "str",
        "neg2",
        "none",
        "empty",
        "callable_neg",
        "float_scalar",
    ],
)
def test_bad_grid(grid):
    x = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="grid"):
        _axpy[grid](x, x, 1.0, 4, BLOCK=32)
    _ok()


@pytest.mark.parametrize("grid", [(0,), (0, 3), (3, 0, 1), 0])
def test_empty_grid_does_nothing(grid):
    x = np.ones(8, np.float32)
    out = np.full(8, 7.0, np.float32)
    _axpy[grid](x, out, 2.0, 8, BLOCK=32)
    np.testing.assert_array_equal(out, 7.0)


def test_grid_forms():
    n = 100
    x = np.arange(n, dtype=np.float32)
    for grid in [
        (4,),
        [4],
        4,
        (4, 1),
        (4, 1, 1),
        (np.int64(4),),
        lambda meta: (jl.cdiv(meta["n"], meta["BLOCK"]),),
    ]:
        out = np.zeros(n, np.float32)
        _axpy[grid](x, out, 2.0, n, BLOCK=32)
        np.testing.assert_array_equal(out, x * 2, err_msg=repr(grid))


def test_grid_callable_sees_meta():
    seen = {}

    def grid(meta):
        seen.update(meta)
        return (jl.cdiv(meta["n"], meta["BLOCK"]),)

    x = np.arange(50, dtype=np.float32)
    out = np.zeros(50, np.float32)
    _axpy[grid](x, out, 2.0, 50, BLOCK=16)
    assert seen["BLOCK"] == 16 and seen["n"] == 50 and seen["alpha"] == 2.0
    np.testing.assert_array_equal(out, x * 2)


def test_more_programs_than_needed_is_masked():
    x = np.arange(10, dtype=np.float32)
    out = np.zeros(12, np.float32)
    _axpy[(50,)](x, out, 2.0, 10, BLOCK=32)
    np.testing.assert_array_equal(out[:10], x * 2)
    np.testing.assert_array_equal(out[10:], 0)


def test_warmup():
    x = np.zeros(64, np.float32)
    k = _axpy.warmup(x, x, 1.0, 64, BLOCK=32)
    assert not x.any()
    assert k.asm["tile"].startswith("func @_axpy")
    assert "define" in k.asm["llir"] and "_axpy" in k.asm["llir"]
    asm = k.asm["asm"]
    assert isinstance(asm, str) and "_axpy" in asm and ("ret" in asm)
    assert set(k.asm.keys()) == {"tile", "llir", "asm"}
    # warming up populates the cache the launch uses
    n0 = len(_axpy.cache)
    _axpy[(2,)](x, x, 1.0, 64, BLOCK=32)
    assert len(_axpy.cache) == n0


def test_kernel_call_without_grid_is_an_error():
    with pytest.raises(RuntimeError, match=r"_axpy\[grid\]"):
        _axpy(np.zeros(4, np.float32))


@jl.jit
def _spec(x_ptr, out_ptr, n, s, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs) * n + s)


@jl.jit(do_not_specialize=["n", "s"])
def _nospec(x_ptr, out_ptr, n, s, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs) * n + s)


def test_specialization_on_1_and_16():
    x = np.arange(16, dtype=np.int32)
    results = {}
    _spec.cache.clear()
    for n in [1, 16, 5, 32, 7]:
        out = np.zeros(16, np.int32)
        _spec[(1,)](x, out, n, 0, BLOCK=16)
        results[n] = out
        np.testing.assert_array_equal(out, x * n)
    # {1}, {divisible by 16: 16, 32}, {other: 5, 7}
    assert len(_spec.cache) == 3
    k1 = _spec.warmup(x, x, 1, 0, BLOCK=16).asm["tile"]
    k16 = _spec.warmup(x, x, 16, 0, BLOCK=16).asm["tile"]
    assert "%n" not in k1.splitlines()[0]  # folded to a constant
    assert "div=16" in [ln for ln in k16.splitlines() if ln.startswith("func")][0].split("%n")[1]


def test_do_not_specialize():
    x = np.arange(16, dtype=np.int32)
    _nospec.cache.clear()
    for n in [1, 16, 5]:
        for s in [1, 3]:
            out = np.zeros(16, np.int32)
            _nospec[(1,)](x, out, n, s, BLOCK=16)
            np.testing.assert_array_equal(out, x * n + s)
    assert len(_nospec.cache) == 1


def test_dtype_change_recompiles():
    _spec.cache.clear()
    for dt in [np.int32, np.float32, np.int8, np.float64, np.int32]:
        x = np.arange(16).astype(dt)
        out = np.zeros(16, dt)
        _spec[(1,)](x, out, 3, 2, BLOCK=16)
        np.testing.assert_array_equal(out, x * 3 + 2, err_msg=str(dt))
    assert len(_spec.cache) == 4


def test_constexpr_change_recompiles():
    x = np.arange(64, dtype=np.float32)
    _axpy.cache.clear()
    for block in [16, 32, 64, 16]:
        out = np.zeros(64, np.float32)
        _axpy[(jl.cdiv(64, block),)](x, out, 2.0, 64, BLOCK=block)
        np.testing.assert_array_equal(out, x * 2)
    assert len(_axpy.cache) == 3


@pytest.mark.parametrize(
    "alpha, n",
    [
        (np.float32(2.0), np.int64(50)),
        (np.float64(2.0), np.int32(50)),
        (np.float16(2.0), np.int16(50)),
        (2, np.uint32(50)),
        (True, 50),
        (np.int8(2), np.uint8(50)),
    ],
)
def test_numpy_scalars(alpha, n):
    x = np.arange(60, dtype=np.float32)
    out = np.zeros(60, np.float32)
    _axpy[(2,)](x, out, alpha, n, BLOCK=32)
    np.testing.assert_array_equal(out[:50], x[:50] * float(alpha))
    np.testing.assert_array_equal(out[50:], 0)


def test_array_views_and_offsets():
    base = np.arange(200, dtype=np.float32)
    x = base[3:]  # misaligned: not divisible by 16 bytes
    out = np.zeros(100, np.float32)
    _axpy[(4,)](x, out, 2.0, 100, BLOCK=32)
    np.testing.assert_array_equal(out, base[3:103] * 2)
    x2 = base.reshape(20, 10)  # a 2-D array: pointer to its first element
    out2 = np.zeros((20, 10), np.float32)
    _axpy[(7,)](x2, out2, 2.0, 200, BLOCK=32)
    np.testing.assert_array_equal(out2, x2 * 2)


def test_explicit_cpu_target_and_unknown_target():
    x = np.arange(8, dtype=np.float32)
    out = np.zeros(8, np.float32)
    _axpy[(1,)](x, out, 2.0, 8, BLOCK=32, target="cpu")
    np.testing.assert_array_equal(out, x * 2)
    with pytest.raises(ValueError, match="target"):
        _axpy[(1,)](x, out, 2.0, 8, BLOCK=32, target="gpu")
    _ok()


@jl.jit
def _param_names(out_ptr, a, t, rt, k0, key, args, grid, values):
    tl.store(out_ptr, a)
    tl.store(out_ptr + 1, t)
    tl.store(out_ptr + 2, rt)
    tl.store(out_ptr + 3, k0)
    tl.store(out_ptr + 4, key)
    tl.store(out_ptr + 5, args)
    tl.store(out_ptr + 6, grid)


def test_parameter_names_do_not_clash_with_the_launcher():
    out = np.zeros(7, np.int32)
    _param_names[(1,)](out, 5, 6, 7, 8, 9, 10, 11, 12)
    np.testing.assert_array_equal(out, [5, 6, 7, 8, 9, 10, 11])


def test_reserved_parameter_name_is_rejected_at_decoration():
    def k(x_ptr, _jl_rt):
        pass

    with pytest.raises(TypeError, match="_jl_rt"):
        jl.jit(k)


@jl.jit
def _scalar_and(out_ptr, a):
    tl.store(out_ptr, ((a > 0) and (a < 10)).to(tl.int32))


@pytest.mark.parametrize("a, expected", [(5, 1), (0, 0), (12, 0)])
def test_scalar_logic_on_param_named_a(a, expected):
    out = np.zeros(1, np.int32)
    _scalar_and[(1,)](out, a)
    assert out[0] == expected


@jl.jit
def _scalar_types(out_ptr, i, f, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, (offs * 0 + i).to(tl.float64) + f)


@pytest.mark.parametrize(
    "i, f",
    [
        (2**40 + 3, 0.0),  # int64 argument
        (-(2**40), 0.5),
        (2**31, 0.0),  # just past int32
        (-(2**31), 0.0),  # int32 min stays int32
        (7, 0.1),  # a Python float argument is fp32 (as in Triton)
        (0, 1e-30),
        (0, 3.0e38),
    ],
)
def test_scalar_argument_ranges(i, f):
    out = np.zeros(16, np.float64)
    _scalar_types[(1,)](out, i, f, BLOCK=16)
    np.testing.assert_array_equal(out, np.float64(i) + np.float64(np.float32(f)))


@jl.jit
def _u64_arg(out_ptr, u):
    tl.store(out_ptr, u)
    tl.store(out_ptr + 1, u >> 60)


def test_uint64_argument():
    out = np.zeros(2, np.uint64)
    _u64_arg[(1,)](out, 2**64 - 5)
    np.testing.assert_array_equal(out, np.array([2**64 - 5, 15], np.uint64))


@jl.jit
def _constexprs(out_ptr, F: tl.constexpr, B: tl.constexpr, I: tl.constexpr, NONE: tl.constexpr):
    v = F * I
    if B:
        v = v + 1
    if NONE is None:
        v = v + 100
    tl.store(out_ptr, v)


@pytest.mark.parametrize(
    "f, b, i, none", [(1.5, True, 4, None), (2.0, False, 3, 1), (0.25, True, -8, None)]
)
def test_constexpr_values(f, b, i, none):
    out = np.zeros(1, np.float32)
    _constexprs[(1,)](out, F=f, B=b, I=i, NONE=none)
    assert out[0] == f * i + (1 if b else 0) + (100 if none is None else 0)


def test_many_programs_across_threads():
    n = 1 << 18
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    out = np.zeros(n, np.float32)
    _axpy[(jl.cdiv(n, 16),)](x, out, 3.0, n, BLOCK=16)
    np.testing.assert_array_equal(out, x * 3)


def test_launch_from_threads():
    import threading

    errors = []

    def work(seed):
        try:
            for dt in (np.float32, np.float64, np.float32):
                x = np.arange(300, dtype=dt) + seed
                out = np.zeros(300, dt)
                _axpy[(jl.cdiv(300, 64),)](x, out, float(seed), 300, BLOCK=64)
                np.testing.assert_array_equal(out, x * seed)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(1, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@jl.jit
def _defaults(x_ptr, out_ptr, n, alpha=2.0, BLOCK: tl.constexpr = 32, SHIFT: tl.constexpr = 1):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * alpha + SHIFT, mask=m)


@pytest.mark.parametrize(
    "kw",
    [{}, {"alpha": 3.0}, {"BLOCK": 16}, {"SHIFT": 0, "alpha": 1.0}],
    ids=["none", "alpha", "block", "both"],
)
def test_default_parameter_values(kw):
    x = np.arange(50, dtype=np.float32)
    out = np.zeros(50, np.float32)
    _defaults[(4,)](x, out, 50, **kw)
    block = kw.get("BLOCK", 32)
    ref = x * kw.get("alpha", 2.0) + kw.get("SHIFT", 1)
    ref[4 * block :] = 0
    np.testing.assert_array_equal(out, ref)


def test_all_arguments_by_keyword():
    x = np.arange(50, dtype=np.float32)
    out = np.zeros(50, np.float32)
    _defaults[(2,)](out_ptr=out, x_ptr=x, n=50, SHIFT=5)
    np.testing.assert_array_equal(out, x * 2 + 5)


@jl.jit
def _strided_view(x_ptr, out_ptr, stride, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs * stride, mask=m), mask=m)


@pytest.mark.parametrize(
    "make, stride",
    [
        (lambda b: b[::2], 2),
        (lambda b: b[::-1], -1),  # negative strides: the pointer is the view's first element
        (lambda b: b[5:], 1),
        (lambda b: b.reshape(4, 5)[:, 1], 5),
    ],
    ids=["step2", "reversed", "offset", "column"],
)
def test_views_pass_their_first_element(make, stride):
    base = np.arange(20, dtype=np.float32)
    view = make(base)
    out = np.zeros(4, np.float32)
    _strided_view[(1,)](view, out, stride, 4, BLOCK=8)
    np.testing.assert_array_equal(out, view[:4])


def test_empty_arrays():
    empty = np.zeros(0, np.float32)
    _strided_view[(1,)](empty, empty, 1, 0, BLOCK=8)


def test_session_compiles_into_a_temporary_cache_dir(tmp_path_factory):
    import os

    from runtime.driver import get_runtime

    x = np.zeros(4, np.float32)
    _axpy[(1,)](x, x, 1.0, 4, BLOCK=32)  # the runtime exists now
    cache_dir = os.environ["JITLANG_CACHE_DIR"]
    assert str(tmp_path_factory.getbasetemp()) in cache_dir
    cache = get_runtime().disk_cache
    if cache is not None:  # JITLANG_CACHE=0 disables it
        assert str(cache.root).startswith(cache_dir)
