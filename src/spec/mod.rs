//! Pipeline YAML: the serde model of what users write (`deny_unknown_fields` everywhere), the
//! defaults merged into each stage, and diagnostics that point at file:line:column.
//!
//! - [`pipeline`]: the top level (`pipeline`, `seed`, `device`, `dataset`, `defaults`, `stages`),
//!   parsing with located errors and suggestions, and the merge of `defaults` into stages.
//! - [`dataset`]: the `dataset:` section and how it loads into train/test [`crate::data::Dataset`]s.
//! - [`stages`]: the parameters of each stage kind (`train`, `calibrate`, `soft_labels`,
//!   `evaluate`, `export`).
//! - [`yaml`], [`de`], [`diagnostic`]: the located YAML tree, the path-tracking deserializer
//!   and the pieces of a diagnostic (key paths, positions, suggestions).

pub mod dataset;
pub mod de;
pub mod diagnostic;
pub mod pipeline;
pub mod stages;
pub mod yaml;
