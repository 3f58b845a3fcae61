//! The pages in a real Chromium (`buurt_tests::browser`): a resident opens
//! `buurt ui`, posts an offer with a photo through the form, sees it on the
//! public board of another node, finds it there with a typo, opens it,
//! answers another listing, withdraws the offer and sees it gone. Hostile
//! text renders as text, right-to-left text whole; axe-core finds no
//! serious accessibility violation on any page; the page refuses a visitor
//! without its token and a form without its CSRF token.
//!
//! `BUURT_SCREENSHOTS=1 cargo test -p buurt-cli --test browser` also writes
//! `docs/screenshots/board.png` and `docs/screenshots/post-form.png`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use buurt_tests::browser::{axe_core, Browser};
use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// `buurt ui` for the member of `node`'s data directory: the process and
/// the address it printed.
fn ui(node: &TestNode) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--data-dir"])
        .arg(node.path())
        .args(["--api", &node.api, "--json", "ui"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("buurt ui starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("buurt ui prints its address");
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    (child, v["url"].as_str().expect("a url").to_owned())
}

/// A real photo (320 × 240 JPEG) whose EXIF names a place in the
/// Dapperbuurt and a camera.
const PHOTO: &[u8] = include_bytes!("fixtures/fiets.jpg");

fn screenshot(b: &Browser, name: &str) {
    if std::env::var_os("BUURT_SCREENSHOTS").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&dir).expect("docs/screenshots");
        std::fs::write(dir.join(name), b.screenshot()).expect("a screenshot");
    }
}

/// Posts through the form on the resident's page; returns the new id.
fn post_through_form(
    b: &Browser,
    title: &str,
    topic: &str,
    photo: Option<&std::path::Path>,
) -> String {
    if title.chars().all(|c| u32::from(c) <= 0xFFFF) {
        b.type_into("#title", title);
    } else {
        b.set_value("#title", title);
    }
    b.click(&format!("#topic option[value='{topic}']"));
    if let Some(p) = photo {
        b.attach("#photo", p);
    }
    b.click_to_next_page("form.post[action='/post'] button[type=submit]");
    assert!(
        b.find("p.notice").is_some(),
        "no notice after posting {title}:\n{}",
        b.source()
    );
    let notice = b.text("p.notice");
    assert!(notice.starts_with("Geplaatst"), "{notice}");
    // The new listing's link in "Mijn vermeldingen", by its text.
    let script = format!(
        "const a = [...document.querySelectorAll('ul.cards h3 a')].find(a => a.textContent === {});\
         return a ? a.getAttribute('href') : null;",
        serde_json::to_string(title).unwrap()
    );
    let href = b.run(&script);
    let href = href
        .as_str()
        .unwrap_or_else(|| panic!("{title} in my listings:\n{}", b.source()));
    let at = href.rfind("listing/").expect("a link") + "listing/".len();
    href[at..at + 32].to_owned()
}

fn assert_accessible(b: &Browser, axe: &str, what: &str) {
    let v = b.accessibility_violations(axe);
    assert!(
        v.is_empty(),
        "{what}: serious accessibility violations:\n{}",
        v.join("\n")
    );
}

