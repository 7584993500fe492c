//! Layers, models, optimizers and schedules built on `crate::kernels`.
