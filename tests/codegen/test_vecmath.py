"""Accuracy and special-value tests for codegen/cpu/vecmath.py, run through llvmlite's MCJIT.

Each function is wrapped in ``void f(T* in, T* out, i64 n)``, which walks the array in vector chunks
of the tested width (the tail with the scalar function), compiled at O3 for the host and compared in
ulp against a float64 reference (f32) or a long-double / mpmath reference (f64).
"""

from __future__ import annotations

import ctypes
import math

import llvmlite.binding as llvm
import numpy as np
import pytest
from llvmlite import ir

from codegen.cpu.vecmath import MATH_FUNCTIONS, SIN_COS_MAX_ARG, ULP_BOUNDS, get_math_function

WIDTHS = (1, 4, 8, 16)
FLOAT_TYPES = {"f32": (np.float32, ir.FloatType()), "f64": (np.float64, ir.DoubleType())}
_I64 = ir.IntType(64)


def _define_wrapper(module: ir.Module, name: str, elem: ir.Type, width: int) -> None:
    """void <name>.<width>(T* in, T* out, i64 n): vector chunks of ``width``, scalar tail."""
    ptr = elem.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr, ptr, _I64]), f"{name}_w{width}")
    src, dst, n = fn.args
    scalar_fn = get_math_function(module, name, elem)
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    vec_done = b.block
    i_vec = ir.Constant(_I64, 0)
    if width > 1:
        vty = ir.VectorType(elem, width)
        vec_fn = get_math_function(module, name, vty)
        head, body, vec_done = (fn.append_basic_block(s) for s in ("vhead", "vbody", "vdone"))
        b.branch(head)
        b.position_at_end(head)
        i_vec = b.phi(_I64)
        i_vec.add_incoming(ir.Constant(_I64, 0), entry)
        b.cbranch(b.icmp_signed("<=", b.add(i_vec, ir.Constant(_I64, width)), n), body, vec_done)
        b.position_at_end(body)
        x = b.load(b.bitcast(b.gep(src, [i_vec]), vty.as_pointer()), align=elem_bytes(elem))
        y = b.call(vec_fn, [x])
        b.store(y, b.bitcast(b.gep(dst, [i_vec]), vty.as_pointer()), align=elem_bytes(elem))
        i_vec.add_incoming(b.add(i_vec, ir.Constant(_I64, width)), body)
        b.branch(head)
        b.position_at_end(vec_done)
    before = b.block
    head, body, done = (fn.append_basic_block(s) for s in ("shead", "sbody", "sdone"))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(_I64)
    i.add_incoming(i_vec, before)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)
    b.store(b.call(scalar_fn, [b.load(b.gep(src, [i]))]), b.gep(dst, [i]))
    i.add_incoming(b.add(i, ir.Constant(_I64, 1)), body)
    b.branch(head)
    b.position_at_end(done)
    b.ret_void()


def elem_bytes(elem: ir.Type) -> int:
    return 8 if isinstance(elem, ir.DoubleType) else 4


class Compiled:
    """A module of wrappers compiled by MCJIT; keeps the engine (and its target machine) alive."""

    def __init__(self, module: ir.Module):
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.ir_text = str(module)
        mod = llvm.parse_assembly(self.ir_text)
        mod.verify()
        # One target machine per engine: the engine owns it and frees it when collected.
        tm = llvm.Target.from_default_triple().create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3
        )
        pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
        pb.getModulePassManager().run(mod, pb)
        self.asm = tm.emit_assembly(mod)
        self.engine = llvm.create_mcjit_compiler(mod, tm)
        self.engine.finalize_object()
        self._fns: dict[str, object] = {}

    def __call__(self, symbol: str, x: np.ndarray) -> np.ndarray:
        fn = self._fns.get(symbol)
        if fn is None:
            addr = self.engine.get_function_address(symbol)
            proto = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
            fn = self._fns[symbol] = proto(addr)
        x = np.ascontiguousarray(x)
        out = np.empty_like(x)
        fn(x.ctypes.data, out.ctypes.data, x.size)
        return out


def build_module(names, elem: ir.Type, widths=WIDTHS) -> ir.Module:
    module = ir.Module(name="vecmath_test")
    module.triple = llvm.get_process_triple()
    for name in names:
        for w in widths:
            _define_wrapper(module, name, elem, w)
    return module


@pytest.fixture(scope="module", params=sorted(FLOAT_TYPES))
def compiled(request):
    np_dtype, elem = FLOAT_TYPES[request.param]
    return request.param, np_dtype, Compiled(build_module(MATH_FUNCTIONS, elem))


# --- references and error measure ---


