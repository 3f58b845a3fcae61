//! From a [`Query`] to tantivy query objects.
//!
//! User text never reaches tantivy's query parser (a stray `"` or `:` would
//! be a syntax error there). It is cut into words by the same analyzer the
//! index uses, each word is stemmed the Dutch and the English way, and the
//! query is assembled from term, fuzzy and prefix queries.
//!
//! One word matches a listing when any of these match, in any of title
//! (boosted), tags and body:
//! - its Dutch or English stem, against the field stemmed the same way
//!   (BM25 scored);
//! - the word itself, unstemmed, and its stem stemmed again, against the
//!   stemmed fields (BM25, a little lower): the Dutch stemmer makes `fiets`
//!   of "fietsen" but `fiet` of `fiets`, so the stems of the two disagree,
//!   while `fiets` equals the indexed stem of "fietsen" and the stem of
//!   `fiets` (from `fietsen`) equals the indexed stem of "fiets";
//! - a fuzzy match on the unstemmed words (Levenshtein distance 1 for words of
//!   4 to 7 characters, 2 from 8, a transposition counting as one; constant,
//!   low score, halved for two edits), so `boormachien` finds "boormachine";
//! - a prefix match on the unstemmed words, for words of 4 characters or more
//!   (constant, low score), so `boor` finds the Dutch compound "boormachine".
//!
//! An exact match also matches the fuzzy and prefix clauses, so it always
//! scores above a listing that only matches fuzzily.
//!
//! Several words are combined with AND, for precision: every word must match
//! (each in its own way). Common function words (`de`, `een`, `the`, ...) only
//! add to the score unless the query holds nothing else. When AND finds
//! nothing, the search runs again with OR (see `crate::search`).

use buurt_protocol::taxonomy;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur,
    Query as TantivyQuery, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::{Language, TextAnalyzer};
use tantivy::Term;

use super::geohash;
use super::schema::{plain_analyzer, word_stemmer, Fields, DUTCH, ENGLISH};
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
/// Factor on the other forms of a word (unstemmed, stemmed twice) matched
/// against a stemmed field.
const OTHER_FORM_FACTOR: f32 = 0.7;
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

/// Function words that, in a query with other words, are not required.
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
    /// `[Dutch, English]` stems of `plain`.
    pub stems: [String; 2],
    /// `[Dutch, English]` stems of the stems. Stemmers are not idempotent:
    /// Dutch makes `fiets` of `fietsen` and `fiet` of `fiets`, so a listing
    /// saying "fiets" (indexed `fiet`) is found by `fietsen` this way.
    pub restems: [String; 2],
    /// A function word: only required when the query has nothing else.
    pub optional: bool,
}

/// How the words of a query combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every word that is not optional must match.
    All,
    /// At least one word must match.
    Any,
}

/// Cuts `text` into analysed words, at most [`MAX_QUERY_WORDS`], without
/// duplicates. Never fails: text without letters or digits gives no words.
pub(crate) fn words(text: &str) -> Vec<Word> {
    let mut end = text.len().min(MAX_QUERY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text[..end];
    let mut plain = plain_analyzer();
    let mut nl = word_stemmer(Language::Dutch);
    let mut en = word_stemmer(Language::English);
    let mut out: Vec<Word> = Vec::new();
    let mut stream = plain.token_stream(text);
    while out.len() < MAX_QUERY_WORDS && stream.advance() {
        let word = stream.token().text.clone();
        if word.is_empty() || out.iter().any(|w| w.plain == word) {
            continue;
        }
        let optional = STOP_WORDS.contains(&word.as_str());
        let stems = [stem(&mut nl, &word), stem(&mut en, &word)];
        let restems = [stem(&mut nl, &stems[DUTCH]), stem(&mut en, &stems[ENGLISH])];
        out.push(Word {
            plain: word,
            stems,
            restems,
            optional,
        });
    }
    if out.iter().all(|w| w.optional) {
        for w in &mut out {
            w.optional = false;
        }
    }
    out
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
fn word_query(f: &Fields, w: &Word) -> Box<dyn TantivyQuery> {
    let mut any: Vec<Box<dyn TantivyQuery>> = Vec::with_capacity(24);
    for lang in [DUTCH, ENGLISH] {
        let stem = w.stems[lang].as_str();
        let mut forms = vec![(stem, 1.0)];
        for other in [w.plain.as_str(), w.restems[lang].as_str()] {
            if forms.iter().all(|(f, _)| *f != other) {
                forms.push((other, OTHER_FORM_FACTOR));
            }
        }
        for (field, boost) in [
            (f.title[lang], TITLE_BOOST),
            (f.tags[lang], TAGS_BOOST),
            (f.body[lang], 1.0),
        ] {
            for (form, factor) in &forms {
                any.push(term_query(field, form, boost * factor));
            }
        }
    }
    if w.optional {
        // A function word only adds to the score: its exact forms suffice.
        return boxed(BooleanQuery::union(any));
    }
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
    boxed(BooleanQuery::union(any))
}

/// The filters of `q` as one non-scoring query; `None` when nothing is
/// filtered.
pub(crate) fn filters(
    f: &Fields,
    q: &Query,
    now: i64,
) -> Result<Option<Box<dyn TantivyQuery>>, SearchError> {
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
    if !q.include_inactive {
        all.push(exact(f.status, buurt_protocol::Status::Open.as_str()));
        all.push(boxed(RangeQuery::new(
            std::ops::Bound::Excluded(Term::from_field_i64(f.expires_at, now)),
            std::ops::Bound::Unbounded,
        )));
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
) -> Box<dyn TantivyQuery> {
    let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = words
        .iter()
        .map(|w| {
            let occur = match mode {
                Mode::All if !w.optional => Occur::Must,
                _ => Occur::Should,
            };
            (occur, word_query(f, w))
        })
        .collect();
    if let Some(filter) = filter {
        clauses.push((Occur::Must, boxed(ConstScoreQuery::new(filter, 0.0))));
    }
    // With a Must clause present, Should clauses are optional unless a
    // minimum is set: in `Any` mode one word at least must match.
    let minimum = match mode {
        Mode::All => 0,
        Mode::Any => 1,
    };
    boxed(BooleanQuery::with_minimum_required_clauses(
        clauses, minimum,
    ))
}

/// The query for an empty text: the filters alone, or everything.
pub(crate) fn filter_only_query(filter: Option<Box<dyn TantivyQuery>>) -> Box<dyn TantivyQuery> {
    filter.unwrap_or_else(|| boxed(AllQuery))
}
