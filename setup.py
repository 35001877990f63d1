"""jitlang: a Triton-like JIT kernel language with an LLVM backend for the CPU and a tile accelerator."""

from setuptools import find_packages, setup

setup(
    name="jitlang",
    version="0.1.0",
    description="Triton-like JIT kernel language: tile IR, LLVM CPU backend, emulated tile accelerator",
    packages=find_packages(include=["jitlang*", "codegen*", "runtime*", "isa*"]),
    package_data={"isa": ["examples/*.s", "SPEC.md"]},
    python_requires=">=3.10",
    install_requires=[
        "llvmlite>=0.46,<0.52",
        "numpy>=1.24,<3",
        "numba>=0.61,<0.70",
        "ml_dtypes>=0.4,<0.7",
        "matplotlib>=3.7,<4",
    ],
    extras_require={
        "test": ["pytest>=7,<10", "ruff>=0.5"],
    },
)
