//! Geohash syntax: the one definition of what a geohash looks like, used by
//! validation (a listing's location) and by the node (the `near` filter).

/// The geohash alphabet: digits and lowercase letters without a, i, l, o.
pub const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// What a geohash is, for messages to people who gave something else.
pub const EXPLAINED: &str = "a geohash names a square of the map in characters of 0-9 and \
b-z without a, i, l and o, coarser the shorter it is: 6 characters are about 1 km \
(u173zq lies around the Dapperbuurt in Amsterdam); any geohash map gives the one of \
a place";

/// True for a non-empty geohash of at most `max_chars` characters of
/// [`ALPHABET`].
pub fn is_valid(hash: &str, max_chars: usize) -> bool {
    !hash.is_empty() && hash.len() <= max_chars && hash.bytes().all(|c| ALPHABET.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        assert!(is_valid("u173zq", 6));
        assert!(!is_valid("u173zq1", 6));
        assert!(!is_valid("", 6));
        assert!(!is_valid("u17a", 6));
        assert!(!is_valid("U173", 6));
    }
}
