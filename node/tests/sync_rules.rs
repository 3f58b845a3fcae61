//! The rules a sync session holds a peer to, in process: a session runs
//! against a scripted peer (a `Requester` that answers from a real node's
//! store and then tampers with the answer), and must end with the peer
//! reported as misbehaving exactly when it broke the protocol.

use std::sync::{Arc, Mutex};

use buurt_node::clock;
use buurt_node::config::{Config, FileConfig, Overrides};
use buurt_node::run::Parts;
use buurt_node::sync::{self, Malformed, RequestError, Requester, SessionError};
use buurt_protocol::sample::{Identity, SCOPE};
use buurt_protocol::sync::{Request, Response};
use buurt_protocol::{keys, DecodeError, Scope, SignedListing};
use libp2p::PeerId;

/// How the scripted peer departs from an honest answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tamper {
    Honest,
    /// Answers a reconcile request with a page of listings.
    WrongAnswer,
    /// Sends more listings than ids asked for.
    Extra,
    /// Delivers fewer than half of the listings it announced.
    Withholds,
    /// Flips a bit in every listing it delivers.
    Forges,
    /// Sends bytes that do not decode.
    Garbles,
    /// Refuses, as a peer that does not follow the scope does.
    Refuses,
    /// Hands out a revocation that does not verify.
    BadRevocation,
}

struct Peer {
    server: Arc<sync::Context>,
    tamper: Tamper,
    reported: Mutex<Vec<String>>,
}

impl Requester for Peer {
    async fn request(&self, _: PeerId, request: Request) -> Result<Response, RequestError> {
        let is_fetch = matches!(request, Request::Fetch { .. });
        let is_revocations = matches!(request, Request::Revocations);
        let (honest, _) = sync::serve::answer(&self.server, request, clock::now());
        Ok(match (self.tamper, honest) {
            (Tamper::WrongAnswer, Response::Reconcile { .. }) => {
                Response::Listings { listings: vec![] }
            }
            (Tamper::Extra, Response::Listings { mut listings }) if is_fetch => {
                let more = listings.clone();
                listings.extend(more);
                Response::Listings { listings }
            }
            (Tamper::Withholds, Response::Listings { mut listings }) if is_fetch => {
                listings.truncate(listings.len() / 3);
                Response::Listings { listings }
            }
            (Tamper::Forges, Response::Listings { listings }) if is_fetch => Response::Listings {
                listings: listings
                    .into_iter()
                    .map(|mut l| {
                        let n = l.len();
                        l[n - 1] ^= 1;
                        l
                    })
                    .collect(),
            },
            (Tamper::Garbles, _) if is_fetch => {
                return Err(RequestError::Malformed(Malformed::Decode(
                    DecodeError::Truncated("a response"),
                )))
            }
            (Tamper::Refuses, _) if !is_revocations => Response::Refused {
                reason: "scope not followed".into(),
            },
            (Tamper::BadRevocation, Response::Revocations { .. }) => Response::Revocations {
                revocations: vec![vec![7; 100]],
            },
            (_, honest) => honest,
        })
    }

    async fn misbehaved(&self, _: PeerId, why: String) {
        self.reported.lock().expect("not poisoned").push(why);
    }
}

fn parts(node_seed: u8) -> Parts {
    let file = FileConfig {
        scope: SCOPE.into(),
        listen: vec![],
        // Listings of other nodes' members: accepted whatever node admitted them.
        policy: buurt_node::config::Policy::Open,
        mdns: false,
        ..FileConfig::default()
    };
    let config = Config::build(file, Overrides::default()).expect("config");
    let mut p = Parts::in_memory(config, keys::from_seed([node_seed; 32])).expect("parts");
    p.announcements.close();
    p
}

