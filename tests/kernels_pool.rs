//! Tests: kernels pool.
