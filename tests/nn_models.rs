//! Tests: nn models.
