//! README.md as a newcomer follows it: the quick start's `buurt node` on a
//! fresh data directory, stopped with Ctrl-C, then the walk-through's block
//! run as written, in order, by bash. Only `buurt node &` gets the test
//! node's free loopback ports (and a wait until its API answers; the
//! neighbour's `--api 127.0.0.1:4747` becomes that address), `HOME` is a
//! temporary folder holding a photo (`fiets.jpg`, with a location tag), and
//! the `cargo install` line is left out: the test's own binary is on `PATH`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const TEST_PORTS: &str = "--api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 --no-mdns";

/// The first ```sh block after `heading` in the README.
fn block_after(readme: &str, heading: &str) -> Vec<String> {
    let from = readme.find(heading).expect("the README has the heading");
    let rest = &readme[from..];
    let start = rest.find("```sh\n").expect("a shell block follows") + 6;
    let end = rest[start..].find("```").expect("the block ends") + start;
    rest[start..end].lines().map(str::to_owned).collect()
}

/// A small JPEG whose EXIF segment names a place.
fn photo() -> Vec<u8> {
    let mut p = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x1B];
    p.extend_from_slice(b"Exif\0\0GPSLatitude 52.36\0\0");
    p.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x04, 1, 2, 0xFF, 0xD9]);
    p
}

/// The quick start's node: started on a fresh data directory, waited for,
/// stopped with SIGINT as Ctrl-C does.
fn quick_start(data: &Path) {
    let mut node = Command::new(BIN)
        .args(["node"])
        .args(TEST_PORTS.split(' '))
        .env("BUURT_DIR", data)
        .env_remove("BUURT_API")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("buurt node starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("api.addr").exists() {
        assert!(
            Instant::now() < deadline,
            "the quick-start node did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-INT", &node.id().to_string()])
        .status();
    let status = node.wait().expect("the node stops");
    assert!(status.success(), "Ctrl-C stops the node cleanly: {status}");
    let config = std::fs::read_to_string(data.join("config.toml")).expect("config written");
    assert!(config.contains("scope = \"local\""), "{config}");
}

