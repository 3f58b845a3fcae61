//! The index schema, its text analyzers, and how a listing becomes a document.
//!
//! Text is indexed three times: through the Dutch Snowball stemmer (applied
//! twice, see `dutch_analyzer`), through the English one (listings are
//! written in either language and the index cannot tell which), and unstemmed
//! (`words`), for typo-tolerant and prefix matching. All three share one
//! tokenizer (split on anything that is not a letter or digit, drop tokens of
//! `MAX_TOKEN_BYTES` or more, lowercase, fold accents to ASCII), so a query
//! word is analysed the same way (see `plan`).
//!
//! The analyzer names carry a version: a change of analysis changes the schema
//! stored in the index, so an old index is refused at open and rebuilt instead
//! of silently disagreeing with the queries.

use buurt_protocol::calendar::{day_of, Day};
use buurt_protocol::{Listing, ListingId, Status};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
    TokenizerManager,
};
use tantivy::TantivyDocument;

use super::stem::CachedStemmer;

/// Tokens this long (in bytes) or longer are not indexed: they are not words,
/// and a Levenshtein automaton over one would be costly to build.
pub(crate) const MAX_TOKEN_BYTES: usize = 40;

/// Analyzer of the Dutch-stemmed fields.
const NL: &str = "buurt_nl_v1";
/// Analyzer of the English-stemmed fields.
const EN: &str = "buurt_en_v1";
/// Analyzer of the unstemmed field.
const PLAIN: &str = "buurt_plain_v1";

/// Name of the fast field holding `created_at`, used to order results.
pub(crate) const CREATED_AT: &str = "created_at";
/// Name of the fast field holding [`Fields::author`].
pub(crate) const AUTHOR: &str = "author";
/// Name of the fast field holding [`Fields::open_until`].
pub(crate) const OPEN_UNTIL: &str = "open_until";

/// Index of the Dutch variant in the per-language field pairs.
pub(crate) const DUTCH: usize = 0;
/// Index of the English variant in the per-language field pairs.
pub(crate) const ENGLISH: usize = 1;

/// The fields of the schema. Every search index built by this module has
/// exactly these, in this order, so the handles are valid for any index whose
/// schema equals [`Fields::schema`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// The listing id's 16 bytes: the delete key. Raw bytes rather than hex
    /// text halve the term dictionary that every segment write and merge
    /// builds, where these unique terms are most of the work.
    pub id: Field,
    /// First 8 bytes of the listing id, big-endian; a fast field, so that hits
    /// are turned into ids without touching the document store.
    pub id_hi: Field,
    /// Last 8 bytes of the listing id, big-endian.
    pub id_lo: Field,
    /// The author's 32 key bytes, a fast field: the index can tell whose
    /// listings it held when the store lost some (`buurt repair`).
    pub author: Field,
    pub created_at: Field,
    /// `expires_at` for an open listing, `i64::MIN` otherwise: "open and not
    /// expired at `now`" is then the one comparison `open_until > now`.
    pub open_until: Field,
    pub kind: Field,
    pub exchange: Field,
    /// Every topic key, and the group of each (`goods.tools` and `goods`).
    pub topic: Field,
    /// The scope and every ancestor (`nl`, `nl/amsterdam`, ...), so that a
    /// scope filter is one term and matches whole segments only.
    pub scope: Field,
    /// Every prefix of the geohash (`u`, `u1`, ... `u173zq`).
    pub geo: Field,
    /// [`ALWAYS`] for a listing without availability windows, else one
    /// [`available_term`] for every day of its life that a window covers.
    pub avail: Field,
    /// `[Dutch, English]` stemmed title.
    pub title: [Field; 2],
    /// `[Dutch, English]` stemmed body.
    pub body: [Field; 2],
    /// `[Dutch, English]` stemmed tags.
    pub tags: [Field; 2],
    /// Title, body and tags, unstemmed: for fuzzy and prefix matching.
    pub words: Field,
}

fn text(tokenizer: &str, record: IndexRecordOption, fieldnorms: bool) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record)
            .set_fieldnorms(fieldnorms),
    )
}