#[test]
fn a_resident_posts_in_the_browser_and_finds_it_on_another_nodes_board() {
    let Some(b) = Browser::start() else { return };
    let axe = axe_core(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    // The check can fail: an image without a text alternative is caught.
    b.goto("data:text/html,<html lang=en><title>t</title><main><img src=x.png></main></html>");
    let caught = b.accessibility_violations(&axe);
    assert!(caught.iter().any(|v| v.contains("image-alt")), "{caught:?}");
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let home = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && home.wait_subscribed(SCOPE));
    let ladder = a
        .ok(&["--json", "offer", "Ladder te leen", "--exchange", "lend"])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(home.finds(&["ladder"], &ladder, true, 20));

    // Without the token the page is refused; with it, a cookie opens it.
    let (mut page, url) = ui(&home);
    let base = url.split("/?").next().unwrap().to_owned();
    let r = ureq::get(&format!("{base}/"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(r.status(), 403, "no token, no page");
    b.goto(&url);
    assert_eq!(
        b.current_url(),
        format!("{base}/"),
        "the token leaves the address"
    );
    assert_eq!(b.text("h1"), "Iets aanbieden of vragen");
    screenshot(&b, "post-form.png");
    assert_accessible(&b, &axe, "the resident's page");

    // Post an offer with a photo, a hostile title and an Arabic one.
    let file = home.path().join("fiets.jpg");
    std::fs::write(&file, PHOTO).unwrap();
    let bike = post_through_form(&b, "Kinderfiets te geef", "goods.mobility", Some(&file));
    let xss = post_through_form(&b, "<script>alert(1)</script>", "other", None);
    let arabic = post_through_form(&b, "مرحبا بالجيران 🍲 soep", "food.meal", None);

    // On the other node's board: found with a typo, opened, photo shown.
    let found_there = |query: &str, id: &str| {
        TestNode::eventually(30, || {
            b.goto(&a.url(&format!("/search?q={query}")));
            b.source().contains(&format!("/listing/{id}"))
        })
    };
    assert!(
        found_there("kinderfiest", &bike),
        "federated and found with a typo"
    );
    assert_accessible(&b, &axe, "search results");
    b.click_to_next_page(&format!("a[href^='/listing/{bike}']"));
    assert_eq!(b.text("h1"), "Kinderfiets te geef");
    assert!(b.find("p.photo img").is_some(), "the photo is shown");
    // It loaded (the other node fetched it from the home node), and its
    // EXIF is gone.
    assert!(
        TestNode::eventually(30, || {
            b.goto(&b.current_url());
            b.run("const i = document.querySelector('p.photo img'); return !!i && i.complete && i.naturalWidth === 320;")
                .as_bool()
                .unwrap_or(false)
        }),
        "the photo shows, 320 pixels wide"
    );
    let src = b.run("return document.querySelector('p.photo img').getAttribute('src');");
    let shown = ureq::get(&a.url(src.as_str().unwrap()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    assert!(shown.starts_with(&[0xFF, 0xD8]) && shown.len() < PHOTO.len());
    for gone in [&b"Exif"[..], b"BuurtCam"] {
        assert!(
            !shown.windows(gone.len()).any(|w| w == gone),
            "{gone:?} stripped"
        );
    }
    assert_accessible(&b, &axe, "a listing page");
    assert!(found_there("alert", &xss));
    assert_eq!(
        b.text(&format!("a[href^='/listing/{xss}']")),
        "<script>alert(1)</script>"
    );
    assert!(!b.alert_open(), "the hostile title ran nothing");
    assert!(found_there("soep", &arabic));
    assert_eq!(
        b.text(&format!("a[href^='/listing/{arabic}']")),
        "مرحبا بالجيران 🍲 soep"
    );
    b.goto(&a.url("/"));
    assert_accessible(&b, &axe, "the board");
    b.goto(&a.url("/search?kind=offer&lang=nl"));
    b.resize(1280, 1500);
    screenshot(&b, "board.png");
    b.resize(1280, 1000);
    b.goto(&a.url("/?lang=en"));
    assert!(b.text("h2").contains("Topics"));

    // Answer the ladder from the resident's page; A's operator reads it.
    b.goto(&format!("{base}/"));
    b.type_into("#reply-id", &ladder);
    b.type_into("#reply-text", "Mag ik de ladder zaterdag lenen?");
    b.click_to_next_page("form.post[action='/reply'] button[type=submit]");
    assert!(
        b.find("form input[name=id][type=hidden]").is_some(),
        "the conversation page"
    );
    assert!(
        b.source().contains("Mag ik de ladder zaterdag lenen?"),
        "the conversation shows the letter:\n{}",
        b.source()
    );
    assert_accessible(&b, &axe, "a conversation");
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(
        inbox[0]["last_text"], "Mag ik de ladder zaterdag lenen?",
        "{inbox}"
    );

    // Change the bike's title on the page; the other board shows the new one.
    b.goto(&format!("{base}/listing/{bike}/edit"));
    assert_eq!(
        b.run("return document.querySelector('#title').value;"),
        "Kinderfiets te geef"
    );
    assert_accessible(&b, &axe, "the edit form");
    b.set_value("#title", "Kinderfiets te geef, 16 inch");
    b.click_to_next_page("form.post button[type=submit]");
    assert!(
        b.text("p.notice").starts_with("Gewijzigd"),
        "{}",
        b.text("p.notice")
    );
    assert!(TestNode::eventually(30, || {
        b.goto(&a.url(&format!("/listing/{bike}")));
        b.find("article h1")
            .is_some_and(|_| b.text("article h1") == "Kinderfiets te geef, 16 inch")
    }));

    // An agreement about the ladder, taken step by step on the page.
    let conv = inbox[0]["conversation"].as_str().unwrap().to_owned();
    let deal = a.ok(&["--json", "propose", &conv, "--until", "2d"]).json()["agreement"]
        .as_str()
        .unwrap()
        .to_owned();
    b.goto(&format!("{base}/agreements"));
    assert!(b.source().contains("voorgesteld"), "{}", b.source());
    assert_accessible(&b, &axe, "the agreements");
    b.click_to_next_page(&format!("form[action='/agreement/{deal}/accept'] button"));
    assert!(
        b.text("p.notice").contains("afgesproken"),
        "{}",
        b.text("p.notice")
    );
    a.ok(&["handover", &deal[..8]]);
    b.click_to_next_page(&format!("form[action='/agreement/{deal}/handover'] button"));
    assert!(
        b.text("p.notice").contains("bezig"),
        "{}",
        b.text("p.notice")
    );
    b.click_to_next_page(&format!("form[action='/agreement/{deal}/return'] button"));
    a.ok(&["return", &deal[..8]]);
    b.goto(&format!("{base}/agreements"));
    assert!(b.source().contains("klaar"), "completed: {}", b.source());
    b.type_into(&format!("#thanks-{deal}"), "Dank voor de ladder!");
    b.click_to_next_page(&format!("form[action='/agreement/{deal}/thank'] button"));
    assert!(
        b.text("p.notice").starts_with("Bedankt"),
        "{}",
        b.text("p.notice")
    );

    // The impact picture renders in the browser.
    let svg = a.path().join("impact.svg");
    a.ok(&["impact", "--format", "svg", "--out", svg.to_str().unwrap()]);
    b.goto(&format!("file://{}", svg.display()));
    let drawn = b.run(
        "const s = document.querySelector('svg'); \
         return s ? [s.getBoundingClientRect().width, s.querySelectorAll('text').length] : null;",
    );
    assert_eq!(drawn[0], 960, "{drawn}");
    assert!(
        drawn[1].as_u64().unwrap() > 10,
        "labels and the rules: {drawn}"
    );

    // Withdraw the bike: gone from the other board too.
    b.goto(&format!("{base}/"));
    b.click_to_next_page(&format!("form[action='/listing/{bike}/withdraw'] button"));
    assert!(b.text("p.notice").starts_with("Ingetrokken"));
    assert!(
        TestNode::eventually(30, || {
            b.goto(&a.url("/search?q=kinderfiets"));
            !b.source().contains(&format!("/listing/{bike}"))
        }),
        "withdrawn, and gone from the other node's board"
    );

    // A form without the page's CSRF token is refused, even with the cookie.
    let cookie = format!("buurt_ui={}", url.split("token=").nth(1).unwrap());
    let r = ureq::post(&format!("{base}/listing/{xss}/withdraw"))
        .header("Cookie", &cookie)
        .config()
        .http_status_as_error(false)
        .build()
        .send_form([("csrf", "not-the-token")])
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        home.ok(&["--json", "show", &xss]).json()["status"] == "open",
        "still there"
    );
    let _ = page.kill();
    let _ = page.wait();
}
