//! `buurt-node`: the buurt daemon as a library.
//!
//! Every listing enters through [`ingest::Ingest`]; the sled [`store`] is the
//! source of truth and the [`search`] index is derived from it. The policy
//! stage is [`moderation`]. [`net`] federates (gossip, and [`sync`] for
//! catch-up) and is the one publisher; [`api`] serves residents and the CLI
//! over HTTP on loopback; [`run`] ties them together. ARCHITECTURE.md at the
//! repository's root is the map.

pub mod api;
pub mod board;
pub mod clock;
pub mod config;
pub mod datadir;
pub mod durable;
pub mod ids;
pub mod impact;
pub mod ingest;
pub mod mail;
pub mod metrics;
pub mod moderation;
pub mod net;
pub mod outcome;
pub mod photos;
pub mod recover;
pub mod run;
pub mod search;
pub mod space;
pub mod store;
pub mod sync;
pub mod thanks;
pub mod watch;
