//! The one validation function that every listing passes, whatever its path
//! (local API, gossip, sync).
//!
//! Cheap structural and content checks run first and the two signature
//! checks last, so that junk costs a receiver as little as possible.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::calendar::day_of;
use crate::certificate::Certificate;
use crate::codec::DecodeError;
use crate::limits::{Limits, MAX_GEOHASH_CHARS, MAX_LISTING_BYTES_CEILING, MAX_UNIT_CHARS};
use crate::listing::{
    Listing, SignedListing, Status, ALL_WEEKDAYS, MAX_PHOTO_BYTES, MAX_RESIDENT_CHARS,
    MAX_STATEMENT_BYTES, MAX_WINDOWS, MINUTES_PER_DAY,
};
use crate::scope::ScopeError;
use crate::taxonomy;

/// Why a listing was refused. Each rule of the protocol has its own variant;
/// [`Rejection::code`] gives a stable name for logs, metrics and APIs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("listing is {size} bytes, over the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("malformed listing: {0}")]
    Malformed(DecodeError),
    #[error("bad scope: {0}")]
    BadScope(ScopeError),
    #[error("the author's or the certificate node's key is a weak (small-order) key")]
    WeakKey,
    #[error("membership certificate signature does not verify")]
    BadCertificate,
    #[error("membership certificate is for another member than the author")]
    CertificateMismatch,
    #[error("membership certificate was not yet valid when the listing was signed")]
    CertificateNotYetValid,
    #[error("membership certificate had expired when the listing was signed")]
    CertificateExpired,
    #[error("membership certificate scope does not cover the listing scope")]
    ScopeNotCovered,
    #[error("author signature does not verify")]
    BadSignature,
    #[error("title is empty")]
    EmptyTitle,
    #[error("title is longer than {0} characters")]
    TitleTooLong(usize),
    #[error("body is longer than {0} bytes")]
    BodyTooLong(usize),
    #[error("more than {0} tags")]
    TooManyTags(usize),
    #[error("a tag is empty or longer than {0} characters")]
    BadTag(usize),
    #[error("a listing needs at least one topic")]
    NoTopics,
    #[error("more than {0} topics")]
    TooManyTopics(usize),
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    #[error("topic `{0}` is given twice")]
    DuplicateTopic(String),
    #[error("{0} contains a control character")]
    ControlCharacter(&'static str),
    #[error("created more than {0} seconds in the future (check the clock)")]
    CreatedInFuture(i64),
    #[error("expiry is not after creation")]
    ExpiryBeforeCreation,
    #[error("listing has expired")]
    Expired,
    #[error("expiry is more than {0} days after creation")]
    ExpiryTooFar(i64),
    #[error("geohash must be 1 to 6 characters of 0-9 and b-z without a, i, l, o")]
    BadGeohash,
    #[error("currency must be three uppercase letters (EUR)")]
    BadCurrency,
    #[error("a price or deposit must be more than zero; leave it out for free")]
    BadAmount,
    #[error("price unit must be at most 16 characters")]
    BadUnit,
    #[error("a withdrawal must have an empty title, body and tags, and no geohash, terms or version-2 fields")]
    TombstoneNotEmpty,
    #[error("more than {0} availability windows")]
    TooManyWindows(usize),
    #[error("an availability window is empty or its weekdays or times are out of range")]
    BadWindow,
    #[error("an availability window lies outside the listing's life")]
    WindowOutsideLife,
    #[error("a standing offer's first date is after the listing expires")]
    BadRecurrence,
    #[error("posting on behalf: {0}")]
    BadBehalf(&'static str),
    #[error("a photo must be 1 byte to {} KB", crate::listing::MAX_PHOTO_BYTES / 1024)]
    BadPhoto,
}

impl Rejection {
    /// A stable snake_case name of the rule that failed.
    pub fn code(&self) -> &'static str {
        use Rejection::*;
        match self {
            TooLarge { .. } => "too_large",
            Malformed(_) => "malformed",
            BadScope(_) => "bad_scope",
            WeakKey => "weak_key",
            BadCertificate => "bad_certificate",
            CertificateMismatch => "certificate_mismatch",
            CertificateNotYetValid => "certificate_not_yet_valid",
            CertificateExpired => "certificate_expired",
            ScopeNotCovered => "scope_not_covered",
            BadSignature => "bad_signature",
            EmptyTitle => "empty_title",
            TitleTooLong(_) => "title_too_long",
            BodyTooLong(_) => "body_too_long",
            TooManyTags(_) => "too_many_tags",
            BadTag(_) => "bad_tag",
            NoTopics => "no_topics",
            TooManyTopics(_) => "too_many_topics",
            UnknownTopic(_) => "unknown_topic",
            DuplicateTopic(_) => "duplicate_topic",
            ControlCharacter(_) => "control_character",
            CreatedInFuture(_) => "created_in_future",
            ExpiryBeforeCreation => "expiry_before_creation",
            Expired => "expired",
            ExpiryTooFar(_) => "expiry_too_far",
            BadGeohash => "bad_geohash",
            BadCurrency => "bad_currency",
            BadAmount => "bad_amount",
            BadUnit => "bad_unit",
            TombstoneNotEmpty => "tombstone_not_empty",
            TooManyWindows(_) => "too_many_windows",
            BadWindow => "bad_window",
            WindowOutsideLife => "window_outside_life",
            BadRecurrence => "bad_recurrence",
            BadBehalf(_) => "bad_behalf",
            BadPhoto => "bad_photo",
        }
    }

    /// True for failures that prove the sender sent invalid data (as opposed
    /// to stale data: an expired listing may have been valid when sent).
    pub fn is_invalid(&self) -> bool {
        !matches!(self, Rejection::Expired)
    }
}

