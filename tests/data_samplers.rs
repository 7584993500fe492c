//! Tests: data samplers.
