// optim kernels: see src/kernels/optim.rs
