//! `buurt-node`: the buurt daemon as a library.
//!
//! Every listing enters through [`ingest::Ingest`]; the sled [`store`] is the
//! source of truth and the [`search`] index is derived from it. [`api`] serves
//! residents and the CLI over HTTP on loopback; [`run`] ties them together.

pub mod api;
pub mod blocks;
pub mod config;
pub mod datadir;
pub mod indexer;
pub mod ingest;
pub mod members;
pub mod net;
pub mod revocations;
pub mod run;
pub mod search;
pub mod store;
pub mod sync;
pub mod trust;
pub mod view;
