"""The names of `jitlang.language` (Triton's `triton.language`), as markers the frontend knows.

Calling one of these outside a `@jit` kernel raises; inside a kernel the frontend maps each
marker to its semantic handler (`jitlang.frontend.builtins`). dtypes are `dtype` objects that
also work as Python values (`x.to(tl.float32)`, `tl.zeros(..., dtype=tl.int64)`).
"""

from __future__ import annotations

import builtins
import enum

from ..dtypes import DType


class dtype:  # noqa: N801 - Triton's spelling
    """A jitlang element type as seen by kernels (`tl.float32`, ...)."""

    # Triton's type-name lists (short names, as `tl.dtype(name)` takes them)
    SINT_TYPES = ["int8", "int16", "int32", "int64"]
    UINT_TYPES = ["int1", "uint8", "uint16", "uint32", "uint64"]
    FP_TYPES = [
        "fp8e4b15",
        "fp8e4nv",
        "fp8e4b8",
        "fp8e5",
        "fp8e5b16",
        "fp16",
        "bf16",
        "fp32",
        "fp64",
    ]
    STANDARD_FP_TYPES = ["fp16", "bf16", "fp32", "fp64"]
    OTHER_TYPES = ["void"]

    def __new__(cls, dt: DType | str = "", name: str | None = None):
        if cls is dtype and dt == "void":  # tl.dtype("void") is tl.void, as in Triton
            return void
        return super().__new__(cls)

    def __init__(self, dt: DType | str, name: str | None = None) -> None:
        if dt == "void" and type(self) is not dtype:
            return
        if isinstance(dt, str):  # Triton's constructor: tl.dtype("fp16"), tl.dtype("int32")
            found = next((d for d in DTYPES.values() if dt in (d.dt.short, d.name)), None)
            if found is None:
                raise ValueError(f"tl.dtype: jitlang has no element type {dt!r}")
            dt, name = found.dt, found.name
        self.dt = dt
        self.name = name

    def __repr__(self) -> str:
        return f"tl.{self.name}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dtype) and other.dt is self.dt

    def __hash__(self) -> int:
        return hash(self.dt)

    @property
    def primitive_bitwidth(self) -> int:
        return self.dt.bits

    def is_floating(self) -> bool:
        return self.dt.is_float

    def is_int(self) -> bool:
        return self.dt.is_int

    def is_int_signed(self) -> bool:
        return self.dt.is_int and self.dt.is_signed

    def is_int_unsigned(self) -> bool:
        return self.dt.is_unsigned

    # -- Triton's dtype introspection (language/core.py `dtype`) -------------------------------
    class KIND(enum.Enum):
        BOOLEAN = 0
        INTEGRAL = 1
        FLOATING = 2

    class SIGNEDNESS(enum.Enum):
        SIGNED = 0
        UNSIGNED = 1

    def __str__(self) -> str:
        return self.dt.short  # Triton's names: fp32, bf16, int32, uint8, ...

    def kind(self) -> dtype.KIND:
        if self.dt.is_bool:
            return dtype.KIND.BOOLEAN
        return dtype.KIND.INTEGRAL if self.dt.is_int else dtype.KIND.FLOATING

    def is_bool(self) -> bool:
        return self.dt.is_bool

    def is_fp8(self) -> bool:
        return self.dt.is_fp8

    def is_standard_floating(self) -> bool:
        return self.dt.is_float

    def is_block(self) -> bool:
        return False

    def is_ptr(self) -> bool:
        return False

    def is_const(self) -> bool:
        return False

    @staticmethod
    def is_dtype(type_str: str) -> bool:
        return type_str in dtype.SINT_TYPES + dtype.UINT_TYPES + dtype.FP_TYPES + dtype.OTHER_TYPES

    @property
    def scalar(self) -> dtype:
        return self

    @property
    def itemsize(self) -> int:
        return self.dt.bits // 8

    @property
    def int_bitwidth(self) -> int:
        if not self.dt.is_int:
            raise AttributeError(f"{self!r} is not an integer type")
        return self.dt.bits

    @property
    def int_signedness(self) -> dtype.SIGNEDNESS:
        if not self.dt.is_int:
            raise AttributeError(f"{self!r} is not an integer type")
        return dtype.SIGNEDNESS.UNSIGNED if not self.dt.is_signed else dtype.SIGNEDNESS.SIGNED

    @property
    def fp_mantissa_width(self) -> int:
        return _FLOAT_FORMAT[self.dt][0]

    @property
    def exponent_bias(self) -> int:
        return _FLOAT_FORMAT[self.dt][1]

    def get_int_max_value(self) -> int:
        return (1 << (self.dt.bits - self.dt.is_signed)) - 1

    def get_int_min_value(self) -> int:
        return -(1 << (self.dt.bits - 1)) if self.dt.is_signed else 0

    def codegen_name(self) -> str:
        return self.name

    @property
    def cache_key_part(self) -> str:
        return self.dt.short


