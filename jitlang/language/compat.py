"""How jitlang's language compares with `triton.language`, name by name.

The names are those Triton 3.9.0 exports (`triton.language.__all__`) and the public methods of
its `tensor` class, read from that release. Whether jitlang has a name is read from
`jitlang.language` and the frontend's method table at the time of the call, so the table cannot
go stale: `tests/test_compat_table.py` checks that the README's copy equals `markdown()`.
`NOTES` says where a name jitlang has behaves differently, or why a missing one is missing.

    python -m jitlang.language.compat      # prints the Markdown table
"""

from __future__ import annotations

TRITON_VERSION = "3.9.0"

TRITON_NAMES = """
PropagateNan TRITON_MAX_TENSOR_NUMEL abs add arange argmax argmin associative_scan assume
atomic_add atomic_and atomic_cas atomic_load atomic_max atomic_min atomic_or atomic_poll
atomic_store atomic_xchg atomic_xor bfloat16 bitonic_merge block_type broadcast broadcast_to cast
cat cdiv ceil clamp condition const constexpr constexpr_type cos cumprod cumsum debug_barrier
device_assert device_print div_rn dot dot_scaled dtype erf exp exp2 expand_dims expect_zero extra
fdiv flip float16 float32 float64 float8e4b15 float8e4b8 float8e4nv float8e5 float8e5b16 floor fma
full gather histogram inline_asm_elementwise int1 int16 int32 int64 int8 interleave join load
load_tensor_descriptor log log2 make_block_ptr make_tensor_descriptor map_elementwise math max
max_constancy max_contiguous maximum min minimum mul multiple_of num_programs
pair_uniform_to_normal permute philox philox_impl pi32_t pointer_type program_id rand rand4x
randint randint4x randn randn4x range ravel reduce reduce_or reshape rsqrt sigmoid sin slice
softmax sort split sqrt sqrt_rn squeeze static_assert static_print static_range store
store_tensor_descriptor sub sum swizzle2d target_info tensor tensor_descriptor to_tensor topk trans
tuple uint16 uint32 uint64 uint8 uint_to_uniform_float umulhi unsqueeze view void where xor_sum
zeros zeros_like
""".split()

TRITON_TENSOR_METHODS = """
T abs advance argmax argmin associative_scan atomic_add atomic_and atomic_cas atomic_load
atomic_max atomic_min atomic_or atomic_poll atomic_store atomic_xchg atomic_xor broadcast_to cast
cdiv ceil cos cumprod cumsum erf exp exp2 expand_dims flip floor gather histogram item log log2
logical_and logical_or max min permute ravel reduce reduce_or reshape rsqrt sigmoid sin softmax
sort split sqrt sqrt_rn store sum to trans view xor_sum
""".split()

