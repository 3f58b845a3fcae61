//! From a [`Query`] to tantivy query objects.
//!
//! User text never reaches tantivy's query parser (a stray `"` or `:` would
//! be a syntax error there). It is cut into words by the same analyzer the
//! index uses, each word is stemmed the Dutch and the English way, and the
//! query is assembled from term, fuzzy and prefix queries.
//!
//! A word matches a listing *exactly* when its Dutch or English stem is in
//! the listing's title (weight 3), tags (2) or body (1), in the field stemmed
//! the same way; BM25 scores it. The Dutch stemmer runs twice on both sides,
//! so that `fiets` meets "fietsen" (see `schema`).
//!
//! A word matches *loosely* when it matches exactly, or:
//! - by a fuzzy match on the unstemmed words (Levenshtein distance 1 for
//!   words of 4 to 7 characters, 2 from 8, a transposition counting as one;
//!   a low constant score, halved for two edits), so `boormachien` finds
//!   "boormachine";
//! - by a prefix of the unstemmed words, for words of 4 characters or more
//!   (a low constant score), so `boor` finds the Dutch compound
//!   "boormachine".
//!
//! An exact match also matches the fuzzy and prefix clauses, so in a loose
//! query it always scores above a listing that only matches loosely.
//!
//! Several words are combined with AND, for precision; common function words
//! (`de`, `een`, `the`, ...) are dropped unless the query holds nothing else.
//! `crate::search` decides which combinations to run.

use buurt_protocol::{taxonomy, Listing, Status};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur,
    Query as TantivyQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term;

use super::geohash;
use super::schema::{
    available_term, dutch_word_stemmer, english_word_stemmer, plain_analyzer, Fields, ALWAYS,
    DUTCH, ENGLISH,
};
use super::{Query, SearchError};
use buurt_protocol::limits::MAX_GEOHASH_CHARS;

/// Query text beyond this many bytes is ignored.
pub(crate) const MAX_QUERY_BYTES: usize = 1_000;
/// Words beyond this many are ignored: each costs a handful of lookups.
pub(crate) const MAX_QUERY_WORDS: usize = 16;

/// Weight of a title match relative to a body match.
const TITLE_BOOST: f32 = 3.0;
/// Weight of a tag match relative to a body match.
const TAGS_BOOST: f32 = 2.0;
/// Constant score of a fuzzy match one edit away (BM25 of an exact title
/// match is typically several points); two edits away scores half of it
/// (and a match one edit away gets both).
const FUZZY_BOOST: f32 = 0.3;
/// Constant score of a prefix match.
const PREFIX_BOOST: f32 = 0.5;
/// Words shorter than this get no fuzzy clause (distance 1 on three
/// letters matches half the dictionary).
const FUZZY_MIN_CHARS: usize = 4;
/// From this length, a fuzzy match may be two edits away.
const FUZZY_TWO_EDITS_CHARS: usize = 8;
/// Words shorter than this get no prefix clause.
const PREFIX_MIN_CHARS: usize = 4;

/// Function words, dropped from a query that has other words.
const STOP_WORDS: &[&str] = &[
    "de", "het", "een", "en", "of", "van", "voor", "met", "in", "op", "aan", "bij", "te", "om",
    "is", "die", "dat", "er", "ik", "je", "mijn", "the", "a", "an", "and", "or", "for", "with",
    "to", "at", "on", "my",
];

/// One word of the query text, analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// Lowercased, ASCII-folded, unstemmed.
    pub plain: String,
    /// `[Dutch, English]` stems of `plain`, as the stemmed fields hold them.
    pub stems: [String; 2],
}

/// How the words of a query combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every word must match.
    All,
    /// At least one word must match.
    Any,
}

/// How one word may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matching {
    /// By its stems only.
    Exact,
    /// By its stems, or a fuzzy or prefix match.
    Loose,
}