# (mantissa bits, exponent bias) of each float type, as Triton's dtype reports them
_FLOAT_FORMAT = {
    DType.F8E4NV: (3, 7),
    DType.F8E5: (2, 15),
    DType.F8E4B8: (3, 8),
    DType.F8E5B16: (2, 16),
    DType.F8E4B15: (3, 15),
    DType.F16: (10, 15),
    DType.BF16: (7, 127),
    DType.F32: (23, 127),
    DType.F64: (52, 1023),
}


def _add_is_methods() -> None:
    # tl.float32.is_fp32(), tl.int8.is_int8(), ... under Triton's short names
    for d in DType:
        setattr(dtype, f"is_{d.short}", lambda self, _d=d: self.dt is _d)


_add_is_methods()


int1 = dtype(DType.I1, "int1")
int8 = dtype(DType.I8, "int8")
int16 = dtype(DType.I16, "int16")
int32 = dtype(DType.I32, "int32")
int64 = dtype(DType.I64, "int64")
uint8 = dtype(DType.U8, "uint8")
uint16 = dtype(DType.U16, "uint16")
uint32 = dtype(DType.U32, "uint32")
uint64 = dtype(DType.U64, "uint64")
float8e4nv = dtype(DType.F8E4NV, "float8e4nv")
float8e5 = dtype(DType.F8E5, "float8e5")
float8e4b8 = dtype(DType.F8E4B8, "float8e4b8")
float8e5b16 = dtype(DType.F8E5B16, "float8e5b16")
float8e4b15 = dtype(DType.F8E4B15, "float8e4b15")
float16 = dtype(DType.F16, "float16")
bfloat16 = dtype(DType.BF16, "bfloat16")
float32 = dtype(DType.F32, "float32")
float64 = dtype(DType.F64, "float64")
fp16, bf16, fp32, fp64 = float16, bfloat16, float32, float64


class _VoidType(dtype):
    """`tl.void`: Triton's type of no value (what `tl.store` returns, a function without a
    return). Kernels can compare and inspect it; nothing can be made or cast to it."""

    def __init__(self, dt: object = "void", name: str | None = None) -> None:
        self.dt = None
        self.name = "void"

    def __repr__(self) -> str:
        return "tl.void"

    def __str__(self) -> str:
        return "void"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _VoidType)

    def __hash__(self) -> int:
        return hash("void")

    @property
    def primitive_bitwidth(self) -> int:
        return 0

    @property
    def itemsize(self) -> int:
        return 0

    def is_void(self) -> bool:
        return True

    def kind(self):
        raise TypeError("tl.void has no kind: it is the type of no value")

    def codegen_name(self) -> str:
        return "void"

    @property
    def cache_key_part(self) -> str:
        return "void"


def _not_void(name: str):
    def check(self):
        return False

    check.__name__ = name
    return check


for _n in (
    "is_floating is_int is_int_signed is_int_unsigned is_bool is_fp8 is_standard_floating"
).split():
    setattr(_VoidType, _n, _not_void(_n))
for _d in DType:
    setattr(_VoidType, f"is_{_d.short}", _not_void(f"is_{_d.short}"))


void = object.__new__(_VoidType)
void.__init__()

DTYPES = {
    d.dt: d
    for d in (
        int1,
        int8,
        int16,
        int32,
        int64,
        uint8,
        uint16,
        uint32,
        uint64,
        float8e4nv,
        float8e5,
        float8e4b8,
        float8e5b16,
        float8e4b15,
        float16,
        bfloat16,
        float32,
        float64,
    )
}