#[test]
fn the_readme_walk_through_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let quick = block_after(&readme, "## Quick start");
    assert!(
        quick
            .iter()
            .any(|l| l.starts_with("cargo run --release -p buurt-cli -- node")),
        "{quick:?}"
    );
    let walk = block_after(&readme, "## Walk-through");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("buurt");
    std::fs::write(dir.path().join("fiets.jpg"), photo()).expect("a photo");
    quick_start(&data);

    let mut script = String::from(
        "set -euo pipefail\n\
         wait_api() {\n\
           for _ in $(seq 1 600); do\n\
             if [ -s \"$BUURT_DIR/api.addr\" ] && buurt status >/dev/null 2>&1; then return 0; fi\n\
             sleep 0.05\n\
           done\n\
           echo 'the node did not start' >&2; return 1\n\
         }\n",
    );
    let mut commands = Vec::new();
    for line in &walk {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with("cargo install") {
            continue;
        }
        script.push_str(&format!("echo '### {}'\n", commands.len()));
        if t.starts_with("buurt node &") {
            script.push_str(&format!("buurt node {TEST_PORTS} & NODE=$!\nwait_api\n"));
        } else {
            // The node listens on a free port, not the default one.
            script.push_str(&line.replace("127.0.0.1:4747", "$(cat \"$BUURT_DIR/api.addr\")"));
            script.push('\n');
        }
        commands.push(t.to_owned());
    }
    script.push_str(
        "echo '### after'\n\
         buurt show \"$RIDE\"\n\
         echo \"DRILL=$DRILL\"\n\
         echo \"RIDE=$RIDE\"\n\
         kill -INT $NODE\n\
         wait $NODE\n",
    );
    let bin_dir = Path::new(BIN).parent().expect("the binary's folder");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("PATH", path)
        .env("BUURT_DIR", &data)
        .env("HOME", dir.path())
        .env_remove("BUURT_API")
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walk-through failed ({}):\nscript:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );

    // What each command printed, by the command.
    let mut printed: Vec<(String, String)> = Vec::new();
    for part in stdout.split("### ").skip(1) {
        let (n, text) = part.split_once('\n').unwrap_or((part, ""));
        let name = match n.trim().parse::<usize>() {
            Ok(i) => commands[i].clone(),
            Err(_) => n.trim().to_owned(),
        };
        printed.push((name, text.to_owned()));
    }
    let of = |start: &str| -> String {
        printed
            .iter()
            .find(|(c, _)| c.starts_with(start))
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("no output for `{start}`:\n{stdout}"))
    };
    let after = of("after");
    let value = |name: &str| -> String {
        after
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} was not kept:\n{after}"))
            .to_owned()
    };
    let (drill, ride) = (value("DRILL"), value("RIDE"));
    assert_eq!(drill.len(), 32, "an id: {drill}");
    assert_eq!(ride.len(), 32, "an id: {ride}");

    // A search right after the posts finds them.
    assert!(
        of("buurt search boormachine ").contains(&drill[..12]),
        "{stdout}"
    );
    assert!(
        of("buurt search boormachien").contains(&drill[..12]),
        "{stdout}"
    );
    assert!(
        of("buurt search --requests").contains(&ride[..12]),
        "{stdout}"
    );
    assert!(
        of("buurt show $DRILL").contains("Boormachine te leen"),
        "{stdout}"
    );
    let mine = of("buurt mine");
    assert!(
        mine.contains(&drill[..12]) && mine.contains(&ride[..12]),
        "{mine}"
    );
    assert_eq!(
        mine.lines().count(),
        4,
        "a header and three listings: {mine}"
    );
    let status = of("buurt status");
    assert!(status.contains("nl/amsterdam/oost/dapperbuurt"), "{status}");
    assert!(status.contains("Dapperbuurt"), "the node's name: {status}");
    let json: serde_json::Value =
        serde_json::from_str(&of("buurt --json search boor")).expect("one JSON document");
    assert!(json.is_array(), "{json}");
    // The update and the withdrawal took.
    assert!(after.contains("withdrawn"), "{after}");
    // The neighbour's reply was delivered, read, and answered.
    let sent = of("buurt --data-dir ~/buurt-buur --api 127.0.0.1:4747 reply");
    assert!(sent.contains("delivered to home node bn"), "{sent}");
    let inbox = of("buurt inbox");
    assert!(
        inbox.contains("* ") && inbox.contains("Mag ik hem zaterdag"),
        "{inbox}"
    );
    let answered = of("buurt reply $DRILL");
    assert!(answered.contains("delivered to home node bn"), "{answered}");
    let thread = of("buurt --data-dir ~/buurt-buur --api 127.0.0.1:4747 thread");
    assert!(
        thread.contains("Mag ik hem zaterdag lenen?")
            && thread.contains("Ja hoor, zaterdag om tien uur."),
        "the neighbour sees both sides: {thread}"
    );
    // The loan, from proposal to thanks.
    assert!(of("buurt accept $DEAL").contains("is accepted"), "{stdout}");
    assert!(
        of("buurt --data-dir ~/buurt-buur --api 127.0.0.1:4747 handover").contains("is underway"),
        "{stdout}"
    );
    let returned = of("buurt return $DEAL");
    assert!(
        returned.contains("is completed") && returned.contains("is open now"),
        "{returned}"
    );
    assert!(
        of("buurt thank $DEAL").contains("until they thank you too"),
        "{stdout}"
    );
    assert!(
        of("buurt --data-dir ~/buurt-buur --api 127.0.0.1:4747 thank").contains("public now"),
        "{stdout}"
    );
    let member = of("buurt member $NEIGHBOUR");
    assert!(
        member.contains("thanked by 1 neighbour") && member.contains("Netjes teruggebracht"),
        "{member}"
    );
    assert!(
        of("buurt agreements --all").contains("completed"),
        "{stdout}"
    );
    // The neighbour's watch saw the ladder.
    let alerts = of("buurt --data-dir ~/buurt-buur --api 127.0.0.1:4747 notifications");
    assert!(alerts.contains("Ladder te leen"), "{alerts}");
    // Each seed platform's job.
    let cars = of("buurt search auto --available");
    assert!(cars.contains("Auto te huur"), "{cars}");
    let meal = of("buurt show $MEAL");
    assert!(
        meal.contains("every week") && meal.contains("next "),
        "{meal}"
    );
    let circle = of("buurt --data-dir ~/buurt-buur --api 127.0.0.1:4747 search --circle");
    assert!(circle.contains("medicijnen"), "{circle}");
    let bike = of("buurt offer \"Kinderfiets\"");
    assert!(bike.trim().len() == 32, "an id: {bike}");
}