def _erf_f64_ref(x: np.ndarray) -> np.ndarray:
    mpmath = pytest.importorskip("mpmath")
    hi, lo = np.empty(x.shape), np.empty(x.shape)
    with mpmath.workdps(40):
        for i, v in enumerate(x.tolist()):
            y = mpmath.erf(v)
            hi[i] = float(y)
            lo[i] = float(y - hi[i])  # mpf -> longdouble would round through float64
    return hi.astype(np.longdouble) + lo.astype(np.longdouble)


REFERENCES = {
    "exp": np.exp,
    "exp2": np.exp2,
    "expm1": np.expm1,
    "log": np.log,
    "log2": np.log2,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "erf": np.frompyfunc(math.erf, 1, 1),
}


def reference(name: str, kind: str, x: np.ndarray) -> np.ndarray:
    """The exact-ish result: float64 for f32 inputs, long double (or mpmath) for f64 inputs."""
    with np.errstate(all="ignore"):
        if kind == "f32":
            return np.asarray(REFERENCES[name](x.astype(np.float64)), dtype=np.float64)
        if name == "erf":
            return _erf_f64_ref(x)
        return REFERENCES[name](x.astype(np.longdouble))


def ulp_error(got: np.ndarray, ref: np.ndarray, kind: str) -> np.ndarray:
    """|got - ref| in ulps of ref rounded to the tested type (inf on a NaN/inf mismatch)."""
    mant, emin = (23, -149) if kind == "f32" else (52, -1074)
    wide = np.float64 if kind == "f32" else np.longdouble
    with np.errstate(all="ignore"):
        got_w, ref_w = got.astype(wide), ref.astype(wide)
        rounded = np.abs(ref.astype(got.dtype)).astype(wide)
        _, e = np.frexp(rounded)
        ulp = np.ldexp(wide(1), np.maximum(e - 1 - mant, emin))
        err = np.abs(got_w - ref_w) / ulp
    both_nan = np.isnan(got_w) & np.isnan(ref_w)
    same_inf = np.isinf(got_w) & (got_w == rounded * np.sign(ref_w)) & np.isinf(rounded)
    err = np.where(both_nan | same_inf, 0.0, err)
    return np.where(np.isnan(err), np.inf, err).astype(np.float64)


# --- inputs ---

DOMAINS = {  # (lo, hi) of dense uniform samples, besides the bit-pattern-uniform ones
    "exp": {"f32": (-104.0, 89.0), "f64": (-746.0, 710.0)},
    "exp2": {"f32": (-151.0, 129.0), "f64": (-1076.0, 1025.0)},
    "expm1": {"f32": (-20.0, 89.0), "f64": (-40.0, 710.0)},
    "log": {"f32": (0.0, 4.0), "f64": (0.0, 4.0)},
    "log2": {"f32": (0.0, 4.0), "f64": (0.0, 4.0)},
    "sin": {"f32": (-10.0, 10.0), "f64": (-10.0, 10.0)},
    "cos": {"f32": (-10.0, 10.0), "f64": (-10.0, 10.0)},
    "erf": {"f32": (-5.0, 5.0), "f64": (-7.0, 7.0)},
    "tanh": {"f32": (-10.0, 10.0), "f64": (-21.0, 21.0)},
}


def special_values(np_dtype) -> np.ndarray:
    fi = np.finfo(np_dtype)
    tiny, sub = float(fi.smallest_normal), float(fi.smallest_subnormal)
    # fmt: off
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, 2.0, sub, -sub, 3 * sub, tiny,
            -tiny, tiny / 2, float(fi.max), -float(fi.max), float(fi.eps),
            1 - float(fi.epsneg)]
    vals += [88.72283, 88.72284, -87.33654, -103.27893, -103.97208, -104.0, 709.782712893384,
             709.7827128933841, -708.3964185322641, -744.4400719213812, -745.1332191019412,
             128.0, -126.0, -149.0, -150.0, 1024.0, -1022.0, -1074.0, -1075.0, 0.3, 0.35,
             0.8, 1.0e-5, 2.5, 3.9, 5.9, 6.0, 9.0, 19.0, 40.0]
    # fmt: on
    vals += [k * math.pi / 2 for k in range(-64, 65)]
    vals += [k * math.pi / 4 for k in range(-64, 65, 2)]
    vals += [float(v) for v in np.nextafter(np_dtype(1), np_dtype([0, 2]))]
    return np.array(vals, dtype=np_dtype)