impl Fields {
    /// Builds the schema and its field handles.
    pub(crate) fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        // No phrase queries are run: frequencies (for BM25) but no positions.
        let nl = || text(NL, IndexRecordOption::WithFreqs, true);
        let en = || text(EN, IndexRecordOption::WithFreqs, true);
        let fields = Fields {
            id: b.add_bytes_field("id", INDEXED),
            id_hi: b.add_u64_field("id_hi", FAST),
            id_lo: b.add_u64_field("id_lo", FAST),
            author: b.add_bytes_field(AUTHOR, FAST),
            created_at: b.add_i64_field(CREATED_AT, FAST),
            open_until: b.add_i64_field(OPEN_UNTIL, FAST),
            kind: b.add_text_field("kind", STRING),
            exchange: b.add_text_field("exchange", STRING),
            topic: b.add_text_field("topic", STRING),
            scope: b.add_text_field("scope", STRING),
            geo: b.add_text_field("geo", STRING),
            avail: b.add_text_field("avail", STRING),
            title: [
                b.add_text_field("title_nl", nl()),
                b.add_text_field("title_en", en()),
            ],
            body: [
                b.add_text_field("body_nl", nl()),
                b.add_text_field("body_en", en()),
            ],
            tags: [
                b.add_text_field("tags_nl", nl()),
                b.add_text_field("tags_en", en()),
            ],
            // Only matched through automata, which read doc ids alone.
            words: b.add_text_field("words", text(PLAIN, IndexRecordOption::Basic, false)),
        };
        (b.build(), fields)
    }

    /// The document for a listing (which must not be a tombstone).
    pub(crate) fn document(&self, listing: &Listing) -> TantivyDocument {
        let id = listing.listing_id();
        let (hi, lo) = id_halves(&id);
        let mut d = TantivyDocument::new();
        d.add_bytes(self.id, &id.0);
        d.add_u64(self.id_hi, hi);
        d.add_u64(self.id_lo, lo);
        d.add_bytes(self.author, listing.author.as_bytes());
        d.add_i64(self.created_at, listing.created_at);
        let paused = listing.extras.every.is_some_and(|r| r.paused);
        let open_until = match listing.status {
            Status::Open if !paused => listing.expires_at,
            _ => i64::MIN,
        };
        d.add_i64(self.open_until, open_until);
        d.add_text(self.kind, listing.kind.as_str());
        d.add_text(self.exchange, listing.exchange.as_str());
        for t in &listing.topics {
            d.add_text(self.topic, t);
            if let Some((group, _)) = t.split_once('.') {
                d.add_text(self.topic, group);
            }
        }
        for s in listing.scope.self_and_ancestors() {
            d.add_text(self.scope, s.as_str());
        }
        if let Some(g) = &listing.geohash {
            let g = g.to_ascii_lowercase();
            for end in 1..=g.len() {
                if let Some(prefix) = g.get(..end) {
                    d.add_text(self.geo, prefix);
                }
            }
        }
        if listing.extras.availability.is_empty() {
            d.add_text(self.avail, ALWAYS);
        } else {
            let life = day_of(listing.created_at)..=day_of(listing.expires_at);
            for day in life.filter(|&day| listing.extras.available_on(day)) {
                d.add_text(self.avail, available_term(day));
            }
        }
        for lang in [DUTCH, ENGLISH] {
            d.add_text(self.title[lang], &listing.title);
            d.add_text(self.body[lang], &listing.body);
            for t in &listing.tags {
                d.add_text(self.tags[lang], t);
            }
        }
        d.add_text(self.words, &listing.title);
        d.add_text(self.words, &listing.body);
        for t in &listing.tags {
            d.add_text(self.words, t);
        }
        d
    }
}

/// The `avail` term of a listing without availability windows.
pub(crate) const ALWAYS: &str = "always";

/// The `avail` term of one day.
pub(crate) fn available_term(day: Day) -> String {
    format!("d{day}")
}

/// The two big-endian halves of a listing id.
pub(crate) fn id_halves(id: &ListingId) -> (u64, u64) {
    let mut hi = [0u8; 8];
    let mut lo = [0u8; 8];
    hi.copy_from_slice(&id.0[..8]);
    lo.copy_from_slice(&id.0[8..]);
    (u64::from_be_bytes(hi), u64::from_be_bytes(lo))
}

/// The listing id from its two halves.
pub(crate) fn id_from_halves(hi: u64, lo: u64) -> ListingId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&hi.to_be_bytes());
    id[8..].copy_from_slice(&lo.to_be_bytes());
    ListingId(id)
}

/// The unstemmed analyzer: words, lowercased and folded to ASCII.
pub(crate) fn plain_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The Dutch field analyzer. The Snowball stemmer runs twice: once is not
/// idempotent in Dutch ("fietsen" gives `fiets`, "fiets" gives `fiet`;
/// "kinderwagens" gives `kinderwagen`, "kinderwagen" gives `kinderwaag`), so a
/// word and its plural would not meet. A second pass maps both to one stem.
fn dutch_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(CachedStemmer::dutch_twice())
        .build()
}

/// The English field analyzer (Porter2 is stable under a second pass).
fn english_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(CachedStemmer::english())
        .build()
}

/// Stems one word that [`plain_analyzer`] already produced, the way the
/// Dutch field analyzer does.
pub(crate) fn dutch_word_stemmer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(CachedStemmer::dutch_twice())
        .build()
}

/// Stems one word that [`plain_analyzer`] already produced, the way the
/// English field analyzer does.
pub(crate) fn english_word_stemmer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(CachedStemmer::english())
        .build()
}

/// Registers the analyzers the schema names. Tokenizers are not stored in
/// the index, so this runs on every open.
pub(crate) fn register_analyzers(manager: &TokenizerManager) {
    manager.register(NL, dutch_analyzer());
    manager.register(EN, english_analyzer());
    manager.register(PLAIN, plain_analyzer());
}
