//! Catch-up sync messages (`/buurt/sync/1`), defined in `docs/protocol.md`
//! section 12.
//!
//! Two nodes reconcile, per scope, the set of the latest revisions they store
//! with range-based set reconciliation (negentropy, protocol v1), then the
//! side that lacks listings fetches them by sync id. One request gets one
//! response; a session is a series of them.
//!
//! A **sync item** is the latest stored revision of one address whose scope
//! is exactly the reconciled scope and that has not expired, tombstones
//! included. Its timestamp is the revision's `created_at` (0 if negative), and
//! its 32-byte **sync id** is the listing id (16 bytes) followed by the first
//! 16 bytes of the revision's content id: both halves are hashes, and the
//! address half lets the holder find the revision without a content index.

use crate::codec::{DecodeError, Reader};
use crate::id::{ContentId, ListingId};
use crate::listing::SignedListing;

/// Name of the request-response protocol.
pub const PROTOCOL: &str = "/buurt/sync/1";
/// Largest negentropy message either side writes (its frame size limit).
/// Scattered differences cost about 1 KB each in reconciliation (negentropy
/// lists the 32-byte ids of small ranges), so 10,000 of them take about 40
/// rounds at this size.
pub const FRAME_LIMIT: usize = 256 * 1024;
/// Most sync ids in one fetch request.
pub const MAX_FETCH_IDS: usize = 256;
/// Largest encoded request.
pub const MAX_REQUEST: usize = FRAME_LIMIT + 1024;
/// Largest encoded response; a listings page is filled up to this.
pub const MAX_RESPONSE: usize = 1024 * 1024;

const REQ_RECONCILE: u8 = 0x01;
const REQ_FETCH: u8 = 0x02;
const REQ_REVOCATIONS: u8 = 0x03;
const REQ_VOUCHES: u8 = 0x04;
const REQ_THANKS: u8 = 0x05;
const RES_RECONCILE: u8 = 0x81;
const RES_LISTINGS: u8 = 0x82;
const RES_REFUSED: u8 = 0x83;
const RES_REVOCATIONS: u8 = 0x84;
const RES_VOUCHES: u8 = 0x85;
const RES_THANKS: u8 = 0x86;
/// Most thanks and pledges in one answer (each at most 2,048 bytes).
pub const MAX_THANKS: usize = 400;
/// Most vouch statements in one answer.
pub const MAX_VOUCHES: usize = 4_096;
/// Most revocations in one answer.
pub const MAX_REVOCATIONS: usize = 4_096;

/// The sync id of a revision: listing id, then half the content id.
pub fn sync_id(listing: &ListingId, content: &ContentId) -> [u8; 32] {
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(&listing.0);
    id[16..].copy_from_slice(&content.0[..16]);
    id
}

/// The sync id of a signed listing.
pub fn sync_id_of(l: &SignedListing) -> [u8; 32] {
    sync_id(&l.listing_id(), &l.content_id())
}

/// The address half of a sync id.
pub fn address_of_sync_id(id: &[u8; 32]) -> ListingId {
    let mut a = [0u8; 16];
    a.copy_from_slice(&id[..16]);
    ListingId(a)
}

/// The timestamp of a sync item.
pub fn sync_timestamp(l: &SignedListing) -> u64 {
    l.listing.created_at.max(0) as u64
}

/// What a node asks a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// One negentropy round for the items of `scope`.
    Reconcile { scope: String, message: Vec<u8> },
    /// The listings with these sync ids (at most [`MAX_FETCH_IDS`]).
    Fetch { ids: Vec<[u8; 32]> },
    /// Every revocation the peer knows (section 13); they are few.
    Revocations,
    /// The vouch statements the peer holds (section 15), at most
    /// [`MAX_VOUCHES`].
    Vouches,
    /// A page of the thanks and pledges the peer keeps (section 16), in the
    /// order of their keys (agreement, thanker; thanks before pledges),
    /// after `after` (empty: from the start; else a 65-byte position).
    Thanks { after: Vec<u8> },
}

/// What a peer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The peer's negentropy message for this round.
    Reconcile { message: Vec<u8> },
    /// Signed listings, in no particular order: those of the fetched ids the
    /// peer still has (possibly a newer revision), up to [`MAX_RESPONSE`].
    Listings { listings: Vec<Vec<u8>> },
    /// Signed revocations, at most [`MAX_REVOCATIONS`], the newest first.
    Revocations { revocations: Vec<Vec<u8>> },
    /// Signed vouch statements, at most [`MAX_VOUCHES`].
    Vouches { vouches: Vec<Vec<u8>> },
    /// A page of signed thanks and pledges, at most [`MAX_THANKS`], and the
    /// position to ask from for the next page (empty: no more).
    Thanks {
        statements: Vec<Vec<u8>>,
        next: Vec<u8>,
    },
    /// The peer will not answer this request (a scope it does not follow, a
    /// malformed message, too busy), with a reason for the log.
    Refused { reason: String },
}

