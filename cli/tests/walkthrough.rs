//! The README walk-through, end to end: a real node, the real `buurt` binary.

use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn search_ids(node: &TestNode, args: &[&str]) -> Vec<String> {
    node.search_ids(args)
}

fn eventually_found(node: &TestNode, args: &[&str], id: &str, want: bool) -> bool {
    node.finds(args, id, want, 5)
}

#[test]
fn post_find_update_withdraw() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);

    // An empty node gives an empty result, not an error.
    assert_eq!(
        node.ok(&["search", "boormachine"]).stdout.trim(),
        "No listings found."
    );
    assert_eq!(
        node.ok(&["--json", "search", "boormachine"]).json(),
        serde_json::json!([])
    );

    let drill = node
        .ok(&[
            "offer",
            "Boormachine te leen",
            "--exchange",
            "lend",
            "--topic",
            "goods.tools",
            "--body",
            "Met boren",
            "--deposit",
            "20",
        ])
        .stdout
        .trim()
        .to_owned();
    assert_eq!(drill.len(), 32, "offer prints the new id: {drill}");
    let bikes = node
        .ok(&[
            "offer",
            "Fietsen te leen",
            "--exchange",
            "lend",
            "--topic",
            "goods.mobility",
        ])
        .stdout
        .trim()
        .to_owned();
    let help = node
        .ok(&[
            "offer",
            "Ik kan helpen met boren",
            "--exchange",
            "help",
            "--topic",
            "help.chores",
        ])
        .stdout
        .trim()
        .to_owned();
    let pans = node
        .ok(&[
            "offer",
            "Pannenset, ook goed om te boren",
            "--topic",
            "Keuken",
        ])
        .stdout
        .trim()
        .to_owned();
    let ride = node
        .ok(&[
            "--json",
            "request",
            "Wie rijdt mij naar het ziekenhuis?",
            "--topic",
            "help.transport",
            "--price",
            "€5/rit",
            "--expires",
            "3d",
        ])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert!(
        eventually_found(&node, &["boormachine"], &drill, true),
        "boormachine finds the drill"
    );
    assert!(
        eventually_found(&node, &["ziekenhuis", "--requests"], &ride, true),
        "the last post is searchable"
    );
    assert!(
        search_ids(&node, &["fiets"]).contains(&bikes),
        "fiets finds Fietsen te leen"
    );
    assert!(
        search_ids(&node, &["boren"]).contains(&help),
        "boren finds ik kan helpen met boren"
    );
    assert!(
        search_ids(&node, &["boormachien"]).contains(&drill),
        "a typo still finds the drill"
    );
    assert!(search_ids(&node, &["ziekenhuis", "--offers"]).is_empty());

    // --topic narrows: "boren" matches the helper and the pans, goods.tools neither.
    let all_boren = search_ids(&node, &["boren"]);
    assert!(all_boren.contains(&pans) && all_boren.contains(&help));
    let tools = search_ids(&node, &["boren", "--topic", "goods.tools"]);
    assert!(
        !tools.contains(&pans) && !tools.contains(&help),
        "{tools:?}"
    );
    assert!(search_ids(&node, &["--topic", "goods.tools"]).contains(&drill));

    // The JSON of a listing carries exactly the contract's field names.
    let shown = node.ok(&["--json", "show", &drill[..6]]).json();
    for field in [
        "id",
        "revision_id",
        "author",
        "home_node",
        "kind",
        "exchange",
        "topics",
        "title",
        "body",
        "tags",
        "terms",
        "scope",
        "geohash",
        "status",
        "created_at",
        "revision",
        "expires_at",
    ] {
        assert!(
            shown.get(field).is_some(),
            "show --json lacks {field}: {shown}"
        );
    }
    assert_eq!(shown["id"], drill.as_str());
    assert_eq!(shown["kind"], "offer");
    assert_eq!(shown["exchange"], "lend");
    assert_eq!(shown["terms"]["deposit"]["cents"], 2000);
    assert!(
        shown["created_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC times"
    );
    let found = node.ok(&["--json", "search", "boormachine"]).json();
    assert!(found[0]["score"].as_f64().unwrap() > 0.0);

    // Human output is a table with the short id.
    let table = node.ok(&["search", "boormachine"]).stdout;
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&drill[..12]) && table.contains("Boormachine te leen"),
        "{table}"
    );
    assert!(node
        .ok(&["show", &drill])
        .stdout
        .contains("deposit EUR 20.00"));

    // mine lists all five.
    assert_eq!(
        node.ok(&["--json", "mine"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // Reserved listings leave the default search, stay under --all.
    node.ok(&[
        "update",
        &drill[..8],
        "--status",
        "reserved",
        "--title",
        "Boormachine (gereserveerd)",
    ]);
    assert!(eventually_found(&node, &["boormachine"], &drill, false));
    assert!(search_ids(&node, &["boormachine", "--all"]).contains(&drill));
    let shown = node.ok(&["--json", "show", &drill]).json();
    assert_eq!(shown["status"], "reserved");
    assert_eq!(shown["title"], "Boormachine (gereserveerd)");

    // A withdrawn listing is never found again, and its content is gone.
    node.ok(&["withdraw", &bikes]);
    assert!(eventually_found(&node, &["fiets", "--all"], &bikes, false));
    let shown = node.ok(&["--json", "show", &bikes]).json();
    assert_eq!(shown["status"], "withdrawn");
    assert_eq!(shown["title"], "");
    let again = node.cli(&["update", &bikes, "--status", "open"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("withdrawn"), "{}", again.stderr);
}

#[test]
fn status_and_id_in_json() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let s = node.ok(&["--json", "status"]).json();
    for field in [
        "node_id",
        "member_id",
        "scope",
        "listen_addrs",
        "api",
        "peers",
        "listings",
    ] {
        assert!(s.get(field).is_some(), "status lacks {field}: {s}");
    }
    assert_eq!(s["scope"], SCOPE);
    assert_eq!(s["listings"], 0);
    assert_eq!(s["api"], node.api.as_str());
    let id = node.ok(&["--json", "id"]).json();
    assert_eq!(id["member_id"], s["member_id"]);
    assert_eq!(id["certificate"]["scope"], SCOPE);
    // --json after the subcommand works too.
    assert_eq!(
        node.ok(&["status", "--json"]).json()["node_id"],
        s["node_id"]
    );
    assert_eq!(node.ok(&["--json", "peers"]).json(), serde_json::json!([]));
}
