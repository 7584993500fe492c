//! Tests: kernels gemm.
