"""The user API of kernels: `@jit`, `kernel[grid](...)`, `warmup`, specialization and caches.

Stage: runtime front door. A launch binds arguments (a generated binder with the kernel's own
signature), computes the specialization key (dtypes, constexpr values, integers equal to 1,
divisibility by 16 of integers and pointers, the target), looks the key up in the kernel's
in-memory cache, then the on-disk cache, and compiles on a miss.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import threading
import types
from pathlib import Path

import numpy as np

from runtime.args import array_address

from .dtypes import DType, from_numpy
from .errors import CompilationError, InternalCompilerError
from .frontend.source import parse_function
from .ir import Loc, Param, PointerType, ScalarType
from .language import core as lang

# Triton's launch options (accepted and ignored on our targets) and ours. A kernel parameter of
# the same name takes the argument instead, as in Triton (its binder collects options in
# **kwargs after the kernel's own parameters).
_LAUNCH_OPTIONS = (
    "target",
    "config",  # the accelerator machine (`isa.machine.CONFIGS`) for target="accel"
    "num_warps",
    "num_stages",
    "num_ctas",
    "maxnreg",
    "debug",
    "enable_fp_fusion",
    "launch_cooperative_grid",
    "launch_pdl",
    "sanitize_overflow",
)


def _is_constexpr_annotation(ann) -> bool:
    return ann is lang.constexpr or (isinstance(ann, str) and ann.split(".")[-1] == "constexpr")


class TensorWrapper:
    """`reinterpret(tensor, dtype)`: the same memory seen as elements of another dtype.

    As Triton's `triton.reinterpret`: a kernel receives a pointer to `base`'s first element typed
    `dtype` (e.g. a torch int32 tensor read as `tl.uint32`, int8 bytes read as `tl.float8e5`).
    Shape and strides (in elements) are the base's; the element size must be the same.
    """

    def __init__(self, base, dtype: lang.dtype) -> None:
        self.base = base
        self.dtype = dtype
        self.shape = tuple(base.shape)
        self.device = getattr(base, "device", "cpu")

    def data_ptr(self) -> int:
        if isinstance(self.base, np.ndarray):
            return self.base.__array_interface__["data"][0]
        return self.base.data_ptr()

    def stride(self, dim=None):
        if isinstance(self.base, np.ndarray):
            st = tuple(s // self.base.itemsize for s in self.base.strides)
            return st if dim is None else st[dim]
        return self.base.stride() if dim is None else self.base.stride(dim)

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def element_size(self) -> int:
        return self.dtype.primitive_bitwidth // 8

    def dim(self) -> int:
        return len(self.shape)

    def cpu(self) -> TensorWrapper:
        return self

    def copy_(self, other) -> TensorWrapper:
        self.base.copy_(other.base if isinstance(other, TensorWrapper) else other)
        return self

    def clone(self) -> TensorWrapper:
        return TensorWrapper(
            self.base.copy() if isinstance(self.base, np.ndarray) else self.base.clone(), self.dtype
        )

    def __str__(self) -> str:
        return f"TensorWrapper[{self.dtype}]({self.base})"


def reinterpret(tensor, dtype: lang.dtype):
    """The memory of a numpy array or torch tensor seen as elements of `dtype` (same width)."""
    if isinstance(tensor, TensorWrapper):
        tensor = tensor.base
    if not isinstance(dtype, lang.dtype):
        raise TypeError(f"reinterpret: expected a tl dtype, got {dtype!r}")
    width = tensor.itemsize if isinstance(tensor, np.ndarray) else tensor.element_size()
    if width * 8 != max(dtype.primitive_bitwidth, 8):
        raise TypeError(
            f"reinterpret: {dtype!r} is {dtype.primitive_bitwidth} bits wide but the elements "
            f"are {width * 8} bits"
        )
    return TensorWrapper(tensor, dtype)


class JITFunction:
    _is_jitlang_function = True

    def __init__(self, fn, do_not_specialize=(), debug=None, noinline=None) -> None:
        if not isinstance(fn, types.FunctionType):
            raise TypeError(f"@jit expects a Python function, got {type(fn).__name__}")
        self.fn = fn
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__doc__ = fn.__doc__
        self.__module__ = fn.__module__
        sig = inspect.signature(fn)
        self.signature = sig
        self.arg_names = list(sig.parameters)
        for p in sig.parameters.values():
            if p.name.startswith("_jl_"):
                raise TypeError(
                    f"@jit kernel {fn.__name__}: parameter name {p.name!r} is reserved "
                    "(the _jl_ prefix belongs to the launcher)"
                )
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY):
                raise TypeError(
                    f"@jit kernel {fn.__name__}: *args/**kwargs parameters are not supported"
                )
        # the launch options no kernel parameter shadows; `target` stays None when one does
        self._options = [o for o in _LAUNCH_OPTIONS if o not in sig.parameters]
        tgt = "target" if "target" in self._options else "None"
        # with config= or num_stages=, an accel target becomes "accel@<machine>[:stages=<n>]"
        # (cache key and compile request)
        cfg, stages = (o if o in self._options else "None" for o in ("config", "num_stages"))
        self._target_name = (
            f"_jl_tc({tgt}, {cfg}, {stages})" if (cfg, stages) != ("None",) * 2 else tgt
        )
        self.constexprs = [
            i
            for i, p in enumerate(sig.parameters.values())
            if _is_constexpr_annotation(p.annotation)
        ]
        self._constexpr_set = frozenset(self.constexprs)
        nospec = set()
        for d in do_not_specialize:
            nospec.add(self.arg_names.index(d) if isinstance(d, str) else int(d))
        self.do_not_specialize = frozenset(nospec)
        # per parameter: 0 constexpr, 1 specialized run-time argument, 2 not specialized
        self._kinds = [
            0 if i in self._constexpr_set else (2 if i in nospec else 1)
            for i in range(len(self.arg_names))
        ]
        self.cache: dict = {}
        self._lock = threading.Lock()
        self._source = None
        self._dep_hash = None
        self._binder = self._make_binder()
        self._fast = self._make_fast()

    # -- source ------------------------------------------------------------------------------
    def source(self):
        if self._source is None:
            self._source = parse_function(self.fn)
        return self._source

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            f"{self.fn.__name__} is a @jitlang.jit kernel: launch it with "
            f"{self.fn.__name__}[grid](...), or call it from another kernel"
        )

    def __repr__(self) -> str:
        return f"JITFunction({self.fn.__module__}:{self.fn.__qualname__})"

    # -- binding -----------------------------------------------------------------------------
    def _make_binder(self):
        params = []
        ns = {"_jl_tc": _target_key}
        for i, p in enumerate(self.signature.parameters.values()):
            if p.default is not p.empty:
                ns[f"_d{i}"] = p.default
                params.append(f"{p.name}=_d{i}")
            else:
                params.append(p.name)
        names = ", ".join(self.arg_names)
        src = (
            f"def bind({self._signature_text(params)}):\n"
            f"    return ({names}{',' if len(self.arg_names) == 1 else ''}), {self._target_name}\n"
        )
        exec(compile(src, f"<binder of {self.fn.__name__}>", "exec"), ns)
        return ns["bind"]

    def _signature_text(self, params: list[str]) -> str:
        """The generated launcher's parameters: the kernel's, then the unshadowed options."""
        opts = [f"{o}=None" for o in self._options]
        return ", ".join(params + (["*"] + opts if opts else []))

    def _make_fast(self):
        """Generate `fast(<kernel params>, *, target=None, ...) -> (key, rt, values, target)`.

        One straight-line function per kernel: argument binding by Python itself, then per
        parameter the common cases inline (arrays, ints, floats); anything else goes through
        `_specialize`'s general path.
        """
        params = []
        ns = {
            "_jl_nd": np.ndarray,
            "_jl_addr": array_address,
            "_jl_CE": lang.constexpr,
            "_jl_slow": self._slow_one,
            "_jl_tc": _target_key,
            # builtins under private names: a kernel parameter may be called `type` or `int`
            "_jl_type": type,
            "_jl_int": int,
            "_jl_float": float,
        }
        body = ["    _jl_rt = []"]
        keys = []
        for i, p in enumerate(self.signature.parameters.values()):
            nm = p.name
            if p.default is not p.empty:
                ns[f"_jl_d{i}"] = p.default
                params.append(f"{nm}=_jl_d{i}")
            else:
                params.append(nm)
            kind = self._kinds[i]
            k = f"_jl_k{i}"
            keys.append(k)
            if kind == 0:
                body.append(f"    {k} = ('c', {nm}.value if _jl_type({nm}) is _jl_CE else {nm})")
                continue
            spec1 = "" if kind == 2 else f"\n        if {nm} == 1: {k} = _jl_ONE\n        else:"
            body.append(
                f"    _jl_t = _jl_type({nm})\n"
                f"    if _jl_t is _jl_nd:\n"
                f"        _jl_a = _jl_addr({nm})\n"
                f"        {k} = ({nm}.dtype, not _jl_a & 15)\n"
                f"        _jl_rt.append(_jl_a)\n"
                f"    elif _jl_t is _jl_int and -2147483648 <= {nm} < 2147483648:"
                + (
                    spec1
                    + f"\n            {k} = ('int32', {'False' if kind == 2 else f'not {nm} & 15'}); _jl_rt.append({nm})"
                    if kind == 1
                    else f"\n        {k} = ('int32', False); _jl_rt.append({nm})"
                )
                + f"\n    elif _jl_t is _jl_float:\n        {k} = _jl_FP32; _jl_rt.append({nm})\n"
                f"    else:\n        {k} = _jl_slow({i}, {nm}, _jl_rt)"
            )
        ns["_jl_ONE"] = ("1",)
        ns["_jl_FP32"] = ("fp32",)
        names = ", ".join(self.arg_names)
        comma = "," if len(keys) == 1 else ""
        src = (
            f"def fast({self._signature_text(params)}):\n"
            + "\n".join(body)
            + f"\n    return ({', '.join(keys)}{comma}), _jl_rt, ({names}{comma}), "
            f"{self._target_name}\n"
        )
        exec(compile(src, f"<launcher of {self.fn.__name__}>", "exec"), ns)
        return ns["fast"]

    def _slow_one(self, i: int, v, rt: list):
        key, val = self._spec_one(i, v)
        if type(val) is list:  # a tensor descriptor: base address, shape, strides
            rt.extend(val)
        elif val is not None:
            rt.append(val)
        return key

    def _bind(self, args, kwargs):
        try:
            return self._binder(*args, **kwargs)
        except TypeError as e:
            msg = str(e).replace("bind()", f"{self.fn.__name__}[grid]()")
            raise TypeError(
                f"{msg}; the kernel's parameters are ({', '.join(self.arg_names)})"
            ) from None

    # -- specialization ----------------------------------------------------------------------
    def _specialize(self, values: tuple):
        """(specialization key, run-time argument values) for bound argument `values`."""
        key = []
        rt = []
        for i, v in enumerate(values):
            k, r = self._spec_one(i, v)
            key.append(k)
            if type(r) is list:  # a tensor descriptor: base address, shape, strides
                rt.extend(r)
            elif r is not None:
                rt.append(r)
        return tuple(key), tuple(rt)

    def _spec_one(self, i: int, v):
        """Key component and run-time value (None when folded into the key) of argument i."""
        kind = self._kinds[i]
        if kind == 0:  # constexpr
            return ("c", v.value if isinstance(v, lang.constexpr) else v), None
        t = type(v)
        if t is np.ndarray:
            addr = array_address(v)
            return (v.dtype, not (addr & 15)), addr
        if t is int:
            spec = kind == 1
            if spec and v == 1:
                return ("1",), None
            if -(2**31) <= v < 2**31:
                return ("int32", spec and not (v & 15)), v
            if -(2**63) <= v < 2**63:
                return ("int64", spec and not (v & 15)), v
            if 0 <= v < 2**64:
                return ("uint64", spec and not (v & 15)), v - 2**64
            raise ValueError(f"argument {self.arg_names[i]!r}: {v} does not fit in 64 bits")
        if t is float:
            return ("fp32",), v
        if t is bool:
            return ("int1",), int(v)
        return self._slow_arg(i, v)

    def _slow_arg(self, i: int, v):
        name = self.arg_names[i]
        if isinstance(v, lang.constexpr):
            return ("c", v.value), None
        if isinstance(v, np.ndarray):
            return (
                self._slow_arg(i, np.asarray(v).view(np.ndarray))
                if type(v) is not np.ndarray
                else None
            )
        if isinstance(v, (np.bool_,)):
            return ("int1",), int(v)
        if isinstance(v, np.integer):
            dt = from_numpy(v.dtype)
            return (dt.short, i not in self.do_not_specialize and not (int(v) & 15)), int(
                v
            ) if dt is not DType.U64 or int(v) < 2**63 else int(v) - 2**64
        if isinstance(v, float):  # np.float64 is a Python float: typed fp32 as Triton does
            return ("fp32",), float(v)
        if isinstance(v, np.floating):
            dt = from_numpy(v.dtype)
            if dt is None:
                raise TypeError(f"argument {name!r}: unsupported numpy scalar type {v.dtype}")
            return (dt.short,), float(v)
        if type(v).__module__.startswith("torch") and hasattr(v, "data_ptr"):
            return self._torch_arg(name, v)
        if isinstance(v, TensorWrapper):  # reinterpret(): the base's address, another dtype
            (_, aligned), addr = self._spec_one(i, v.base)
            npdt = v.dtype.dt.np
            if npdt is None:
                raise TypeError(f"argument {name!r}: arrays of {v.dtype!r} are not supported")
            return (np.dtype(npdt), aligned), addr
        if v is None:  # Triton specializes None as the constexpr None (`if ptr is not None:`)
            return ("c", None), None
        if isinstance(v, JITFunction):  # a @jit function passed in: a compile-time constant
            # (its own sources are part of the key: the disk cache must see them change)
            return ("cfn", v, v.dependency_hash()), None
        if isinstance(v, tuple):  # Triton flattens tuple (and NamedTuple) arguments
            keys, rt = [], []
            for e in v:
                k, r = self._tuple_element(i, e)
                keys.append(k)
                if type(r) is list:
                    rt.extend(r)
                elif r is not None:
                    rt.append(r)
            return ("tuple", type(v), tuple(keys)), rt
        from .tools.tensor_descriptor import TensorDescriptor

        if isinstance(v, TensorDescriptor):
            (dt, aligned), addr = self._spec_one(i, v.base)
            if not all(0 <= d < 2**31 for d in v.shape):
                raise ValueError(f"argument {name!r}: tensor descriptor sizes must fit in int32")
            # int64 strides only when one needs it (the accelerator computes int32 indices)
            wide = not all(-(2**31) <= d < 2**31 for d in v.strides)
            key = ("desc", dt, aligned, len(v.shape), tuple(v.block_shape), wide)
            return key, [addr, *v.shape, *v.strides]
        raise TypeError(
            f"argument {name!r} of {self.fn.__name__}: unsupported type {type(v).__name__}; "
            "pass numpy arrays, Python or numpy scalars, or mark the parameter tl.constexpr"
        )

    def _tuple_element(self, i: int, e):
        """Key component and run-time value(s) of one element of a tuple argument."""
        if isinstance(e, lang.constexpr):
            return ("c", e.value), None
        k, r = self._spec_one(i, e)
        if k[0] == "1":  # no per-element specialization to 1: an int32 like any other
            return ("int32", False), 1
        if k[0] == "desc":
            raise TypeError(
                f"argument {self.arg_names[i]!r} of {self.fn.__name__}: tensor descriptors "
                "inside tuple arguments are not supported; pass them as their own arguments"
            )
        return k, r

    def _torch_arg(self, name, t):
        if t.device.type != "cpu":
            raise TypeError(f"argument {name!r}: torch tensors must be on the CPU, got {t.device}")
        import ml_dtypes

        tmap = {
            "torch.float32": np.float32,
            "torch.float64": np.float64,
            "torch.float16": np.float16,
            "torch.bfloat16": ml_dtypes.bfloat16,
            "torch.float8_e4m3fn": ml_dtypes.float8_e4m3fn,
            "torch.float8_e5m2": ml_dtypes.float8_e5m2,
            "torch.float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
            "torch.float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
            "torch.int8": np.int8,
            "torch.int16": np.int16,
            "torch.int32": np.int32,
            "torch.int64": np.int64,
            "torch.uint8": np.uint8,
            "torch.uint16": np.uint16,
            "torch.uint32": np.uint32,
            "torch.uint64": np.uint64,
            "torch.bool": np.bool_,
        }
        npdt = tmap.get(str(t.dtype))
        if npdt is None:
            raise TypeError(f"argument {name!r}: unsupported torch dtype {t.dtype}")
        addr = t.data_ptr()
        return (np.dtype(npdt), not (addr & 15)), addr

    def _params(self, key) -> list:
        """Frontend parameter specs from a specialization key."""
        out = []
        idx = 0
        for name, k in zip(self.arg_names, key):
            if k[0] == "cfn":  # a @jit function argument
                out.append((name, ("const", k[1])))
            elif k[0] == "c":
                v = k[1]
                if isinstance(v, np.generic):  # np.int64(16) is the constexpr 16
                    v = v.item()
                out.append((name, ("const", v)))
            elif k[0] == "desc":  # a host TensorDescriptor: base pointer, shape, strides
                _, npdt, aligned, n, block, wide = k
                sdt = DType.I64 if wide else DType.I32
                base = Param(name, PointerType(from_numpy(npdt)), 16 if aligned else 1, idx)
                dims = [  # int32 sizes; strides int32 unless one needs 64 bits
                    Param(f"{name}.{what}{d}", ScalarType(dt), 1, idx + 1 + j * n + d)
                    for j, (what, dt) in enumerate((("shape", DType.I32), ("stride", sdt)))
                    for d in range(n)
                ]
                out.append((name, ("desc", base, dims[:n], dims[n:], block)))
                idx += 1 + 2 * n
            elif k[0] == "1":
                # specialized to 1, but typed like any int32 argument (not a weak literal)
                out.append((name, ("int32 one", 1)))
            elif k[0] == "tuple":
                spec, idx = self._tuple_spec(name, k, idx)
                out.append((name, spec))
            elif isinstance(k[0], np.dtype):
                npdt = k[0]
                dt = from_numpy(npdt)
                if dt is None:
                    raise TypeError(
                        f"argument {name!r} of {self.fn.__name__}: arrays of dtype {npdt} are not "
                        "supported (use bool, int8-64, uint8-64, the ml_dtypes float8 types e4m3fn, "
                        "e5m2, e4m3fnuz and e5m2fnuz, float16, bfloat16, float32, float64)"
                    )
                out.append((name, Param(name, PointerType(dt), 16 if k[1] else 1, idx)))
                idx += 1
            else:
                dt = {d.short: d for d in DType}[k[0]]
                div = 16 if len(k) > 1 and k[1] else 1
                out.append((name, Param(name, ScalarType(dt), div, idx)))
                idx += 1
        return out

    def _tuple_spec(self, name: str, k, idx: int) -> tuple[tuple, int]:
        """("tuple", class, element specs) for a tuple argument's key; Params numbered from idx."""
        _, cls, subkeys = k
        subs: list = []
        for j, sk in enumerate(subkeys):
            sub = f"{name}.{j}"
            if sk[0] in ("c", "cfn"):
                v = sk[1].item() if isinstance(sk[1], np.generic) else sk[1]
                subs.append(("const", v))
            elif sk[0] == "tuple":
                spec, idx = self._tuple_spec(sub, sk, idx)
                subs.append(spec)
            elif isinstance(sk[0], np.dtype):
                dt = from_numpy(sk[0])
                if dt is None:
                    raise TypeError(f"argument {name!r}: arrays of dtype {sk[0]} are not supported")
                subs.append(Param(sub, PointerType(dt), 16 if sk[1] else 1, idx))
                idx += 1
            else:
                dt = {d.short: d for d in DType}[sk[0]]
                div = 16 if len(sk) > 1 and sk[1] else 1
                subs.append(Param(sub, ScalarType(dt), div, idx))
                idx += 1
        return ("tuple", cls, subs), idx

    # -- caches and compilation --------------------------------------------------------------
    def dependency_hash(self) -> str:
        if self._dep_hash is None:
            h = hashlib.sha256()
            guards: list = []
            for text in _reachable_sources(self, guards):
                h.update(text.encode())
            self._dep_hash = h.hexdigest()
            self._guards = tuple(guards)
        return self._dep_hash

    def guards(self) -> tuple:
        """(globals dict, name, value) of every global constant the kernel's code names."""
        self.dependency_hash()
        return self._guards

    def _compile(self, key, target: str):
        from runtime.driver import get_runtime

        try:
            if target.startswith("accel@"):  # a machine (config=) or num_stages= was named
                from runtime.accel_driver import compile_accel_kernel, parse_target_name

                config, num_stages = parse_target_name(target)
                return compile_accel_kernel(get_runtime(), self, key, config, num_stages=num_stages)
            return get_runtime().compile(self, key, target)
        except CompilationError:
            raise
        except Exception as e:
            if _is_launch_error(e):
                raise
            raise InternalCompilerError(self._def_loc(), self.fn.__name__, e) from e

    def _def_loc(self) -> Loc | None:
        try:
            src = self.source()
            return src.loc(src.tree)
        except Exception:  # no source: the code object still knows where the kernel is
            code = self.fn.__code__
            return Loc(code.co_filename, code.co_firstlineno, 0)

    def _get_kernel(self, key, target):
        ck = (target, key)
        kernel = self.cache.get(ck)
        if kernel is None:
            with self._lock:
                kernel = self.cache.get(ck)
                if kernel is None:
                    try:
                        kernel = self._compile(key, target)
                    except InternalCompilerError:
                        raise  # its traceback and cause are what a bug report needs
                    except CompilationError as e:
                        # the message points at the kernel source; compiler frames are noise
                        raise e.with_traceback(None) from e.plain_cause()
                    self.cache[ck] = kernel
        return kernel

    # -- launching ---------------------------------------------------------------------------
    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.run(*args, grid=grid, **kwargs)

    def run(self, *args, grid, **kwargs):
        try:
            key, rt, values, target = self._fast(*args, **kwargs)
        except TypeError:
            self._bind(args, kwargs)  # raises a clear TypeError for bad argument lists
            raise
        try:
            kernel = self.cache.get((target or self._default_target, key))
        except TypeError:
            raise self._unhashable(values) from None
        if kernel is None or (kernel.guards and not kernel.guards_hold()):
            if kernel is not None:  # a global the kernel read has changed: rebuild
                self.cache.pop((target or self._default_target, key), None)
                self._dep_hash = None
            kernel = self._get_kernel(key, target or _default_target())
        if type(grid) is tuple and len(grid) == 1 and type(grid[0]) is int and grid[0] >= 0:
            g = (grid[0], 1, 1)
        elif callable(grid):
            g = _normalize_grid(grid(dict(zip(self.arg_names, values))))
        else:
            g = _normalize_grid(grid)
        if kernel.bounds_check:
            rt = list(rt) + self._extents(key, values)
        kernel.launch(g, rt)
        return kernel

    def _extents(self, key, values) -> list[int]:
        """(low, high) byte bounds of every array argument, for JITLANG_BOUNDS_CHECK."""
        out: list[int] = []
        for k, v in zip(key, values):
            if k[0] == "tuple":  # the arrays inside, in the order of their parameters
                out += self._extents(k[2], v)
                continue
            if k[0] == "desc":
                k, v = (k[1],), v.base
            if isinstance(k[0], np.dtype):
                if isinstance(v, np.ndarray):
                    lo, hi = (
                        np.byte_bounds(v)
                        if hasattr(np, "byte_bounds")
                        else (np.lib.array_utils.byte_bounds(v))
                    )
                else:  # a torch tensor: contiguous storage from its data pointer
                    lo = v.data_ptr()
                    hi = lo + v.numel() * v.element_size()
                out += [lo, hi]
        return out

    @property
    def _default_target(self) -> str:
        t = self.__dict__.get("_target_default")
        if t is None:
            t = self.__dict__["_target_default"] = _default_target()
        return t

    def _unhashable(self, values) -> TypeError:
        for i in self.constexprs:
            v = values[i]
            try:
                hash(v)
            except TypeError:
                return TypeError(
                    f"argument {self.arg_names[i]!r} of {self.fn.__name__}: constexpr values must "
                    f"be hashable (int, float, bool, str, None, tl.dtype, tuple), got "
                    f"{type(v).__name__}"
                )
        return TypeError(f"{self.fn.__name__}: an argument is not hashable")

    def warmup(self, *args, grid=None, **kwargs):
        """Compile for these arguments without running; returns the compiled kernel."""
        values, target = self._bind(args, kwargs)
        key, _ = self._specialize(values)
        return self._get_kernel(key, target or _default_target())


