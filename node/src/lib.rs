//! `buurt-node`: the buurt daemon as a library.

pub mod search;
pub mod store;
