//! The layout of the sled tree: key prefixes, index keys, the times and id
//! prefixes in them, and the fields read straight from stored bytes.

use buurt_protocol::{ListingId, MemberId, SignedListing};

pub const FORMAT_KEY: &[u8] = b"Mformat";
pub const LISTING: u8 = b'L';
/// Prefix of the content-id keys of store format 1, removed on upgrade.
pub const FORMAT_1_CONTENT: u8 = b'C';
pub const AUTHOR: u8 = b'A';
pub const SCOPE: u8 = b'S';
pub const EXPIRY: u8 = b'E';
/// Creation time, newest first: `T`, the time inverted so that a forward
/// scan meets the newest first, then the id.
pub const TIME: u8 = b'T';
/// The journal: which address each write changed, in order (`J` seq id),
/// so that the search index catches up on the tail after a crash.
pub const JOURNAL: u8 = b'J';
/// The journal's sequence when it was last pruned to nothing.
pub const JOURNAL_HEAD_KEY: &[u8] = b"Mjournal";
/// What this store saw of an address with more than one revision.
pub const HISTORY: u8 = b'H';

/// Length of a listing id in bytes, the tail of every index key.
pub const ID_LEN: usize = 16;

/// Most listings removed per round of a sweep, so that a large sweep does not
/// hold the write lock for long.
pub const SWEEP_CHUNK: usize = 1_024;

/// Offsets in a stored listing's bytes (protocol.md, the listing body):
/// author after the version byte, `created_at` after the key and revision,
/// then `expires_at`, kind, exchange and status.
pub const AUTHOR_AT: usize = 1;
pub const CREATED_AT: usize = 57;
pub const EXPIRES_AT: usize = 65;
pub const STATUS_AT: usize = 75;

/// Where the revision number of stored listing bytes starts.
pub const REVISION_AT: usize = 49;

/// The revision number of stored listing bytes, without decoding them.
pub fn revision_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(
        bytes.get(REVISION_AT..REVISION_AT + 8)?.try_into().ok()?,
    ))
}

/// The scope of stored listing bytes, without decoding them.
pub fn scope_of(bytes: &[u8]) -> Option<&str> {
    SignedListing::scope_text_of(bytes)
}

/// Author, creation time and tombstone flag of stored listing bytes,
/// without decoding them.
pub fn head_of(bytes: &[u8]) -> Option<crate::store::RevisionHead> {
    let author: [u8; 32] = bytes.get(AUTHOR_AT..AUTHOR_AT + 32)?.try_into().ok()?;
    let created: [u8; 8] = bytes.get(CREATED_AT..CREATED_AT + 8)?.try_into().ok()?;
    Some(crate::store::RevisionHead {
        author: MemberId(author),
        created_at: i64::from_be_bytes(created),
        withdrawn: *bytes.get(STATUS_AT)? == buurt_protocol::Status::Withdrawn.code(),
    })
}

/// The author, scope, expiry and creation-time index keys of `l`.
pub fn index_keys(l: &SignedListing) -> [Vec<u8>; 4] {
    let id = l.listing_id();
    let mut author = vec![AUTHOR];
    author.extend_from_slice(l.listing.author.as_bytes());
    author.extend_from_slice(&id.0);

    let scope_text = l.listing.scope.as_str().as_bytes();
    let mut scope = Vec::with_capacity(scope_text.len() + 3 + ID_LEN);
    scope.push(SCOPE);
    scope.extend_from_slice(scope_text);
    scope.extend_from_slice(b"/\0");
    scope.extend_from_slice(&id.0);

    let mut expiry = vec![EXPIRY];
    expiry.extend_from_slice(&encode_time(l.listing.expires_at));
    expiry.extend_from_slice(&id.0);
    [author, scope, expiry, time_key(l.listing.created_at, &id)]
}

/// The creation-time key of a listing created at `created_at`.
pub fn time_key(created_at: i64, id: &ListingId) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + 8 + ID_LEN);
    k.push(TIME);
    k.extend_from_slice(&newest_first(created_at));
    k.extend_from_slice(&id.0);
    k
}

/// A time as 8 bytes that sort newest first: [`encode_time`] inverted.
pub fn newest_first(t: i64) -> [u8; 8] {
    (!u64::from_be_bytes(encode_time(t))).to_be_bytes()
}

/// The time of [`newest_first`]'s bytes.
pub fn decode_newest_first(b: [u8; 8]) -> i64 {
    decode_time((!u64::from_be_bytes(b)).to_be_bytes())
}

pub fn listing_key(id: &ListingId) -> Vec<u8> {
    let mut k = vec![LISTING];
    k.extend_from_slice(&id.0);
    k
}

/// A signed time as 8 bytes that sort like the number: big-endian with the
/// sign bit flipped, so that negative times sort before positive ones.
pub fn encode_time(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn decode_time(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// The key range `[low, high)` of listing records whose id's hexadecimal
/// form starts with `prefix`, or `None` if no id can (not lowercase
/// hexadecimal, or too long). An odd last digit fixes the high half of the
/// next byte only.
pub fn hex_prefix_range(prefix: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    if prefix.len() > ID_LEN * 2 {
        return None;
    }
    let mut low = vec![LISTING];
    let mut high_incl = vec![LISTING];
    let digits: Option<Vec<u8>> = prefix
        .bytes()
        .map(|c| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        })
        .collect();
    let digits = digits?;
    for pair in digits.chunks(2) {
        match *pair {
            [hi, lo] => {
                low.push(hi << 4 | lo);
                high_incl.push(hi << 4 | lo);
            }
            [hi] => {
                low.push(hi << 4);
                high_incl.push(hi << 4 | 0x0f);
            }
            _ => return None,
        }
    }
    Some((low, successor(high_incl)?))
}

/// The smallest key greater than every key starting with `prefix`.
pub fn successor(mut prefix: Vec<u8>) -> Option<Vec<u8>> {
    while let Some(last) = prefix.pop() {
        if last < 0xff {
            prefix.push(last + 1);
            return Some(prefix);
        }
    }
    None
}

/// The key of an address's history.
pub fn history_key(id: &ListingId) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + ID_LEN);
    k.push(HISTORY);
    k.extend_from_slice(&id.0);
    k
}

/// A history as 12 bytes: first `created_at`, then the revision count, both
/// big-endian.
pub fn encode_history(h: crate::store::History) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&h.first_created_at.to_be_bytes());
    b[8..].copy_from_slice(&h.revisions.to_be_bytes());
    b
}

/// The history in a value, or `None` for one of another length.
pub fn decode_history(b: &[u8]) -> Option<crate::store::History> {
    let first: [u8; 8] = b.get(..8)?.try_into().ok()?;
    let n: [u8; 4] = b.get(8..12)?.try_into().ok()?;
    (b.len() == 12).then(|| crate::store::History {
        first_created_at: i64::from_be_bytes(first),
        revisions: u32::from_be_bytes(n),
    })
}

/// The journal key of write `seq`.
pub fn journal_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = JOURNAL;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The sequence of a journal key.
pub fn journal_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(1..9)?.try_into().ok()?))
}
