//! The full-text search index: derived from the store, rebuildable from it.
//!
//! Built on tantivy. Why it looks the way it does:
//!
//! - **Two languages, two stems.** Residents write Dutch or English and a
//!   listing does not say which. Title, body and tags are each indexed twice,
//!   through a Dutch and an English Snowball stemmer (after splitting on
//!   non-alphanumerics, lowercasing and folding accents), and a query word is
//!   looked up both ways. BM25 ranks, with the title weighted 3, tags 2 and
//!   the body 1.
//! - **Stemmers disagree with themselves.** Once, the Dutch stemmer maps
//!   "fietsen" to `fiets` but `fiets` to `fiet`, and "kinderwagens" to
//!   `kinderwagen` but that to `kinderwaag`; run twice, it maps each pair to
//!   one stem, so the Dutch fields and queries are stemmed twice. A prefix
//!   match on the unstemmed words adds Dutch compounds: `boor` finds
//!   "boormachine".
//! - **Typos.** A fuzzy match on the unstemmed words: Levenshtein distance 1
//!   for words of 4 to 7 characters, 2 from 8 on, a transposition counting as
//!   one edit. Fuzzy and prefix matches score a small constant, and an exact
//!   match also matches both, so exact results always rank first.
//! - **AND, then OR.** Every word of a query must match (each in any field and
//!   any of its forms), because residents type few words and expect them all
//!   to count; function words (`de`, `een`, `the`) are dropped. When no
//!   listing has every word, the search is run again requiring any one word,
//!   so a query never comes back empty only because of one stray word.
//! - **Exact first, cheaply.** The fuzzy and prefix automata cost more than
//!   the term lookups, so a search first asks for exact (stemmed) matches of
//!   every word, and only if those do not fill the page asks again with fuzzy
//!   and prefix matching. For one word this gives the same results as always
//!   matching loosely, since exact matches rank first either way.
//! - **No query syntax.** User text never reaches tantivy's query parser: it is
//!   analysed by the index's own analyzers and turned into term, fuzzy and
//!   prefix queries, so no input can make a search fail.
//! - **Filters are terms.** Scope and geohash are indexed with every prefix
//!   (segment-wise for scopes), topics with their group, so each filter is one
//!   term lookup; `near` adds the eight neighbouring cells. By default only
//!   open listings that have not expired are found: one fast field holds the
//!   expiry of open listings (the smallest `i64` for others), checked per
//!   candidate while ranking (`rank`), since the condition rules out too few
//!   listings to be worth driving a search with.
//! - **Ids from fast fields.** A hit carries only the listing id, read from
//!   two `u64` fast fields; the caller loads the listing from its store.
//!
//! One [`SearchIndex`] owns the index's single writer (behind a mutex, one
//! indexing thread, a 50 MB budget) and a reader that is reloaded on every
//! commit, so searches never wait for writes.

mod geohash;
pub mod indexer;
mod plan;
pub(crate) use self::plan::word_stems;
mod rank;
mod schema;
mod stem;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use buurt_protocol::{Exchange, Kind, ListingId, MemberId, Scope, SignedListing, Status};
use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::directory::MmapDirectory;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::QueryClone;
use tantivy::{
    DocAddress, Index, IndexBuilder, IndexReader, IndexSettings, IndexWriter, ReloadPolicy,
    Searcher, TantivyError, Term,
};

use plan::{Matching, Mode};
use rank::Rank;
use schema::{id_from_halves, register_analyzers, Fields};

/// Results returned when [`Query::limit`] is 0.
pub const DEFAULT_LIMIT: usize = 20;
/// Most results one search returns, whatever [`Query::limit`] asks.
pub const MAX_LIMIT: usize = 1_000;
/// Memory the writer may buffer before it writes a segment.
const WRITER_MEMORY_BYTES: usize = 50_000_000;
/// Prefix of the commit payload that carries the caller's marker.
const MARKER_PREFIX: &str = "buurt-marker=";

/// Why the search index could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The index directory could not be created.
    #[error("cannot create directory {}: {error}", path.display())]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The index exists but cannot be opened (damaged, or locked by another
    /// writer). Moving the directory aside and rebuilding is the remedy.
    #[error("cannot open the index at {}: {error}", path.display())]
    Open { path: PathBuf, error: TantivyError },
    /// The index was built with other fields or analyzers (an older or newer
    /// version of buurt); it must be rebuilt.
    #[error("the index at {} was built by another version of buurt; rebuild it", path.display())]
    SchemaMismatch { path: PathBuf },
    /// Reading or writing the index failed.
    #[error("tantivy: {0}")]
    Index(TantivyError),
    /// A thread panicked while it held the writer.
    #[error("the index writer is unusable: a thread panicked while writing")]
    Poisoned,
    /// The `near` filter is not a geohash.
    #[error("`{0}` is not a geohash (1 to 12 characters of 0-9 and b-z without a, i, l, o)")]
    InvalidNear(String),
    /// The `topic` filter is neither a topic nor a group.
    #[error("`{0}` is not a topic or a topic group")]
    UnknownTopic(String),
}