def inputs(name: str, kind: str, np_dtype, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ity = np.uint32 if kind == "f32" else np.uint64
    bit_uniform = rng.integers(0, np.iinfo(ity).max, size=n, dtype=ity, endpoint=True).view(
        np_dtype
    )
    lo, hi = DOMAINS[name][kind]
    dense = rng.uniform(lo, hi, size=n).astype(np_dtype)
    near_zero = rng.uniform(-1, 1, size=n // 4) * 2.0 ** rng.integers(-60, 0, size=n // 4)
    parts = [special_values(np_dtype), bit_uniform, dense, near_zero.astype(np_dtype)]
    if name in ("sin", "cos"):
        bound = SIN_COS_MAX_ARG[kind]
        big = rng.uniform(-bound, bound, size=n) * 10.0 ** rng.uniform(-6, 0, size=n)
        near_pio2 = rng.integers(-int(bound / 1.6), int(bound / 1.6), size=n) * (math.pi / 2)
        parts += [big.astype(np_dtype), near_pio2.astype(np_dtype)]
    return np.concatenate(parts)


SAMPLES = {"f32": 1 << 20, "f64": 1 << 17}


@pytest.mark.parametrize("name", MATH_FUNCTIONS)
def test_ulp_bound(compiled, name):
    kind, np_dtype, lib = compiled
    n = SAMPLES[kind] if not (kind == "f64" and name == "erf") else 1 << 13
    x = inputs(name, kind, np_dtype, n)
    checked = np.ones(x.shape, dtype=bool)
    if name in ("sin", "cos"):
        checked = ~(np.abs(x) > SIN_COS_MAX_ARG[kind])
    ref = reference(name, kind, x[checked])
    bound = ULP_BOUNDS[(name, kind)]
    scalar = lib(f"{name}_w1", x)
    for w in WIDTHS:
        got = lib(f"{name}_w{w}", x)
        # Straight-line code: every width computes bit-identical results.
        np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), scalar.view(f"u{got.itemsize}"))
        err = ulp_error(got[checked], ref, kind)
        worst = int(np.argmax(err))
        assert err[worst] <= bound, (
            f"{name}.{kind} width {w}: {err[worst]:.2f} ulp at x={x[checked][worst]!r} "
            f"(got {got[checked][worst]!r}, want {ref[worst]!r})"
        )


# --- special values, exactly ---

INF, NAN = math.inf, math.nan
SPECIAL_CASES = {  # name: [(x, expected)], the same for f32 and f64
    "exp": [(INF, INF), (-INF, 0.0), (NAN, NAN), (0.0, 1.0), (-0.0, 1.0), (1e5, INF), (-1e5, 0.0)],
    "exp2": [
        (INF, INF),
        (-INF, 0.0),
        (NAN, NAN),
        (0.0, 1.0),
        (10.0, 1024.0),
        (-3.0, 0.125),
        (1e5, INF),
        (-1e5, 0.0),
    ],
    "expm1": [
        (INF, INF),
        (-INF, -1.0),
        (NAN, NAN),
        (0.0, 0.0),
        (-0.0, -0.0),
        (1e5, INF),
        (-1e5, -1.0),
    ],
    "log": [
        (INF, INF),
        (-INF, NAN),
        (NAN, NAN),
        (0.0, -INF),
        (-0.0, -INF),
        (-1.0, NAN),
        (1.0, 0.0),
    ],
    "log2": [
        (INF, INF),
        (-INF, NAN),
        (NAN, NAN),
        (0.0, -INF),
        (-0.0, -INF),
        (-1.0, NAN),
        (1.0, 0.0),
        (1024.0, 10.0),
        (0.125, -3.0),
    ],
    "sin": [(INF, NAN), (-INF, NAN), (NAN, NAN), (0.0, 0.0), (-0.0, -0.0)],
    "cos": [(INF, NAN), (-INF, NAN), (NAN, NAN), (0.0, 1.0), (-0.0, 1.0)],
    "erf": [
        (INF, 1.0),
        (-INF, -1.0),
        (NAN, NAN),
        (0.0, 0.0),
        (-0.0, -0.0),
        (10.0, 1.0),
        (-10.0, -1.0),
    ],
    "tanh": [
        (INF, 1.0),
        (-INF, -1.0),
        (NAN, NAN),
        (0.0, 0.0),
        (-0.0, -0.0),
        (30.0, 1.0),
        (-30.0, -1.0),
    ],
}


@pytest.mark.parametrize("name", MATH_FUNCTIONS)
def test_special_values_exact(compiled, name):
    kind, np_dtype, lib = compiled
    x = np.array([c[0] for c in SPECIAL_CASES[name]], dtype=np_dtype)
    want = np.array([c[1] for c in SPECIAL_CASES[name]], dtype=np_dtype)
    for w in WIDTHS:
        got = lib(f"{name}_w{w}", np.repeat(x, 16))[::16]
        np.testing.assert_array_equal(got, want, err_msg=f"{name}.{kind} width {w}")
        zero = want == 0
        np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]), "zero sign")


