// gemm kernels: see src/kernels/gemm.rs
