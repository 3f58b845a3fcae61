//! Five nodes in network namespaces of their own, on one bridge: split in
//! two groups, each posts, the split heals, and every node ends with the
//! same listings, none lost. Where the kernel has netem, every link also
//! has 50 ms of delay and 5 % loss.
//!
//! Needs root (namespaces, veth pairs, a bridge); skipped with a message
//! otherwise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";
const NODES: usize = 5;

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The namespaces, links and node processes of one run; all removed when
/// dropped.
struct Net {
    tag: String,
    nodes: Vec<Child>,
    dirs: Vec<tempfile::TempDir>,
}

impl Net {
    fn ns(&self, i: usize) -> String {
        format!("bt{i}-{}", self.tag)
    }
    fn hub(&self) -> String {
        format!("bthub-{}", self.tag)
    }
    fn ip(i: usize) -> String {
        format!("10.77.0.{}", i + 1)
    }
    fn dir(&self, i: usize) -> &Path {
        self.dirs[i].path()
    }

    /// `buurt --data-dir DIR ARGS` inside node `i`'s namespace.
    fn cli(&self, i: usize, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns(i), BIN, "--data-dir"])
            .arg(self.dir(i))
            .args(args)
            .env_remove("BUURT_DIR")
            .env_remove("BUURT_API")
            .output()
            .expect("ip runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn json(&self, i: usize, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let (code, out, err) = self.cli(i, &full);
        assert_eq!(code, 0, "node {i}: buurt {args:?}: {err}");
        serde_json::from_str(&out).expect("JSON")
    }

    /// Moves node `i`'s link to bridge `br` of the hub.
    fn attach(&self, i: usize, br: &str) -> bool {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.hub(),
            "ip",
            "link",
            "set",
            &format!("v{i}b"),
            "master",
            br,
        ])
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.nodes {
            let _ = c.kill();
            let _ = c.wait();
        }
        for i in 0..NODES {
            sh(&["ip", "netns", "del", &self.ns(i)]);
        }
        sh(&["ip", "netns", "del", &self.hub()]);
    }
}

/// Builds the namespaces and links; `None` (and a message) where this
/// process may not.
fn build() -> Option<(Net, bool)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: network namespaces need root");
        return None;
    }
    let net = Net {
        tag: std::process::id().to_string(),
        nodes: Vec::new(),
        dirs: (0..NODES).map(|_| tempfile::tempdir().unwrap()).collect(),
    };
    let hub = net.hub();
    if !sh(&["ip", "netns", "add", &hub]) {
        eprintln!("skipped: cannot make network namespaces here");
        return None;
    }
    let in_hub = |args: &[&str]| {
        let mut full = vec!["ip", "netns", "exec", hub.as_str()];
        full.extend_from_slice(args);
        sh(&full)
    };
    let mut ok = in_hub(&["ip", "link", "add", "br0", "type", "bridge"])
        && in_hub(&["ip", "link", "add", "br1", "type", "bridge"])
        && in_hub(&["ip", "link", "set", "br0", "up"])
        && in_hub(&["ip", "link", "set", "br1", "up"]);
    let mut netem = true;
    for i in 0..NODES {
        let ns = net.ns(i);
        let (a, b) = (format!("v{i}a"), format!("v{i}b"));
        ok = ok
            && sh(&["ip", "netns", "add", &ns])
            && sh(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b])
            && sh(&["ip", "link", "set", &a, "netns", &ns])
            && sh(&["ip", "link", "set", &b, "netns", &hub])
            && sh(&["ip", "netns", "exec", &ns, "ip", "link", "set", "lo", "up"])
            && sh(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "ip",
                "addr",
                "add",
                &format!("{}/24", Net::ip(i)),
                "dev",
                &a,
            ])
            && sh(&["ip", "netns", "exec", &ns, "ip", "link", "set", &a, "up"])
            && in_hub(&["ip", "link", "set", &b, "up"])
            && net.attach(i, "br0");
        netem = netem
            && sh(&[
                "ip", "netns", "exec", &ns, "tc", "qdisc", "add", "dev", &a, "root", "netem",
                "delay", "50ms", "loss", "5%",
            ]);
    }
    if !ok {
        eprintln!("skipped: could not build veth pairs and bridges here");
        return None;
    }
    if !netem {
        eprintln!("netem is not in this kernel: the links have no added delay or loss");
    }
    Some((net, netem))
}

