//! Parameter updates: SGD with momentum, weight decay and Nesterov; EMA (momentum encoder) update.
