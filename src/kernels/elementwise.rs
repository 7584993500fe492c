//! Element-wise ops: ReLU, residual add, option-A shortcut, L2 normalize, per-class scales (LWS), copy and fill.
