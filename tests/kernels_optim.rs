//! Tests: kernels optim.