fn put_bytes32(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn get_bytes32<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
    max: usize,
) -> Result<&'a [u8], DecodeError> {
    let n = u32::from_be_bytes(r.array(what)?) as usize;
    if n > max {
        return Err(DecodeError::NonCanonical);
    }
    r.take(n, what)
}

/// The length of a position in the thanks: which tree (1), agreement (32),
/// thanker (32).
pub const THANKS_POSITION: usize = 65;

fn put_str8_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b.len().min(255) as u8);
    out.extend_from_slice(&b[..b.len().min(255)]);
}

/// An empty position or one of [`THANKS_POSITION`] bytes.
fn get_position(r: &mut Reader<'_>) -> Result<Vec<u8>, DecodeError> {
    let n = r.u8("position")? as usize;
    if n != 0 && n != THANKS_POSITION {
        return Err(DecodeError::NonCanonical);
    }
    Ok(r.take(n, "position")?.to_vec())
}

fn put_str8(out: &mut Vec<u8>, s: &str) {
    let s = &s.as_bytes()[..s.len().min(255)];
    // Cut on a character boundary, so the text stays UTF-8.
    let mut end = s.len();
    while std::str::from_utf8(&s[..end]).is_err() {
        end -= 1;
    }
    out.push(end as u8);
    out.extend_from_slice(&s[..end]);
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Request::Reconcile { scope, message } => {
                out.push(REQ_RECONCILE);
                put_str8(&mut out, scope);
                put_bytes32(&mut out, message);
            }
            Request::Fetch { ids } => {
                out.push(REQ_FETCH);
                out.extend_from_slice(&(ids.len() as u16).to_be_bytes());
                for id in ids {
                    out.extend_from_slice(id);
                }
            }
            Request::Revocations => out.push(REQ_REVOCATIONS),
            Request::Vouches => out.push(REQ_VOUCHES),
            Request::Thanks { after } => {
                out.push(REQ_THANKS);
                put_str8_bytes(&mut out, after);
            }
        }
        out
    }

    /// Decodes a request; anything but exactly one canonical request, within
    /// the limits, is an error.
    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        if bytes.len() > MAX_REQUEST {
            return Err(DecodeError::NonCanonical);
        }
        let mut r = Reader::new(bytes);
        let req = match r.u8("request tag")? {
            REQ_RECONCILE => {
                let scope = r.str8("scope")?;
                let message = get_bytes32(&mut r, "message", FRAME_LIMIT)?.to_vec();
                Request::Reconcile { scope, message }
            }
            REQ_FETCH => {
                let n = r.u16("id count")? as usize;
                if n == 0 || n > MAX_FETCH_IDS {
                    return Err(DecodeError::NonCanonical);
                }
                let ids = (0..n)
                    .map(|_| r.array::<32>("sync id"))
                    .collect::<Result<_, _>>()?;
                Request::Fetch { ids }
            }
            REQ_REVOCATIONS => Request::Revocations,
            REQ_VOUCHES => Request::Vouches,
            REQ_THANKS => Request::Thanks {
                after: get_position(&mut r)?,
            },
            value => {
                return Err(DecodeError::BadEnum {
                    field: "request tag",
                    value,
                })
            }
        };
        r.finish()?;
        Ok(req)
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Response::Reconcile { message } => {
                out.push(RES_RECONCILE);
                put_bytes32(&mut out, message);
            }
            Response::Listings { listings } => {
                out.push(RES_LISTINGS);
                out.extend_from_slice(&(listings.len() as u16).to_be_bytes());
                for l in listings {
                    put_bytes32(&mut out, l);
                }
            }
            Response::Refused { reason } => {
                out.push(RES_REFUSED);
                put_str8(&mut out, reason);
            }
            Response::Revocations { revocations } => {
                out.push(RES_REVOCATIONS);
                out.extend_from_slice(&(revocations.len() as u16).to_be_bytes());
                for r in revocations {
                    put_bytes32(&mut out, r);
                }
            }
            Response::Vouches { vouches } => {
                out.push(RES_VOUCHES);
                out.extend_from_slice(&(vouches.len() as u16).to_be_bytes());
                for v in vouches {
                    put_bytes32(&mut out, v);
                }
            }
            Response::Thanks { statements, next } => {
                out.push(RES_THANKS);
                out.extend_from_slice(&(statements.len() as u16).to_be_bytes());
                for s in statements {
                    put_bytes32(&mut out, s);
                }
                put_str8_bytes(&mut out, next);
            }
        }
        out
    }

    /// Decodes a response; anything but exactly one canonical response,
    /// within the limits, is an error. Listing bytes are not validated here.
    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        if bytes.len() > MAX_RESPONSE {
            return Err(DecodeError::NonCanonical);
        }
        let mut r = Reader::new(bytes);
        let res = match r.u8("response tag")? {
            RES_RECONCILE => Response::Reconcile {
                message: get_bytes32(&mut r, "message", FRAME_LIMIT)?.to_vec(),
            },
            RES_LISTINGS => {
                let n = r.u16("listing count")? as usize;
                if n > MAX_FETCH_IDS {
                    return Err(DecodeError::NonCanonical);
                }
                let listings = (0..n)
                    .map(|_| get_bytes32(&mut r, "listing", MAX_RESPONSE).map(<[u8]>::to_vec))
                    .collect::<Result<_, _>>()?;
                Response::Listings { listings }
            }
            RES_REFUSED => Response::Refused {
                reason: r.str8("reason")?,
            },
            RES_REVOCATIONS => {
                let n = r.u16("revocation count")? as usize;
                if n > MAX_REVOCATIONS {
                    return Err(DecodeError::NonCanonical);
                }
                let revocations = (0..n)
                    .map(|_| {
                        get_bytes32(&mut r, "revocation", crate::revocation::REVOCATION_LEN)
                            .map(<[u8]>::to_vec)
                    })
                    .collect::<Result<_, _>>()?;
                Response::Revocations { revocations }
            }
            RES_VOUCHES => {
                let n = r.u16("vouch count")? as usize;
                if n > MAX_VOUCHES {
                    return Err(DecodeError::NonCanonical);
                }
                let vouches = (0..n)
                    .map(|_| {
                        get_bytes32(&mut r, "vouch", crate::vouch::MAX_VOUCH_LEN)
                            .map(<[u8]>::to_vec)
                    })
                    .collect::<Result<_, _>>()?;
                Response::Vouches { vouches }
            }
            RES_THANKS => {
                let n = r.u16("thanks count")? as usize;
                if n > MAX_THANKS {
                    return Err(DecodeError::NonCanonical);
                }
                let statements = (0..n)
                    .map(|_| {
                        get_bytes32(&mut r, "thanks", crate::thanks::MAX_THANKS_LEN)
                            .map(<[u8]>::to_vec)
                    })
                    .collect::<Result<_, _>>()?;
                let next = get_position(&mut r)?;
                Response::Thanks { statements, next }
            }
            value => {
                return Err(DecodeError::BadEnum {
                    field: "response tag",
                    value,
                })
            }
        };
        r.finish()?;
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let reqs = [
            Request::Reconcile {
                scope: "nl/amsterdam/oost".into(),
                message: vec![0x61, 0, 1, 2],
            },
            Request::Fetch {
                ids: vec![[7u8; 32], [9u8; 32]],
            },
            Request::Revocations,
            Request::Vouches,
            Request::Thanks { after: vec![] },
            Request::Thanks {
                after: vec![1; THANKS_POSITION],
            },
        ];
        for q in &reqs {
            let b = q.encode();
            assert_eq!(&Request::decode(&b).unwrap(), q);
            for cut in 0..b.len() {
                assert!(Request::decode(&b[..cut]).is_err(), "{cut}");
            }
            let mut longer = b.clone();
            longer.push(0);
            assert!(Request::decode(&longer).is_err());
        }
        let ress = [
            Response::Reconcile {
                message: vec![0x61],
            },
            Response::Listings {
                listings: vec![vec![1, 2, 3], vec![]],
            },
            Response::Refused {
                reason: "niet gevolgd: ü".into(),
            },
            Response::Revocations {
                revocations: vec![vec![1u8; 169]],
            },
            Response::Vouches {
                vouches: vec![vec![5; 180], vec![6; 10]],
            },
            Response::Thanks {
                statements: vec![vec![7; 900]],
                next: vec![0; THANKS_POSITION],
            },
        ];
        for s in &ress {
            let b = s.encode();
            assert_eq!(&Response::decode(&b).unwrap(), s);
            for cut in 0..b.len() {
                assert!(Response::decode(&b[..cut]).is_err(), "{cut}");
            }
        }
        assert!(Request::decode(&[0x02, 0, 0]).is_err(), "an empty fetch");
        assert!(Request::decode(&[0x7F]).is_err());
        assert!(Response::decode(&[0x01]).is_err());
        // A length prefix larger than the limit is refused before reading.
        let mut huge = vec![RES_RECONCILE];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(Response::decode(&huge).is_err());
    }

    #[test]
    fn sync_id_holds_the_address() {
        let l = ListingId([3u8; 16]);
        let c = ContentId([5u8; 32]);
        let id = sync_id(&l, &c);
        assert_eq!(address_of_sync_id(&id), l);
        assert_eq!(&id[16..], &[5u8; 16]);
    }
}
