//! Each seed platform's job, done by real nodes on loopback: a car rented
//! for two days (availability, search by date, the agreement takes the
//! days out); a weekly meal renewed past its first expiry (the nodes run
//! days ahead); a broker posting for a resident without a device; a photo
//! posted on one node and shown on another, with location tags stripped
//! and a tampered copy refused. (Alerts are in `watch.rs`.)

use buurt_protocol::calendar;
use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";
const DAY: i64 = 86_400;

fn id_of(r: &buurt_tests::Run) -> String {
    r.json()["id"].as_str().expect("an id").to_owned()
}

fn member_of(node: &TestNode) -> String {
    node.ok(&["--json", "status"]).json()["member_id"]
        .as_str()
        .expect("a member id")
        .to_owned()
}

/// The day `days` from today (UTC), as `YYYY-MM-DD`.
fn day(days: i64) -> String {
    calendar::format(calendar::day_of(buurt_node::clock::now() + days * DAY))
}

/// Search arguments: cars available on `day`.
fn cars_on(day: &str) -> [&str; 4] {
    ["--topic", "goods.car", "--available", day]
}

fn show(node: &TestNode, id: &str) -> Value {
    node.ok(&["--json", "show", id]).json()
}

/// `show`, or `Null` while the node does not have the listing.
fn show_if_there(node: &TestNode, id: &str) -> Value {
    let r = node.cli(&["--json", "show", id]);
    if r.code == 0 {
        r.json()
    } else {
        Value::Null
    }
}

