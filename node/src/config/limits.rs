//! The limits a node puts on mailboxes and on what authors, nodes and
//! peers may send: the `[mail]` and `[rate_limits]` tables of
//! `config.toml`.

use serde::{Deserialize, Serialize};

/// What the mailboxes of a node's members hold at most, and how much mail
/// one sending node may deliver. The defaults keep a year of a busy
/// resident's replies and refuse a flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailLimits {
    /// Most letters in one member's mailbox; more are refused ("mailbox
    /// full") until the member deletes some.
    pub max_messages: u64,
    /// Most bytes of sealed letters in one member's mailbox.
    pub max_bytes: u64,
    /// Letters one sending node may deliver per minute, to all mailboxes.
    pub node_per_minute: u32,
    /// Days a letter is kept after the listing it answers expires (or after
    /// it arrived, for a listing this node does not hold).
    pub keep_days: u32,
}

impl Default for MailLimits {
    fn default() -> Self {
        MailLimits {
            max_messages: 10_000,
            max_bytes: 64 * 1024 * 1024,
            node_per_minute: 600,
            keep_days: 30,
        }
    }
}

/// How much one author and one peer may send. The defaults are far above
/// what a resident posts and far below a flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Listings and revisions one author may have created (by their
    /// `created_at`) within one clock hour. Withdrawals do not count.
    pub author_per_hour: u32,
    /// The same within one day (UTC).
    pub author_per_day: u32,
    /// Listings and revisions that the members of one issuing node together
    /// may have stored here per hour (by `created_at`, and by arrival).
    pub node_per_hour: u32,
    /// New members of one issuing node this node takes listings from per
    /// day (UTC): a node that certifies a crowd of new members at once is
    /// held back.
    pub node_new_members_per_day: u32,
    /// Gossip messages one peer may send per second; more are skipped unread
    /// (not held against the peer) and fetched by a catch-up sync once the
    /// peer has been quiet for a second.
    pub peer_per_second: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            author_per_hour: 30,
            author_per_day: 100,
            node_per_hour: 1_000,
            node_new_members_per_day: 100,
            peer_per_second: 200,
        }
    }
}
