//! Batch normalization over [N, C, H*W] with optional fused ReLU: training (batch statistics, running statistics update), eval, backward.
