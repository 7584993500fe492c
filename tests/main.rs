//! Integration tests, one binary. Each module tests one area; `common` holds the shared devices
//! and numeric checks.

mod common;

mod gpu_textures;
mod kernels_batchnorm;
mod kernels_contrastive;
mod kernels_conv2d;
mod kernels_elementwise;
mod kernels_gemm;
mod kernels_gemm_candidates;
mod kernels_losses;
mod kernels_optim;
mod kernels_pool;
mod nn_models;
mod nn_training;
mod shaders_validate;
mod stages_train;
mod cli;
mod data_augment;
mod data_long_tail;
mod data_samplers;
mod data_sources;
mod stages_fixtures;
mod stages_calibrate;
mod stages_soft_labels;
mod stages_evaluate;
mod pipeline_files;
mod pipeline_spec;
mod data_spec;
mod data_stream;
mod pipeline_incremental;
mod pipeline_run;
mod stages_wgpu;
mod export_tables;
mod report_compare;
mod pipeline_end_to_end;
mod pipeline_gc;
