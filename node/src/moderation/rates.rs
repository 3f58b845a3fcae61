//! Rate limits per author: how many listings and revisions one member may
//! have stored per hour and per day; and per issuing node: how many its
//! members together may have stored per hour, and how many new members of
//! it appear per day.
//!
//! The per-node counts start empty at open (the store's revision heads do
//! not name the node); they guard against a vouched node that goes bad,
//! for which an hour's head start after a restart is little.
//!
//! Two counts are kept per clock hour and per day (UTC), for the revisions
//! this node stored; withdrawals never count. One by each revision's
//! `created_at`, and one by when it arrived here, as this node's clock saw
//! it: an author who back-dates `created_at` an hour a time still meets the
//! limit of the hour it is now. Listings fetched by catch-up sync count by
//! `created_at` only, so that a genuine backlog a peer stored earlier comes
//! in whole. Both are rebuilt from the store when the node opens (arrival
//! taken as `created_at`), so that a restart does not hand every author a
//! fresh hour.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use buurt_protocol::{Listing, MemberId, NodeId, Status};

use crate::config::RateLimits;
use crate::outcome::Reason;
use crate::store::{Store, StoreError};

/// Most authors whose rates are remembered; the map is cleared when full.
pub const MAX_AUTHORS: usize = 100_000;
/// How far back the counts are rebuilt at open: the day limit looks back
/// one day, and a listing may be signed up to the clock skew ahead.
pub const REBUILD_SECS: i64 = 2 * 86_400;

/// Stored revisions of one author, by hour and by day of their `created_at`.
#[derive(Default)]
struct AuthorRate {
    hours: BTreeMap<i64, u32>,
    days: BTreeMap<i64, u32>,
}

impl AuthorRate {
    /// The limit a listing created at `created` would break, if any.
    fn exceeded(&self, created: i64, limits: &RateLimits) -> Option<Reason> {
        let hour = self
            .hours
            .get(&created.div_euclid(3_600))
            .copied()
            .unwrap_or(0);
        let day = self
            .days
            .get(&created.div_euclid(86_400))
            .copied()
            .unwrap_or(0);
        if hour >= limits.author_per_hour {
            Some(Reason::RateLimited {
                per: "hour",
                limit: limits.author_per_hour,
            })
        } else if day >= limits.author_per_day {
            Some(Reason::RateLimited {
                per: "day",
                limit: limits.author_per_day,
            })
        } else {
            None
        }
    }

    /// Adds `other`'s counts to these.
    fn merge(&mut self, other: AuthorRate) {
        for (h, n) in other.hours {
            *self.hours.entry(h).or_default() += n;
        }
        for (d, n) in other.days {
            *self.days.entry(d).or_default() += n;
        }
    }

    fn count(&mut self, created: i64) {
        *self.hours.entry(created.div_euclid(3_600)).or_default() += 1;
        *self.days.entry(created.div_euclid(86_400)).or_default() += 1;
        // Listings live at most 90 days: older buckets can go.
        let oldest_day = created.div_euclid(86_400) - 91;
        if self
            .days
            .first_key_value()
            .is_some_and(|(d, _)| *d < oldest_day)
        {
            self.days = self.days.split_off(&oldest_day);
        }
        if self
            .hours
            .first_key_value()
            .is_some_and(|(h, _)| *h < oldest_day * 24)
        {
            self.hours = self.hours.split_off(&(oldest_day * 24));
        }
    }
}

/// Most issuing nodes whose rates are remembered; cleared when full.
pub const MAX_NODES: usize = 10_000;
/// Most members remembered per issuing node (for counting new ones).
pub const MAX_NODE_MEMBERS: usize = 100_000;

/// What the members of one issuing node stored, and which members it has.
#[derive(Default)]
struct NodeRate {
    /// By `created_at`, and by arrival.
    created: BTreeMap<i64, u32>,
    arrived: BTreeMap<i64, u32>,
    members: std::collections::HashSet<MemberId>,
    /// New members per day of arrival.
    new_members: BTreeMap<i64, u32>,
}

impl NodeRate {
    fn exceeded(&self, l: &Listing, arrival: Option<i64>, limits: &RateLimits) -> Option<Reason> {
        let hour =
            |m: &BTreeMap<i64, u32>, t: i64| m.get(&t.div_euclid(3_600)).copied().unwrap_or(0);
        let over_hour = hour(&self.created, l.created_at) >= limits.node_per_hour
            || arrival.is_some_and(|t| hour(&self.arrived, t) >= limits.node_per_hour);
        if over_hour {
            return Some(Reason::NodeRateLimited(
                "the members of its author's node already posted as many listings in that hour as this node takes",
            ));
        }
        if let Some(t) = arrival {
            let day = self
                .new_members
                .get(&t.div_euclid(86_400))
                .copied()
                .unwrap_or(0);
            if !self.members.contains(&l.author) && day >= limits.node_new_members_per_day {
                return Some(Reason::NodeRateLimited(
                    "its author's node already has as many new members today as this node takes",
                ));
            }
        }
        None
    }