fn ids(net: &Net, i: usize) -> BTreeSet<String> {
    net.json(i, &["search", "--limit", "500"])
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_healed_partition_converges_with_nothing_lost() {
    let Some((mut net, netem)) = build() else {
        return;
    };
    // Keys first: every node dials the others by node id.
    let node_ids: Vec<String> = (0..NODES)
        .map(|i| {
            net.json(i, &["init", "--scope", SCOPE])["node_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // The partition is about sync, not the web of vouches: every node
    // federates under `open`.
    for i in 0..NODES {
        let path = net.dir(i).join("config.toml");
        let mut file = buurt_node::config::FileConfig::load(&path).unwrap();
        file.policy = buurt_node::config::Policy::Open;
        std::fs::write(&path, file.to_toml()).unwrap();
    }
    let logs: Vec<PathBuf> = (0..NODES).map(|i| net.dir(i).join("node.log")).collect();
    for (i, log) in logs.iter().enumerate() {
        let mut args: Vec<String> = vec![
            "--api".into(),
            "127.0.0.1:0".into(),
            "node".into(),
            "--no-mdns".into(),
            "--listen".into(),
            format!("/ip4/{}/tcp/4001", Net::ip(i)),
        ];
        // A ring with a chord: every node has two or three peers.
        for j in [(i + 1) % NODES, (i + 2) % NODES] {
            args.push("--peer".into());
            args.push(format!("/ip4/{}/tcp/4001/p2p/{}", Net::ip(j), node_ids[j]));
        }
        let child = Command::new("ip")
            .args(["netns", "exec", &net.ns(i), BIN, "--data-dir"])
            .arg(net.dir(i))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("node starts");
        net.nodes.push(child);
    }
    for (i, log) in logs.iter().enumerate() {
        assert!(
            eventually(30, || net.dir(i).join("api.addr").exists()
                && net.cli(i, &["status"]).0 == 0),
            "node {i} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
    let connected = |i: usize| net.json(i, &["peers"]).as_array().unwrap().len() >= 2;
    assert!(
        eventually(60, || (0..NODES).all(connected)),
        "the ring forms"
    );

    // The split: nodes 0 and 1 on one bridge, 2, 3 and 4 on the other.
    let (left, right) = ([0usize, 1], [2usize, 3, 4]);
    for i in right {
        assert!(net.attach(i, "br1"));
    }
    let post = |i: usize, n: usize| -> Vec<String> {
        (0..n)
            .map(|k| {
                let (code, out, err) = net.cli(i, &["offer", &format!("Ding {i}-{k}")]);
                assert_eq!(code, 0, "{err}");
                out.trim().to_owned()
            })
            .collect()
    };
    let mut all: BTreeSet<String> = BTreeSet::new();
    all.extend(post(0, 10));
    all.extend(post(3, 10));
    all.extend(post(1, 5));
    // Each side converges within itself, and holds nothing of the other.
    let side = |nodes: &[usize], want: usize| {
        eventually(60, || nodes.iter().all(|&i| ids(&net, i).len() == want))
    };
    assert!(side(&left, 15), "the left side has its 15");
    assert!(side(&right, 10), "the right side has its 10");

    // Healed: every node ends with all 25.
    let healed = Instant::now();
    for i in right {
        assert!(net.attach(i, "br0"));
    }
    assert!(
        eventually(60, || {
            for i in 0..NODES {
                // Asks for a sync now; it also runs by itself at reconnect.
                let _ = net.cli(i, &["sync", "--no-wait"]);
            }
            (0..NODES).all(|i| ids(&net, i) == all)
        }),
        "not every node has all {} listings 60 s after the heal: {:?}",
        all.len(),
        (0..NODES).map(|i| ids(&net, i).len()).collect::<Vec<_>>()
    );
    eprintln!(
        "5 nodes converged on {} listings {:.1} s after the heal ({})",
        all.len(),
        healed.elapsed().as_secs_f64(),
        if netem {
            "50 ms delay, 5 % loss"
        } else {
            "no netem in this kernel"
        }
    );
}
