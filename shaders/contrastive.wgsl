// contrastive kernels: see src/kernels/contrastive.rs
