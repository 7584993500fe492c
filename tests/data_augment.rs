//! Tests: data augment.
