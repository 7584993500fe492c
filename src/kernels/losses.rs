//! Classification losses: softmax cross-entropy (with optional logit adjustment) and KL distillation from dense or top-k soft targets.
