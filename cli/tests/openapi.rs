//! `GET /v1/openapi.json` from a running node, and every operation in it
//! asked of that node: each is a route of the real router (never the
//! fallback's `404 not_found` or a `405`), and each answer, with the
//! operator token and without, is one the document lists for it, with a
//! reason code its description names and the content type it says.
//!
//! The requests carry placeholders (`x` for every path parameter, `{}` for
//! every body), so they are refused or change nothing on a fresh node.

use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/utrecht/lombok";

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

/// An answer: status, media type (without parameters) and body.
struct Answer {
    status: u16,
    media: String,
    body: String,
}

fn ask(node: &TestNode, method: &str, path: &str, token: Option<&str>) -> Answer {
    let url = node.url(path);
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut res = match method {
        "GET" | "DELETE" => {
            let mut req = if method == "GET" {
                agent().get(&url)
            } else {
                agent().delete(&url)
            };
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.call()
        }
        _ => {
            let mut req = match method {
                "POST" => agent().post(&url),
                "PUT" => agent().put(&url),
                other => panic!("the document has a {other}: teach this test"),
            };
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.header("Content-Type", "application/json").send("{}")
        }
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let media = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    Answer {
        status: res.status().as_u16(),
        media,
        body: res.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// `path` with every `{parameter}` as `x`.
fn placeholders(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Checks `a` against what the document says of `op`; returns the reason
/// of an error answer.
fn documented(doc: &Value, name: &str, op: &Value, a: &Answer) -> Option<String> {
    let listed = &op["responses"][a.status.to_string()];
    assert!(
        !listed.is_null(),
        "{name}: answered {} ({}), which the document does not list",
        a.status,
        a.body
    );
    let listed = match listed["$ref"].as_str() {
        Some(r) => doc.pointer(&r[1..]).expect("the $ref resolves"),
        None => listed,
    };
    let medias: Vec<&str> = listed["content"]
        .as_object()
        .map(|c| {
            c.keys()
                .map(|k| k.split(';').next().unwrap_or("").trim())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        medias.contains(&a.media.as_str()),
        "{name} {}: content type {} is not among {medias:?}",
        a.status,
        a.media
    );
    if a.status < 400 {
        return None;
    }
    let body: Value = serde_json::from_str(&a.body).expect("an error answer is JSON");
    let reason = body["reason"].as_str().expect("a reason").to_owned();
    let text = listed["description"].as_str().unwrap_or("");
    assert!(
        text.contains(&format!("`{reason}`")),
        "{name}: answered {} `{reason}`, which the description does not name: {text}",
        a.status
    );
    Some(reason)
}

#[test]
fn every_documented_operation_is_a_route_that_answers_as_documented() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let served = ask(&node, "GET", "/v1/openapi.json", None);
    assert_eq!(
        (served.status, served.media.as_str()),
        (200, "application/json")
    );
    let doc: Value = serde_json::from_str(&served.body).expect("the document is JSON");
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1.")));
    assert_eq!(
        served.body,
        buurt_node::api::openapi::json().expect("the document"),
        "the node serves the document of this build"
    );
    let token = std::fs::read_to_string(node.path().join("operator.token")).expect("the token");
    let token = token.trim();
    let mut asked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let method = method.to_ascii_uppercase();
            let name = format!("{method} {path}");
            let target = placeholders(path);
            let operator = op["security"]
                .as_array()
                .is_some_and(|s| s.len() == 1 && s[0].get("operator_token").is_some());
            // Without the token.
            let a = ask(&node, &method, &target, None);
            assert_ne!(a.status, 405, "{name}: the router does not take the method");
            assert!(
                !(a.status == 404 && a.body.contains("no such API route")),
                "{name}: no such route in the router"
            );
            let reason = documented(&doc, &name, op, &a);
            if operator {
                assert_eq!(reason.as_deref(), Some("operator_only"), "{name}");
            }
            // With it.
            let a = ask(&node, &method, &target, Some(token));
            let reason = documented(&doc, &name, op, &a);
            assert_ne!(reason.as_deref(), Some("operator_only"), "{name}");
            asked += 1;
        }
    }
    assert!(asked >= 35, "only {asked} operations");
}

#[test]
fn the_document_is_public_and_the_admin_routes_it_marks_are_not() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    // No token needed, and no body read.
    let a = ask(&node, "GET", "/v1/openapi.json", None);
    assert_eq!(a.status, 200);
    let doc: Value = serde_json::from_str(&a.body).expect("JSON");
    let scheme = &doc["components"]["securitySchemes"]["operator_token"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    // A wrong token is refused like none.
    let a = ask(&node, "GET", "/v1/admin/members", Some("not-the-token"));
    assert_eq!(a.status, 401, "{}", a.body);
}
