"""`CompilationError.plain_cause()`: the bare message as the exception Triton's frontend would
have raised (Triton chains it as `__cause__`, where its own tests read the message), never raised
itself, so it carries no traceback and no compiler frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError, KernelTypeError, ShapeError


@jl.jit
def bad_pid(dst):
    tl.program_id(20)


@jl.jit
def bad_axis(dummy, N: tl.constexpr):
    t = tl.expand_dims(tl.arange(0, N), -3)  # noqa: F841


@jl.jit
def bad_dup(dummy, N: tl.constexpr):
    t = tl.expand_dims(tl.arange(0, N), (0, -3))  # noqa: F841


@jl.jit
def bad_desc(ptr):
    desc = tl.make_tensor_descriptor(ptr, [128, 128], [128, 1], [1, 2])
    desc.load([0, 0])


@pytest.mark.parametrize(
    "kernel,args,cls,cause_cls,text",
    [
        # Triton's test_invalid_pid_axis, test_expand_dims_error_cases, test_tma_*_block_shape_err
        (bad_pid, (torch.empty(128),), KernelTypeError, TypeError, "program_id axis must be 0, "
         "1, or 2 but got 20"),
        (bad_axis, (torch.empty(()), 32), ShapeError, ValueError, "invalid axis -3"),
        (bad_dup, (torch.empty(()), 32), ShapeError, ValueError, "duplicate axes, normalized "
         "axes = [0, 0]"),
        (bad_desc, (np.zeros((128, 128), np.int32),), ShapeError, ValueError, "Descriptor block "
         "shape must have at least 16 bytes"),
    ],
)  # fmt: skip
def test_plain_cause_is_the_bare_message(kernel, args, cls, cause_cls, text):
    with pytest.raises(CompilationError) as info:
        kernel[(1,)](*args)
    e = info.value
    assert isinstance(e, cls)
    cause = e.plain_cause()
    assert type(cause) is cause_cls
    assert str(cause) == e.message and text in str(cause)
    assert cause.__traceback__ is None and cause.__cause__ is None
    assert "^" not in str(cause) and ":" + str(e.loc.line) not in str(cause)
    assert text in str(e) and f"{e.loc}" in str(e)  # our own text keeps file:line:col
