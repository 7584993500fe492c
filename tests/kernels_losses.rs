//! Tests: kernels losses.
