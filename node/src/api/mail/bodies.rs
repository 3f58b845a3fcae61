//! The bodies of the mail routes: what a member sends and what the node
//! answers. Hex stands for bytes that are signed or sealed on the
//! resident's device; the node passes them on as they are.

use buurt_protocol::mail::Envelope;
use buurt_protocol::{ListingId, NodeId};
use serde::{Deserialize, Serialize};

use crate::api::{parse, ApiError, ApiResult};
use crate::mail::{MailboxEntry, OutboxEntry};

/// A signed record or request, hex-encoded.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signed {
    pub signed: String,
}

/// A member's reply key as the API answers it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyKeyAnswer {
    pub member_id: String,
    /// The member-signed record, hex.
    pub record: String,
    pub not_after: i64,
}

/// An envelope sealed by the resident, for the node to sign and send.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sealed {
    pub to_node: String,
    pub to_member: String,
    pub listing: String,
    pub hour: i64,
    /// Hex.
    pub encapped: String,
    /// Hex.
    pub ciphertext: String,
}

impl Sealed {
    pub fn from_envelope(e: &Envelope) -> Sealed {
        Sealed {
            to_node: e.to_node.to_string(),
            to_member: e.to_member.to_string(),
            listing: e.listing.to_string(),
            hour: e.hour,
            encapped: hex::encode(e.encapped),
            ciphertext: hex::encode(&e.ciphertext),
        }
    }

    pub(super) fn to_envelope(&self) -> ApiResult<Envelope> {
        let encapped = hex::decode(&self.encapped)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| ApiError::bad("bad_envelope", "`encapped` must be 32 bytes in hex"))?;
        Ok(Envelope {
            to_node: parse("bad_envelope", &self.to_node)?,
            to_member: parse("bad_envelope", &self.to_member)?,
            listing: parse::<ListingId>("bad_envelope", &self.listing)?,
            hour: self.hour,
            encapped,
            ciphertext: hex::decode(&self.ciphertext)
                .map_err(|_| ApiError::bad("bad_envelope", "`ciphertext` must be hex"))?,
            from_node: NodeId([0; 32]),
        })
    }
}

/// What a member sends: their signed send request and the sealed envelopes
/// it names (the letter, and the member's own copy).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SendBody {
    /// A signed mailbox request with op `send`, hex.
    pub request: String,
    pub envelopes: Vec<Sealed>,
    /// How long to wait for the first envelope's acknowledgement, in ms
    /// (default 3000, at most [`super::MAX_WAIT_MS`]).
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// One letter in the outbox, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentView {
    pub id: String,
    pub to_node: String,
    pub to_member: String,
    pub listing: String,
    /// `queued`, `delivered` or `failed`.
    pub state: String,
    /// The state in words: `queued`, `delivered to home node bn…`,
    /// `failed: <why>`.
    pub detail: String,
    pub attempts: u32,
}

impl From<&OutboxEntry> for SentView {
    fn from(e: &OutboxEntry) -> SentView {
        use crate::mail::Delivery;
        let (state, attempts) = match &e.delivery {
            Delivery::Queued { attempts, .. } => ("queued", *attempts),
            Delivery::Delivered { .. } => ("delivered", 0),
            Delivery::Failed { .. } => ("failed", 0),
        };
        SentView {
            id: e.id.clone(),
            to_node: e.to_node.clone(),
            to_member: e.to_member.clone(),
            listing: e.listing.clone(),
            state: state.into(),
            detail: e.state_text(),
            attempts,
        }
    }
}

/// The answer to a send.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SendAnswer {
    pub sent: Vec<SentView>,
}

/// The answer to a fetch: letters after the cursor, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FetchAnswer {
    pub letters: Vec<MailboxEntry>,
    /// The sequence number to fetch after next time.
    pub last: u64,
    /// Whether more letters wait after `last`.
    pub more: bool,
}

/// The answer to a delete.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeleteAnswer {
    pub deleted: usize,
}

/// What `POST /v1/mailbox` answers: a fetch's letters or a delete's count.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MailboxAnswer {
    Fetch(FetchAnswer),
    Delete(DeleteAnswer),
}
