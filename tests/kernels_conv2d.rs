//! Tests: kernels conv2d.
