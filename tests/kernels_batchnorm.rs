//! Tests: kernels batchnorm.
