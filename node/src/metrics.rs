//! The node's Prometheus metrics: one `prometheus-client` registry, in
//! which libp2p's own metrics (gossipsub, identify, ping, relay, swarm)
//! land too, served as text at `GET /metrics` (`api/metrics.rs`).
//!
//! Counters and histograms are kept where the work happens and reached
//! through [`get`]: a node process installs them once at start
//! ([`install`]); elsewhere (unit tests, in-process benchmarks) nothing is
//! installed and recording costs one atomic load. Gauges (sizes, peers,
//! listings per scope, mail queued) are set when the endpoint is scraped.
//!
//! A leaf module: it knows nothing of the rest of the node.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Ingested {
    /// `local`, `gossip`, `sync` or `restore`.
    pub source: &'static str,
    /// `stored`, `duplicate`, `superseded`, `rejected` or `ignored`.
    pub outcome: &'static str,
    /// The reason code of a refusal, empty otherwise.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BySource {
    pub source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Request {
    /// The route's pattern, such as `/v1/listings/{id}`; `unmatched` for a
    /// path no route takes.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Why {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Wire {
    /// `/buurt/sync/1`, `/buurt/mail/1` or `/buurt/photo/1`.
    pub protocol: String,
    /// `in` or `out`.
    pub direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Scope {
    pub scope: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Path {
    /// `direct` or `relayed`.
    pub path: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Event {
    pub event: &'static str,
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 50 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// Every metric the node records itself.
pub struct Metrics {
    pub ingest: Family<Ingested, Counter>,
    pub ingest_seconds: Timings<BySource>,
    pub ingest_page_seconds: Timings<BySource>,
    pub index_commit_seconds: Histogram,
    pub api_requests: Family<Request, Counter>,
    pub api_seconds: Timings<Route>,
    pub gossip_dropped: Family<Why, Counter>,
    pub sync_sessions: Family<Event, Counter>,
    pub wire_bytes: Family<Wire, Counter>,
    pub mail: Family<Event, Counter>,
    pub listings: Gauge,
    pub listings_by_scope: Family<Scope, Gauge>,
    pub store_bytes: Gauge,
    pub index_bytes: Gauge,
    pub peers: Family<Path, Gauge>,
    pub mail_queued: Gauge,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The metrics of this process, once installed.
pub fn get() -> Option<&'static Metrics> {
    METRICS.get()
}

/// Registers the node's metrics under `buurt_` in `registry` and makes them
/// the process's. A second call (a second node in one process) leaves the
/// first in place and registers nothing.
pub fn install(registry: &mut Registry) -> Option<&'static Metrics> {
    if METRICS.get().is_some() {
        return None;
    }
    let m = Metrics {
        ingest: Family::default(),
        ingest_seconds: Family::new_with_constructor(seconds),
        ingest_page_seconds: Family::new_with_constructor(seconds),
        index_commit_seconds: seconds(),
        api_requests: Family::default(),
        api_seconds: Family::new_with_constructor(seconds),
        gossip_dropped: Family::default(),
        sync_sessions: Family::default(),
        wire_bytes: Family::default(),
        mail: Family::default(),
        listings: Gauge::default(),
        listings_by_scope: Family::default(),
        store_bytes: Gauge::default(),
        index_bytes: Gauge::default(),
        peers: Family::default(),
        mail_queued: Gauge::default(),
    };
    let r = registry.sub_registry_with_prefix("buurt");
    r.register(
        "ingest",
        "Listings through the ingest pipeline, by source, outcome and reason",
        m.ingest.clone(),
    );
    r.register_with_unit(
        "ingest",
        "Time to take one listing (check, validate, store; flushed when local)",
        Unit::Seconds,
        m.ingest_seconds.clone(),
    );
    r.register_with_unit(
        "ingest_page",
        "Time to take one page of listings (sync, restore)",
        Unit::Seconds,
        m.ingest_page_seconds.clone(),
    );
    r.register_with_unit(
        "index_commit",
        "Time of one search index commit",
        Unit::Seconds,
        m.index_commit_seconds.clone(),
    );
    r.register(
        "api_requests",
        "API requests by route, method and status",
        m.api_requests.clone(),
    );
    r.register_with_unit(
        "api_request",
        "Time to answer an API request, by route",
        Unit::Seconds,
        m.api_seconds.clone(),
    );
    r.register(
        "gossip_dropped",
        "Gossip messages not taken, by reason (over the peer's rate, no room to validate, invalid)",
        m.gossip_dropped.clone(),
    );
    r.register(
        "sync_sessions",
        "Catch-up sync sessions by how they ended",
        m.sync_sessions.clone(),
    );
    r.register_with_unit(
        "wire",
        "Bytes of request-response messages (sync, mail, photos), in and out",
        Unit::Bytes,
        m.wire_bytes.clone(),
    );
    r.register(
        "mail",
        "Letters: queued to send, delivered to their home node, stored in a mailbox here, refused",
        m.mail.clone(),
    );
    r.register(
        "listings",
        "Listings held (tombstones included)",
        m.listings.clone(),
    );
    r.register(
        "scope_listings",
        "Listings held per scope",
        m.listings_by_scope.clone(),
    );
    r.register_with_unit(
        "store",
        "Size of the listing database on disk",
        Unit::Bytes,
        m.store_bytes.clone(),
    );
    r.register_with_unit(
        "index",
        "Size of the search index on disk",
        Unit::Bytes,
        m.index_bytes.clone(),
    );
    r.register(
        "peers",
        "Connected peers, direct or relayed",
        m.peers.clone(),
    );
    r.register(
        "mail_queued",
        "Letters in the outbox not yet delivered",
        m.mail_queued.clone(),
    );
    zeroes(&m);
    let _ = METRICS.set(m);
    METRICS.get()
}

/// Creates the series whose labels are known in advance at zero, so that
/// a scrape shows every family from the start and a rate over them is
/// defined before the first event.
fn zeroes(m: &Metrics) {
    for source in ["local", "gossip", "sync", "restore"] {
        let _ = m.ingest.get_or_create(&Ingested {
            source,
            outcome: "stored",
            reason: String::new(),
        });
        let _ = m.ingest_seconds.get_or_create(&BySource { source });
    }
    for source in ["sync", "restore"] {
        let _ = m.ingest_page_seconds.get_or_create(&BySource { source });
    }
    for reason in ["over_rate", "no_room", "invalid"] {
        let _ = m.gossip_dropped.get_or_create(&Why { reason });
    }
    for event in ["completed", "failed", "misbehaved"] {
        let _ = m.sync_sessions.get_or_create(&Event { event });
    }
    for event in [
        "queued",
        "delivered",
        "failed",
        "stored",
        "stored_before",
        "refused",
    ] {
        let _ = m.mail.get_or_create(&Event { event });
    }
    use buurt_protocol::{mail::wire, photo, sync};
    for protocol in [sync::PROTOCOL, wire::PROTOCOL, photo::PROTOCOL] {
        for direction in ["in", "out"] {
            let _ = m.wire_bytes.get_or_create(&Wire {
                protocol: protocol.to_owned(),
                direction,
            });
        }
    }
}

/// Notes one listing's way through ingest.
pub fn ingested(source: &'static str, outcome: &'static str, reason: &str) {
    let Some(m) = get() else { return };
    m.ingest
        .get_or_create(&Ingested {
            source,
            outcome,
            reason: reason.to_owned(),
        })
        .inc();
}

/// Notes how long one piece of ingest work from `source` took, in the
/// histogram `family` picks (`ingest_seconds`, `ingest_page_seconds`).
pub fn took(
    family: impl Fn(&Metrics) -> &Family<BySource, Histogram>,
    source: &'static str,
    took: Duration,
) {
    if let Some(m) = get() {
        family(m)
            .get_or_create(&BySource { source })
            .observe(took.as_secs_f64());
    }
}

/// Counts the bytes of one request-response message.
pub fn wire(protocol: &str, direction: &'static str, bytes: usize) {
    if let Some(m) = get() {
        m.wire_bytes
            .get_or_create(&Wire {
                protocol: protocol.to_owned(),
                direction,
            })
            .inc_by(bytes as u64);
    }
}

/// Counts one event in a labelled counter family, if installed.
pub fn count(family: impl Fn(&Metrics) -> &Family<Event, Counter>, event: &'static str) {
    if let Some(m) = get() {
        family(m).get_or_create(&Event { event }).inc();
    }
}