@pytest.mark.parametrize("name", ["exp", "exp2"])
def test_subnormal_results(compiled, name):
    kind, np_dtype, lib = compiled
    fi = np.finfo(np_dtype)
    want = np.array([fi.smallest_subnormal, fi.smallest_subnormal * 5, fi.smallest_normal / 2])
    x = reference("log" if name == "exp" else "log2", kind, want).astype(np_dtype)
    got = lib(f"{name}_w16", np.repeat(x, 16)).reshape(-1, 16)
    assert np.all(got > 0)
    err = ulp_error(got.ravel(), reference(name, kind, np.repeat(x, 16)), kind)
    assert err.max() <= ULP_BOUNDS[(name, kind)]


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_cos_beyond_documented_range(compiled, name):
    """Past SIN_COS_MAX_ARG accuracy is not promised, but results stay finite and within [-1, 1]."""
    kind, np_dtype, lib = compiled
    rng = np.random.default_rng(3)
    top = math.log10(float(np.finfo(np_dtype).max))
    x = (10.0 ** rng.uniform(math.log10(SIN_COS_MAX_ARG[kind]), top, 1 << 16)).astype(np_dtype)
    x = np.concatenate([x, -x, [np.finfo(np_dtype).max]]).astype(np_dtype)
    for w in WIDTHS:
        got = lib(f"{name}_w{w}", x)
        assert np.all(np.isfinite(got)) and np.all(np.abs(got) <= 1)
    # Just below the bound the ulp guarantee holds, also next to multiples of pi/2.
    k = np.arange(int(SIN_COS_MAX_ARG[kind] / 1.6) - 2000, int(SIN_COS_MAX_ARG[kind] / 1.6))
    x = (k * (math.pi / 2)).astype(np_dtype)
    err = ulp_error(lib(f"{name}_w16", x), reference(name, kind, x), kind)
    assert err.max() <= ULP_BOUNDS[(name, kind)]


# --- the generated IR ---

SHAPES = [ir.FloatType(), ir.DoubleType()] + [
    ir.VectorType(t, n) for t in (ir.FloatType(), ir.DoubleType()) for n in (1, 3, 16, 64)
]


def test_ir_parses_and_verifies():
    module = ir.Module(name="vecmath_ir")
    for name in MATH_FUNCTIONS:
        for ty in SHAPES:
            fn = get_math_function(module, name, ty)
            assert fn.linkage == "internal" and "alwaysinline" in fn.attributes
            assert fn.function_type.return_type == ty and [a.type for a in fn.args] == [ty]
            assert len(fn.blocks) == 1  # straight-line: no branches
    parsed = llvm.parse_assembly(str(module))
    parsed.verify()
    names = {f.name for f in parsed.functions}
    assert {"jl.exp.v16f32", "jl.erf.f64", "jl.sin.v3f64", "jl.tanh.v64f32"} <= names


def test_every_function_has_documented_bounds():
    assert set(ULP_BOUNDS) == {(n, k) for n in MATH_FUNCTIONS for k in FLOAT_TYPES}
    assert set(SPECIAL_CASES) == set(MATH_FUNCTIONS) == set(DOMAINS)


def test_function_is_defined_once_per_module_and_type():
    module = ir.Module()
    vec = ir.VectorType(ir.FloatType(), 16)
    first = get_math_function(module, "exp", vec)
    assert first.name == "jl.exp.v16f32"
    assert get_math_function(module, "exp", ir.VectorType(ir.FloatType(), 16)) is first
    assert get_math_function(module, "exp", ir.FloatType()) is not first
    assert get_math_function(ir.Module(), "exp", vec) is not first


@pytest.mark.parametrize(
    ("name", "ty", "match"),
    [
        ("cbrt", ir.FloatType(), "unknown math function 'cbrt'"),
        ("exp", ir.HalfType(), "extend half/bfloat16 to float"),
        ("exp", ir.IntType(32), "float, double and vectors"),
        ("exp", ir.VectorType(ir.FloatType(), 65), "1..64 lanes"),
    ],
)
def test_rejects_unsupported(name, ty, match):
    with pytest.raises((ValueError, TypeError), match=match):
        get_math_function(ir.Module(), name, ty)


def test_odd_and_wide_vectors_match_scalar():
    lib = Compiled(build_module(["exp", "sin", "log"], ir.FloatType(), widths=(1, 3, 64)))
    x = np.random.default_rng(5).uniform(-50, 50, 1000).astype(np.float32)
    for name in ("exp", "sin", "log"):
        scalar = lib(f"{name}_w1", x)
        for w in (3, 64):
            np.testing.assert_array_equal(
                lib(f"{name}_w{w}", x).view(np.uint32), scalar.view(np.uint32)
            )


def test_scalar_loop_is_vectorised_by_llvm():
    """Branch-free bodies let LLVM's loop vectoriser turn a scalar loop into vector code."""
    if "+avx2" not in llvm.get_host_cpu_features().flatten():
        pytest.skip("host without AVX2")
    lib = Compiled(build_module(["exp"], ir.FloatType(), widths=(1,)))
    asm = lib.asm
    assert "ymm" in asm or "zmm" in asm