    fn count(&mut self, l: &Listing, arrival: Option<i64>) {
        let keep = |m: &mut BTreeMap<i64, u32>, hour: i64| {
            *m.entry(hour).or_default() += 1;
            if m.len() > 48 {
                let first = *m.keys().next().unwrap_or(&hour);
                m.remove(&first);
            }
        };
        keep(&mut self.created, l.created_at.div_euclid(3_600));
        if let Some(t) = arrival {
            keep(&mut self.arrived, t.div_euclid(3_600));
            if self.members.len() < MAX_NODE_MEMBERS && self.members.insert(l.author) {
                keep(&mut self.new_members, t.div_euclid(86_400));
            }
        } else if self.members.len() < MAX_NODE_MEMBERS {
            self.members.insert(l.author);
        }
    }
}

/// The counts of every author and issuing node, shared by the validating
/// threads.
pub struct Rates {
    limits: RateLimits,
    /// By `created_at`, and by arrival time.
    authors: Mutex<HashMap<MemberId, (AuthorRate, AuthorRate)>>,
    nodes: Mutex<HashMap<NodeId, NodeRate>>,
    /// This node: its own members answer to the author limits only.
    own: NodeId,
}

impl Rates {
    pub fn new(limits: RateLimits, own: NodeId) -> Rates {
        Rates {
            own,
            limits,
            authors: Mutex::new(HashMap::new()),
            nodes: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<MemberId, (AuthorRate, AuthorRate)>> {
        self.authors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The limit this listing would break if stored now (withdrawals never
    /// do). `arrival` is the time it arrived here, or `None` for a listing
    /// fetched by catch-up sync.
    pub fn exceeded(&self, l: &Listing, arrival: Option<i64>) -> Option<Reason> {
        if l.status == Status::Withdrawn {
            return None;
        }
        let by_node = if l.certificate.node == self.own {
            None
        } else {
            let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
            nodes
                .get(&l.certificate.node)
                .and_then(|n| n.exceeded(l, arrival, &self.limits))
        };
        if by_node.is_some() {
            return by_node;
        }
        let authors = self.lock();
        let (created, arrived) = authors.get(&l.author)?;
        created
            .exceeded(l.created_at, &self.limits)
            .or_else(|| arrival.and_then(|t| arrived.exceeded(t, &self.limits)))
    }

    /// Counts a stored revision (withdrawals are not counted).
    pub fn count(&self, l: &Listing, arrival: Option<i64>) {
        if l.status != Status::Withdrawn {
            self.count_head(l.author, l.created_at, arrival);
            if l.certificate.node == self.own {
                return;
            }
            let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
            if nodes.len() >= MAX_NODES && !nodes.contains_key(&l.certificate.node) {
                nodes.clear();
            }
            nodes
                .entry(l.certificate.node)
                .or_default()
                .count(l, arrival);
        }
    }

    fn count_head(&self, author: MemberId, created: i64, arrival: Option<i64>) {
        let mut authors = self.lock();
        if authors.len() >= MAX_AUTHORS && !authors.contains_key(&author) {
            authors.clear();
        }
        let (by_created, by_arrival) = authors.entry(author).or_default();
        by_created.count(created);
        if let Some(t) = arrival {
            by_arrival.count(t);
        }
    }

    /// Adds the counts of the revisions in `store` created after `now -
    /// REBUILD_SECS` to those counted so far: what a node started without
    /// waiting for them does once it has read them. A revision stored
    /// while they were read may count twice (stricter, for that second).
    /// Returns how many revisions were read.
    pub fn rebuild_alongside(&self, store: &dyn Store, now: i64) -> Result<usize, StoreError> {
        let heads = store.created_since(now - REBUILD_SECS)?;
        let mut fresh: HashMap<MemberId, (AuthorRate, AuthorRate)> = HashMap::new();
        let mut counted = 0;
        for h in heads.into_iter().filter(|h| !h.withdrawn) {
            let (by_created, by_arrival) = fresh.entry(h.author).or_default();
            by_created.count(h.created_at);
            by_arrival.count(h.created_at);
            counted += 1;
        }
        let mut authors = self.lock();
        for (author, (c, a)) in fresh {
            if authors.len() >= MAX_AUTHORS && !authors.contains_key(&author) {
                continue;
            }
            let (by_created, by_arrival) = authors.entry(author).or_default();
            by_created.merge(c);
            by_arrival.merge(a);
        }
        Ok(counted)
    }

    /// Replaces the counts with those of the revisions in `store` created
    /// after `now - REBUILD_SECS`. Returns how many revisions were counted.
    pub fn rebuild(&self, store: &dyn Store, now: i64) -> Result<usize, StoreError> {
        self.lock().clear();
        self.rebuild_alongside(store, now)
    }
}
