//! The OpenAPI document (`api::openapi`) held against the code.
//!
//! Every `.route(PATH, METHOD(..))` written in the API's source
//! (`src/api.rs` and `src/api/**`) is an operation of the document, and
//! every operation of the document is such a route: the source is read as
//! text, so a route added without its `#[utoipa::path]` (or listed in
//! `ApiDoc` under another path or method) fails here. The board's HTML
//! pages (`src/board.rs`) are merged into the same router by `run` but are
//! no part of the JSON API: they are left out on purpose ([`NOT_THE_API`]),
//! and routes anywhere else in `src/` fail the test. The document is also
//! checked as a document: OpenAPI 3.1, every `$ref` resolves, every path
//! parameter declared, the operator's routes marked, every error answer a
//! JSON `ErrorBody` naming its reason codes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use buurt_node::api::openapi;
use serde_json::Value;

/// Files under `src/` that declare routes that are not the JSON API: the
/// public board's HTML pages and feed.
const NOT_THE_API: &[&str] = &["board.rs"];

/// The methods a route may be declared with (axum's method routers).
const METHODS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "head", "options", "trace",
];

fn document() -> Value {
    let text = openapi::json().expect("the document serialises");
    serde_json::from_str(text).expect("the document is JSON")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("reads src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments; string and character literals are kept
/// (a `//` in a string is no comment).
fn code(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                i = end;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str(&text[start..i.min(b.len())]);
            }
            // A character literal such as '"' or '\'' (not a lifetime).
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str(&text[start..i.min(b.len())]);
            }
            _ => {
                let c = text[i..].chars().next().expect("a char");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The text up to the `)` that closes an already opened `(`.
fn balanced(text: &str) -> &str {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' => depth += 1,
            ')' if depth == 0 => return &text[..i],
            ')' => depth -= 1,
            _ => {}
        }
    }
    panic!("unbalanced parentheses after `.route(`: {text:.80}")
}

/// The methods of a method router such as `get(a)`,
/// `get(a).post(b)` or `axum::routing::post(c)`: each name called at the
/// top level.
fn methods_of(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut ident = String::new();
    for c in expr.chars() {
        match c {
            '(' => {
                if depth == 0 {
                    assert!(
                        METHODS.contains(&ident.as_str()),
                        "`{ident}(..)` in `.route(.., {expr})` is not a method this test \
                         knows: extend METHODS (and the document)"
                    );
                    out.push(ident.to_ascii_uppercase());
                }
                depth += 1;
                ident.clear();
            }
            ')' => {
                depth = depth.saturating_sub(1);
                ident.clear();
            }
            c if c.is_alphanumeric() || c == '_' => ident.push(c),
            _ => ident.clear(),
        }
    }
    assert!(!out.is_empty(), "no method in `{expr}`");
    out
}

/// Every `(METHOD, path)` that `.route(..)` calls in `code` declare.
fn routes_in(code: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(".route(") {
        let after = &rest[i + ".route(".len()..];
        let args = balanced(after);
        let args_trim = args.trim_start();
        let path = args_trim
            .strip_prefix('"')
            .and_then(|p| p.split('"').next())
            .unwrap_or_else(|| panic!("a route's path is a string literal: `{args:.80}`"));
        let handlers = args_trim[path.len() + 2..]
            .trim_start()
            .strip_prefix(',')
            .unwrap_or_else(|| panic!("`.route(\"{path}\", ..)` has a method router"));
        for m in methods_of(handlers) {
            assert!(
                out.insert((m.clone(), path.to_owned())),
                "{m} {path} is declared twice"
            );
        }
        rest = &after[args.len()..];
    }
    out
}

/// The API's routes as the source declares them; panics on routes outside
/// the API's files that [`NOT_THE_API`] does not name, and on routers
/// nested in ways this reading does not follow.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut api = BTreeSet::new();
    let mut left_out = 0;
    for file in all {
        let rel = file.strip_prefix(&src).expect("under src");
        let rel = rel.to_string_lossy().replace('\\', "/");
        let text = code(&std::fs::read_to_string(&file).expect("reads a source file"));
        let found = routes_in(&text);
        let is_api = rel == "api.rs" || rel.starts_with("api/");
        if is_api {
            for unfollowed in [".nest(", ".nest_service(", ".route_service("] {
                assert!(
                    !text.contains(unfollowed),
                    "{rel}: `{unfollowed}` is not read by this test; declare routes with `.route(`"
                );
            }
            for r in &found {
                assert!(api.insert(r.clone()), "{} {} declared twice", r.0, r.1);
            }
        } else if NOT_THE_API.contains(&rel.as_str()) {
            left_out += found.len();
        } else {
            assert!(
                found.is_empty(),
                "{rel} declares routes {found:?}: routes of the API live in src/api/, \
                 or name the file in NOT_THE_API"
            );
        }
    }
    assert!(
        left_out > 0,
        "the board's routes were not found: is NOT_THE_API stale?"
    );
    api
}

/// Every `(METHOD, path)` of the document.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut out = BTreeMap::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) || method == "query" {
                out.insert((method.to_ascii_uppercase(), path.clone()), op.clone());
            }
        }
    }
    out
}