impl From<TantivyError> for SearchError {
    fn from(e: TantivyError) -> SearchError {
        SearchError::Index(e)
    }
}

/// A search: free text and filters. `Query::default()` finds the newest open
/// listings.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Words to look for, in Dutch or English; any text is accepted. Empty (or
    /// without letters and digits): filters only, newest first.
    pub text: String,
    /// Only offers, or only requests.
    pub kind: Option<Kind>,
    /// Only this way of exchanging.
    pub exchange: Option<Exchange>,
    /// A topic key (`goods.tools`) or a group (`goods`, matching every
    /// `goods.*`); Dutch and English labels are accepted too.
    pub topic: Option<String>,
    /// Only listings in this scope or below it, whole segments only:
    /// `nl/amsterdam` matches `nl/amsterdam/oost`, not `nl/amsterdamse-bos`.
    pub scope: Option<Scope>,
    /// A geohash: listings whose geohash starts with it, or with one of its
    /// eight neighbours of the same precision. Listings carry at most 6
    /// characters, so a longer geohash is cut to 6.
    pub near: Option<String>,
    /// Only listings available on this day (protocol.md, section 5,
    /// "Version 2"): those without windows, and those with a window over it.
    pub available: Option<buurt_protocol::calendar::Day>,
    /// Also find reserved, closed and expired listings (never withdrawn
    /// ones: those are not in the index).
    pub include_inactive: bool,
    /// Most results wanted; 0 means [`DEFAULT_LIMIT`], and at most
    /// [`MAX_LIMIT`] are returned.
    pub limit: usize,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The listing's address; load the listing from the store.
    pub id: ListingId,
    /// Relevance (higher is better); 0 for a search without text.
    pub score: f32,
}

/// The marker of the last marked commit, and the one the next plain commit
/// writes again.
#[derive(Debug, Default)]
struct Markers {
    /// In the last commit.
    committed: Option<u64>,
    /// To write with the next commit: `None` once [`SearchIndex::clear`] ran.
    pending: Option<u64>,
}

/// The search index. `Send + Sync`: share it behind an `Arc`; writes are
/// serialised by an internal lock, searches run in parallel.
pub struct SearchIndex {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    markers: Mutex<Markers>,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and an empty index if
    /// there is none. A damaged index, or one built by another version, is an
    /// error: move the directory aside and rebuild from the store.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        let open_err = |error: TantivyError| SearchError::Open {
            path: dir.to_owned(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(|error| SearchError::CreateDir {
            path: dir.to_owned(),
            error,
        })?;
        let (schema, fields) = Fields::schema();
        let directory = MmapDirectory::open(dir).map_err(|e| open_err(e.into()))?;
        let exists = Index::exists(&directory).map_err(|e| open_err(e.into()))?;
        let index = if exists {
            let index = Index::open(directory).map_err(open_err)?;
            if index.schema() != schema {
                return Err(SearchError::SchemaMismatch {
                    path: dir.to_owned(),
                });
            }
            index
        } else {
            Index::create(directory, schema, settings()).map_err(open_err)?
        };
        SearchIndex::with_index(index, fields).map_err(|e| match e {
            SearchError::Index(error) => open_err(error),
            other => other,
        })
    }

