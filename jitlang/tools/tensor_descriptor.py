"""`TensorDescriptor`: a host-side description of a strided tensor, passed to a kernel whose
code reads and writes `block_shape` blocks of it with `desc.load(offsets)` / `desc.store(...)`
(Triton's `triton.tools.tensor_descriptor`). Loads outside the tensor read zeros; stores outside
it are dropped.

The launcher passes a descriptor as its base array's address, its shape and its strides (in
elements); the kernel sees the same object `tl.make_tensor_descriptor` builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TensorDescriptor:
    base: Any  # a numpy array or a torch CPU tensor (the tensor's first element)
    shape: list[int]
    strides: list[int]  # in elements
    block_shape: list[int]
    padding: str = "zero"

    def __post_init__(self) -> None:
        self.shape = [int(s) for s in self.shape]
        self.strides = [int(s) for s in self.strides]
        self.block_shape = [int(s) for s in self.block_shape]
        n = len(self.shape)
        if len(self.strides) != n or len(self.block_shape) != n:
            raise ValueError(
                f"TensorDescriptor: shape {self.shape}, strides {self.strides} and block_shape "
                f"{self.block_shape} must have the same length"
            )
        for d in self.block_shape:
            if d <= 0 or d & (d - 1):
                raise ValueError(
                    f"TensorDescriptor: block_shape entries must be powers of two, got {d}"
                )
        if self.padding != "zero":
            raise ValueError(f"TensorDescriptor: padding must be 'zero', got {self.padding!r}")

    @staticmethod
    def from_tensor(tensor, block_shape, padding: str = "zero") -> TensorDescriptor:
        """The descriptor of a whole numpy array or torch tensor."""
        if hasattr(tensor, "stride") and callable(tensor.stride):  # torch
            strides = list(tensor.stride())
        else:
            strides = [s // tensor.itemsize for s in tensor.strides]
        return TensorDescriptor(tensor, list(tensor.shape), strides, list(block_shape), padding)