# where argument, target and JITLANG_* validation raises its TypeError/ValueError
_LAUNCH_ERROR_FILES = ("jitlang/jit.py", "jitlang/autotuner.py", "codegen/cpu/target.py")


def _is_launch_error(e: Exception) -> bool:
    """A TypeError/ValueError/NotImplementedError raised on purpose by the launcher or the runtime
    (an unsupported argument dtype, an unknown target, a bad JITLANG_* setting) is the user's to
    fix; the same types raised anywhere in the compiler proper are internal errors."""
    if not isinstance(e, (TypeError, ValueError, NotImplementedError)):
        return False
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    path = Path(tb.tb_frame.f_code.co_filename).resolve()
    try:
        rel = path.relative_to(Path(__file__).resolve().parent.parent).as_posix()
    except ValueError:
        return False
    return rel.startswith("runtime/") or rel in _LAUNCH_ERROR_FILES


def _target_key(target, config, num_stages=None):
    """The launch's target as the kernel cache and `_compile` name it: `target`, or
    "accel@<machine>[:stages=<n>]" when config= names an accelerator machine other than the
    default or num_stages= is set (`runtime.accel_driver.accel_target_name`). The CPU ignores
    both (so one argument list runs on both, as cross_check does)."""
    if config is None and num_stages is None:
        return target
    from runtime.accel_driver import accel_target_name, config_name

    if (target or _default_target()) != "accel":
        if config is not None:
            config_name(config)  # a misspelt machine is an error on every target
        return target
    name = accel_target_name(config, num_stages)
    return target if name == "accel" else name


