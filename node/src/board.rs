//! The public board: the neighbourhood's listings in a browser, read-only,
//! served by the node beside its API (`/`, `/search`, `/listing/{id}`,
//! `/photo/{sha256}`, `/feed.atom`). Server-rendered HTML from templates
//! checked at compile time (askama; every value escaped), one stylesheet,
//! no script. Dutch by default, English by `?lang=en` or the browser's
//! `Accept-Language`. On by default when the API listens on loopback; the
//! operator turns it on for other addresses with `board = true`.

mod view;
pub mod words;

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use buurt_protocol::Exchange;
use serde::Deserialize;

use crate::api::search::{parse_query, SearchParams};
use crate::api::{ApiError, ApiState};
pub use view::{groups, money, Card, Group};
use words::{Lang, Words};

/// The one stylesheet, shared with the resident's own page (`buurt ui`).
pub const CSS: &str = include_str!("../static/buurt.css");

/// What every board page sends besides its body: no script may run, no
/// other site may frame it, nothing leaks in the referrer.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Listings on the board's first page and in a search.
const PAGE: usize = 30;

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/", get(home))
        .route("/search", get(search))
        .route("/listing/{id}", get(listing))
        .route("/photo/{sha256}", get(photo))
        .route("/feed.atom", get(feed))
        .route("/static/buurt.css", get(css))
        .layer(axum::middleware::from_fn(secure))
}

/// The security headers of every board response.
async fn secure(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// The search form's fields as given, to show them again.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Form {
    pub q: String,
    pub kind: String,
    pub exchange: String,
    pub topic: String,
    pub near: String,
    pub available: String,
    pub scope: String,
    pub lang: String,
}

impl Form {
    fn params(&self) -> SearchParams {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        SearchParams {
            q: self.q.clone(),
            kind: some(&self.kind),
            exchange: some(&self.exchange),
            topic: some(&self.topic),
            scope: some(&self.scope),
            near: some(&self.near),
            available: some(&self.available),
            limit: Some(PAGE),
            all: false,
        }
    }

    /// The form as a query string (for the feed and the language switch).
    fn query(&self, lang: &str) -> String {
        let pairs = [
            ("q", &self.q),
            ("kind", &self.kind),
            ("exchange", &self.exchange),
            ("topic", &self.topic),
            ("near", &self.near),
            ("available", &self.available),
            ("scope", &self.scope),
        ];
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(_, v)| !v.trim().is_empty()) {
            s.append_pair(k, v.trim());
        }
        s.append_pair("lang", lang);
        s.finish()
    }
}

/// What every page's frame shows.
struct Frame {
    w: &'static Words,
    lang: &'static str,
    other_lang: &'static str,
    switch_url: String,
    scope: String,
    node_name: String,
}

fn frame(st: &ApiState, lang: Lang, path: &str, query: &str) -> Frame {
    let other = match lang {
        Lang::Nl => Lang::En,
        Lang::En => Lang::Nl,
    };
    let base: String = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang="))
        .map(|p| format!("{p}&"))
        .collect();
    Frame {
        w: lang.words(),
        lang: lang.code(),
        other_lang: other.code(),
        switch_url: format!("{path}?{base}lang={}", other.code()),
        scope: st.config.scope.to_string(),
        node_name: st.config.name.clone(),
    }
}

fn lang_of(form: &Form, headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(Some(form.lang.as_str()).filter(|l| !l.is_empty()), accept)
}

#[derive(Template)]
#[template(path = "board/home.html")]
struct HomePage {
    w: &'static Words,
    lang: &'static str,
    other_lang: &'static str,
    switch_url: String,
    scope: String,
    node_name: String,
    q: Form,
    exchanges: Vec<(&'static str, &'static str)>,
    groups: Vec<Group>,
    cards: Vec<Card>,
    searched: bool,
    feed_url: String,
    error: Option<String>,
}

fn render(t: &impl Template) -> Result<Html<String>, ApiError> {
    t.render().map(Html).map_err(ApiError::internal)
}

async fn home(
    st: State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(form): Query<Form>,
) -> Result<Html<String>, ApiError> {
    page(st, headers, form, false).await
}

async fn search(
    st: State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(form): Query<Form>,
) -> Result<Html<String>, ApiError> {
    page(st, headers, form, true).await
}

/// The listings a form finds, as views; or why the form is wrong.
async fn found(
    st: &Arc<ApiState>,
    form: &Form,
) -> Result<Result<Vec<crate::api::dto::ListingView>, String>, ApiError> {
    let q = match parse_query(form.params(), st.config.limits.max_scope_levels) {
        Ok(q) => q,
        Err(e) => return Ok(Err(e.message)),
    };
    let now = st.now();
    let s = st.clone();
    st.blocking(move || crate::api::search::run(&s, &q, now))
        .await?
        .map(Ok)
}

