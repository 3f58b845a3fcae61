//! Operating a node like any well-made daemon, from the command line:
//! completions and the manual, the version with its commit, logs without
//! colour codes off a terminal and as JSON for shippers, and the config
//! checked and shown with where each value came from.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use buurt_tests::{buurt, TestNode, NODE_ARGS};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn bin() -> &'static Path {
    BIN.as_ref()
}

fn initialised() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = buurt(bin(), dir.path(), &["init", "--scope", SCOPE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let r = buurt(bin(), dir.path(), &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.len() > 1000, "{shell}: {}", r.stdout);
        for sub in ["reindex", "completions", "config"] {
            assert!(r.stdout.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let bad = buurt(bin(), dir.path(), &["completions", "cmd.exe"]);
    assert_eq!(bad.code, 2, "a usage error");
}

#[test]
fn man_prints_roff_and_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let r = buurt(bin(), dir.path(), &["man"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with('.'), "not roff: {}", &r.stdout[..80]);
    assert!(
        r.stdout.lines().any(|l| l.starts_with(".TH buurt 1")),
        "no .TH: {}",
        &r.stdout[..200]
    );
    assert!(
        r.stdout.contains("Share things"),
        "the NAME line says what buurt is"
    );
    let pages = dir.path().join("man");
    let r = buurt(
        bin(),
        dir.path(),
        &["man", "--dir", pages.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for page in [
        "buurt.1",
        "buurt-node.1",
        "buurt-config.1",
        "buurt-config-check.1",
    ] {
        let text =
            std::fs::read_to_string(pages.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH "), "{page}: {text}");
    }
    assert!(!pages.join("buurt-help.1").exists(), "no page for `help`");
    // The folder may also be given alone, as packaging/build-deb does.
    let alone = dir.path().join("alone");
    let r = buurt(bin(), dir.path(), &["man", alone.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(alone.join("buurt-node.1").exists());
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let dir = tempfile::tempdir().unwrap();
    let r = buurt(bin(), dir.path(), &["--version"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r.stdout.trim();
    let rest = line
        .strip_prefix(&format!("buurt {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        rest == "unknown" || (rest.len() >= 7 && rest.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    // In a git checkout, the commit is the checkout's (unless the build
    // was told another with BUURT_COMMIT).
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Ok(out) = git {
        if out.status.success() && std::env::var_os("BUURT_COMMIT").is_none() {
            let head = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            assert_eq!(rest, head, "{line}");
        }
    }
    // Subcommands say the same.
    let r = buurt(bin(), dir.path(), &["node", "--version"]);
    assert!(
        r.stdout.contains(&format!("(commit {rest})")),
        "{}",
        r.stdout
    );
}

/// `buurt node` with stderr on a pipe, and the lines it writes there.
struct Piped {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Piped {
    fn start(dir: &Path) -> Piped {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(NODE_ARGS)
            .env_remove("BUURT_DIR")
            .env_remove("BUURT_API")
            .env_remove("BUURT_LOG")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("buurt node starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Piped {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to 30 s for a line containing `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !self.seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no `{needle}` within 30 s:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// SIGTERM, then every line until stderr closes.
    fn stop(&mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("the node exits");
        assert_eq!(status.code(), Some(0), "{}", self.seen.join("\n"));
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(l);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn node_logs_on_a_pipe_or_in_a_file_have_no_colour_codes() {
    let dir = initialised();
    let mut node = Piped::start(dir.path());
    node.wait_for("buurt node running");
    let lines = node.stop();
    let all = lines.join("\n");
    assert!(!all.contains("\x1b["), "colour codes on a pipe:\n{all:?}");
    assert!(all.contains(" INFO "), "{all}");
    assert!(all.contains("buurt node stopped"), "{all}");
    // The harness's nodes log into a file.
    let node = TestNode::start(bin(), SCOPE);
    node.ok(&["offer", "Ladder te leen"]);
    assert!(!node.log().contains("\x1b["), "{:?}", node.log());
}

#[test]
fn json_logs_are_one_object_a_line_with_level_and_fields() {
    let mut node = TestNode::start(bin(), SCOPE);
    assert_eq!(node.signal("TERM"), Some(0), "{}", node.log());
    let before = node.log().len();
    node.node_args.push("--log-format".into());
    node.node_args.push("json".into());
    node.spawn();
    node.ok(&["offer", "Boormachine te leen"]);
    assert_eq!(node.signal("TERM"), Some(0), "{}", node.log());
    let log = node.log()[before..].to_owned();
    let mut messages = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let level = v["level"]
            .as_str()
            .unwrap_or_else(|| panic!("no level: {line}"));
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{line}"
        );
        assert!(v["fields"].is_object(), "no fields: {line}");
        assert!(v["timestamp"].is_string(), "no timestamp: {line}");
        messages.push(
            v["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        messages.iter().any(|m| m.starts_with("buurt node running")),
        "{log}"
    );
    assert!(messages.iter().any(|m| m == "buurt node stopped"), "{log}");
}

#[test]
fn no_color_keeps_a_terminal_plain() {
    // A terminal, from util-linux `script`; without it there is none to test.
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("no `script` here: NO_COLOR on a terminal is not tested");
        return;
    }
    let on_terminal = |no_color: Option<&str>| -> String {
        let dir = initialised();
        let pidfile = dir.path().join("node.pid");
        let inner = format!(
            "echo $$ > '{}'; exec '{BIN}' --data-dir '{}' {}",
            pidfile.display(),
            dir.path().display(),
            NODE_ARGS.join(" ")
        );
        let mut cmd = Command::new("script");
        cmd.args(["-qfec", &inner, "/dev/null"])
            .env_remove("BUURT_LOG")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("script runs");
        let out = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = String::new();
        while !seen.contains("buurt node running") {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => {
                    seen.push_str(&l);
                    seen.push('\n');
                }
                Err(_) => panic!("the node did not start on a terminal:\n{seen}"),
            }
        }
        let pid = std::fs::read_to_string(&pidfile).expect("pid");
        let _ = Command::new("kill").args(["-TERM", pid.trim()]).status();
        let _ = child.wait();
        seen
    };
    let coloured = on_terminal(None);
    assert!(
        coloured.contains("\x1b["),
        "a terminal gets colours: {coloured:?}"
    );
    let empty = on_terminal(Some(""));
    assert!(
        empty.contains("\x1b["),
        "an empty NO_COLOR is unset: {empty:?}"
    );
    let plain = on_terminal(Some("1"));
    assert!(!plain.contains("\x1b["), "NO_COLOR=1: {plain:?}");
}

#[test]
fn config_check_names_the_nearest_key_and_passes_a_good_file() {
    let dir = initialised();
    let good = buurt(bin(), dir.path(), &["config", "check"]);
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert!(
        good.stdout.trim().ends_with("config.toml: ok"),
        "{}",
        good.stdout
    );

    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        "scope = \"nl/utrecht\"\n\n[limits]\nmax_listing_byte = 4096\n\n[rate_limits]\nauthor_per_day = \"many\"\n",
    )
    .unwrap();
    let file = typo.to_str().unwrap();
    let r = buurt(bin(), dir.path(), &["config", "check", "--file", file]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "unknown key limits.max_listing_byte at line 4; did you mean limits.max_listing_bytes?"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("rate_limits.author_per_day at line 7: expected an integer, found a string"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("2 errors"), "{}", r.stderr);
    let json = buurt(
        bin(),
        dir.path(),
        &["--json", "config", "check", "--file", file],
    );
    assert_eq!(json.code, 1);
    let v = json.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["suggestion"], "limits.max_listing_bytes");
    assert_eq!(v["errors"][0]["line"], 4);

    // A value of the right type that a node refuses.
    std::fs::write(&typo, "trust_depth = 9\n").unwrap();
    let r = buurt(bin(), dir.path(), &["config", "check", "--file", file]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("trust_depth at line 1: must be between 1 and 6"),
        "{}",
        r.stderr
    );

    // The node itself refuses a typo with the same words.
    let config = dir.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text.replace("mdns = true", "mnds = true");
    std::fs::write(&config, text).unwrap();
    let r = buurt(bin(), dir.path(), &NODE_ARGS[..4]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("unknown key mnds at line"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean mdns?"), "{}", r.stderr);

    let missing = buurt(
        bin(),
        dir.path(),
        &["config", "check", "--file", "/nonexistent.toml"],
    );
    assert_eq!(missing.code, 1);
}

#[test]
fn config_show_names_where_each_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "scope = \"nl/utrecht\"\n\n[limits]\nmax_tags = 5\n",
    )
    .unwrap();
    let args = [
        "--api",
        "127.0.0.1:9999",
        "--json",
        "config",
        "show",
        "--no-mdns",
    ];
    let v = buurt(bin(), dir.path(), &args).json();
    let s = &v["settings"];
    let at = |k: &str| {
        (
            s[k]["value"].clone(),
            s[k]["source"].as_str().unwrap_or("?").to_owned(),
        )
    };
    assert_eq!(at("scope"), ("nl/utrecht".into(), "file".into()));
    assert_eq!(at("limits.max_tags"), (5.into(), "file".into()));
    assert_eq!(at("limits.max_topics"), (3.into(), "default".into()));
    assert_eq!(at("api"), ("127.0.0.1:9999".into(), "flag".into()));
    assert_eq!(at("mdns"), (false.into(), "flag".into()));
    assert_eq!(at("board"), (true.into(), "default".into()));
    assert_eq!(v["exists"], true);

    let text = buurt(
        bin(),
        dir.path(),
        &["--api", "127.0.0.1:9999", "config", "show"],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    let row = |k: &str| {
        text.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(k))
            .unwrap_or_else(|| panic!("no {k}: {}", text.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("api"), ["api", "\"127.0.0.1:9999\"", "flag"]);
    assert_eq!(row("limits.max_tags"), ["limits.max_tags", "5", "file"]);
    assert_eq!(row("mdns"), ["mdns", "true", "default"]);

    // A bad file is refused as the node refuses it.
    std::fs::write(dir.path().join("config.toml"), "scoop = \"nl\"\n").unwrap();
    let r = buurt(bin(), dir.path(), &["config", "show"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("did you mean scope?"), "{}", r.stderr);
}

/// The rows of the one table in docs/operator.md's "Configuration": key,
/// type, default, meaning.
fn documented_keys() -> Vec<(String, String)> {
    let doc = include_str!("../../docs/operator.md");
    let (_, rest) = doc
        .split_once("\n## Configuration\n")
        .expect("a Configuration section");
    let section = rest.split("\n## ").next().unwrap_or(rest);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 4, "key, type, default, meaning: {l}");
            (cells[0].trim_matches('`').to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn every_config_key_is_documented_with_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let v = buurt(bin(), dir.path(), &["--json", "config", "show"]).json();
    let settings = v["settings"].as_object().expect("settings");
    assert!(settings.len() > 30, "{v}");
    let documented = documented_keys();
    for (key, s) in settings {
        assert_eq!(s["source"], "default", "{key}");
        let (_, default) = documented
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("`{key}` is not in the table of docs/operator.md"));
        let shown = format!("`{}`", s["value"]);
        assert!(
            default.contains(&shown),
            "docs/operator.md gives `{key}` the default {default}, the code {shown}"
        );
    }
    for (key, _) in &documented {
        assert!(
            settings.contains_key(key),
            "docs/operator.md documents `{key}`, which is no key"
        );
    }
}