#[test]
fn a_car_rented_for_two_days() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let range = format!("{}..{}", day(10), day(13));
    let car = id_of(&a.ok(&[
        "--json",
        "offer",
        "Auto te huur, Dapperbuurt",
        "--exchange",
        "rent",
        "--topic",
        "auto",
        "--price",
        "35/dag",
        "--available",
        &range,
    ]));
    // Another car, available whenever it is open: found on every date.
    let other = id_of(&a.ok(&[
        "--json",
        "offer",
        "Tweede auto te huur",
        "--exchange",
        "rent",
        "--topic",
        "auto",
    ]));
    assert!(b.finds(&cars_on(&day(11)), &car, true, 20));
    assert!(b.finds(&cars_on(&day(11)), &other, true, 20));
    // Outside its window: the other car is found, this one is not.
    let d20 = day(20);
    assert!(b.finds(&cars_on(&d20), &other, true, 20));
    assert!(!b.search_ids(&cars_on(&d20)).contains(&car));
    let shown = show(&b, &car);
    assert_eq!(shown["availability"][0]["from"], day(10), "{shown}");
    assert!(b.ok(&["show", &car]).stdout.contains("available"));
    let bad = b.cli(&["search", "auto", "--available", "morgen"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("not a date"), "{}", bad.stderr);

    // B rents it for days 11 and 12; A accepts; those days are gone, the
    // others stay, and the listing stays open for them.
    b.ok(&["reply", &car, "Mag ik hem lenen voor twee dagen?"]);
    let proposed = b
        .ok(&[
            "--json",
            "propose",
            &car,
            "--from",
            &day(11),
            "--until",
            &day(12),
        ])
        .json();
    let agreement = proposed["agreement"]
        .as_str()
        .expect("an agreement")
        .to_owned();
    let accepted = a.ok(&["--json", "accept", &agreement[..8]]).json();
    assert!(
        accepted["listing_change"]
            .as_str()
            .is_some_and(|s| s.contains("no longer available")),
        "{accepted}"
    );
    let now_at_a = show(&a, &car);
    assert_eq!(now_at_a["status"], "open");
    let windows: Vec<(String, String)> = now_at_a["availability"]
        .as_array()
        .expect("windows")
        .iter()
        .map(|w| {
            (
                w["from"].as_str().unwrap().to_owned(),
                w["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [(day(10), day(10)), (day(13), day(13))],
        "{now_at_a}"
    );
    // B's node gets the new revision: day 11 is taken, day 13 is not.
    assert!(
        b.finds(&cars_on(&day(11)), &car, false, 20),
        "the rented days are unavailable on B"
    );
    assert!(b.finds(&cars_on(&day(13)), &car, true, 20));
}

#[test]
fn a_weekly_meal_renewed_past_its_first_expiry() {
    let mut a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let meal = id_of(&a.ok(&[
        "--json",
        "offer",
        "Stamppot voor twee",
        "--exchange",
        "meal",
        "--topic",
        "maaltijd",
        "--every",
        "week",
        "--on",
        "di",
        "--expires",
        "7d",
    ]));
    assert!(b.finds(&["stamppot"], &meal, true, 20));
    let first = show(&b, &meal);
    let next = first["every"]["next"]
        .as_array()
        .expect("next dates")
        .clone();
    assert_eq!(next.len(), 3, "{first}");
    for d in &next {
        let d = calendar::parse(d.as_str().unwrap()).unwrap();
        assert_eq!(calendar::weekday(d), 1, "a Tuesday: {first}");
    }
    let expires = first["expires_at"].as_str().unwrap().to_owned();
    // Not due yet: `buurt renew` leaves it.
    assert_eq!(a.ok(&["--json", "renew"]).json(), serde_json::json!([]));

    // Five days on, both nodes restart; A's `buurt node` renews it by itself
    // and B gets the new revision.
    for n in [&mut a, &mut b] {
        assert_eq!(n.signal("TERM"), Some(0));
        n.clock_ahead(5 * DAY);
    }
    a.spawn();
    b.set_peers(&[a.address()]);
    b.spawn();
    assert!(
        TestNode::eventually(30, || show_if_there(&b, &meal)["expires_at"].as_str()
            > Some(expires.as_str())),
        "B has the renewed revision; A's log:\n{}",
        a.log()
    );
    assert!(
        a.log().contains("renewed the standing offer"),
        "{}",
        a.log()
    );

    // Eight days on, past the first expiry: still there, dates ahead.
    for n in [&mut a, &mut b] {
        assert_eq!(n.signal("TERM"), Some(0));
        n.clock_ahead(8 * DAY);
    }
    a.spawn();
    b.set_peers(&[a.address()]);
    b.spawn();
    assert!(b.finds(&["stamppot"], &meal, true, 20));
    let later = show(&b, &meal);
    let today = calendar::day_of(buurt_node::clock::now() + 8 * DAY);
    let soonest = calendar::parse(later["every"]["next"][0].as_str().unwrap()).unwrap();
    assert!(soonest >= today && soonest < today + 7, "{later}");

    // Paused: not found until resumed.
    a.ok(&["pause", &meal]);
    assert!(a.finds(&["stamppot"], &meal, false, 20));
    assert!(show(&a, &meal)["every"]["paused"].as_bool().unwrap());
    a.ok(&["resume", &meal]);
    assert!(a.finds(&["stamppot"], &meal, true, 20));
}

#[test]
fn a_broker_posts_for_mevrouw_j_and_answers_a_neighbour() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let ask = [
        "--json",
        "request",
        "Wie doet boodschappen op vrijdag?",
        "--topic",
        "boodschappen",
        "--for",
        "mevrouw J.",
        "--consent",
        "Mevrouw J. vroeg dit aan de telefoon",
    ];
    // Not a broker yet: refused with the reason.
    let refused = a.cli(&ask);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("broker"), "{}", refused.stderr);
    a.ok(&["broker", "add", &member_of(&a)]);
    let members = a.ok(&["members"]).stdout;
    assert!(members.contains("broker"), "{members}");
    // Contact details are refused by the protocol's rules.
    let phone = a.cli(&[
        "request",
        "Hulp gevraagd",
        "--for",
        "J. 0612345678",
        "--consent",
        "ja",
    ]);
    assert_eq!(phone.code, 1);
    let id = id_of(&a.ok(&ask));

    // B's resident finds it like any other and sees who it is for.
    assert!(b.finds(&["boodschappen"], &id, true, 20));
    let seen = show(&b, &id);
    assert_eq!(seen["behalf"]["resident"], "mevrouw J.", "{seen}");
    assert_eq!(seen["author"], member_of(&a).as_str());
    let text = b.ok(&["show", &id]).stdout;
    assert!(text.contains("mevrouw J., via"), "{text}");

    // B replies; the broker reads it and answers; B reads the answer.
    b.ok(&["reply", &id, "Ik kan vrijdag om 10 uur"]);
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(inbox[0]["last_text"], "Ik kan vrijdag om 10 uur", "{inbox}");
    let conv = inbox[0]["conversation"].as_str().unwrap().to_owned();
    a.ok(&["reply", &conv, "Fijn, mevrouw J. verwacht u om 10 uur"]);
    let at_b = b.ok(&["--json", "inbox"]).json();
    assert_eq!(
        at_b[0]["last_text"], "Fijn, mevrouw J. verwacht u om 10 uur",
        "{at_b}"
    );
}

/// A JPEG whose EXIF segment holds a GPS position.
fn jpeg_with_gps() -> Vec<u8> {
    let segment = |marker: u8, payload: &[u8]| {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    };
    [
        vec![0xFF, 0xD8],
        segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
        segment(
            0xE1,
            b"Exif\0\0MM\0*GPSLatitude 52.3623 GPSLongitude 4.9262",
        ),
        segment(0xDB, &[7; 65]),
        vec![0xFF, 0xDA, 0x00, 0x08, 1, 2, 3, 4, 5, 6],
        b"the image data of a drill".to_vec(),
        vec![0xFF, 0xD9],
    ]
    .concat()
}

#[test]
fn a_photo_posted_on_a_is_shown_on_c_and_a_tampered_copy_is_refused() {
    let (a, b, c) = TestNode::line(BIN.as_ref(), SCOPE);
    let file = a.path().join("boor.jpg");
    std::fs::write(&file, jpeg_with_gps()).unwrap();
    let drill = id_of(&a.ok(&[
        "--json",
        "offer",
        "Boormachine te leen",
        "--exchange",
        "lend",
        "--photo",
        file.to_str().unwrap(),
    ]));
    assert!(c.finds(&["boormachine"], &drill, true, 20));
    let named = show(&c, &drill)["photo"].clone();
    assert_eq!(named["media"], "jpeg", "{named}");
    let sha = named["sha256"].as_str().unwrap().to_owned();

    let out = c.path().join("out.jpg");
    c.ok(&["show", &drill, "--photo", out.to_str().unwrap()]);
    let got = std::fs::read(&out).unwrap();
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&got)),
        sha
    );
    assert!(got.starts_with(&[0xFF, 0xD8]) && got.ends_with(b"drill\xff\xd9"));
    for gone in [&b"Exif"[..], b"GPSLatitude", b"52.3623"] {
        assert!(
            !got.windows(gone.len()).any(|w| w == gone),
            "{gone:?} stripped"
        );
    }
    assert_eq!(named["size"], got.len());

    // B serves a tampered copy: D, which reaches the listing through B
    // only, refuses it, counts it against B and keeps nothing.
    let at_b = b.path().join("photos").join(&sha);
    assert!(
        TestNode::eventually(20, || at_b.exists()),
        "B fetched it too"
    );
    let mut tampered = std::fs::read(&at_b).unwrap();
    let n = tampered.len();
    tampered[n - 3] ^= 0xFF;
    std::fs::write(&at_b, &tampered).unwrap();
    let d = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[b.address()]);
    assert!(d.finds(&["boormachine"], &drill, true, 30));
    assert!(
        TestNode::eventually(30, || d.log().contains("refused a photo from")),
        "D refuses B's copy; D's log:\n{}",
        d.log()
    );
    assert!(!d.path().join("photos").join(&sha).exists());
    let r = d.cli(&[
        "show",
        &drill,
        "--photo",
        d.path().join("x.jpg").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);

    // Not an image at all: refused at upload.
    let junk = a.path().join("junk.jpg");
    std::fs::write(&junk, b"GIF89a not what it says").unwrap();
    let r = a.cli(&["offer", "Iets", "--photo", junk.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a JPEG, PNG or WebP"), "{}", r.stderr);
}

fn node_of(node: &TestNode) -> String {
    node.ok(&["--json", "status"]).json()["node_id"]
        .as_str()
        .expect("a node id")
        .to_owned()
}

/// Every file under `dir`, searched for `marker` as bytes.
fn holds(dir: &std::path::Path, marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                if b.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                    found.push(p.display().to_string());
                }
            }
        }
    }
    found
}

