// batchnorm kernels: see src/kernels/batchnorm.rs