class pointer_type:  # noqa: N801 - Triton's spelling
    """The type of a pointer to `element_ty` (`x_ptr.dtype`, `tl.pointer_type(tl.float16)`)."""

    def __init__(
        self, element_ty: dtype | block_type, address_space: int = 1, const: bool = False
    ) -> None:
        # a block pointer's type points at a block_type (Triton's make_block_ptr result)
        if isinstance(element_ty, constexpr):
            element_ty = element_ty.value
        if not isinstance(element_ty, (dtype, block_type)) or isinstance(element_ty, _VoidType):
            raise TypeError(f"pointer_type needs a tl dtype, got {element_ty!r}")
        self.element_ty = element_ty
        self.address_space = address_space
        # Triton's const pointers (a `tl.const` kernel parameter): loads only, no stores
        self.const = bool(const)
        self.name = f"{'const_' if self.const else ''}pointer<{element_ty}>"

    def __repr__(self) -> str:
        return f"{'const_' if self.const else ''}pointer<{self.element_ty!r}>"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, pointer_type)
            and other.element_ty == self.element_ty
            and other.address_space == self.address_space
            and other.const == self.const
        )

    def __hash__(self) -> int:
        return hash(("ptr", self.element_ty, self.const))

    def is_ptr(self) -> bool:
        return True

    def is_const(self) -> bool:
        return self.const

    def is_block(self) -> bool:
        return False

    @property
    def scalar(self) -> pointer_type:
        return self


class block_type:  # noqa: N801 - Triton's spelling
    """`x.type` of a block inside a kernel: its element type and shape."""

    def __init__(self, element_ty: dtype | pointer_type, shape: list[int]) -> None:
        self.element_ty = element_ty
        self.shape = tuple(shape)
        self.numel = 1
        for d in self.shape:
            self.numel *= d

    @property
    def scalar(self) -> dtype | pointer_type:
        return self.element_ty

    def is_block(self) -> bool:
        return True

    def is_ptr(self) -> bool:
        return False

    def get_block_shapes(self) -> tuple[int, ...]:
        return self.shape

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, block_type)
            and other.element_ty == self.element_ty
            and other.shape == self.shape
        )

    def __hash__(self) -> int:
        return hash((self.element_ty, self.shape))

    def __repr__(self) -> str:
        return f"<{list(self.shape)}, {self.element_ty}>"


class _TensorMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        from ..ir import Value

        return isinstance(obj, Value)


class tensor(metaclass=_TensorMeta):  # noqa: N801 - Triton's spelling
    """`isinstance(x, tl.tensor)` is true for run-time values inside kernels."""


class constexpr_type:  # noqa: N801 - Triton's spelling
    """The type of a compile-time value (`tl.constexpr(8).type`, `BLOCK.type` in a kernel):
    two are equal when their values are."""

    def __init__(self, value: object) -> None:
        self.value = value.value if isinstance(value, constexpr) else value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, constexpr_type) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"constexpr_type[{self.value}]"

    def is_block(self) -> bool:
        return False

    def is_ptr(self) -> bool:
        return False

    def mangle(self) -> str:
        return f"c{self.value!r}"


class const:  # noqa: N801 - Triton's spelling
    """Annotation for a kernel pointer parameter whose data the kernel only reads
    (`def k(x_ptr: tl.const, ...)`): its `.dtype` is a `pointer_type(..., const=True)`, and a
    store or atomic through it, or through a pointer computed from it, is a compile error."""


class slice_type:  # noqa: N801 - Triton's spelling
    """The type of a `tl.slice`."""

    name = "slice_type"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, slice_type)

    def __hash__(self) -> int:
        return hash("slice_type")

    def __repr__(self) -> str:
        return "slice_type"


class _SliceMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        # a kernel's `a:b:c` is a Python slice; both are tl.slice, as in Triton's kernels
        return isinstance(obj, builtins.slice) or type.__instancecheck__(cls, obj)


