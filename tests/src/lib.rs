//! Test harness: runs the real `buurt` binary against real nodes, each in its
//! own temporary data directory, with the API on a free loopback port.
//!
//! Used by the end-to-end tests of `cli/tests/`; the binary's path comes from
//! `env!("CARGO_BIN_EXE_buurt")` there.

pub mod browser;
pub mod hostile;
pub mod netns;
pub mod process;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The flags every test node runs with after `--data-dir`: API and libp2p on
/// free loopback ports, no mDNS (tests dial explicit addresses).
pub const NODE_ARGS: [&str; 6] = [
    "--api",
    "127.0.0.1:0",
    "node",
    "--no-mdns",
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
];

/// The result of one CLI run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `buurt --data-dir DIR ARGS...` and returns what happened.
pub fn buurt(bin: &Path, dir: &Path, args: &[&str]) -> Run {
    buurt_with(bin, dir, args, &[])
}

/// Like [`buurt`], with extra environment variables.
pub fn buurt_with(bin: &Path, dir: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    buurt_in(None, bin, dir, args, env)
}

/// The command that runs `bin`, inside the network namespace `netns` when
/// given (`ip netns exec NS BIN`, which execs the binary: the child's pid is
/// the binary's).
pub fn command(netns: Option<&str>, bin: &Path) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// Like [`buurt_with`], inside the network namespace `netns` when given.
pub fn buurt_in(
    netns: Option<&str>,
    bin: &Path,
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
) -> Run {
    let out = command(netns, bin)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("BUURT_DIR")
        .env_remove("BUURT_API")
        .stdin(Stdio::null())
        .output()
        .expect("the buurt binary runs");
    Run::from(out)
}

/// A node running as a child process.
pub struct TestNode {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// The API address, `127.0.0.1:PORT`.
    pub api: String,
    stderr_path: PathBuf,
    /// Peers given with `--peer` at every start.
    peers: Vec<String>,
    /// Environment of the node and of [`TestNode::cli`] runs, e.g.
    /// `BUURT_CLOCK_OFFSET_SECS` to run days ahead (taken up at the next
    /// [`TestNode::spawn`] by the node).
    pub env: Vec<(String, String)>,
    /// The network namespace the node and its CLI run in, if any.
    pub netns: Option<String>,
    /// The node's `--listen` address and any further `buurt node` flags.
    pub node_args: Vec<String>,
}

impl TestNode {
    /// Initialises a data directory with `scope` and starts a node on it.
    pub fn start(bin: &Path, scope: &str) -> TestNode {
        TestNode::start_with_peers(bin, scope, &[])
    }

    /// Like [`TestNode::start`], dialling `peers` (full multiaddresses).
    pub fn start_with_peers(bin: &Path, scope: &str, peers: &[String]) -> TestNode {
        TestNode::start_configured(bin, scope, peers, |_| {})
    }

    /// Three nodes in a line, A – B – C (B dials A, C dials B), connected
    /// and all subscribed to `scope`.
    pub fn line(bin: &Path, scope: &str) -> (TestNode, TestNode, TestNode) {
        let a = TestNode::start(bin, scope);
        let b = TestNode::start_with_peers(bin, scope, &[a.address()]);
        let c = TestNode::start_with_peers(bin, scope, &[b.address()]);
        assert!(TestNode::eventually(20, || a.peer_count() == 1
            && b.peer_count() == 2
            && c.peer_count() == 1));
        assert!(a.wait_subscribed(scope) && b.wait_subscribed(scope) && c.wait_subscribed(scope));
        (a, b, c)
    }