/// Cuts `text` into analysed words, at most [`MAX_QUERY_WORDS`], without
/// duplicates, and without function words unless there is nothing else.
/// Never fails: text without letters or digits gives no words.
pub(crate) fn words(text: &str) -> Vec<Word> {
    let mut end = text.len().min(MAX_QUERY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text[..end];
    let mut plain = plain_analyzer();
    let mut nl = dutch_word_stemmer();
    let mut en = english_word_stemmer();
    let mut out: Vec<Word> = Vec::new();
    let mut stop: Vec<Word> = Vec::new();
    let mut stream = plain.token_stream(text);
    while out.len() + stop.len() < MAX_QUERY_WORDS && stream.advance() {
        let word = stream.token().text.clone();
        if word.is_empty() || out.iter().chain(&stop).any(|w| w.plain == word) {
            continue;
        }
        let stems = [stem(&mut nl, &word), stem(&mut en, &word)];
        let is_stop = STOP_WORDS.contains(&word.as_str());
        let w = Word { plain: word, stems };
        if is_stop {
            stop.push(w);
        } else {
            out.push(w);
        }
    }
    if out.is_empty() {
        stop
    } else {
        out
    }
}

thread_local! {
    /// The analyzers of [`word_stems`], kept per thread so that their stem
    /// caches last from one listing to the next.
    static STEMMERS: std::cell::RefCell<(TextAnalyzer, TextAnalyzer, TextAnalyzer)> =
        std::cell::RefCell::new((plain_analyzer(), dutch_word_stemmer(), english_word_stemmer()));
}

/// Every word of `text` but the stop words, once each, as its Dutch and
/// English stems, the way the index stems them (for alerts).
pub(crate) fn word_stems(text: &str) -> Vec<(String, String)> {
    STEMMERS.with(|s| {
        let (plain, nl, en) = &mut *s.borrow_mut();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut stream = plain.token_stream(text);
        while stream.advance() {
            let word = &stream.token().text;
            if word.is_empty() || STOP_WORDS.contains(&word.as_str()) || !seen.insert(word.clone())
            {
                continue;
            }
            out.push((stem(nl, word), stem(en, word)));
        }
        out
    })
}

fn stem(stemmer: &mut TextAnalyzer, word: &str) -> String {
    let mut stream = stemmer.token_stream(word);
    if stream.advance() && !stream.token().text.is_empty() {
        stream.token().text.clone()
    } else {
        word.to_owned()
    }
}

fn boxed(q: impl TantivyQuery) -> Box<dyn TantivyQuery> {
    Box::new(q)
}

fn boosted(q: Box<dyn TantivyQuery>, boost: f32) -> Box<dyn TantivyQuery> {
    if boost == 1.0 {
        q
    } else {
        boxed(BoostQuery::new(q, boost))
    }
}

fn term_query(field: Field, text: &str, boost: f32) -> Box<dyn TantivyQuery> {
    let q = TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    );
    boosted(boxed(q), boost)
}

/// The Levenshtein distance allowed for a word of `chars` characters.
pub(crate) fn fuzzy_distance(chars: usize) -> Option<u8> {
    if chars >= FUZZY_TWO_EDITS_CHARS {
        Some(2)
    } else if chars >= FUZZY_MIN_CHARS {
        Some(1)
    } else {
        None
    }
}

/// Everything one word may match, as a disjunction.
fn word_query(f: &Fields, w: &Word, matching: Matching) -> Box<dyn TantivyQuery> {
    let mut any: Vec<Box<dyn TantivyQuery>> = Vec::with_capacity(10);
    for lang in [DUTCH, ENGLISH] {
        let stem = w.stems[lang].as_str();
        for (field, boost) in [
            (f.title[lang], TITLE_BOOST),
            (f.tags[lang], TAGS_BOOST),
            (f.body[lang], 1.0),
        ] {
            any.push(term_query(field, stem, boost));
        }
    }
    if matching == Matching::Loose {
        let chars = w.plain.chars().count();
        let plain = Term::from_field_text(f.words, &w.plain);
        if let Some(distance) = fuzzy_distance(chars) {
            // One edit away scores more than two: a word within one edit
            // matches both clauses.
            for d in 1..=distance {
                let q = FuzzyTermQuery::new(plain.clone(), d, true);
                any.push(boosted(boxed(q), FUZZY_BOOST / f32::from(d)));
            }
        }
        if chars >= PREFIX_MIN_CHARS {
            let q = FuzzyTermQuery::new_prefix(plain, 0, true);
            any.push(boosted(boxed(q), PREFIX_BOOST));
        }
    }
    boxed(BooleanQuery::union(any))
}

