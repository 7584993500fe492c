//! Tests: nn training.
