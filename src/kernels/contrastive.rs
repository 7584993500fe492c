//! MoCo contrastive loss with a labelled key queue (same-class negatives masked) and the on-device queue update.