fn circle_titles(node: &TestNode) -> Vec<String> {
    node.ok(&["--json", "search", "--circle"])
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_circle_request_reaches_exactly_the_circles_members() {
    // B, in the middle, is no member: it carries the circle's mail sealed.
    let (a, b, c) = TestNode::line(BIN.as_ref(), SCOPE);
    let (mb, mc) = (member_of(&b), member_of(&c));
    let at_c = format!("{mc}@{}", node_of(&c));
    let name = "Hulp voor mevrouw Jansen";
    a.ok(&["circle", "create", name, "--member", &at_c]);
    let marker = "MEDICIJNEN-7Q2";
    let ask = format!("Wie haalt de medicijnen van mevrouw Jansen? {marker}");
    let id = id_of(&a.ok(&[
        "--json", "request", &ask, "--topic", "zorg", "--circle", name,
    ]));

    // C, a member, sees it and answers as usual.
    assert!(TestNode::eventually(20, || circle_titles(&c).contains(&ask)));
    let found = c
        .ok(&["--json", "search", "--circle", name, "medicijnen"])
        .json();
    assert_eq!(found[0]["id"], id.as_str(), "{found}");
    c.ok(&["reply", &id, "Ik haal ze morgen om 9 uur"]);
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(
        inbox[0]["last_text"], "Ik haal ze morgen om 9 uur",
        "{inbox}"
    );

    // B, no member, has nothing: a public listing posted after it arrives,
    // the circle listing does not, and nothing readable is on B's disk.
    let public = id_of(&a.ok(&["--json", "offer", "Rollator te leen", "--topic", "zorg"]));
    assert!(b.finds(&["rollator"], &public, true, 20));
    assert!(circle_titles(&b).is_empty());
    assert!(!b.search_ids(&["medicijnen"]).contains(&id));
    assert_eq!(holds(b.path(), marker), Vec::<String>::new());
    // The grep finds the marker where it is (even C's device keeps the
    // listing sealed; it opens it when it is read).
    let control = tempfile::tempdir().unwrap();
    std::fs::create_dir(control.path().join("sub")).unwrap();
    std::fs::write(control.path().join("sub/x"), format!("..{marker}..")).unwrap();
    assert_eq!(holds(control.path(), marker).len(), 1);
    // Nor in the nodes' own databases at either end: only the members'
    // devices open it (here they share the data directory with the node).
    for n in [&a, &c] {
        for sub in ["db", "mail", "index"] {
            assert_eq!(
                holds(&n.path().join(sub), marker),
                Vec::<String>::new(),
                "{sub}"
            );
        }
    }

    // The owner adds B and removes C: a new key, for B and not for C.
    a.ok(&["circle", "add", name, &format!("{mb}@{}", node_of(&b))]);
    a.ok(&["circle", "remove", name, &mc]);
    let second = format!("Wie kookt zondag voor mevrouw Jansen? {marker}-2");
    a.ok(&["request", &second, "--topic", "maaltijd", "--circle", name]);
    assert!(TestNode::eventually(20, || circle_titles(&b).contains(&second)));
    let epochs = b.ok(&["--json", "circle", "list"]).json();
    assert_eq!(epochs[0]["epoch"], 3, "{epochs}");
    let public2 = id_of(&a.ok(&["--json", "offer", "Rolstoel te leen", "--topic", "zorg"]));
    assert!(c.finds(&["rolstoel"], &public2, true, 20));
    assert!(!circle_titles(&c).contains(&second), "C left the circle");

    // A circle listing offered in clear is refused by any node.
    let t = buurt_node::clock::now();
    let someone = buurt_protocol::sample::Identity::new([0x61; 32], [0x62; 32], SCOPE, t - 3_600);
    let mut l = someone.offer([3; 16], "Geheim", t);
    l.extras.circle = Some([9; 16]);
    let signed = l.sign(&someone.member).unwrap();
    let r = ureq::post(&b.url("/v1/listings"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(serde_json::json!({ "signed": hex::encode(signed.bytes()) }))
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    assert_eq!(r["reason"], "private", "{r}");
}