/// Remembers certificates whose signature has already been verified, with
/// their member's key already decompressed and checked not to be weak, so
/// that a node does that work once per certificate rather than once per
/// listing. Keys are [`Certificate::fingerprint`]s, which cover every byte of
/// the certificate.
pub trait CertificateCache {
    /// The member key of a certificate verified before.
    fn get(&self, fingerprint: &[u8; 32]) -> Option<VerifyingKey>;
    fn remember(&mut self, fingerprint: [u8; 32], member_key: VerifyingKey);
}

/// No cache: every certificate is verified every time.
pub struct NoCache;

impl CertificateCache for NoCache {
    fn get(&self, _: &[u8; 32]) -> Option<VerifyingKey> {
        None
    }
    fn remember(&mut self, _: [u8; 32], _: VerifyingKey) {}
}

/// Validates received bytes at time `now` (Unix seconds) under `limits`.
pub fn validate(bytes: &[u8], now: i64, limits: &Limits) -> Result<SignedListing, Rejection> {
    validate_cached(bytes, now, limits, &mut NoCache)
}

/// [`validate`] with a cache of verified certificates.
pub fn validate_cached(
    bytes: &[u8],
    now: i64,
    limits: &Limits,
    cache: &mut dyn CertificateCache,
) -> Result<SignedListing, Rejection> {
    let max = limits.max_listing_bytes.min(MAX_LISTING_BYTES_CEILING);
    if bytes.len() > max {
        return Err(Rejection::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    let signed = SignedListing::decode(bytes).map_err(|e| match e {
        DecodeError::BadScope(s) => Rejection::BadScope(s),
        other => Rejection::Malformed(other),
    })?;
    let l = &signed.listing;
    check_content(l, limits)?;
    check_times(l, now, limits)?;
    let author = check_certificate(l, cache)?;
    author
        .verify_strict(
            &signed.signing_input(),
            &Signature::from_bytes(&signed.signature),
        )
        .map_err(|_| Rejection::BadSignature)?;
    Ok(signed)
}

/// Checks the certificate against the listing and returns the author's key.
fn check_certificate(
    l: &Listing,
    cache: &mut dyn CertificateCache,
) -> Result<VerifyingKey, Rejection> {
    let cert: &Certificate = &l.certificate;
    if cert.member != l.author {
        return Err(Rejection::CertificateMismatch);
    }
    // A withdrawal only deletes the author's own content, so it stays possible
    // after the certificate lapsed: deletions must always be able to delete.
    if l.status != Status::Withdrawn {
        if l.created_at < cert.not_before {
            return Err(Rejection::CertificateNotYetValid);
        }
        if l.created_at > cert.not_after {
            return Err(Rejection::CertificateExpired);
        }
    }
    if !cert.scope.covers(&l.scope) {
        return Err(Rejection::ScopeNotCovered);
    }
    let fp = cert.fingerprint();
    if let Some(key) = cache.get(&fp) {
        return Ok(key);
    }
    cert.verify_signature()?;
    let author = l
        .author
        .verifying_key()
        .map_err(|_| Rejection::BadSignature)?;
    if author.is_weak() {
        return Err(Rejection::WeakKey);
    }
    cache.remember(fp, author);
    Ok(author)
}

fn check_times(l: &Listing, now: i64, limits: &Limits) -> Result<(), Rejection> {
    if l.created_at > now.saturating_add(limits.max_clock_skew_secs) {
        return Err(Rejection::CreatedInFuture(limits.max_clock_skew_secs));
    }
    if l.expires_at <= l.created_at {
        return Err(Rejection::ExpiryBeforeCreation);
    }
    if l.expires_at.saturating_sub(l.created_at) > limits.max_expiry_secs {
        return Err(Rejection::ExpiryTooFar(
            limits.max_expiry_secs / crate::limits::DAY,
        ));
    }
    if l.expires_at <= now {
        return Err(Rejection::Expired);
    }
    Ok(())
}

/// Characters refused in text: C0/C1 controls (newline and tab allowed in a
/// body only) and the bidirectional overrides that can make text display
/// differently from what it says.
fn has_forbidden_char(s: &str, multiline: bool) -> bool {
    s.chars().any(|c| {
        (c.is_control() && !(multiline && (c == '\n' || c == '\t')))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// Content rules that need no clock and no keys.
pub fn check_content(l: &Listing, limits: &Limits) -> Result<(), Rejection> {
    if l.scope.depth() > limits.max_scope_levels
        || l.certificate.scope.depth() > limits.max_scope_levels
    {
        return Err(Rejection::BadScope(ScopeError::TooDeep(
            limits.max_scope_levels,
        )));
    }
    if l.topics.is_empty() {
        return Err(Rejection::NoTopics);
    }
    if l.topics.len() > limits.max_topics {
        return Err(Rejection::TooManyTopics(limits.max_topics));
    }
    for (i, t) in l.topics.iter().enumerate() {
        if taxonomy::by_key(t).is_none() {
            return Err(Rejection::UnknownTopic(
                t.chars().filter(|c| !c.is_control()).take(40).collect(),
            ));
        }
        if l.topics[..i].contains(t) {
            return Err(Rejection::DuplicateTopic(t.clone()));
        }
    }
    if has_forbidden_char(&l.title, false) {
        return Err(Rejection::ControlCharacter("title"));
    }
    if has_forbidden_char(&l.body, true) {
        return Err(Rejection::ControlCharacter("body"));
    }
    if l.title.chars().count() > limits.max_title_chars {
        return Err(Rejection::TitleTooLong(limits.max_title_chars));
    }
    if l.body.len() > limits.max_body_bytes {
        return Err(Rejection::BodyTooLong(limits.max_body_bytes));
    }
    if l.tags.len() > limits.max_tags {
        return Err(Rejection::TooManyTags(limits.max_tags));
    }
    for tag in &l.tags {
        if has_forbidden_char(tag, false) {
            return Err(Rejection::ControlCharacter("tag"));
        }
        let n = tag.chars().count();
        if n == 0 || n > limits.max_tag_chars {
            return Err(Rejection::BadTag(limits.max_tag_chars));
        }
    }
    if let Some(g) = &l.geohash {
        if !crate::geohash::is_valid(g, MAX_GEOHASH_CHARS) {
            return Err(Rejection::BadGeohash);
        }
    }
    let moneys = l
        .terms
        .price
        .iter()
        .map(|p| &p.amount)
        .chain(l.terms.deposit.iter());
    for m in moneys {
        if m.currency.len() != 3 || !m.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Rejection::BadCurrency);
        }
        if m.cents == 0 {
            return Err(Rejection::BadAmount);
        }
    }
    if let Some(p) = &l.terms.price {
        if has_forbidden_char(&p.unit, false) {
            return Err(Rejection::ControlCharacter("price unit"));
        }
        if p.unit.chars().count() > MAX_UNIT_CHARS {
            return Err(Rejection::BadUnit);
        }
    }
    if l.status == Status::Withdrawn {
        let empty = l.title.is_empty()
            && l.body.is_empty()
            && l.tags.is_empty()
            && l.geohash.is_none()
            && l.terms == Default::default()
            && l.extras.is_empty();
        if !empty {
            return Err(Rejection::TombstoneNotEmpty);
        }
    } else if l.title.trim().is_empty() {
        return Err(Rejection::EmptyTitle);
    }
    check_extras(l)
}

/// Rules 16a to 16d: the version-2 fields.
fn check_extras(l: &Listing) -> Result<(), Rejection> {
    let e = &l.extras;
    let (born, lapses) = (day_of(l.created_at), day_of(l.expires_at));
    if e.availability.len() > MAX_WINDOWS {
        return Err(Rejection::TooManyWindows(MAX_WINDOWS));
    }
    for w in &e.availability {
        if w.from > w.to
            || w.weekdays == 0
            || w.weekdays > ALL_WEEKDAYS
            || w.start_minute >= w.end_minute
            || w.end_minute > MINUTES_PER_DAY
        {
            return Err(Rejection::BadWindow);
        }
        if w.to < born || w.from > lapses {
            return Err(Rejection::WindowOutsideLife);
        }
    }
    if let Some(r) = &e.every {
        if r.first > lapses {
            return Err(Rejection::BadRecurrence);
        }
    }
    if let Some(b) = &e.behalf {
        let name = b.resident.trim();
        if name.is_empty() || b.resident.chars().count() > MAX_RESIDENT_CHARS {
            return Err(Rejection::BadBehalf(
                "the resident's name is empty or too long",
            ));
        }
        if has_forbidden_char(&b.resident, false) || looks_like_contact(&b.resident) {
            return Err(Rejection::BadBehalf(
                "the resident is named by a first name or initials, never contact details",
            ));
        }
        if b.statement.trim().is_empty()
            || b.statement.len() > MAX_STATEMENT_BYTES
            || has_forbidden_char(&b.statement, true)
        {
            return Err(Rejection::BadBehalf(
                "the consent statement is empty, too long or has a control character",
            ));
        }
        if b.consent_on > born.saturating_add(1) {
            return Err(Rejection::BadBehalf("consent is dated after the listing"));
        }
    }
    if let Some(p) = &e.photo {
        if p.size == 0 || p.size > MAX_PHOTO_BYTES {
            return Err(Rejection::BadPhoto);
        }
    }
    Ok(())
}

/// An e-mail address or a phone number: an `@`, or six digits in a row.
fn looks_like_contact(s: &str) -> bool {
    let mut run = 0;
    for c in s.chars() {
        if c == '@' {
            return true;
        }
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 6 {
            return true;
        }
    }
    false
}
