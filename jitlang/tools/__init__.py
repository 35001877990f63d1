"""Host-side helpers of Triton's `triton.tools`: `tensor_descriptor.TensorDescriptor`."""
