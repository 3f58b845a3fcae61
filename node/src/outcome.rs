//! What the ingest pipeline says about a listing: where it came from
//! ([`Source`]), what became of it ([`Outcome`]), why it was refused
//! ([`Reason`]), and what it tells the rest of the node ([`Announcement`]).
//!
//! A leaf module shared by `ingest` and `moderation`, so that the policy
//! stage can name its reasons without depending on the pipeline.

use std::sync::Arc;

use buurt_protocol::{ContentId, Rejection, SignedListing};

/// Where a listing (or a revocation) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Made on this node: posted through its API by a resident, or a
    /// revocation its operator made.
    Local,
    /// Received from a peer by gossip.
    Gossip,
    /// Fetched from a peer by catch-up sync.
    Sync,
    /// Read back from a backup (`buurt restore`): listings this node held
    /// before, so not rate-limited, and not published again.
    Restore,
}

impl Source {
    /// Whether what came from here is this node's to publish. Gossip and
    /// sync deliveries are never published again: gossipsub forwards what
    /// the pipeline accepted, and sync is pulled by each peer.
    pub fn publishes(self) -> bool {
        self == Source::Local
    }

    /// The source's name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Gossip => "gossip",
            Source::Sync => "sync",
            Source::Restore => "restore",
        }
    }
}

/// Why the pipeline refused a listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The listing breaks a protocol rule.
    #[error("{0}")]
    Invalid(Rejection),
    /// Valid, but of a scope this node does not follow.
    #[error("this node does not follow scope {0}")]
    NotFollowed(String),
    /// The operator blocked its author, or the node that admitted its author.
    #[error("the operator of this node blocked its author or the author's node")]
    Blocked,
    /// The node that admitted its author revoked that membership.
    #[error("the membership of its author was revoked by the node that granted it")]
    Revoked,
    /// Under the `allowlist` policy, its author's certificate comes from a
    /// node this node does not trust.
    #[error("this node accepts members of trusted nodes only, and {0} is not one")]
    Untrusted(String),
    /// Under the `web` policy, its author's certificate comes from a node
    /// outside this node's web of vouches (ignored, not held against anyone).
    #[error("{0} is not in this node's web of vouching nodes")]
    Unvouched(String),
    /// The members of its author's node together, or that node's new
    /// members, are over the per-node limits.
    #[error("{0}")]
    NodeRateLimited(&'static str),
    /// Its author already has as many listings as allowed in that hour or day.
    #[error(
        "its author already posted {limit} listings or revisions in that {per}; try again later"
    )]
    RateLimited { per: &'static str, limit: u32 },
    /// A listing for a private circle, offered in clear: it travels only
    /// sealed to the circle's members.
    #[error("a listing for a private circle is never stored or passed on in clear")]
    Private,
    /// Posted on a resident's behalf by a member who is not a broker here.
    #[error("only a broker may post on a resident's behalf; the operator grants it with `buurt broker add`")]
    NotABroker,
}

impl Reason {
    /// A stable snake_case name for APIs, logs and counters.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Invalid(r) => r.code(),
            Reason::NotFollowed(_) => "not_followed",
            Reason::Blocked => "blocked",
            Reason::Untrusted(_) => "untrusted_node",
            Reason::Unvouched(_) => "unvouched_node",
            Reason::Revoked => "revoked",
            Reason::RateLimited { .. } => "rate_limited",
            Reason::NodeRateLimited(_) => "node_rate_limited",
            Reason::Private => "private",
            Reason::NotABroker => "not_a_broker",
        }
    }

    /// True when the sender provably sent bad data (a peer to score down),
    /// false when the listing is merely stale or not for us.
    pub fn is_invalid(&self) -> bool {
        match self {
            Reason::Invalid(r) => r.is_invalid(),
            Reason::Private => true,
            Reason::NotFollowed(_)
            | Reason::NotABroker
            | Reason::Blocked
            | Reason::Untrusted(_)
            | Reason::Unvouched(_)
            | Reason::Revoked
            | Reason::RateLimited { .. }
            | Reason::NodeRateLimited(_) => false,
        }
    }
}

/// What happened to one listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New or newer: stored, queued for the index and announced.
    Stored(Arc<SignedListing>),
    /// This exact revision is already stored.
    Duplicate(ContentId),
    /// A newer revision of the address is already stored.
    Superseded(ContentId),
    Rejected(Reason),
}

impl Outcome {
    /// A stable name: `stored`, `duplicate`, `superseded` or `rejected`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Stored(_) => "stored",
            Outcome::Duplicate(_) => "duplicate",
            Outcome::Superseded(_) => "superseded",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// What ingest tells the rest of the node after it took something in: sent
/// on its bounded announce channel, to the one publisher (`net`), which
/// publishes what came from [`Source::Local`] and nothing else.
#[derive(Debug, Clone)]
pub enum Announcement {
    /// A listing was stored; for a local one, after the store flushed it.
    Listing {
        listing: Arc<SignedListing>,
        source: Source,
    },
    /// A new revocation was taken in; its signed bytes.
    Revocation { bytes: Arc<[u8]>, source: Source },
    /// A new vouch statement was taken in; its signed bytes.
    Vouch { bytes: Arc<[u8]>, source: Source },
    /// A thanks or a pledge was taken in (or released); its signed bytes.
    Thanks { bytes: Arc<[u8]>, source: Source },
}

impl Announcement {
    pub fn source(&self) -> Source {
        match self {
            Announcement::Listing { source, .. }
            | Announcement::Revocation { source, .. }
            | Announcement::Vouch { source, .. }
            | Announcement::Thanks { source, .. } => *source,
        }
    }
}
