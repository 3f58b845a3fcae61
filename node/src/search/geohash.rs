//! Geohash cells and their neighbours, for the `near` filter.
//!
//! A listing in the cell next door is as near as one in the same cell, often
//! nearer than the far corner of it, so `near` matches a cell and the (up to)
//! eight cells around it at the same precision. A geohash interleaves
//! longitude and latitude bits, longitude first, five bits per character; the
//! neighbours are found by de-interleaving into a column and a row, stepping,
//! and interleaving back. Longitude wraps around; there is nothing beyond the
//! poles.

use buurt_protocol::geohash::ALPHABET;

/// Longest geohash handled here (60 bits fit a `u64`).
const MAX_CHARS: usize = 12;

fn value(c: u8) -> Option<u64> {
    ALPHABET.iter().position(|&a| a == c).map(|v| v as u64)
}

/// True for a non-empty geohash of at most 12 lowercase characters.
pub(crate) fn is_valid(hash: &str) -> bool {
    buurt_protocol::geohash::is_valid(hash, MAX_CHARS)
}

/// Splits a valid geohash into (column, row, column bits, row bits).
fn decode(hash: &str) -> Option<(u64, u64, u32, u32)> {
    if !is_valid(hash) {
        return None;
    }
    let (mut x, mut y, mut xbits, mut ybits) = (0u64, 0u64, 0u32, 0u32);
    let mut even = true;
    for c in hash.bytes() {
        let v = value(c)?;
        for shift in (0..5).rev() {
            let bit = (v >> shift) & 1;
            if even {
                x = (x << 1) | bit;
                xbits += 1;
            } else {
                y = (y << 1) | bit;
                ybits += 1;
            }
            even = !even;
        }
    }
    Some((x, y, xbits, ybits))
}

fn encode(x: u64, y: u64, xbits: u32, ybits: u32, chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    let (mut xi, mut yi) = (xbits, ybits);
    let mut even = true;
    let mut v = 0usize;
    for i in 0..chars * 5 {
        let bit = if even {
            xi -= 1;
            (x >> xi) & 1
        } else {
            yi -= 1;
            (y >> yi) & 1
        };
        v = (v << 1) | bit as usize;
        even = !even;
        if i % 5 == 4 {
            out.push(ALPHABET[v] as char);
            v = 0;
        }
    }
    out
}

/// The cell itself first, then its neighbours at the same precision, without
/// duplicates. `None` if `hash` is not a valid geohash.
pub(crate) fn with_neighbours(hash: &str) -> Option<Vec<String>> {
    let (x, y, xbits, ybits) = decode(hash)?;
    let columns = 1u64 << xbits;
    let rows = 1u64 << ybits;
    let mut out = vec![hash.to_owned()];
    for dy in [1i64, 0, -1] {
        let Some(ny) = y.checked_add_signed(dy).filter(|&r| r < rows) else {
            continue;
        };
        for dx in [-1i64, 0, 1] {
            if dx == 0 && dy == 0 {
                continue;
            }
            let nx = (x + columns).wrapping_add_signed(dx) % columns;
            let cell = encode(nx, ny, xbits, ybits, hash.len());
            if !out.contains(&cell) {
                out.push(cell);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for h in ["u", "u1", "u173zq", "gbsuv", "0", "zzzzzz", "s00000000000"] {
            let (x, y, xb, yb) = decode(h).unwrap();
            assert_eq!(encode(x, y, xb, yb, h.len()), h);
        }
    }

    #[test]
    fn known_neighbours() {
        // The classic example of the geohash literature.
        let n = with_neighbours("gbsuv").unwrap();
        assert_eq!(n[0], "gbsuv");
        for cell in ["gbsvj", "gbsut", "gbsuy", "gbsuu"] {
            assert!(n.contains(&cell.to_owned()), "{cell} in {n:?}");
        }
        assert_eq!(n.len(), 9);
    }

    #[test]
    fn edges() {
        // Longitude wraps: the west neighbour of a cell on the antimeridian
        // lies at the far east.
        let n = with_neighbours("0").unwrap();
        assert!(n.contains(&"p".to_owned()), "{n:?}");
        // Nothing south of the south pole row.
        assert_eq!(n.len(), 6);
        assert!(with_neighbours("").is_none());
        assert!(with_neighbours("ua").is_none());
        assert!(with_neighbours("U1").is_none());
    }
}
