// elementwise kernels: see src/kernels/elementwise.rs