async fn page(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    form: Form,
    searched: bool,
) -> Result<Html<String>, ApiError> {
    let lang = lang_of(&form, &headers);
    let query = form.query(lang.code());
    let f = frame(&st, lang, if searched { "/search" } else { "/" }, &query);
    let (cards, error) = match found(&st, &form).await? {
        Ok(views) => (views.iter().map(|v| Card::new(v, lang)).collect(), None),
        Err(e) => (vec![], Some(e)),
    };
    let w = lang.words();
    render(&HomePage {
        w: f.w,
        lang: f.lang,
        other_lang: f.other_lang,
        switch_url: f.switch_url,
        scope: f.scope,
        node_name: f.node_name,
        exchanges: Exchange::ALL
            .iter()
            .map(|e| (e.as_str(), w.exchange(*e)))
            .collect(),
        groups: view::groups(lang),
        cards,
        searched,
        feed_url: format!("/feed.atom?{query}"),
        error,
        q: form,
    })
}

#[derive(Template)]
#[template(path = "board/listing.html")]
struct ListingPage {
    w: &'static Words,
    lang: &'static str,
    other_lang: &'static str,
    switch_url: String,
    scope: String,
    node_name: String,
    c: Card,
}

#[derive(Template)]
#[template(path = "board/missing.html")]
struct MissingPage {
    w: &'static Words,
    lang: &'static str,
    other_lang: &'static str,
    switch_url: String,
    scope: String,
    node_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LangOnly {
    lang: String,
}

async fn listing(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(l): Query<LangOnly>,
) -> Result<Response, ApiError> {
    let form = Form {
        lang: l.lang,
        ..Form::default()
    };
    let lang = lang_of(&form, &headers);
    let path = format!("/listing/{id}");
    let f = frame(&st, lang, &path, "");
    let s = st.clone();
    let now = st.now();
    let view = st
        .blocking(move || crate::api::listings::one(&s, &id, now))
        .await?;
    let v = match view {
        Ok((v, _)) if v.status != "withdrawn" => v,
        _ => {
            let page = render(&MissingPage {
                w: f.w,
                lang: f.lang,
                other_lang: f.other_lang,
                switch_url: f.switch_url,
                scope: f.scope,
                node_name: f.node_name,
            })?;
            return Ok((StatusCode::NOT_FOUND, page).into_response());
        }
    };
    Ok(render(&ListingPage {
        w: f.w,
        lang: f.lang,
        other_lang: f.other_lang,
        switch_url: f.switch_url,
        scope: f.scope,
        node_name: f.node_name,
        c: Card::new(&v, lang),
    })?
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PhotoParams {
    listing: String,
}

/// A listing's photo, as `GET /v1/photos/{sha256}` gives it.
async fn photo(
    State(st): State<Arc<ApiState>>,
    axum::extract::Path(sha): axum::extract::Path<String>,
    Query(p): Query<PhotoParams>,
) -> Result<Response, ApiError> {
    crate::api::photos::serve(&st, &sha, Some(p.listing).filter(|l| !l.is_empty())).await
}

struct Entry {
    id: String,
    title: String,
    updated: String,
    author: String,
    path: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "board/feed.xml", escape = "html")]
struct Feed {
    lang: &'static str,
    feed_id: String,
    title: String,
    updated: String,
    self_url: String,
    page_url: String,
    base: String,
    entries: Vec<Entry>,
}

/// An Atom feed of what the form finds (the whole scope when it is empty).
async fn feed(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(form): Query<Form>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&form, &headers);
    let w = lang.words();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
        })
        .unwrap_or("localhost")
        .to_owned();
    let base = format!("http://{host}");
    let query = form.query(lang.code());
    let views = match found(&st, &form).await? {
        Ok(v) => v,
        Err(e) => return Err(ApiError::bad("bad_query", e)),
    };
    let entries: Vec<Entry> = views
        .iter()
        .map(|v| {
            let c = Card::new(v, lang);
            Entry {
                id: v.id.clone(),
                title: v.title.clone(),
                updated: v.created_at.clone(),
                author: v.author.clone(),
                path: c.url.clone(),
                summary: format!(
                    "{}, {} · {} · {}",
                    c.kind,
                    c.exchange,
                    c.terms,
                    c.topics.join(", ")
                ),
            }
        })
        .collect();
    let updated = entries
        .iter()
        .map(|e| e.updated.clone())
        .max()
        .unwrap_or_else(|| crate::clock::rfc3339(st.now()));
    let title = if form.q.trim().is_empty() {
        format!("{} {}", w.board, st.config.scope)
    } else {
        format!("{} {}: {}", w.board, st.config.scope, form.q.trim())
    };
    let xml = Feed {
        lang: lang.code(),
        feed_id: format!("urn:buurt:feed:{}:{query}", st.node_id),
        title,
        updated,
        self_url: format!("{base}/feed.atom?{query}"),
        page_url: format!("{base}/search?{query}"),
        base,
        entries,
    }
    .render()
    .map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        xml,
    )
        .into_response())
}