#[test]
fn every_route_is_in_the_document_and_nothing_else() {
    let source = routes_in_source();
    let doc: BTreeSet<_> = operations(&document()).into_keys().collect();
    let missing: Vec<_> = source.difference(&doc).collect();
    let extra: Vec<_> = doc.difference(&source).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without a `#[utoipa::path]` listed in api::openapi::ApiDoc: {missing:?}\n\
         operations in the document that no route declares: {extra:?}"
    );
    assert!(source.len() >= 35, "only {} routes found", source.len());
}

#[test]
fn the_board_is_not_in_the_document() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/board.rs");
    let board = routes_in(&code(&std::fs::read_to_string(src).expect("board.rs")));
    let doc: BTreeSet<_> = operations(&document()).into_keys().collect();
    assert!(
        board.contains(&("GET".into(), "/feed.atom".into())),
        "{board:?}"
    );
    assert!(board.is_disjoint(&doc), "{board:?}");
}

#[test]
fn route_reading_follows_rustfmt_and_chains() {
    let text = code(
        "// .route(\"/commented\", get(x))\n\
         r.route(\"/a\", get(a)).route(\n    \"/b/{id}\",\n    get(b::c).post(d(e)),\n)\n\
         .route(\"/c\", axum::routing::delete(f)) /* .route(\"/d\", put(g)) */\n\
         .route_layer(x); let s = \"// not a comment\"; .route(\"/e\", put(h))",
    );
    let want: BTreeSet<(String, String)> = [
        ("GET", "/a"),
        ("GET", "/b/{id}"),
        ("POST", "/b/{id}"),
        ("DELETE", "/c"),
        ("PUT", "/e"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes_in(&text), want);
}

#[test]
fn the_document_is_openapi_3_1_of_this_version() {
    let doc = document();
    let v = doc["openapi"].as_str().expect("openapi");
    assert!(v.starts_with("3.1."), "{v}");
    assert_eq!(doc["info"]["title"], "buurt");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
}

/// Every `$ref` in `v`, with where it was found.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push((
                        at.to_owned(),
                        x.as_str().expect("a $ref is text").to_owned(),
                    ));
                } else {
                    refs(x, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut found = Vec::new();
    refs(&doc, "", &mut found);
    assert!(found.len() > 50, "only {} references", found.len());
    for (at, target) in &found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: `{target}` is not in this document"));
        assert!(
            pointer.starts_with("/components/schemas/")
                || pointer.starts_with("/components/responses/"),
            "{at}: `{target}` is not a schema or a response"
        );
        assert!(
            doc.pointer(pointer).is_some(),
            "{at}: `{target}` does not resolve"
        );
    }
    // Bodies in and out name their schemas.
    let bodies: Vec<_> = found
        .iter()
        .filter(|(at, _)| at.contains("/requestBody/") || at.contains("/responses/"))
        .collect();
    assert!(bodies.len() > 40, "{bodies:?}");
}

#[test]
fn every_operation_is_described_with_its_parameters_and_answers() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for ((method, path), op) in operations(&doc) {
        let name = format!("{method} {path}");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: no summary"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{name}: no tag"
        );
        let id = op["operationId"]
            .as_str()
            .expect("an operationId")
            .to_owned();
        assert!(ids.insert(id.clone()), "{name}: operationId {id} twice");
        // Every `{name}` of the path is a declared path parameter.
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(declared, in_path, "{name}: path parameters");
        let answers = op["responses"].as_object().expect("responses");
        assert!(
            answers.keys().any(|s| s.starts_with('2')),
            "{name}: no success answer"
        );
        for (status, answer) in answers {
            let code: u16 = status.parse().expect("a status");
            if code < 400 {
                continue;
            }
            let answer = match answer["$ref"].as_str() {
                Some(r) => doc.pointer(&r[1..]).expect("resolves"),
                None => answer,
            };
            let text = answer["description"].as_str().unwrap_or("");
            assert!(
                text.starts_with(&format!("{status}: ")) && text.contains('`'),
                "{name} {status}: the description names no reason code: {text}"
            );
            assert_eq!(
                answer["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{name} {status}"
            );
        }
        // The answers every route may give.
        for s in ["408", "413", "414", "431", "503"] {
            assert!(answers.contains_key(s), "{name}: no {s}");
        }
    }
}

#[test]
fn the_operators_routes_need_the_token() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["operator_token"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for ((method, path), op) in operations(&doc) {
        let security = op["security"].as_array().cloned().unwrap_or_default();
        let named = |s: &Value| s.get("operator_token").is_some();
        if path.starts_with("/v1/admin/") {
            assert_eq!(security.len(), 1, "{method} {path}: {security:?}");
            assert!(named(&security[0]), "{method} {path}");
            assert!(op["responses"]["401"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("`operator_only`")));
        } else if path == "/metrics" {
            // Optional: needed only when the API listens beyond loopback.
            assert!(security
                .iter()
                .any(|s| s.as_object().is_some_and(|o| o.is_empty())));
            assert!(security.iter().any(named), "{security:?}");
        } else {
            assert!(
                security.is_empty(),
                "{method} {path} is public: {security:?}"
            );
        }
    }
}
