//! The public board over HTTP, as a browser would fetch it: the pages, the
//! security headers, search with a typo, a listing page, escaping of hostile
//! and right-to-left text, both languages, the Atom feed, and the board
//! turned off. (`browser.rs` drives a real Chromium over the same pages.)

use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// Status, headers and body of a GET.
fn get(node: &TestNode, path: &str, lang: Option<&str>) -> (u16, Vec<(String, String)>, String) {
    let mut req = ureq::get(&node.url(path))
        .config()
        .http_status_as_error(false)
        .build();
    if let Some(l) = lang {
        req = req.header("Accept-Language", l);
    }
    let mut r = req.call().expect("the node answers");
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    (
        r.status().as_u16(),
        headers,
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn offer(node: &TestNode, args: &[&str]) -> String {
    let mut all = vec!["--json", "offer"];
    all.extend_from_slice(args);
    node.ok(&all).json()["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

#[test]
fn the_board_shows_searches_and_escapes() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let drill = offer(
        &a,
        &[
            "Boormachine te leen",
            "--exchange",
            "lend",
            "--topic",
            "goods.tools",
            "--deposit",
            "20",
            "--body",
            "Klopboor met set boren",
        ],
    );
    let xss = offer(&a, &["<script>alert(1)</script>", "--topic", "other"]);
    let arabic = offer(
        &a,
        &[
            "مرحبا بالجيران 🍲 soep",
            "--exchange",
            "meal",
            "--topic",
            "food.meal",
        ],
    );

    let (code, headers, home) = get(&a, "/", None);
    assert_eq!(code, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let csp = header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
    assert!(
        home.contains("<html lang=\"nl\">") && home.contains("Nieuw in de buurt"),
        "{home}"
    );
    for id in [&drill, &xss, &arabic] {
        assert!(
            home.contains(&format!("/listing/{id}")),
            "{id} on the board"
        );
    }
    // Hostile text is text; right-to-left text and emoji come through whole.
    assert!(!home.contains("<script>"), "no script tag: {home}");
    assert!(
        home.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{home}"
    );
    assert!(home.contains("مرحبا بالجيران 🍲 soep"));
    assert!(
        !home.contains("<script") && !home.contains(" on"),
        "no script and no handlers"
    );

    // Search with a typo, then the listing page.
    let (_, _, found) = get(&a, "/search?q=boormachien", None);
    assert!(found.contains(&format!("/listing/{drill}")), "{found}");
    assert!(!found.contains(&format!("/listing/{arabic}")));
    let (_, _, tools) = get(&a, "/search?topic=goods&kind=offer", None);
    assert!(tools.contains(&drill) && !tools.contains(&arabic));
    let (code, _, page) = get(&a, &format!("/listing/{drill}"), None);
    assert_eq!(code, 200);
    assert!(
        page.contains("Klopboor met set boren") && page.contains("borg € 20,00"),
        "{page}"
    );
    let (code, _, _) = get(&a, "/listing/00112233445566778899aabbccddeeff", None);
    assert_eq!(code, 404);

    // English by the browser's languages, or by the switch.
    let (_, _, en) = get(&a, &format!("/listing/{drill}"), Some("en-GB,en;q=0.9"));
    assert!(
        en.contains("<html lang=\"en\">") && en.contains("deposit € 20,00"),
        "{en}"
    );
    let (_, _, en) = get(&a, "/?lang=en", Some("nl"));
    assert!(en.contains("New in the neighbourhood"));
    let (_, _, bad) = get(&a, "/search?near=aaaa", None);
    assert!(
        bad.contains("class=\"error\""),
        "a bad filter is said, not a crash: {bad}"
    );

    // The Atom feed of the scope and of a search.
    let (code, headers, feed) = get(&a, "/feed.atom", None);
    assert_eq!(code, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/atom+xml")));
    assert!(
        feed.starts_with("<?xml") && feed.matches("<entry>").count() == 3,
        "{feed}"
    );
    assert!(feed.contains("&#60;script&#62;"), "escaped in the feed too");
    let (_, _, feed) = get(&a, "/feed.atom?q=boormachine", None);
    assert_eq!(feed.matches("<entry>").count(), 1, "{feed}");

    // The stylesheet is the board's one other file.
    let (code, _, css) = get(&a, "/static/buurt.css", None);
    assert_eq!(code, 200);
    assert!(css.contains("--accent"));
}

#[test]
fn the_board_is_off_when_the_operator_says_so() {
    let a = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], |c| c.board = Some(false));
    let (code, _, _) = get(&a, "/", None);
    assert_eq!(code, 404);
    // The API is still there.
    let (code, _, _) = get(&a, "/v1/status", None);
    assert_eq!(code, 200);
}
