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
        "tqdm>=4.66,<5",
        "threadpoolctl>=3.1,<4",  # the emulator runs BLAS on one thread
    ],
    extras_require={
        # the notebooks in tutorials/ run in the tests: nbclient drives an ipykernel
        "test": [
            "pytest>=7,<10",
            "ruff>=0.5",
            "nbclient>=0.10,<0.12",
            "nbformat>=5.9,<6",
            "ipykernel>=6.29,<8",
        ],
        # opening the tutorials: `jupyter lab tutorials/`
        "tutorials": [
            "jupyterlab>=4,<5",
            "ipykernel>=6.29,<8",
            "ipywidgets>=8,<9",
            "matplotlib>=3.7,<4",
        ],
    },
)