class slice(metaclass=_SliceMeta):  # noqa: N801,A001 - Triton's spelling
    """`start:stop:step` in a kernel subscript (`x[:, None]`, `t[1:]` on a tuple). Kernels may
    build one (`x[tl.slice(None, None, None), None]`); blocks take only full slices."""

    def __init__(self, start: object, stop: object, step: object) -> None:
        unwrap = lambda v: v.value if isinstance(v, constexpr) else v  # noqa: E731
        self.start, self.stop, self.step = unwrap(start), unwrap(stop), unwrap(step)
        self.type = slice_type()

    def to_slice(self) -> builtins.slice:
        return builtins.slice(self.start, self.stop, self.step)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (slice, builtins.slice)):
            return (self.start, self.stop, self.step) == (other.start, other.stop, other.step)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.start, self.stop, self.step))

    def __repr__(self) -> str:
        return f"tl.slice({self.start!r}, {self.stop!r}, {self.step!r})"


class _DescriptorMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        from ..frontend.blockptr import TensorDescriptor

        return isinstance(obj, TensorDescriptor)


class tensor_descriptor(metaclass=_DescriptorMeta):  # noqa: N801 - Triton's spelling
    """`isinstance(desc, tl.tensor_descriptor)` is true for a kernel's tensor descriptors (from
    `tl.make_tensor_descriptor` or a host `TensorDescriptor` argument); also an annotation."""


class constexpr:  # noqa: N801 - Triton's spelling
    """Annotation for compile-time parameters (`BLOCK: tl.constexpr`) and a value wrapper."""

    def __init__(self, value: object = None) -> None:
        self.value = value.value if isinstance(value, constexpr) else value

    def __repr__(self) -> str:
        return f"constexpr[{self.value!r}]"

    # a wrapper compares, hashes and converts as its value (Triton's constexpr does too)
    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, constexpr) else other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __index__(self) -> int:
        return self.value.__index__()

    @property
    def type(self) -> constexpr_type:
        return constexpr_type(self.value)


class Builtin:
    """A language function; `name` keys the frontend's handler table."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"tl.{self.name} can only be called inside a @jitlang.jit kernel")

    def __repr__(self) -> str:
        return f"<jitlang builtin tl.{self.name}>"


class PropagateNan(enum.IntEnum):
    """NaN handling of tl.minimum/tl.maximum/tl.clamp: NONE returns the other operand (the
    default), ALL returns NaN when either operand is NaN (Triton's ir.PROPAGATE_NAN values)."""

    NONE = 0x0000
    ALL = 0xFFFF


pi32_t = pointer_type(int32)  # Triton's pointer-to-int32 type

TRITON_MAX_TENSOR_NUMEL = 1 << 20  # elements in one block, as in Triton


class _TargetInfo:
    """`tl.target_info`: compile-time questions about the target. jitlang compiles for the CPU
    and its tile accelerator, never for CUDA or HIP."""

    @staticmethod
    def is_cuda() -> bool:
        return False

    @staticmethod
    def is_hip() -> bool:
        return False

    is_hip_cdna3 = is_hip_cdna4 = is_hip_gfx1250 = is_hip

    @staticmethod
    def cuda_capability_geq(major: int, minor: int = 0) -> bool:
        return False

    @staticmethod
    def current_target():
        return None


target_info = _TargetInfo()
globals()["tuple"] = builtins.tuple  # `tl.tuple((a, b))` is a tuple, as in Triton


_NAMES = """
program_id num_programs arange full zeros zeros_like load store where minimum maximum clamp
abs exp exp2 log log2 sqrt sqrt_rn rsqrt sin cos floor ceil erf tanh fma sigmoid cdiv cast
static_assert static_print device_print device_assert multiple_of max_contiguous
max_constancy broadcast_to broadcast expand_dims static_range range
sum max min argmax argmin xor_sum reduce_or reduce cumsum cumprod associative_scan dot trans
permute reshape view ravel atomic_add atomic_max atomic_min atomic_and atomic_or atomic_xor
atomic_xchg atomic_cas atomic_poll join split cat flip sort squeeze unsqueeze umulhi to_tensor div_rn fdiv softmax
assume debug_barrier interleave histogram gather
make_block_ptr advance make_tensor_descriptor load_tensor_descriptor store_tensor_descriptor
add sub mul atomic_load atomic_store swizzle2d map_elementwise condition expect_zero topk
dot_scaled inline_asm_elementwise bitonic_merge
""".split()

for _n in _NAMES:
    globals()[_n] = Builtin(_n)

BUILTINS = {globals()[n].name: globals()[n] for n in _NAMES}
