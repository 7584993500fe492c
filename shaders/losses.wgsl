// losses kernels: see src/kernels/losses.rs