/// A node holding `n` listings of one resident, created now (sync leaves
/// expired listings out).
fn server(n: u8) -> (Arc<sync::Context>, Vec<SignedListing>) {
    let p = parts(1);
    let now = clock::now();
    let id = Identity::new([0x61; 32], [0x62; 32], SCOPE, now - 3_600);
    let listings: Vec<SignedListing> = (0..n)
        .map(|k| {
            id.offer([k; 16], &format!("Ding {k}"), now - 60)
                .sign(&id.member)
                .expect("signs")
        })
        .collect();
    for l in &listings {
        p.store.put(l).expect("put");
    }
    (p.sync_context(), listings)
}

fn peer(tamper: Tamper) -> (Peer, Vec<SignedListing>) {
    let (server, listings) = server(20);
    let p = Peer {
        server,
        tamper,
        reported: Mutex::new(Vec::new()),
    };
    (p, listings)
}

async fn sync_one(peer: &Peer) -> (Arc<sync::Context>, Result<sync::ScopeSync, SessionError>) {
    let client = parts(2).sync_context();
    let scope = Scope::parse(SCOPE, 6).expect("scope");
    let r = sync::session::sync_scope(peer, &client, PeerId::random(), "peer", &scope).await;
    (client, r)
}

fn misbehaved(r: &Result<sync::ScopeSync, SessionError>) -> String {
    match r {
        Err(SessionError::Misbehaved(why)) => why.clone(),
        other => panic!("expected misbehaviour, got {other:?}"),
    }
}

#[tokio::test]
async fn an_honest_peer_delivers_everything_and_is_not_reported() {
    let (p, listings) = peer(Tamper::Honest);
    let (client, r) = sync_one(&p).await;
    let r = r.expect("a clean session");
    assert_eq!((r.needed, r.fetched, r.stored), (20, 20, 20), "{r:?}");
    assert_eq!(r.result, "done");
    for l in &listings {
        assert_eq!(
            client.store.get(&l.listing_id()).expect("get"),
            Some(l.clone())
        );
    }
}

#[tokio::test]
async fn each_broken_rule_is_misbehaviour() {
    for (tamper, says) in [
        (Tamper::WrongAnswer, "wrong answer to a reconcile"),
        (Tamper::Extra, "40 listings for 20 ids"),
        (Tamper::Withholds, "delivered 6 of 20"),
        (Tamper::Forges, "20 invalid listings"),
        (Tamper::Garbles, "malformed answer"),
    ] {
        let (p, _) = peer(tamper);
        let (client, r) = sync_one(&p).await;
        let why = misbehaved(&r);
        assert!(why.contains(says), "{tamper:?}: {why}");
        if tamper != Tamper::Withholds {
            assert_eq!(
                client.store.len().expect("len"),
                0,
                "{tamper:?}: nothing stored"
            );
        }
    }
}

#[tokio::test]
async fn a_refusal_is_not_misbehaviour() {
    let (p, _) = peer(Tamper::Refuses);
    let (_, r) = sync_one(&p).await;
    let r = r.expect("a refusal ends the scope cleanly");
    assert_eq!(r.result, "refused: scope not followed");
    assert_eq!(r.fetched, 0);
}

#[tokio::test]
async fn a_session_reports_a_misbehaving_peer_once_and_records_why() {
    let scopes = [Scope::parse(SCOPE, 6).expect("scope")];
    for (tamper, says) in [
        (Tamper::BadRevocation, "an invalid revocation"),
        (Tamper::Forges, "20 invalid listings"),
    ] {
        let (p, _) = peer(tamper);
        let client = parts(2).sync_context();
        sync::session::run(&p, &client, PeerId::random(), "peer", &scopes).await;
        let reported = p.reported.lock().expect("not poisoned").clone();
        assert_eq!(reported.len(), 1, "{tamper:?}: {reported:?}");
        assert!(reported[0].contains(says), "{tamper:?}: {reported:?}");
    }
    // An honest session reports nothing and records the scope as done.
    let (p, _) = peer(Tamper::Honest);
    let client = parts(2).sync_context();
    sync::session::run(&p, &client, PeerId::random(), "peer", &scopes).await;
    assert!(p.reported.lock().expect("not poisoned").is_empty());
    let recorded = client.state.snapshot();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].result, "done");
    assert_eq!(recorded[0].stored, 20);
}