def _default_target() -> str:
    from runtime.config import get_options

    return get_options().default_target


def _normalize_grid(grid) -> tuple[int, int, int]:
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        grid = (grid,)
    if not isinstance(grid, (tuple, list)) or not 1 <= len(grid) <= 3:
        raise ValueError(
            f"grid must be a tuple of 1 to 3 integers (or a callable returning one), got {grid!r}"
        )
    out = []
    for g in grid:
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)):
            raise ValueError(f"grid dimensions must be integers, got {g!r} in {tuple(grid)!r}")
        g = int(g)
        if g < 0:
            raise ValueError(f"grid dimensions must be >= 0, got {tuple(grid)!r}")
        if g >= 2**31:
            raise ValueError(f"grid dimension {g} exceeds 2**31 - 1")
        out.append(g)
    while len(out) < 3:
        out.append(1)
    return tuple(out)


def _reachable_sources(jf: JITFunction, guards: list | None = None) -> list[str]:
    """Source text of `jf` and every @jit function (and global constant) its code names."""
    seen: dict[int, str] = {}
    out: list[str] = []

    def visit(f: JITFunction) -> None:
        if id(f) in seen:
            return
        try:
            text = f.source().text
        except CompilationError:
            text = f.fn.__qualname__
        seen[id(f)] = text
        # a function exec'd without `__name__` in its globals has no module
        out.append(f"{f.fn.__module__}:{f.fn.__qualname__}\n{text}")
        g = f.fn.__globals__
        closure = {}
        if f.fn.__closure__:
            for n, c in zip(f.fn.__code__.co_freevars, f.fn.__closure__):
                try:
                    closure[n] = c.cell_contents
                except ValueError:
                    pass
        tree = f.source().tree
        # names the function binds itself (parameters, assignments, loop targets) are local:
        # a global of the same name is not something the kernel reads
        local = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
        local |= {
            n.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                if node.id in local:
                    continue
                v = closure.get(node.id, g.get(node.id))
                if getattr(v, "_is_jitlang_function", False):
                    visit(v)
                elif isinstance(v, lang.constexpr):
                    out.append(f"{node.id}={v.value!r}")
                    if guards is not None and node.id not in closure:
                        guards.append((g, node.id, v))
                elif isinstance(v, (int, float, bool, str)):
                    out.append(f"{node.id}={v!r}")
                    if guards is not None and node.id not in closure:
                        guards.append((g, node.id, v))
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                mod = closure.get(node.value.id, g.get(node.value.id))
                if isinstance(mod, types.ModuleType):
                    v = getattr(mod, node.attr, None)
                    if getattr(v, "_is_jitlang_function", False):
                        visit(v)

    visit(jf)
    return out


def jit(fn=None, *, do_not_specialize=(), debug=None, noinline=None, **_ignored):
    """Decorate a kernel (or a helper called from kernels): `@jit` or `@jit(do_not_specialize=...)`."""
    if fn is None:
        return lambda f: JITFunction(f, do_not_specialize=do_not_specialize, debug=debug)
    return JITFunction(fn, do_not_specialize=do_not_specialize, debug=debug)


@functools.lru_cache(maxsize=1)
def isa_source_hash() -> str:
    """A hash of the `isa` package's sources (assembler, encoding, machine descriptions): part of
    the key of every accelerator binary in the disk cache, so a change there is a new entry."""
    import isa

    root = Path(isa.__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def compiler_source_hash() -> str:
    """A hash of the compiler's own sources: any change to the compiler invalidates disk caches."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in ("jitlang", "codegen", "runtime"):
        for p in sorted((root / pkg).rglob("*.py")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]
