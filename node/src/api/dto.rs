//! The API's request and response bodies, shared by the node (which writes
//! them) and the CLI (which reads them): one type per JSON shape. Field names
//! are a contract (design brief, "CLI contract"; docs/operator.md lists the
//! routes): add fields, never rename them.

use buurt_protocol::calendar;
use buurt_protocol::{MemberId, SignedListing, Terms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::rfc3339;

pub use crate::ingest::Stats as IngestStats;
pub use crate::moderation::{Block, Member, Trusted};
pub use crate::net::PeerInfo;
pub use crate::sync::ScopeSync;

/// A listing as people and scripts see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListingView {
    pub id: String,
    pub revision_id: String,
    pub author: String,
    pub home_node: String,
    pub kind: String,
    pub exchange: String,
    pub topics: Vec<String>,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub terms: Terms,
    pub scope: String,
    pub geohash: Option<String>,
    pub status: String,
    pub created_at: String,
    pub revision: u64,
    pub expires_at: String,
    /// Search relevance; only in search results.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score: Option<f32>,
    /// The full signed encoding in hex; only when one listing is asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signed_bytes: Option<String>,
    /// When the first revision this node saw was created (RFC 3339); only
    /// when one listing is asked for. `created_at` is the current
    /// revision's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_created_at: Option<String>,
    /// How many revisions of it this node has seen, the current one
    /// included; only when one listing is asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub revisions: Option<u32>,
    /// How many neighbours thanked the author, as counted on this node
    /// (distinct thankers of accepted nodes; see docs/protocol.md 16).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub thanked_by: Option<usize>,
    /// When it can be had; absent means whenever it is open.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub availability: Vec<WindowView>,
    /// A standing offer's rhythm and its next dates.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub every: Option<EveryView>,
    /// Posted by a broker (the author) for a resident.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub behalf: Option<BehalfView>,
    /// The photo's hash, size and type; `GET /v1/photos/{sha256}` has it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub photo: Option<buurt_protocol::Photo>,
}

/// An availability window, as people write it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WindowView {
    /// `YYYY-MM-DD`, inclusive.
    pub from: String,
    pub to: String,
    /// `ma-vr`, `za,zo`; absent for every day.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub days: Option<String>,
    /// `18:00-22:00`; absent for the whole day.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hours: Option<String>,
}

impl WindowView {
    pub fn new(w: &buurt_protocol::Window) -> WindowView {
        let days = calendar::format_weekdays(w.weekdays);
        let whole = w.start_minute == 0 && w.end_minute == buurt_protocol::listing::MINUTES_PER_DAY;
        WindowView {
            from: calendar::format(w.from),
            to: calendar::format(w.to),
            days: (!days.is_empty()).then_some(days),
            hours: (!whole).then(|| {
                format!(
                    "{}-{}",
                    calendar::format_minutes(w.start_minute),
                    calendar::format_minutes(w.end_minute)
                )
            }),
        }
    }
}

/// A standing offer, with the dates it comes next.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EveryView {
    /// `week`, `fortnight` or `month`.
    pub period: buurt_protocol::Period,
    pub first: String,
    pub paused: bool,
    /// The next three dates from today (none while paused).
    pub next: Vec<String>,
}

/// Who a broker posted for, and the consent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BehalfView {
    pub resident: String,
    pub consent_on: String,
    pub statement: String,
}

/// How many next dates of a standing offer a view shows.
const NEXT_DATES: usize = 3;

impl ListingView {
    pub fn new(s: &SignedListing) -> ListingView {
        let l = &s.listing;
        ListingView {
            id: s.listing_id().to_string(),
            revision_id: s.content_id().to_string(),
            author: l.author.to_string(),
            home_node: l.certificate.node.to_string(),
            kind: l.kind.to_string(),
            exchange: l.exchange.to_string(),
            topics: l.topics.clone(),
            title: l.title.clone(),
            body: l.body.clone(),
            tags: l.tags.clone(),
            terms: l.terms.clone(),
            scope: l.scope.to_string(),
            geohash: l.geohash.clone(),
            status: l.status.to_string(),
            created_at: rfc3339(l.created_at),
            revision: l.revision,
            expires_at: rfc3339(l.expires_at),
            score: None,
            signed_bytes: None,
            first_created_at: None,
            revisions: None,
            thanked_by: None,
            availability: l.extras.availability.iter().map(WindowView::new).collect(),
            every: l.extras.every.map(|r| EveryView {
                period: r.period,
                first: calendar::format(r.first),
                paused: r.paused,
                next: if r.paused {
                    vec![]
                } else {
                    r.next(calendar::day_of(crate::clock::now()), NEXT_DATES)
                        .into_iter()
                        .map(calendar::format)
                        .collect()
                },
            }),
            behalf: l.extras.behalf.as_ref().map(|b| BehalfView {
                resident: b.resident.clone(),
                consent_on: calendar::format(b.consent_on),
                statement: b.statement.clone(),
            }),
            photo: l.extras.photo,
        }
    }

    pub fn with_score(mut self, score: f32) -> Self {
        self.score = Some(score);
        self
    }

    pub fn with_bytes(mut self, s: &SignedListing) -> Self {
        self.signed_bytes = Some(hex::encode(s.bytes()));
        self
    }

    /// With how many members thanked the listing's `author`.
    pub fn with_thanks(mut self, book: &crate::thanks::Book, author: &MemberId) -> Self {
        self.thanked_by = Some(book.thanked_by(author));
        self
    }

    pub fn with_history(mut self, h: crate::store::History) -> Self {
        self.first_created_at = Some(rfc3339(h.first_created_at));
        self.revisions = Some(h.revisions);
        self
    }
}

