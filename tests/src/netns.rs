//! A small internet on one machine, from Linux network namespaces: a hub
//! with a public address, and two homes, each a node behind its own router
//! that does NAT.
//!
//! ```text
//!              "internet" (bridge, 203.0.113.0/24)
//!        hub .10        router A .1          router B .2
//!                        | NAT                | NAT
//!                     home A 10.0.1.2      home B 10.0.2.2
//! ```
//!
//! Needs root (namespaces, veth pairs, iptables); [`Bed::unavailable`] says
//! why a machine cannot build one. Every namespace is removed when the bed
//! is dropped, also when a test panics; the routers' rules and links live in
//! the namespaces and go with them.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the routers translate addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// `MASQUERADE`: keeps the source port where it can (hole punching
    /// works).
    PortPreserving,
    /// `MASQUERADE --random-fully`: a random port per connection, like a
    /// symmetric NAT (hole punching cannot work).
    Random,
}

pub const HUB_IP: &str = "203.0.113.10";
pub const ROUTER_A_IP: &str = "203.0.113.1";
pub const ROUTER_B_IP: &str = "203.0.113.2";
pub const HOME_A_IP: &str = "10.0.1.2";
pub const HOME_B_IP: &str = "10.0.2.2";

pub struct Bed {
    prefix: String,
    namespaces: Vec<String>,
    delayers: Vec<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

/// A thread in namespace `ns` that holds each packet of NFQUEUE `queue`
/// for `delay`, then lets it go on, until `stop`.
fn delayer(
    ns: String,
    queue: u16,
    delay: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let netns = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("the namespace");
        // SAFETY: setns on a valid namespace fd; it moves this thread only.
        let moved = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(moved, 0, "setns into {ns}");
        let mut q = nfq::Queue::open().expect("an NFQUEUE socket");
        q.bind(queue).expect("bind the queue");
        q.set_nonblocking(true);
        let _ = ready_tx.send(());
        let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
        while !stop.load(Ordering::Relaxed) {
            loop {
                match q.recv() {
                    Ok(m) => held.push_back((Instant::now() + delay, m)),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
            let now = Instant::now();
            while held.front().is_some_and(|(t, _)| *t <= now) {
                let (_, mut m) = held.pop_front().expect("a packet");
                m.set_verdict(nfq::Verdict::Accept);
                let _ = q.verdict(m);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    });
    ready.recv().expect("the delayer started");
    handle
}

/// Runs a command; panics with its output when it fails.
/// Runs `command`, given as words, inside namespace `ns`.
fn run_in(ns: &str, command: &str) {
    let mut args = vec!["ip", "netns", "exec", ns];
    args.extend(command.split_whitespace());
    run(&args);
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn found(program: &str, flag: &str) -> bool {
    Command::new(program)
        .arg(flag)
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Bed {
    /// Why this machine cannot build a bed (`None`: it can).
    pub fn unavailable() -> Option<String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not root (network namespaces need root; .ci/run runs as root)".into());
        }
        for (p, flag) in [("ip", "-V"), ("iptables", "--version"), ("tc", "-V")] {
            if !found(p, flag) {
                return Some(format!(
                    "`{p}` is not installed (apt-get install iproute2 iptables)"
                ));
            }
        }
        None
    }

    /// Whether a test that cannot build a bed must fail rather than skip
    /// (`BUURT_NETNS_TESTS=required`, as `.ci/run` sets).
    pub fn required() -> bool {
        std::env::var("BUURT_NETNS_TESTS").is_ok_and(|v| v == "required")
    }

    /// Builds the bed; `tag` keeps the names of two beds apart.
    pub fn new(tag: &str, nat: Nat) -> Bed {
        let prefix = format!("bt{}{tag}", std::process::id() % 100_000);
        let mut bed = Bed {
            prefix,
            namespaces: Vec::new(),
            delayers: Vec::new(),
            stop: Arc::default(),
        };
        for n in ["net", "hub", "ra", "a", "rb", "b"] {
            let ns = bed.ns(n);
            run(&["ip", "netns", "add", &ns]);
            bed.namespaces.push(ns.clone());
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        let net = bed.ns("net");
        run(&["ip", "-n", &net, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &net, "link", "set", "br0", "up"]);
        // The internet side: hub and both routers' wan ports on the bridge.
        for (n, ip, i) in [
            ("hub", HUB_IP, 0),
            ("ra", ROUTER_A_IP, 1),
            ("rb", ROUTER_B_IP, 2),
        ] {
            let dev = if n == "hub" { "eth0" } else { "wan" };
            bed.link(&net, &format!("p{i}"), &bed.ns(n), dev);
            run(&[
                "ip",
                "-n",
                &net,
                "link",
                "set",
                &format!("p{i}"),
                "master",
                "br0",
            ]);
            run(&["ip", "-n", &net, "link", "set", &format!("p{i}"), "up"]);
            bed.up(&bed.ns(n), dev, &format!("{ip}/24"));
        }
        // The homes behind their routers.
        for (r, h, lan, home) in [
            ("ra", "a", "10.0.1.1", HOME_A_IP),
            ("rb", "b", "10.0.2.1", HOME_B_IP),
        ] {
            let (rns, hns) = (bed.ns(r), bed.ns(h));
            bed.link(&rns, "lan", &hns, "eth0");
            bed.up(&rns, "lan", &format!("{lan}/24"));
            bed.up(&hns, "eth0", &format!("{home}/24"));
            run(&["ip", "-n", &hns, "route", "add", "default", "via", lan]);
            let sh = |rule: &str| run_in(&rns, rule);
            sh("sysctl -qw net.ipv4.ip_forward=1");
            sh(match nat {
                Nat::PortPreserving => "iptables -t nat -A POSTROUTING -o wan -j MASQUERADE",
                Nat::Random => "iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully",
            });
            // Nothing from the internet reaches the home, or the router,
            // unless the inside opened it; the rest is dropped, not refused,
            // as home routers do (a refusal would end the other side's half
            // of a simultaneous open at once).
            for chain in ["FORWARD", "INPUT"] {
                sh(&format!(
                    "iptables -A {chain} -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
                ));
                sh(&format!("iptables -A {chain} -i wan -j DROP"));
            }
        }
        bed
    }

    /// The full name of one of the bed's namespaces: `hub`, `a`, `b`, `ra`,
    /// `rb`, `net`.
    pub fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// A veth pair between two namespaces.
    fn link(&self, ns1: &str, dev1: &str, ns2: &str, dev2: &str) {
        run(&[
            "ip", "-n", ns1, "link", "add", dev1, "type", "veth", "peer", "name", dev2, "netns",
            ns2,
        ]);
    }

    fn up(&self, ns: &str, dev: &str, cidr: &str) {
        run(&["ip", "-n", ns, "addr", "add", cidr, "dev", dev]);
        run(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }

    /// Delay and loss on both routers, each way: `tc netem` on their
    /// internet side where the kernel has it; otherwise the same from
    /// netfilter (1 packet in 100 dropped at random by `-m statistic`, and
    /// every forwarded packet held `delay_ms` in an NFQUEUE by a thread of
    /// this process). Returns which was applied.
    pub fn impair(&mut self, delay_ms: u32, loss_percent: f32) -> String {
        let delay = format!("{delay_ms}ms");
        let loss = format!("{loss_percent}%");
        let netem = |ns: &str, dev: &str| {
            Command::new("ip")
                .args([
                    "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root",
                ])
                .args(["netem", "delay", &delay, "loss", &loss])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if netem(&self.ns("ra"), "wan") {
            for (ns, dev) in [
                (self.ns("rb"), "wan"),
                (self.ns("net"), "p1"),
                (self.ns("net"), "p2"),
            ] {
                assert!(netem(&ns, dev), "netem on {ns} {dev}");
            }
            return format!("tc netem: {delay_ms} ms and {loss_percent} % loss each way");
        }
        for r in ["ra", "rb"] {
            let ns = self.ns(r);
            let probability = format!("{}", loss_percent / 100.0);
            run_in(
                &ns,
                &format!(
                    "iptables -t mangle -A FORWARD -m statistic --mode random \
                     --probability {probability} -j DROP"
                ),
            );
            run_in(
                &ns,
                "iptables -t mangle -A FORWARD -j NFQUEUE --queue-num 7 --queue-bypass",
            );
            self.delayers.push(delayer(
                ns,
                7,
                Duration::from_millis(u64::from(delay_ms)),
                self.stop.clone(),
            ));
        }
        format!(
            "netfilter (this kernel has no netem): {delay_ms} ms held in an NFQUEUE and \
             {loss_percent} % dropped at random, on each router, each way"
        )
    }

    /// Bytes that crossed the hub's port, both ways.
    pub fn hub_bytes(&self) -> u64 {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns("hub"), "cat"])
            .args([
                "/sys/class/net/eth0/statistics/rx_bytes",
                "/sys/class/net/eth0/statistics/tx_bytes",
            ])
            .output()
            .expect("ip netns exec");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum()
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for d in self.delayers.drain(..) {
            let _ = d.join();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
