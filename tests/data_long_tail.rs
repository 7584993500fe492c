//! Tests: data long tail.
