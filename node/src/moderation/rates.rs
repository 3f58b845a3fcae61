//! Rate limits per author: how many listings and revisions one member may
//! have stored per hour and per day.
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

use buurt_protocol::{Listing, MemberId, Status};

use crate::config::RateLimits;
use crate::outcome::Reason;
use crate::store::{RevisionHead, Store, StoreError};

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

/// The counts of every author, shared by the validating threads.
pub struct Rates {
    limits: RateLimits,
    /// By `created_at`, and by arrival time.
    authors: Mutex<HashMap<MemberId, (AuthorRate, AuthorRate)>>,
}

impl Rates {
    pub fn new(limits: RateLimits) -> Rates {
        Rates {
            limits,
            authors: Mutex::new(HashMap::new()),
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

    /// Replaces the counts with those of the revisions in `store` created
    /// after `now - REBUILD_SECS`. Returns how many revisions were counted.
    pub fn rebuild(&self, store: &dyn Store, now: i64) -> Result<usize, StoreError> {
        let heads = store.created_since(now - REBUILD_SECS)?;
        self.lock().clear();
        let mut counted = 0;
        for RevisionHead {
            author,
            created_at,
            withdrawn,
        } in heads
        {
            if !withdrawn {
                self.count_head(author, created_at, Some(created_at));
                counted += 1;
            }
        }
        Ok(counted)
    }
}
