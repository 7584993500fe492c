//! Tests: kernels elementwise.
