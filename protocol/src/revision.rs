//! Which of two revisions at one address wins, and how authors number the next.

use std::cmp::Ordering;

use crate::id::ContentId;
use crate::listing::SignedListing;

/// Orders two revisions of one address: the higher revision number wins; on a
/// tie the lower content id wins. `Greater` means `a` wins. Every node reaches
/// the same answer from the same two listings, whatever order they came in.
pub fn compare(a: (u64, &ContentId), b: (u64, &ContentId)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1))
}

/// True when `new` replaces `old` at the same address.
pub fn supersedes(new: &SignedListing, old: &SignedListing) -> bool {
    compare(
        (new.listing.revision, &new.content_id()),
        (old.listing.revision, &old.content_id()),
    ) == Ordering::Greater
}

/// The revision number an author stamps on a new revision: the current time
/// in seconds, or one more than the previous revision if the clock is behind.
pub fn next_revision(now: i64, previous: Option<u64>) -> u64 {
    let now = u64::try_from(now).unwrap_or(0);
    match previous {
        None => now.max(1),
        Some(p) => now.max(p.saturating_add(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_revision_wins_then_lower_id() {
        let lo = ContentId([1; 32]);
        let hi = ContentId([2; 32]);
        assert_eq!(compare((2, &hi), (1, &lo)), Ordering::Greater);
        assert_eq!(compare((1, &lo), (2, &hi)), Ordering::Less);
        assert_eq!(compare((5, &lo), (5, &hi)), Ordering::Greater);
        assert_eq!(compare((5, &hi), (5, &lo)), Ordering::Less);
        assert_eq!(compare((5, &hi), (5, &hi)), Ordering::Equal);
    }

    #[test]
    fn next_revision_never_goes_back() {
        assert_eq!(next_revision(1_000, None), 1_000);
        assert_eq!(next_revision(1_000, Some(500)), 1_000);
        assert_eq!(next_revision(1_000, Some(1_000)), 1_001);
        assert_eq!(next_revision(1_000, Some(5_000)), 5_001);
        assert_eq!(next_revision(-5, None), 1);
    }
}
