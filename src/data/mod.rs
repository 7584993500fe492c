//! Image sources. For now the built-in synthetic generator.

pub mod synthetic;
