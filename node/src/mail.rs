//! Replies on the node: the mailboxes of this node's members, the outbox of
//! what its members send, and their reply keys. Everything here is sealed:
//! the node stores, counts and forwards envelopes and never holds a key
//! that opens one (docs/protocol.md section 14).
//!
//! - [`boxes`]: the mailboxes — accepting an envelope for a member (policy,
//!   blocks, per-node rate, quotas, expiry), a member's signed fetch and
//!   delete, and the members' reply-key records;
//! - [`codec`]: `/buurt/mail/1` messages as libp2p reads and writes them;
//! - [`outbox`]: envelopes this node signed for its members, kept until the
//!   home node acknowledged them, with their delivery state.
//!
//! All of it lives in one sled database, `mail/` in the data directory,
//! flushed before anything is acknowledged.

pub mod boxes;
pub mod codec;
pub mod outbox;

use std::sync::Arc;

use buurt_protocol::keys::SigningKey;
use buurt_protocol::NodeId;

use crate::config::MailLimits;
use crate::moderation::Moderation;
use crate::store::Store;

pub use self::boxes::{Accepted, Letterbox, MailboxEntry, Refusal};
pub use self::outbox::{Delivery, OutboxEntry};

/// The mail database's page cache: letters are read once by their member
/// and rarely again, so a small cache serves (sled's default is 1 GB).
pub const MAIL_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// The member id that stands for "this node's operator" in a reply-key
/// request (all zero bytes: no member has it).
pub const OPERATOR: buurt_protocol::MemberId = buurt_protocol::MemberId([0; 32]);

/// Why the mail database failed.
#[derive(Debug, thiserror::Error)]
pub enum MailDbError {
    #[error("mail database: {0}")]
    Db(#[from] sled::Error),
    #[error("mail database: a damaged record under {0}")]
    Corrupt(&'static str),
}

/// The node's mail: mailboxes, outbox and reply keys.
pub struct Mail {
    pub(crate) db: crate::durable::SyncedDb,
    pub(crate) boxes: sled::Tree,
    pub(crate) ids: sled::Tree,
    pub(crate) sizes: sled::Tree,
    pub(crate) keys: sled::Tree,
    /// Reply keys of other nodes' members, heard by gossip or fetched.
    pub(crate) foreign: sled::Tree,
    pub(crate) nonces: sled::Tree,
    pub(crate) outbox: sled::Tree,
    pub(crate) sent: sled::Tree,
    pub(crate) node_id: NodeId,
    pub(crate) node_key: SigningKey,
    pub(crate) moderation: Arc<Moderation>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) limits: MailLimits,
    /// Serialises the writes that change a mailbox's count and size.
    pub(crate) write: std::sync::Mutex<()>,
    pub(crate) rates: std::sync::Mutex<std::collections::HashMap<NodeId, (i64, u32)>>,
    /// Wakes the outbox: new mail, or a new connection.
    pub wake: tokio::sync::Notify,
    /// Told whenever an outbox entry's state changes.
    pub(crate) settled: tokio::sync::Notify,
    /// This node's operator (their member id), to whom reports go.
    pub(crate) operator: std::sync::OnceLock<buurt_protocol::MemberId>,
    /// Where the first reaction to a member's listing is noted.
    pub(crate) impact: std::sync::OnceLock<Arc<crate::impact::Ledger>>,
}

impl Mail {
    fn with_db(
        db: crate::durable::SyncedDb,
        node_key: SigningKey,
        moderation: Arc<Moderation>,
        store: Arc<dyn Store>,
        limits: MailLimits,
    ) -> Result<Mail, MailDbError> {
        Ok(Mail {
            boxes: db.open_tree("boxes")?,
            ids: db.open_tree("ids")?,
            sizes: db.open_tree("sizes")?,
            keys: db.open_tree("keys")?,
            foreign: db.open_tree("foreign_keys")?,
            nonces: db.open_tree("nonces")?,
            outbox: db.open_tree("outbox")?,
            sent: db.open_tree("sent")?,
            db,
            node_id: NodeId::from(node_key.verifying_key()),
            node_key,
            moderation,
            store,
            limits,
            write: Default::default(),
            rates: Default::default(),
            wake: tokio::sync::Notify::new(),
            settled: tokio::sync::Notify::new(),
            operator: std::sync::OnceLock::new(),
            impact: std::sync::OnceLock::new(),
        })
    }

    /// Opens (or creates) the mail database at `path`.
    pub fn open(
        path: &std::path::Path,
        node_key: SigningKey,
        moderation: Arc<Moderation>,
        store: Arc<dyn Store>,
        limits: MailLimits,
    ) -> Result<Mail, MailDbError> {
        // sled may panic on data it cannot make sense of: a damaged mail
        // database must give a message, not a crash.
        let opened = std::panic::catch_unwind(|| {
            sled::Config::new()
                .path(path)
                .cache_capacity(MAIL_CACHE_BYTES)
                .open()
        });
        let db = match opened {
            Ok(db) => crate::durable::SyncedDb::at(db?, path)?,
            Err(_) => return Err(MailDbError::Corrupt("the database, while opening")),
        };
        Mail::with_db(db, node_key, moderation, store, limits)
    }

    /// A mail database in memory, for tests and throw-away nodes.
    pub fn in_memory(
        node_key: SigningKey,
        moderation: Arc<Moderation>,
        store: Arc<dyn Store>,
        limits: MailLimits,
    ) -> Result<Mail, MailDbError> {
        let db = crate::durable::SyncedDb::in_memory(sled::Config::new().temporary(true).open()?);
        Mail::with_db(db, node_key, moderation, store, limits)
    }

    /// Names this node's operator: a reply-key request for the member
    /// [`OPERATOR`](crate::mail::OPERATOR) answers with the operator's key.
    pub fn set_operator(&self, member: buurt_protocol::MemberId) {
        let _ = self.operator.set(member);
    }

    /// Notes in `ledger` when a member's listing gets its first reaction.
    pub fn set_impact(&self, ledger: Arc<crate::impact::Ledger>) {
        let _ = self.impact.set(ledger);
    }

    /// Notes in the impact ledger that `member` wrote a letter at `now`:
    /// a member who only replies is active too.
    pub fn note_writer(&self, member: &buurt_protocol::MemberId, now: i64) {
        if let Some(ledger) = self.impact.get() {
            if let Err(e) = ledger.wrote(member, buurt_protocol::calendar::day_of(now)) {
                tracing::warn!("{e}; the impact figures miss this letter (check that the data directory is writable and has free space)");
            }
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), MailDbError> {
        self.db.flush()?;
        Ok(())
    }
}
