// conv2d kernels: see src/kernels/conv2d.rs