/// The filters of `q` as one query; `None` when nothing is filtered. The
/// open-and-unexpired condition is not among them: see `crate::search`.
pub(crate) fn filters(f: &Fields, q: &Query) -> Result<Option<Box<dyn TantivyQuery>>, SearchError> {
    let mut all: Vec<Box<dyn TantivyQuery>> = Vec::new();
    let exact = |field: Field, text: &str| -> Box<dyn TantivyQuery> {
        boxed(TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::Basic,
        ))
    };
    if let Some(kind) = q.kind {
        all.push(exact(f.kind, kind.as_str()));
    }
    if let Some(exchange) = q.exchange {
        all.push(exact(f.exchange, exchange.as_str()));
    }
    if let Some(topic) = &q.topic {
        let key = taxonomy::parse_filter(topic)
            .ok_or_else(|| SearchError::UnknownTopic(topic.clone()))?;
        all.push(exact(f.topic, key));
    }
    if let Some(scope) = &q.scope {
        all.push(exact(f.scope, scope.as_str()));
    }
    if let Some(near) = &q.near {
        let g = near.trim().to_ascii_lowercase();
        if !geohash::is_valid(&g) {
            return Err(SearchError::InvalidNear(near.clone()));
        }
        let g = &g[..g.len().min(MAX_GEOHASH_CHARS)];
        let cells =
            geohash::with_neighbours(g).ok_or_else(|| SearchError::InvalidNear(near.clone()))?;
        let any = cells.iter().map(|c| exact(f.geo, c)).collect();
        all.push(boxed(BooleanQuery::union(any)));
    }
    if let Some(day) = q.available {
        let any = vec![exact(f.avail, ALWAYS), exact(f.avail, &available_term(day))];
        all.push(boxed(BooleanQuery::union(any)));
    }
    Ok(match all.len() {
        0 => None,
        1 => all.pop(),
        _ => Some(boxed(BooleanQuery::intersection(all))),
    })
}

/// The query for the words, restricted by `filter`, which adds nothing to
/// the score.
pub(crate) fn text_query(
    f: &Fields,
    words: &[Word],
    filter: Option<Box<dyn TantivyQuery>>,
    mode: Mode,
    matching: Matching,
) -> Box<dyn TantivyQuery> {
    let each = words.iter().map(|w| word_query(f, w, matching));
    let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = match mode {
        Mode::All => each.map(|q| (Occur::Must, q)).collect(),
        Mode::Any => vec![(Occur::Must, boxed(BooleanQuery::union(each.collect())))],
    };
    if let Some(filter) = filter {
        clauses.push((Occur::Must, boxed(ConstScoreQuery::new(filter, 0.0))));
    }
    boxed(BooleanQuery::new(clauses))
}

/// The query for an empty text: the filters alone, or everything.
pub(crate) fn filter_only_query(filter: Option<Box<dyn TantivyQuery>>) -> Box<dyn TantivyQuery> {
    filter.unwrap_or_else(|| boxed(AllQuery))
}

impl Query {
    /// Most results this query returns: `limit`, 0 meaning
    /// [`super::DEFAULT_LIMIT`], at most [`super::MAX_LIMIT`].
    pub fn page_size(&self) -> usize {
        match self.limit {
            0 => super::DEFAULT_LIMIT,
            n => n.min(super::MAX_LIMIT),
        }
    }

    /// Whether this query asks only for the newest listings, with no
    /// filter a stored listing cannot be checked against: no words, no
    /// place and no date (scope, kind, exchange and a known topic may be
    /// given). The store's creation-time order answers it as the index
    /// would, without a pass over every matching document.
    pub fn is_newest_only(&self) -> bool {
        self.near.is_none()
            && self.available.is_none()
            && self
                .topic
                .as_deref()
                .is_none_or(|t| taxonomy::parse_filter(t).is_some())
            && !self.text.chars().any(char::is_alphanumeric)
    }

    /// Whether it filters by kind, exchange or topic (beyond scope).
    pub fn has_listing_filters(&self) -> bool {
        self.kind.is_some() || self.exchange.is_some() || self.topic.is_some()
    }

    /// The rule of a newest-only query at `now`: whether it shows a
    /// listing. What the index holds (no tombstone), open and not paused
    /// unless inactive ones are included, in the scope, of the kind,
    /// exchange and topic asked (a topic, or its group, as the index's
    /// topic terms), and not expired (which the API checks after the index,
    /// with `include_inactive` too). The topic filter is resolved once, not
    /// per listing.
    pub fn shows_newest(&self, now: i64) -> impl Fn(&Listing) -> bool + '_ {
        // `Some(None)`: a topic filter that names no topic shows nothing.
        let topic = self.topic.as_deref().map(taxonomy::parse_filter);
        move |l| {
            let open = l.status == Status::Open && !l.extras.every.is_some_and(|r| r.paused);
            l.status != Status::Withdrawn
                && l.expires_at > now
                && (open || self.include_inactive)
                && self.scope.as_ref().is_none_or(|s| s.contains(&l.scope))
                && self.kind.is_none_or(|k| l.kind == k)
                && self.exchange.is_none_or(|e| l.exchange == e)
                && topic.is_none_or(|key| key.is_some_and(|k| has_topic(l, k)))
        }
    }
}

/// Whether one of `l`'s topics is the topic `key`, or belongs to the group
/// `key`.
fn has_topic(l: &Listing, key: &str) -> bool {
    l.topics
        .iter()
        .any(|t| t == key || t.split_once('.').is_some_and(|(group, _)| group == key))
}