    /// A fresh index in memory, for tests and throwaway use.
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let (schema, fields) = Fields::schema();
        let index = IndexBuilder::new()
            .schema(schema)
            .settings(settings())
            .create_in_ram()?;
        SearchIndex::with_index(index, fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<SearchIndex, SearchError> {
        register_analyzers(index.tokenizers());
        let committed = index
            .load_metas()?
            .payload
            .as_deref()
            .and_then(parse_marker);
        let options = IndexWriterOptions::builder()
            .memory_budget_per_thread(WRITER_MEMORY_BYTES)
            .num_worker_threads(1)
            .num_merge_threads(1)
            .build();
        let writer = index.writer_with_options(options)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            fields,
            reader,
            writer: Mutex::new(writer),
            markers: Mutex::new(Markers {
                committed,
                pending: committed,
            }),
        })
    }

    fn writer(&self) -> Result<MutexGuard<'_, IndexWriter>, SearchError> {
        self.writer.lock().map_err(|_| SearchError::Poisoned)
    }

    fn markers(&self) -> MutexGuard<'_, Markers> {
        // Two plain `Option<u64>`s cannot be left half-written: a poisoned
        // lock holds consistent values.
        self.markers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn id_term(&self, id: &ListingId) -> Term {
        Term::from_field_bytes(self.fields.id, &id.0)
    }

    /// Adds or replaces the document for the listing's address (delete by
    /// listing id term, then add). Tombstones (`Status::Withdrawn`) are only
    /// deleted, never added. Visible to searches after the next commit.
    pub fn upsert(&self, listing: &SignedListing) -> Result<(), SearchError> {
        let l = &listing.listing;
        let writer = self.writer()?;
        writer.delete_term(self.id_term(&l.listing_id()));
        if l.status != Status::Withdrawn {
            writer.add_document(self.fields.document(l))?;
        }
        Ok(())
    }

    /// Removes the listing's document, if any. Visible after the next commit.
    pub fn remove(&self, id: &ListingId) -> Result<(), SearchError> {
        self.writer()?.delete_term(self.id_term(id));
        Ok(())
    }

    /// Commits pending changes and reloads the reader, so that they are
    /// searchable on return. The marker of the last
    /// [`commit_with_marker`](Self::commit_with_marker) is written again, so
    /// it stays a lower bound of what the index holds.
    pub fn commit(&self) -> Result<(), SearchError> {
        let mut writer = self.writer()?;
        let pending = self.markers().pending;
        let mut prepared = writer.prepare_commit()?;
        if let Some(m) = pending {
            prepared.set_payload(&format!("{MARKER_PREFIX}{m}"));
        }
        prepared.commit()?;
        self.markers().committed = pending;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Like [`commit`](Self::commit), and stores `marker` (an opaque number,
    /// such as the store's generation) with the commit; [`marker`](Self::marker)
    /// returns it, also after a restart.
    pub fn commit_with_marker(&self, marker: u64) -> Result<(), SearchError> {
        let mut writer = self.writer()?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&format!("{MARKER_PREFIX}{marker}"));
        prepared.commit()?;
        {
            let mut m = self.markers();
            m.committed = Some(marker);
            m.pending = Some(marker);
        }
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// The marker stored with the last commit: the value given to the last
    /// [`commit_with_marker`](Self::commit_with_marker), unless
    /// [`clear`](Self::clear) was committed since. `None` for a new index.
    pub fn marker(&self) -> Option<u64> {
        self.markers().committed
    }

    /// Drops every document, and the changes not yet committed, to rebuild
    /// the index. Searches see the old documents until the next commit, which
    /// also drops the marker.
    pub fn clear(&self) -> Result<(), SearchError> {
        let mut writer = self.writer()?;
        writer.rollback()?;
        writer.delete_all_documents()?;
        self.markers().pending = None;
        Ok(())
    }

    /// Number of documents searchable now (as of the last commit).
    /// Every listing in the index, as `(listing id, author)`, in no
    /// particular order: what the index knew, to compare with the store.
    pub fn entries(&self) -> Result<Vec<(ListingId, MemberId)>, SearchError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(searcher.num_docs() as usize);
        for reader in searcher.segment_readers() {
            let ff = reader.fast_fields();
            let (hi, lo) = (ff.u64("id_hi")?, ff.u64("id_lo")?);
            let author = ff.bytes(schema::AUTHOR)?;
            let mut key = Vec::new();
            for doc in reader.doc_ids_alive() {
                let (Some(h), Some(l)) = (hi.first(doc), lo.first(doc)) else {
                    continue;
                };
                let member = author.as_ref().and_then(|col| {
                    let ord = col.term_ords(doc).next()?;
                    key.clear();
                    col.ord_to_bytes(ord, &mut key).ok()?;
                    <[u8; 32]>::try_from(key.as_slice()).ok()
                });
                if let Some(m) = member {
                    out.push((id_from_halves(h, l), MemberId(m)));
                }
            }
        }
        Ok(out)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The share of documents that the narrowest of the query's exact
    /// filters (kind, exchange, topic, scope) matches, from the committed
    /// index's document frequencies: 1.0 without such a filter or without
    /// documents. An estimate (a replaced document counts until a merge),
    /// for choosing between the store's newest-first walk and the index.
    pub fn filter_share(&self, q: &Query) -> f64 {
        let searcher = self.reader.searcher();
        let total = searcher.num_docs();
        if total == 0 {
            return 1.0;
        }
        let f = &self.fields;
        let topic = q
            .topic
            .as_deref()
            .and_then(buurt_protocol::taxonomy::parse_filter);
        let scope = q.scope.as_ref().map(Scope::as_str);
        let terms = [
            q.kind.map(|k| (f.kind, k.as_str())),
            q.exchange.map(|e| (f.exchange, e.as_str())),
            topic.map(|t| (f.topic, t)),
            scope.map(|s| (f.scope, s)),
        ];
        terms
            .into_iter()
            .flatten()
            .filter_map(|(field, text)| searcher.doc_freq(&Term::from_field_text(field, text)).ok())
            .map(|n| n as f64 / total as f64)
            .fold(1.0, f64::min)
    }

    /// Runs a search at time `now` (Unix seconds, for the expiry filter).
    /// Text is never an error; only a `near` that is not a geohash, or a
    /// `topic` that is not one, is.
    pub fn search(&self, q: &Query, now: i64) -> Result<Vec<Hit>, SearchError> {
        let limit = q.page_size();
        let filter = plan::filters(&self.fields, q)?;
        let searcher = self.reader.searcher();
        if searcher.num_docs() == 0 {
            return Ok(Vec::new());
        }
        let rank = |scored| Rank {
            open_at: (!q.include_inactive).then_some(now),
            scored,
        };
        let words = plan::words(&q.text);
        if words.is_empty() && q.text.chars().any(char::is_alphanumeric) {
            // Only words too long to be indexed: nothing can match.
            return Ok(Vec::new());
        }
        if words.is_empty() {
            let query = plan::filter_only_query(filter);
            let newest = TopDocs::with_limit(limit).order_by(rank(false));
            return resolve(&searcher, searcher.search(&*query, &newest)?);
        }
        let run = |mode: Mode, matching: Matching| {
            let filter = filter.as_ref().map(|f| f.box_clone());
            let query = plan::text_query(&self.fields, &words, filter, mode, matching);
            let ranked = TopDocs::with_limit(limit).order_by(rank(true));
            let mut found = searcher.search(&*query, &ranked)?;
            found.retain(|(key, _)| rank::is_included(key));
            Ok::<_, TantivyError>(found)
        };
        // Exact matches of every word, when they fill the page, are what a
        // loose query would rank first anyway (for one word, provably: an
        // exact match scores its BM25 plus every loose clause's constant);
        // the fuzzy and prefix automata are costly, so they run only when
        // the page is not full.
        let mut found = run(Mode::All, Matching::Exact)?;
        if found.len() < limit {
            found = run(Mode::All, Matching::Loose)?;
        }
        if found.is_empty() && words.len() > 1 {
            found = run(Mode::Any, Matching::Loose)?;
        }
        resolve(&searcher, found)
    }
}

/// Turns document addresses into listing ids, through the id fast fields,
/// leaving out excluded candidates.
fn resolve(
    searcher: &Searcher,
    found: Vec<(rank::Key, DocAddress)>,
) -> Result<Vec<Hit>, SearchError> {
    let segments = searcher.segment_readers();
    let mut columns: Vec<Option<(Column<u64>, Column<u64>)>> =
        (0..segments.len()).map(|_| None).collect();
    let mut hits = Vec::with_capacity(found.len());
    for (key, doc) in found {
        let (Some(reader), Some(slot)) = (
            segments.get(doc.segment_ord as usize),
            columns.get_mut(doc.segment_ord as usize),
        ) else {
            continue;
        };
        if !rank::is_included(&key) {
            continue;
        }
        if slot.is_none() {
            let ff = reader.fast_fields();
            *slot = Some((ff.u64("id_hi")?, ff.u64("id_lo")?));
        }
        if let Some((hi, lo)) = slot {
            if let (Some(hi), Some(lo)) = (hi.first(doc.doc_id), lo.first(doc.doc_id)) {
                hits.push(Hit {
                    id: id_from_halves(hi, lo),
                    score: key.0,
                });
            }
        }
    }
    Ok(hits)
}

/// Index settings. Documents are not sorted by creation time: sorting made
/// a search without text faster but cost every segment write and merge a
/// re-sort (ingest at 100,000 listings went from 0.50 to 0.60 times the
/// verify rate without it; see docs/performance.md).
fn settings() -> IndexSettings {
    IndexSettings {
        sort_by_field: None,
        ..IndexSettings::default()
    }
}

fn parse_marker(payload: &str) -> Option<u64> {
    payload.strip_prefix(MARKER_PREFIX)?.parse().ok()
}
