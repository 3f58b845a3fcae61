//! The JSON shape of a listing, shared by the API and the CLI. Field names are
//! a contract (design brief, "CLI contract"): add fields, never rename them.

use buurt_protocol::{SignedListing, Terms};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A listing as people and scripts see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

/// Unix seconds as RFC 3339 in UTC; out-of-range values print as the number.
pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

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
}