# name -> note. For a name jitlang has, the note says how it differs from Triton; for a missing
# name, why it is missing or what to use instead.
NOTES = {
    "dot": "`input_precision` is accepted; every precision computes full fp32 products "
    "(tf32 and tf32x3 are not emulated), so results can be more exact than Triton's on GPUs",
    "atomic_add": "`sem` and `scope` are accepted; CPU atomics are sequentially consistent",
    "debug_barrier": "no effect: a jitlang program is one thread of control",
    "device_print": "one line per element, `pid (x, y, z) idx (i) prefix value`, printed by the "
    "host for the CPU and the accelerator emulator alike",
    "atomic_poll": "without `timeout_ns` Triton spins for ever; jitlang gives up after 5 s on "
    "the CPU (a deadlock guard: the producer may be a program that cannot run before the poller "
    "ends) and after 1000 loads on the accelerator (its emulator runs programs one after another, "
    "so a later program's store never appears), failing the launch at the line; on the "
    "accelerator `timeout_ns` is modelled time (each load counts a lower bound of its cost) and "
    "64-bit elements poll as scalars only",
    "tensor.atomic_poll": "as `tl.atomic_poll`",
    "const": "a `tl.const` kernel pointer parameter (or `pointer_type(..., const=True)`) is "
    "tracked by the frontend, not the IR type: `.dtype.is_const()` holds for it and every pointer "
    "computed from it, and stores and atomics through one (`atomic_cas` too) fail at the line",
    "constexpr_type": "kernels see constexprs as plain Python values: `N.type` is a "
    "`constexpr_type`, but `isinstance(N, tl.constexpr)` is False",
    "void": "`tl.store` and the other statements return None, not a `tl.void` value",
    "tensor_descriptor": "for `isinstance` checks and annotations; a descriptor's `.type` is "
    "its text (`tensor_descriptor<64x64>`), not a type object",
    "condition": "`disable_licm` is accepted and has no effect",
    "target_info": "`is_cuda()`, `is_hip()` and the rest answer False",
    "slice": "a kernel's `a:b:c` stays a Python slice, which `isinstance(s, tl.slice)` accepts",
    "extra": "`tl.extra.libdevice` (also via `.cuda`/`.hip`) maps the libdevice math with an "
    "equivalent (exp, log, pow, erf, log1p, expm1, round, rint, fmod, copysign, isnan, ...: "
    "`jitlang.language.extra.libdevice.MAPPED`) onto jitlang's math; `pow`, `exp10`, `log10`, "
    "`sinh`, `cosh`, `tan` are compositions, not correctly rounded; any other name fails at its "
    "line",
    "dot_scaled": "computed as Triton's interpreter does (operands decoded to fp32, times their "
    "e8m0 scales, an fp32 dot), not with a GPU's bf16 upcast; `fast_math` is accepted; the same "
    "composition runs on the CPU, the interpreter and the accelerator",
    "float8e4b15": "ml_dtypes has no such type: arrays are uint8 codes passed as "
    "`jl.reinterpret(codes, tl.float8e4b15)` (`jitlang.dtypes.fp8e4b15_to_float32` / "
    "`float32_to_fp8e4b15` convert on the host); casts follow Triton's compiled cast (saturate at "
    "1.75, ties away from zero), not its interpreter, which mis-encodes magnitudes from 2 up; the "
    "interpreter and the accelerator have no reductions or scans of it; on the accelerator its "
    "codes are decoded and encoded with integer engine ops, bit-exact with the CPU",
    "float8e5": "NaN payloads survive a copy and a cast (ml_dtypes makes every NaN 0x7e); on the "
    "accelerator an FP8E5 tile; sums, products and custom reductions or scans of fp8 blocks are "
    "refused at the line there (its engines reduce with one rounding, the CPU rounds each step)",
    "float8e4nv": "on the accelerator an FP8E4 tile; sums, products and custom reductions or "
    "scans of it are refused at the line there, as for `float8e5`",
    "float8e4b8": "on the accelerator (no such type in its ISA) its codes are decoded and "
    "encoded with integer engine ops, bit-exact with the CPU; reductions as for `float8e5`",
    "float8e5b16": "as `float8e4b8`",
    "inline_asm_elementwise": "exists so that a kernel using it fails at its line, as under "
    "Triton's interpreter: its assembly is PTX/AMDGCN, which neither target can run",
    "map_elementwise": "both sides of a per-element `if` are computed and selected (the mapped "
    "function may not load, store, print or assert under one); `pack` is accepted",
}

_EXTRA_METHODS = {"T", "advance"}  # attributes the frontend resolves itself


def _has_name(name: str) -> bool:
    import jitlang.language as tl

    return hasattr(tl, name)


def _has_method(name: str) -> bool:
    from jitlang.frontend.builtins import TENSOR_METHODS

    return name in TENSOR_METHODS or name in _EXTRA_METHODS


def table() -> list[tuple[str, str, str]]:
    """(Triton name, yes / differs / no, note) for every `tl.` name and `tensor` method."""
    rows = []
    for kind, names, has in (
        ("tl.", TRITON_NAMES, _has_name),
        ("tensor.", TRITON_TENSOR_METHODS, _has_method),
    ):
        for n in names:
            note = NOTES.get(n, "") if kind == "tl." else NOTES.get(f"tensor.{n}", "")
            if has(n):
                rows.append((kind + n, "differs" if note else "yes", note))
            else:
                rows.append((kind + n, "no", note or "not yet"))
    return rows


def markdown() -> str:
    rows = table()
    counts = {s: sum(1 for r in rows if r[1] == s) for s in ("yes", "differs", "no")}
    out = [
        f"Against `triton.language` {TRITON_VERSION}: {counts['yes']} names as in Triton, "
        f"{counts['differs']} that differ, {counts['no']} missing "
        "(generated by `python -m jitlang.language.compat`).",
        "",
        "| name | jitlang | note |",
        "|---|---|---|",
    ]
    out += [f"| `{n}` | {s} | {note} |" for n, s, note in rows]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
