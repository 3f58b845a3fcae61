//! Size, count and time limits that every listing must respect.
//!
//! The defaults are the numbers of the design brief; nodes may configure them,
//! but the hard ceilings of the wire format (string lengths that fit the length
//! prefixes) do not move.

use serde::{Deserialize, Serialize};

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// Limits applied by [`crate::validate`]. `Default` gives the brief's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Maximum size of one encoded, signed listing in bytes.
    pub max_listing_bytes: usize,
    /// Maximum title length in Unicode scalar values (characters).
    pub max_title_chars: usize,
    /// Maximum body length in bytes of UTF-8.
    pub max_body_bytes: usize,
    /// Maximum number of tags.
    pub max_tags: usize,
    /// Maximum length of one tag in characters.
    pub max_tag_chars: usize,
    /// Maximum number of topics (at least one is always required).
    pub max_topics: usize,
    /// Maximum number of segments in a scope path.
    pub max_scope_levels: usize,
    /// Maximum lifetime of a listing: `expires_at - created_at`, in seconds.
    pub max_expiry_secs: i64,
    /// How far `created_at` may lie ahead of the receiver's clock, in seconds.
    pub max_clock_skew_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_listing_bytes: 8 * 1024,
            max_title_chars: 120,
            max_body_bytes: 4_000,
            max_tags: 10,
            max_tag_chars: 32,
            max_topics: 3,
            max_scope_levels: 6,
            max_expiry_secs: 90 * DAY,
            max_clock_skew_secs: 600,
        }
    }
}

/// Hard ceiling of the wire format: no listing may exceed this, whatever a node
/// configures (a 16-bit length prefix bounds every string anyway).
pub const MAX_LISTING_BYTES_CEILING: usize = 64 * 1024;
/// Longest scope segment, in bytes.
pub const MAX_SCOPE_SEGMENT: usize = 32;
/// Longest price unit ("day", "hour", "portie"), in characters.
pub const MAX_UNIT_CHARS: usize = 16;
/// Longest geohash accepted: 6 characters is a cell of about 1.2 km x 0.6 km.
pub const MAX_GEOHASH_CHARS: usize = 6;
