//! Tests: data sources.
