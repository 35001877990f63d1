"""The CPU target description: what the host (or a CPU named by `JITLANG_CPU`) can do.

Stage: codegen/cpu, read by every CPU stage. Input: an LLVM CPU name and feature string (the
host's, or a spec `"<cpu>[,+feature,-feature...]"`); output: a frozen `CpuTarget` that the layout
pass (dot register tiling), the lowering (vector chunk width, masked-access width) and the LLVM
driver (target machine) all read. Its `signature` is part of every cache key.

The vector width and FMA support are not looked up in a table of CPU names: a two-line probe
module is compiled for the target and its assembly says which registers LLVM uses for a 512-bit
vector. That also honours LLVM's per-CPU tuning (CPUs that prefer 256-bit vectors even with
AVX-512 get 256-bit chunks, which is what LLVM would split them into anyway).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import llvmlite.binding as llvm

_init_lock = threading.Lock()
_initialized = False


def ensure_llvm_initialized() -> None:
    global _initialized
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialized = True


@dataclass(frozen=True)
class CpuTarget:
    """A CPU as jitlang's stages see it. Build with `cpu_target(spec)`; tests may build one by hand."""

    cpu: str = "generic"  # LLVM CPU name (znver3, x86-64-v3, skylake-avx512, ...)
    features: str = ""  # LLVM feature string (+avx2,-avx512f,...)
    vector_bytes: int = 64  # widest vector register LLVM uses for this target
    vector_registers: int = 32
    fma: bool = True
    reserved_registers: int = 1  # dot micro-kernel: the broadcast of A
    forced: bool = False  # named by JITLANG_CPU rather than read from the host
    nontemporal: bool = False  # streaming stores and `sfence` exist (x86; see stream.py)

    @property
    def max_lanes(self) -> int:
        """Lanes of a vector chunk: one register of 32-bit elements."""
        return max(4, self.vector_bytes // 4)

    @property
    def signature(self) -> str:
        """Identifies the code this target gets (part of every cache key)."""
        return _signature(self.cpu, self.features)

    def target_machine(self, opt: int = 3):
        return machine(self.cpu, self.features, opt)


def machine(cpu: str, features: str, opt: int = 3):
    """A new LLVM target machine (an MCJIT engine owns and frees the one it is given)."""
    ensure_llvm_initialized()
    return llvm.Target.from_default_triple().create_target_machine(
        cpu=cpu, features=features, opt=opt, reloc="pic", codemodel="jitdefault"
    )


def host_cpu() -> tuple[str, str]:
    ensure_llvm_initialized()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def _signature(cpu: str, features: str) -> str:
    return f"{llvm.get_process_triple()}|{cpu}|{features}|llvm{llvm.llvm_version_info}"


def target_signature(spec: str | None) -> str:
    """`CpuTarget.signature` of `cpu_target(spec)` without probing LLVM (cheap: cache keys)."""
    return _signature(*(host_cpu() if spec is None else parse_spec(spec)))


def parse_spec(spec: str) -> tuple[str, str]:
    """`"x86-64-v3,+fma,-avx512f"` -> `("x86-64-v3", "+fma,-avx512f")`; raise ValueError if bad."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts or parts[0][0] in "+-":
        raise ValueError(
            f"JITLANG_CPU={spec!r} is not valid: use an LLVM CPU name, optionally followed by "
            "features, e.g. x86-64-v3 or znver3,-avx2"
        )
    bad = [p for p in parts[1:] if p[0] not in "+-" or len(p) < 2]
    if bad:
        raise ValueError(
            f"JITLANG_CPU={spec!r}: feature {bad[0]!r} must start with + or - (e.g. +avx2)"
        )
    return parts[0], ",".join(parts[1:])


_PROBE = r"""
define void @probe(ptr %p, ptr %q) {
  %a = load <16 x float>, ptr %p
  %b = load <16 x float>, ptr %q
  %c = call <16 x float> @llvm.fma.v16f32(<16 x float> %a, <16 x float> %b, <16 x float> %a)
  store <16 x float> %c, ptr %p
  ret void
}
declare <16 x float> @llvm.fma.v16f32(<16 x float>, <16 x float>, <16 x float>)
"""


def _probe(cpu: str, features: str) -> tuple[int, bool]:
    """(vector bytes, has FMA) of the code LLVM emits for `cpu` with `features`."""
    tm = machine(cpu, features, 2)
    mod = llvm.parse_assembly(_PROBE)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    text = tm.emit_assembly(mod)
    width = 64 if "zmm" in text else 32 if "ymm" in text else 16
    fma = "vfmadd" in text or "vfnmadd" in text or "fmla" in text or "xvmadd" in text
    return width, fma


@functools.lru_cache(maxsize=8)
def cpu_target(spec: str | None = None) -> CpuTarget:
    """The target for `spec` (a JITLANG_CPU value), or the host's when `spec` is None."""
    if spec is None:
        (cpu, features), forced = host_cpu(), False
    else:
        (cpu, features), forced = parse_spec(spec), True
    width, fma = _probe(cpu, features)
    if forced:
        host_width, _ = _probe(*host_cpu())
        if width > host_width:
            raise ValueError(
                f"JITLANG_CPU={spec!r} needs {width * 8}-bit vectors but this host has "
                f"{host_width * 8}-bit ones ({llvm.get_host_cpu_name()}): its code could not run "
                "here. Name a CPU this host can run, such as x86-64-v3 or x86-64-v2."
            )
    return CpuTarget(
        cpu=cpu,
        features=features,
        vector_bytes=width,
        vector_registers=32 if width == 64 else 16,
        fma=fma,
        reserved_registers=1 if fma else 2,  # without FMA a product needs a scratch register
        forced=forced,
        nontemporal=llvm.get_process_triple().startswith(("x86_64", "i386", "i686")),
    )