    /// Like [`TestNode::start_with_peers`], with `config.toml` changed by
    /// `edit` before the first start.
    pub fn start_configured(
        bin: &Path,
        scope: &str,
        peers: &[String],
        edit: impl FnOnce(&mut buurt_node::config::FileConfig),
    ) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        TestNode::start_in(bin, dir, scope, peers, edit)
    }

    /// Like [`TestNode::start_configured`], with the data directory `dir`
    /// (a temporary directory made where the test wants it).
    pub fn start_in(
        bin: &Path,
        dir: tempfile::TempDir,
        scope: &str,
        peers: &[String],
        edit: impl FnOnce(&mut buurt_node::config::FileConfig),
    ) -> TestNode {
        let mut n = TestNode::prepare(bin, dir, scope, peers, edit);
        n.spawn();
        n
    }

    /// Initialises `dir` with `scope` and the config `edit` makes, without
    /// starting the node.
    fn prepare(
        bin: &Path,
        dir: tempfile::TempDir,
        scope: &str,
        peers: &[String],
        edit: impl FnOnce(&mut buurt_node::config::FileConfig),
    ) -> TestNode {
        let r = buurt(bin, dir.path(), &["init", "--scope", scope]);
        assert_eq!(r.code, 0, "init failed: {}", r.stderr);
        let path = dir.path().join("config.toml");
        let mut file = buurt_node::config::FileConfig::load(&path).expect("config");
        // Tests of other features federate under `open`; the web of
        // vouches has tests of its own, which set `web` in `edit`.
        file.policy = buurt_node::config::Policy::Open;
        edit(&mut file);
        buurt_node::datadir::write_secret(&path, file.to_toml().as_bytes()).expect("config");
        let stderr_path = dir.path().join("node.log");
        TestNode {
            bin: bin.to_owned(),
            dir,
            child: None,
            api: String::new(),
            stderr_path,
            peers: peers.to_vec(),
            env: Vec::new(),
            netns: None,
            node_args: vec![NODE_ARGS[4].into(), NODE_ARGS[5].into()],
        }
    }

    /// A node in the network namespace `netns` (see [`netns::Bed`]),
    /// started with `node_args` (its `--listen`, `--hub`…) after `buurt
    /// node --no-mdns`; its CLI runs in the namespace too.
    pub fn start_netns(
        bin: &Path,
        scope: &str,
        netns: &str,
        node_args: &[&str],
        edit: impl FnOnce(&mut buurt_node::config::FileConfig),
    ) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut n = TestNode::prepare(bin, dir, scope, &[], edit);
        n.netns = Some(netns.to_owned());
        n.node_args = node_args.iter().map(|a| a.to_string()).collect();
        n.spawn();
        n
    }

    /// Replaces the peers given with `--peer` at the next [`TestNode::spawn`].
    pub fn set_peers(&mut self, peers: &[String]) {
        self.peers = peers.to_vec();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the node process and waits until its API answers.
    pub fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.path().join("api.addr"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_path)
            .expect("log file");
        let child = command(self.netns.as_deref(), &self.bin)
            .arg("--data-dir")
            .arg(self.path())
            .args(&NODE_ARGS[..4])
            .args(&self.node_args)
            .args(self.peers.iter().flat_map(|p| ["--peer", p.as_str()]))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("BUURT_DIR")
            .env_remove("BUURT_API")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("buurt node starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(addr) = std::fs::read_to_string(self.path().join("api.addr")) {
                // Inside a namespace, its loopback is the node's own: ask
                // through the CLI run there.
                let answers = match self.netns {
                    Some(_) => self.cli(&["status"]).code == 0,
                    None => self.http_get("/v1/status").is_ok(),
                };
                if !addr.trim().is_empty() && answers {
                    self.api = addr.trim().to_owned();
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("node exited early with {status}; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "node did not start in 30 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node's full listen address (with `/p2p/`), for others to dial.
    pub fn address(&self) -> String {
        let s = self.ok(&["--json", "status"]).json();
        s["listen_addrs"][0]
            .as_str()
            .expect("the node listens")
            .to_owned()
    }

    /// The ids of the listings `buurt --json search ARGS` finds.
    pub fn search_ids(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["--json", "search"];
        full.extend_from_slice(args);
        let v = self.ok(&full).json();
        v.as_array()
            .expect("search gives an array")
            .iter()
            .map(|l| l["id"].as_str().expect("listings have ids").to_owned())
            .collect()
    }

    /// Searches until listing `id` is (`want`) or is not among the results,
    /// for up to `secs` seconds: the index commits within a second of a post,
    /// and gossip takes a moment.
    pub fn finds(&self, args: &[&str], id: &str, want: bool, secs: u64) -> bool {
        TestNode::eventually(secs, || {
            self.search_ids(args).iter().any(|x| x == id) == want
        })
    }

    /// The number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.ok(&["--json", "peers"])
            .json()
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    }

    /// Whether a connected peer has announced its subscription to the gossip
    /// topic of `scope` (as this node's `buurt peers` shows it). A
    /// connection alone is not a subscription: gossip published before the
    /// subscription is known goes nowhere.
    pub fn subscribed(&self, scope: &str) -> bool {
        let peers = self.ok(&["--json", "peers"]).json();
        peers.as_array().is_some_and(|ps| {
            ps.iter().any(|p| {
                p["scopes"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == scope))
            })
        })
    }

    /// Waits up to 20 seconds until [`TestNode::subscribed`] holds.
    pub fn wait_subscribed(&self, scope: &str) -> bool {
        TestNode::eventually(20, || self.subscribed(scope))
    }

    /// The last sync result of `scope` in `status --json`, if any.
    pub fn sync_of(&self, scope: &str) -> Option<Value> {
        let status = self.ok(&["--json", "status"]).json();
        status["sync"]
            .as_array()?
            .iter()
            .find(|s| s["scope"] == scope)
            .cloned()
    }

    /// The node's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Runs the CLI against this node's data directory.
    pub fn cli(&self, args: &[&str]) -> Run {
        buurt_in(
            self.netns.as_deref(),
            &self.bin,
            self.path(),
            args,
            &self.env,
        )
    }

    /// Runs this node (from its next spawn) and its CLI `secs` ahead of the
    /// wall clock.
    pub fn clock_ahead(&mut self, secs: i64) {
        self.env.retain(|(k, _)| k != "BUURT_CLOCK_OFFSET_SECS");
        self.env
            .push(("BUURT_CLOCK_OFFSET_SECS".into(), secs.to_string()));
    }

    /// Runs the CLI and asserts it succeeded.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.cli(args);
        assert_eq!(
            r.code, 0,
            "buurt {args:?} failed:\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        r
    }

    fn http_get(&self, path: &str) -> Result<Value, String> {
        let addr =
            std::fs::read_to_string(self.path().join("api.addr")).map_err(|e| e.to_string())?;
        let mut resp = ureq::get(format!("http://{}{path}", addr.trim()))
            .call()
            .map_err(|e| e.to_string())?;
        resp.body_mut().read_json().map_err(|e| e.to_string())
    }

    /// The API's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// Sends a signal to the node process and waits for it to exit; returns
    /// its exit code (None when killed by the signal).
    pub fn signal(&mut self, sig: &str) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "node did not stop on SIG{sig} within 20 s; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The node process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Polls `f` until it returns true or `secs` pass; returns the last answer.
    pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if f() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The member key and certificate of a node's operator, from its data
/// directory: tests sign listings as the operator and post the bytes.
pub fn operator(
    dir: &Path,
) -> (
    buurt_protocol::keys::SigningKey,
    buurt_protocol::Certificate,
) {
    let d = buurt_node::datadir::DataDir::new(dir);
    let key = d.member_key().expect("the operator's member key");
    let cert = d
        .certificate()
        .expect("a readable certificate")
        .expect("the operator's certificate");
    (key, cert)
}

/// An open offer (random address, topic goods.tools) by the holder of
/// `key` and `cert`, created at `created` and lapsing at `expires`.
pub fn offer_by(
    key: &buurt_protocol::keys::SigningKey,
    cert: &buurt_protocol::Certificate,
    title: &str,
    created: i64,
    expires: i64,
) -> buurt_protocol::SignedListing {
    use buurt_protocol::{Exchange, Kind, Listing, ListingKey, Status, Terms};
    Listing {
        author: buurt_protocol::keys::member_id(key),
        key: ListingKey(buurt_node::datadir::random_bytes::<16>().expect("random bytes")),
        revision: created.max(1) as u64,
        created_at: created,
        expires_at: expires,
        kind: Kind::Offer,
        exchange: Exchange::Lend,
        status: Status::Open,
        scope: cert.scope.clone(),
        topics: vec!["goods.tools".into()],
        title: title.into(),
        body: String::new(),
        tags: vec![],
        geohash: None,
        terms: Terms::default(),
        extras: Default::default(),
        certificate: cert.clone(),
    }
    .sign(key)
    .expect("an offer signs")
}