/// Every error answer: a message for people and a stable code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub reason: String,
}

/// Body of `POST /v1/listings`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostBody {
    /// The signed listing, hex-encoded.
    pub signed: String,
}

/// Answer of `POST /v1/listings`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PostAnswer {
    pub outcome: String,
    pub id: String,
    pub revision_id: String,
    /// Connected peers that follow the listing's scope and were sent it; 0
    /// means stored on this node only, for now (sync delivers it later).
    #[serde(default)]
    pub peers: usize,
}

/// Answer of `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub node_id: String,
    /// How other nodes reach this one: `reach.reachability` is `public`,
    /// `relayed`, `unreachable` or `unknown`.
    #[serde(default)]
    pub reach: crate::net::reach::ReachInfo,
    pub member_id: String,
    pub name: String,
    pub scope: String,
    pub follows: Vec<String>,
    pub listen_addrs: Vec<String>,
    pub api: String,
    pub peers: usize,
    pub listings: usize,
    /// Stored listings per scope: every subscribed scope (own, ancestors,
    /// followed), then any other scope that has listings.
    pub scopes: Vec<ScopeCount>,
    /// The last catch-up sync per scope.
    pub sync: Vec<ScopeSync>,
    /// Peers with a catch-up sync session running now.
    #[serde(default)]
    pub syncing: usize,
    /// Members and nodes blocked by the operator.
    pub blocks: usize,
    /// Federation policy: `open` or `allowlist`.
    pub policy: String,
    /// Nodes trusted under `allowlist`.
    pub trusted: usize,
    /// Residents this node admitted.
    pub members: usize,
    /// Revoked memberships known here (made here or received).
    pub revocations: usize,
    pub started_at: String,
    pub version: String,
    pub ingest: IngestStats,
    /// Free bytes on the disk of the data directory, where known.
    #[serde(default)]
    pub disk_free_bytes: Option<u64>,
    /// `ok`, `low` (under twice the reserve: the operator is warned) or
    /// `full` (under the reserve: new listings are refused).
    #[serde(default = "disk_ok")]
    pub disk: crate::space::Level,
    /// While listings a repair found lost are still coming back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<crate::recover::repair::Progress>,
    /// Mail kept here: letters in members' mailboxes, and letters this
    /// node's members sent that are still queued.
    #[serde(default)]
    pub mail: MailStatus,
    /// The nodes known to vouch for this node.
    #[serde(default)]
    pub vouched_by: Vec<String>,
    /// Nodes in this node's web of vouches (itself included).
    #[serde(default)]
    pub web_nodes: usize,
}

/// The mail part of [`StatusView`]: counts and sizes only.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MailStatus {
    pub letters: u64,
    pub bytes: u64,
    pub queued: usize,
}

fn disk_ok() -> crate::space::Level {
    crate::space::Level::Ok
}

/// Listings stored for one scope, in [`StatusView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScopeCount {
    pub scope: String,
    pub listings: usize,
    /// Whether this node subscribes to the scope's gossip topic.
    pub subscribed: bool,
}

/// Body of `POST /v1/sync`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct SyncAsk {
    /// Node id of one connected peer; all connected peers without it.
    #[serde(default)]
    pub peer: Option<String>,
}

/// Answer of `POST /v1/sync`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncAnswer {
    /// Sessions started.
    pub sessions: usize,
}

/// Body of `POST /v1/admin/blocks`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockAsk {
    pub target: String,
    #[serde(default)]
    pub reason: String,
}

/// Answer of `POST /v1/admin/blocks`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockAnswer {
    pub target: String,
    /// `member` or `node`.
    pub kind: String,
    /// False when it was blocked already.
    pub new: bool,
    /// Listings removed from this node.
    pub removed: usize,
}

/// Answer of `DELETE /v1/admin/blocks/{target}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnblockAnswer {
    pub target: String,
    pub unblocked: bool,
}

/// Body of `POST /v1/admin/members`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdmitAsk {
    pub member_id: String,
    #[serde(default)]
    pub name: String,
    /// Defaults to the node's own scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// Seconds; defaults to a year.
    #[serde(default)]
    pub valid_secs: Option<i64>,
    /// Also make the member a broker.
    #[serde(default)]
    pub broker: bool,
}

/// Body of `POST /v1/admin/members/{member}/broker`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerAsk {
    pub broker: bool,
}

/// Answer of `POST /v1/admin/members/{member}/revoke`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokeAnswer {
    pub member_id: String,
    /// Listings removed from this node.
    pub removed: usize,
}

/// Body of `POST /v1/admin/trusted`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrustAsk {
    pub node_id: String,
    /// Said with the public vouch, e.g. who runs the node (at most 140 bytes).
    #[serde(default)]
    pub note: Option<String>,
}

/// Answer of `POST /v1/admin/trusted`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrustAnswer {
    pub node_id: String,
    /// False when it was trusted already.
    pub new: bool,
    pub policy: String,
}

/// Answer of `DELETE /v1/admin/trusted/{node}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UntrustAnswer {
    pub node_id: String,
    pub untrusted: bool,
    /// Listings removed because their node left the web.
    #[serde(default)]
    pub removed: usize,
}

/// Answer of `GET /v1/admin/trusted`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrustedList {
    pub policy: String,
    pub trusted: Vec<Trusted>,
}

/// Body of `POST /v1/admin/backup`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BackupAsk {
    /// A new or empty folder, as the node's process sees it.
    pub dir: String,
}

pub use crate::recover::backup::Manifest as BackupAnswer;

/// Answer of `POST /v1/admin/reindex`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReindexAnswer {
    pub indexed: usize,
}
