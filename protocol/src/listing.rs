//! Listings: signed offers and requests, their fields, their canonical
//! encoding and signing.
//!
//! The byte layout is specified in `docs/protocol.md`; this file is its only
//! implementation. A listing is signed as bytes: the signature covers
//! `"buurt/listing/v1" || body`, and the signed form is `body || signature`.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::certificate::Certificate;
use crate::codec::{DecodeError, EncodeError, Reader, Writer};
use crate::id::{ContentId, ListingId, ListingKey, MemberId};
use crate::scope::Scope;

/// Domain-separation prefix of the bytes an author signs.
pub const LISTING_DOMAIN: &[u8] = b"buurt/listing/v1";
/// Format version byte of listings without [`Extras`] (the first byte of
/// the encoding).
pub const LISTING_VERSION: u8 = 1;
/// Format version byte of listings with [`Extras`].
pub const LISTING_VERSION_2: u8 = 2;

mod extras;
pub use extras::*;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every value, in wire-code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The byte that encodes this value.
            pub fn code(self) -> u8 {
                match self { $($name::$variant => $code),* }
            }

            /// The value a byte encodes.
            pub fn from_code(code: u8) -> Option<$name> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }

            /// Lowercase name, as in JSON and on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let t = s.trim().to_ascii_lowercase();
                $name::ALL.iter().copied().find(|v| v.as_str() == t).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("`{s}` is not one of: {}", names.join(", "))
                })
            }
        }
    };
}

wire_enum!(
    /// Whether the author has something or wants something.
    Kind { Offer = 0, "offer"; Request = 1, "request"; }
);
wire_enum!(
    /// How the thing or help changes hands.
    Exchange {
        Give = 0, "give"; Lend = 1, "lend"; Rent = 2, "rent"; Sell = 3, "sell";
        Help = 4, "help"; Meal = 5, "meal"; Swap = 6, "swap";
    }
);
wire_enum!(
    /// Where the listing stands. `Withdrawn` marks a tombstone.
    Status { Open = 0, "open"; Reserved = 1, "reserved"; Closed = 2, "closed"; Withdrawn = 3, "withdrawn"; }
);

/// An amount of money in the currency's minor unit (cents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Amount in minor units: 250 is EUR 2.50.
    pub cents: u64,
    /// ISO 4217 code, three uppercase letters.
    pub currency: String,
}

/// A price per unit ("per day", "per portion"); an empty unit means per item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    #[serde(flatten)]
    pub amount: Money,
    pub unit: String,
}

/// What the exchange costs: nothing (no price), or a price; either may ask a
/// deposit, returned when a lent thing comes back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Terms {
    pub price: Option<Price>,
    pub deposit: Option<Money>,
}

impl Terms {
    /// True when no price is asked.
    pub fn is_free(&self) -> bool {
        self.price.is_none()
    }
}

/// The content of one revision of a listing, before or after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The author; must equal `certificate.member`.
    pub author: MemberId,
    /// With `author`, the listing's address.
    pub key: ListingKey,
    /// Revision number: later revisions at one address carry higher numbers.
    pub revision: u64,
    /// When this revision was signed, Unix seconds.
    pub created_at: i64,
    /// When the listing lapses, Unix seconds; at most 90 days after `created_at`.
    pub expires_at: i64,
    pub kind: Kind,
    pub exchange: Exchange,
    pub status: Status,
    pub scope: Scope,
    /// Taxonomy keys, 1 to 3.
    pub topics: Vec<String>,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    /// A coarse geohash of at most 6 characters, never an address.
    pub geohash: Option<String>,
    pub terms: Terms,
    /// What version 2 adds; empty for a version-1 listing.
    pub extras: Extras,
    /// The author's membership certificate.
    pub certificate: Certificate,
}

impl Listing {
    /// The short id of this listing's address.
    pub fn listing_id(&self) -> ListingId {
        ListingId::of(&self.author, &self.key)
    }

    /// The withdrawal of this listing: a tombstone revision `revision`
    /// signed at `now`, with the same address, kind, scope, topics, expiry
    /// and certificate, and every piece of content emptied (protocol.md,
    /// "Withdrawal"). The caller picks a `revision` above the stored one.
    pub fn tombstone(&self, revision: u64, now: i64) -> Listing {
        Listing {
            revision,
            created_at: now,
            status: Status::Withdrawn,
            title: String::new(),
            body: String::new(),
            tags: vec![],
            geohash: None,
            terms: Terms::default(),
            extras: Extras::default(),
            ..self.clone()
        }
    }

