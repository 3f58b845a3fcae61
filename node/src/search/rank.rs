//! Ordering of results, and the "open and not expired" condition, in one
//! pass over the candidates.
//!
//! Most listings are open, so that condition rules out too few documents to
//! be worth driving a search with (as a term or range query it made single
//! word searches two to three times slower at 100,000 listings). Instead it
//! is checked on each candidate as it is collected, with two fast fields
//! read lazily: `created_at` (ties: newest first) only for a candidate whose
//! score can still enter the top `k`, `open_until` only for one whose key
//! does. A candidate that is not open is not collected; should one slip
//! through another path, its key is [`EXCLUDED`] and it is dropped after.

use tantivy::collector::sort_key::Comparator;
use tantivy::collector::sort_key::NaturalComparator;
use tantivy::collector::{SegmentSortKeyComputer, SortKeyComputer, TopNComputer};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentReader};

use super::schema::{CREATED_AT, OPEN_UNTIL};

/// Score (0 without text), then creation time; greater is better.
pub(crate) type Key = (Score, i64);

/// The key of a candidate that must not be returned.
pub(crate) const EXCLUDED: Key = (Score::NEG_INFINITY, i64::MIN);

/// True for a key that may be returned.
pub(crate) fn is_included(key: &Key) -> bool {
    key.0 != Score::NEG_INFINITY
}

/// The sort key computer for `TopDocs::order_by`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rank {
    /// Keep only listings open at this time; `None` keeps every listing.
    pub open_at: Option<i64>,
    /// Whether the query's relevance score counts (false: newest first).
    pub scored: bool,
}

impl SortKeyComputer for Rank {
    type SortKey = Key;
    type Child = SegmentRank;
    type Comparator = NaturalComparator;

    fn requires_scoring(&self) -> bool {
        self.scored
    }

    fn segment_sort_key_computer(&self, reader: &SegmentReader) -> tantivy::Result<SegmentRank> {
        let fast = reader.fast_fields();
        let open = match self.open_at {
            Some(now) => Some((fast.i64(OPEN_UNTIL)?, now)),
            None => None,
        };
        Ok(SegmentRank {
            open,
            created_at: fast.i64(CREATED_AT)?,
            scored: self.scored,
        })
    }
}

/// [`Rank`] for one segment.
pub(crate) struct SegmentRank {
    open: Option<(Column<i64>, i64)>,
    created_at: Column<i64>,
    scored: bool,
}

impl SegmentRank {
    fn is_open(&self, doc: DocId) -> bool {
        match &self.open {
            Some((open_until, now)) => open_until.first(doc).is_some_and(|until| until > *now),
            None => true,
        }
    }

    fn created_at(&self, doc: DocId) -> i64 {
        self.created_at.first(doc).unwrap_or(i64::MIN)
    }
}

impl SegmentSortKeyComputer for SegmentRank {
    type SortKey = Key;
    type SegmentSortKey = Key;
    type SegmentComparator = NaturalComparator;

    fn segment_sort_key(&mut self, doc: DocId, score: Score) -> Key {
        if !self.is_open(doc) {
            return EXCLUDED;
        }
        let score = if self.scored { score } else { 0.0 };
        (score, self.created_at(doc))
    }

    #[inline]
    fn compute_sort_key_and_collect<C: Comparator<Key>>(
        &mut self,
        doc: DocId,
        score: Score,
        top: &mut TopNComputer<Key, DocId, C>,
    ) {
        let score = if self.scored { score } else { 0.0 };
        let key = match top.threshold {
            Some((least_score, least_created)) => {
                if score < least_score {
                    return;
                }
                let created = self.created_at(doc);
                if score == least_score && created <= least_created {
                    return;
                }
                (score, created)
            }
            None => (score, self.created_at(doc)),
        };
        if self.is_open(doc) {
            top.push(key, doc);
        }
    }

    fn convert_segment_sort_key(&self, key: Key) -> Key {
        key
    }
}
