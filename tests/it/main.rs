//! The one integration-test binary (so the crate and polars link once). Each module is a
//! user-facing area; shared helpers live in `common`.

mod amounts;
mod architecture;
mod benchmarks_maps;
mod bi_tables;
mod common;
mod delta;
mod exceptions;
mod fuzz;
mod hardening;
mod ingest;
mod linking;
mod ops;
mod quarantine;
mod real_data;
mod report;
mod sample_run;
mod scenario;
mod service;
mod validate_cli;
