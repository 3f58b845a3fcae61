//! `buurt impact` against a real node: twelve residents (members of other
//! nodes, under the open policy) offer tools and two offer meals; the
//! export shows the tools (twelve residents, rounded to 10) and hides the
//! meals (two residents), in every format and by scope, and holds no
//! member id and no word of any title.

use buurt_protocol::sample::Identity;
use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn post(node: &TestNode, l: &buurt_protocol::SignedListing) {
    let r = ureq::post(&node.url("/v1/listings"))
        .send_json(serde_json::json!({ "signed": hex::encode(l.bytes()) }))
        .expect("the node takes it");
    assert_eq!(r.status(), 201);
}

#[test]
fn the_export_shows_what_ten_residents_stand_behind_and_nothing_of_anyone() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let now = buurt_node::clock::now();
    let mut members = Vec::new();
    let mut words = Vec::new();
    for i in 0..12u8 {
        let who = Identity::new([0x40 + i; 32], [0x80 + i; 32], SCOPE, now - 3_600);
        let title = format!("Gereedschapkist{i} te leen");
        words.push(format!("Gereedschapkist{i}"));
        let mut l = who.offer([i; 16], &title, now);
        l.expires_at = now + 7 * 86_400;
        post(&node, &l.sign(&who.member).unwrap());
        if i < 2 {
            let mut meal = who.offer([0x70 + i; 16], &format!("Stamppot{i} voor twee"), now);
            meal.topics = vec!["food.meal".into()];
            meal.expires_at = now + 7 * 86_400;
            words.push(format!("Stamppot{i}"));
            post(&node, &meal.sign(&who.member).unwrap());
        }
        members.push(buurt_protocol::keys::member_id(&who.member).to_string());
    }
    let json = node.ok(&["impact", "--format", "json"]).json();
    let cell = |table: &str, row: &str, column: &str| -> Value {
        json["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["table"] == table && f["row"] == row && f["column"] == column)
            .cloned()
            .unwrap_or_else(|| panic!("{table}/{row}/{column} in {json}"))
    };
    assert_eq!(cell("listings", "goods", "offers")["value"], 10, "{json}");
    let food = cell("listings", "food", "offers");
    assert_eq!(food["value"], Value::Null);
    assert!(food["suppressed"]
        .as_str()
        .unwrap()
        .contains("fewer than 10"));
    assert!(json["rules_text"]
        .as_str()
        .unwrap()
        .contains("at least 10 distinct residents"));

    // By scope: the listings are in the Dapperbuurt, so in Amsterdam and
    // not in Amsterdam-West.
    let of = |scope: &str| {
        node.ok(&["impact", "--format", "json", "--scope", scope])
            .json()["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["table"] == "listings" && f["row"] == "goods" && f["column"] == "offers")
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(of("nl/amsterdam"), 10);
    assert_eq!(of("nl/amsterdam/west"), Value::Null);
    // Whole months: a date counts its month, and the export names months.
    let months = node
        .ok(&[
            "impact",
            "--format",
            "json",
            "--since",
            "2026-03-17",
            "--until",
            "2026-05",
        ])
        .json();
    assert_eq!(
        (&months["since"], &months["until"]),
        (&"2026-03".into(), &"2026-05".into())
    );
    assert_eq!(node.cli(&["impact", "--since", "2026-13"]).code, 1);
    let bad = node.cli(&["impact", "--scope", "Not A Scope!"]);
    assert_eq!(bad.code, 1);

    let csv = node.ok(&["impact", "--format", "csv"]).stdout;
    assert!(
        csv.starts_with("table,row,column,value,suppressed\n"),
        "{csv}"
    );
    assert!(csv.contains("listings,goods,offers,10,"));
    // As a spreadsheet reads it: a header, five cells in every record, the
    // rules in the last.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["table", "row", "column", "value", "suppressed"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(records.len() > 20 && records.iter().all(|r| r.len() == 5));
    let last = records.last().unwrap();
    assert!(&last[0] == "rules" && last[4].contains("at least 10 distinct residents"));
    let out = node.path().join("impact.csv");
    node.ok(&["impact", "--format", "csv", "--out", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);
    let table = node.ok(&["impact", "--by", "month"]).stdout;
    assert!(
        table.contains("Rules:") && table.contains("listings"),
        "{table}"
    );
    // Nothing of anyone: no member id, no word of a title, in any format.
    for export in [json.to_string(), csv, table] {
        for m in &members {
            assert!(!export.contains(m.as_str()), "a member id leaked");
        }
        for w in &words {
            assert!(!export.contains(w.as_str()), "a title word leaked: {w}");
        }
        // Nothing finer than a month: no YYYY-MM-DD anywhere.
        let b = export.as_bytes();
        let day_like = b.windows(10).any(|w| {
            w.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            })
        });
        assert!(!day_like, "a date in the export: {export}");
    }
    // The operator's own figures: not for anyone else.
    let r = ureq::get(&node.url("/v1/admin/impact"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(r.status(), 401);

    // A node from before the ledger notes what it holds once, at its
    // start: without the ledger's directory, the same figures come back.
    let mut node = node;
    assert_eq!(node.signal("TERM"), Some(0));
    std::fs::remove_dir_all(node.path().join("impact")).expect("the ledger's directory");
    node.spawn();
    let json = node.ok(&["impact", "--format", "json"]).json();
    let goods = json["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["table"] == "listings" && f["row"] == "goods" && f["column"] == "offers")
        .cloned();
    assert_eq!(goods.map(|f| f["value"].clone()), Some(10.into()), "{json}");
    assert!(
        node.log()
            .contains("impact ledger: noted the 14 listings held, once"),
        "{}",
        node.log()
    );
}

#[test]
fn members_report_their_agreements_to_their_own_node_and_may_opt_out() {
    let (a, mut b, _c) = TestNode::line(BIN.as_ref(), SCOPE);
    let drill = a
        .ok(&[
            "--json",
            "offer",
            "Boormachine te leen",
            "--exchange",
            "lend",
        ])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(b.finds(&["boormachine"], &drill, true, 20));
    // Nothing to report before an agreement is accepted.
    assert_eq!(b.ok(&["--json", "impact", "--report"]).json()["taken"], 0);
    b.ok(&["reply", &drill, "Mag ik hem lenen?"]);
    let deal = b.ok(&["--json", "propose", &drill, "--until", "2d"]).json()["agreement"]
        .as_str()
        .unwrap()
        .to_owned();
    a.ok(&["accept", &deal[..8]]);
    // Each member's own node takes it: the listing is in both ledgers.
    assert_eq!(a.ok(&["--json", "impact", "--report"]).json()["taken"], 1);
    assert_eq!(b.ok(&["--json", "impact", "--report"]).json()["taken"], 1);
    // Opted out, a member's agreements are not taken.
    let out = b.ok(&["--json", "impact", "--opt-out"]).json();
    assert_eq!(out["opted_out"], true, "{out}");
    assert_eq!(b.ok(&["--json", "impact", "--report"]).json()["taken"], 0);
    b.ok(&["impact", "--opt-in"]);
    assert_eq!(b.ok(&["--json", "impact", "--report"]).json()["taken"], 1);
    // B wrote letters (the reply, the proposal) and posted nothing: B's
    // node noted B as active, as a pseudonym and a day.
    b.signal("TERM");
    let ledger = buurt_node::impact::Ledger::open(&b.path().join("impact"), b"any").unwrap();
    let wrote = ledger.writers().unwrap();
    let today = buurt_protocol::calendar::day_of(buurt_node::clock::now());
    assert!(
        !wrote.is_empty()
            && wrote
                .iter()
                .all(|(who, day)| *who == wrote[0].0 && day.abs_diff(today) <= 1),
        "one member, today: {wrote:?}"
    );
}
