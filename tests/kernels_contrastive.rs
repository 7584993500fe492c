//! Tests: kernels contrastive.