    /// The unsigned body: version byte first, then every field in order.
    pub fn encode_body(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::default();
        w.u8(if self.extras.is_empty() {
            LISTING_VERSION
        } else {
            LISTING_VERSION_2
        });
        w.bytes(&self.author.0);
        w.bytes(&self.key.0);
        w.u64(self.revision);
        w.i64(self.created_at);
        w.i64(self.expires_at);
        w.u8(self.kind.code());
        w.u8(self.exchange.code());
        w.u8(self.status.code());
        w.str8(self.scope.as_str(), "scope");
        count(&mut w, self.topics.len(), "topics");
        for t in &self.topics {
            w.str8(t, "topic");
        }
        w.str16(&self.title, "title");
        w.str16(&self.body, "body");
        count(&mut w, self.tags.len(), "tags");
        for t in &self.tags {
            w.str8(t, "tag");
        }
        match &self.geohash {
            None => w.u8(0),
            Some(g) => {
                w.u8(1);
                w.str8(g, "geohash");
            }
        }
        match &self.terms.price {
            None => w.u8(0),
            Some(p) => {
                w.u8(1);
                money(&mut w, &p.amount);
                w.str8(&p.unit, "price unit");
            }
        }
        match &self.terms.deposit {
            None => w.u8(0),
            Some(d) => {
                w.u8(1);
                money(&mut w, d);
            }
        }
        if !self.extras.is_empty() {
            self.extras.encode(&mut w);
        }
        self.certificate.encode(&mut w);
        w.finish()
    }

    /// Signs the listing with the author's key. Does not check content rules:
    /// run [`crate::validate`] on the result (the CLI does, before posting).
    pub fn sign(self, author_key: &SigningKey) -> Result<SignedListing, EncodeError> {
        let body = self.encode_body()?;
        let mut input = Vec::with_capacity(LISTING_DOMAIN.len() + body.len());
        input.extend_from_slice(LISTING_DOMAIN);
        input.extend_from_slice(&body);
        let signature = author_key.sign(&input).to_bytes();
        let mut bytes = body;
        bytes.extend_from_slice(&signature);
        let id = ContentId::of(&bytes);
        Ok(SignedListing {
            address: self.listing_id(),
            listing: self,
            signature,
            bytes,
            id,
        })
    }
}

pub(crate) fn count(w: &mut Writer, n: usize, what: &'static str) {
    match u8::try_from(n) {
        Ok(n) => w.u8(n),
        // Reuse the writer's overflow report: a 256-byte string cannot fit.
        Err(_) => w.str8(&" ".repeat(256), what),
    }
}

fn money(w: &mut Writer, m: &Money) {
    w.u64(m.cents);
    w.str8(&m.currency, "currency");
}

fn read_money(r: &mut Reader<'_>) -> Result<Money, DecodeError> {
    Ok(Money {
        cents: r.u64("amount")?,
        currency: r.str8("currency")?,
    })
}

pub(crate) fn read_enum<T>(
    r: &mut Reader<'_>,
    field: &'static str,
    f: fn(u8) -> Option<T>,
) -> Result<T, DecodeError> {
    let value = r.u8(field)?;
    f(value).ok_or(DecodeError::BadEnum { field, value })
}

/// A listing with its signature and the exact bytes it was received or
/// created as. Holding one does not mean it is valid: [`crate::validate`]
/// is the only way to a trusted one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedListing {
    pub listing: Listing,
    pub signature: [u8; 64],
    bytes: Vec<u8>,
    id: ContentId,
    /// The listing's address, a hash like the content id: computed once.
    address: ListingId,
}

/// Where the scope's length byte sits in a signed listing.
const SCOPE_LEN_AT: usize = 76;

/// Whether signed bytes start with a listing version this code reads.
fn known_version(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(&(LISTING_VERSION | LISTING_VERSION_2)))
}

impl SignedListing {
    /// The address of a signed listing, read from its first 49 bytes
    /// (version, author, key) without decoding the rest; `None` when the
    /// bytes are too short or of another version. Lets a node find what it
    /// already stores before it spends a signature check. Says nothing about
    /// validity.
    pub fn address_of(bytes: &[u8]) -> Option<ListingId> {
        if !known_version(bytes) {
            return None;
        }
        let author = MemberId(bytes.get(1..33)?.try_into().ok()?);
        let key = ListingKey(bytes.get(33..49)?.try_into().ok()?);
        Some(ListingId::of(&author, &key))
    }

    /// The scope of a signed listing as written, read from its fixed
    /// place (after the 76 bytes of version, author, key, revision, times,
    /// kind, exchange and status) without decoding the rest; `None` when the
    /// bytes are too short, of another version, or the scope is not UTF-8.
    /// Lets a node check a gossip message's topic before the pipeline
    /// decodes it. Says nothing about validity.
    pub fn scope_text_of(bytes: &[u8]) -> Option<&str> {
        if !known_version(bytes) {
            return None;
        }
        let len = *bytes.get(SCOPE_LEN_AT)? as usize;
        std::str::from_utf8(bytes.get(SCOPE_LEN_AT + 1..SCOPE_LEN_AT + 1 + len)?).ok()
    }

