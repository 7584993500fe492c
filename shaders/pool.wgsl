// pool kernels: see src/kernels/pool.rs
