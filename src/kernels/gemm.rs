//! GEMM and linear layers: C = op(A) op(B), y = x W^T + b.