    /// Decodes signed bytes, structurally only (no signature or content
    /// checks). Rejects unknown versions, trailing bytes and any encoding that
    /// is not the canonical one.
    pub fn decode(bytes: &[u8]) -> Result<SignedListing, DecodeError> {
        let (listing, body_len, signature) = Self::decode_fields(bytes)?;
        // One value, one encoding: the fixed-width layout makes this hold by
        // construction, and this check keeps it so if the layout ever grows.
        match listing.encode_body() {
            Ok(re) if re[..] == bytes[..body_len] => {}
            _ => return Err(DecodeError::NonCanonical),
        }
        Ok(Self::from_fields(listing, signature, bytes))
    }

    /// [`SignedListing::decode`] without the canonical re-encoding, for
    /// bytes that passed `decode` before they were kept: a node's own
    /// store reads its records back with it. Still rejects what does not
    /// parse.
    pub fn decode_kept(bytes: &[u8]) -> Result<SignedListing, DecodeError> {
        let (listing, _, signature) = Self::decode_fields(bytes)?;
        Ok(Self::from_fields(listing, signature, bytes))
    }

    fn from_fields(listing: Listing, signature: [u8; 64], bytes: &[u8]) -> SignedListing {
        SignedListing {
            address: listing.listing_id(),
            listing,
            signature,
            bytes: bytes.to_vec(),
            id: ContentId::of(bytes),
        }
    }

    /// The listing, the length of its body and its signature.
    fn decode_fields(bytes: &[u8]) -> Result<(Listing, usize, [u8; 64]), DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != LISTING_VERSION && version != LISTING_VERSION_2 {
            return Err(DecodeError::UnknownVersion(version));
        }
        let author = MemberId(r.array("author")?);
        let key = ListingKey(r.array("key")?);
        let revision = r.u64("revision")?;
        let created_at = r.i64("created_at")?;
        let expires_at = r.i64("expires_at")?;
        let kind = read_enum(&mut r, "kind", Kind::from_code)?;
        let exchange = read_enum(&mut r, "exchange", Exchange::from_code)?;
        let status = read_enum(&mut r, "status", Status::from_code)?;
        let scope = r.str8("scope")?;
        let scope = Scope::parse(&scope, usize::MAX).map_err(DecodeError::BadScope)?;
        let n = r.u8("topics")?;
        let topics = (0..n).map(|_| r.str8("topic")).collect::<Result<_, _>>()?;
        let title = r.str16("title")?;
        let body = r.str16("body")?;
        let n = r.u8("tags")?;
        let tags = (0..n).map(|_| r.str8("tag")).collect::<Result<_, _>>()?;
        let geohash = if r.option("geohash")? {
            Some(r.str8("geohash")?)
        } else {
            None
        };
        let price = if r.option("price")? {
            let amount = read_money(&mut r)?;
            Some(Price {
                amount,
                unit: r.str8("price unit")?,
            })
        } else {
            None
        };
        let deposit = if r.option("deposit")? {
            Some(read_money(&mut r)?)
        } else {
            None
        };
        // Version 2 with nothing in it re-encodes as version 1, and so is
        // refused below as non-canonical.
        let extras = if version == LISTING_VERSION_2 {
            Extras::decode(&mut r)?
        } else {
            Extras::default()
        };
        let certificate = Certificate::decode(&mut r)?;
        let body_len = r.position();
        let signature = r.array("signature")?;
        r.finish()?;
        let listing = Listing {
            author,
            key,
            revision,
            created_at,
            expires_at,
            kind,
            exchange,
            status,
            scope,
            topics,
            title,
            body,
            tags,
            geohash,
            terms: Terms { price, deposit },
            extras,
            certificate,
        };
        Ok((listing, body_len, signature))
    }

    /// The full signed encoding: body followed by the 64-byte signature.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The unsigned body (all bytes but the signature).
    pub fn body_bytes(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - 64]
    }

    /// Exactly what the author's signature covers: `"buurt/listing/v1" || body`.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut v = LISTING_DOMAIN.to_vec();
        v.extend_from_slice(self.body_bytes());
        v
    }

    /// SHA-256 of [`SignedListing::bytes`].
    pub fn content_id(&self) -> ContentId {
        self.id
    }

    /// The short id of the listing's address.
    pub fn listing_id(&self) -> ListingId {
        self.address
    }

    /// Takes the listing out.
    pub fn into_listing(self) -> Listing {
        self.listing
    }
}
