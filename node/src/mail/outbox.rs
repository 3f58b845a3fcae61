//! The outbox: envelopes this node signed for its members, kept durably
//! until the recipient's home node acknowledged storing them, retried with
//! backoff, each with an honest delivery state.
//!
//! Records: `outbox` tree, envelope id (32) → [`OutboxEntry`] as JSON, for
//! letters still queued; once delivered or failed, the entry moves to the
//! `sent` tree (where `buurt mail ID` still finds it) and is swept with the
//! mail after `keep_days`.

use std::sync::Arc;
use std::time::Duration;

use buurt_protocol::mail::wire::{Request, Response};
use buurt_protocol::mail::Envelope;
use serde::{Deserialize, Serialize};

use super::{Accepted, Mail, MailDbError};
use crate::clock;

/// What carries a request to another node's mail protocol (the network's
/// client; a test may give another).
pub trait Courier: Send + Sync + 'static {
    /// Sends `request` to the home node `to`, directly or through one relay.
    /// `Err` and `Unreachable` mean: try again later.
    fn carry(
        &self,
        to: buurt_protocol::NodeId,
        request: Request,
    ) -> impl std::future::Future<Output = Result<Response, String>> + Send;
}

/// Longest wait between two tries.
pub const MAX_BACKOFF_SECS: i64 = 300;
/// After this long without an acknowledgement, a letter has failed.
pub const GIVE_UP_SECS: i64 = 14 * 86_400;

/// Where a letter stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Delivery {
    /// Not acknowledged yet; tried `attempts` times, the last time failing
    /// for `last_error`.
    Queued {
        attempts: u32,
        last_error: Option<String>,
        next_try: i64,
    },
    /// The home node acknowledged that it stored it.
    Delivered { at: i64 },
    /// The home node refused it, or it could not be delivered in time.
    Failed { reason: String },
}

/// One letter in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// SHA-256 of the envelope, hex.
    pub id: String,
    pub to_node: String,
    pub to_member: String,
    pub listing: String,
    pub queued_at: i64,
    /// The signed envelope, hex; kept only while queued.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub envelope: String,
    #[serde(flatten)]
    pub delivery: Delivery,
}

impl OutboxEntry {
    /// The state in one phrase, as the CLI prints it.
    pub fn state_text(&self) -> String {
        match &self.delivery {
            Delivery::Queued { last_error, .. } => match last_error {
                Some(e) => format!("queued (not delivered yet: {e})"),
                None => "queued".into(),
            },
            Delivery::Delivered { .. } => format!("delivered to home node {}", self.to_node),
            Delivery::Failed { reason } => format!("failed: {reason}"),
        }
    }
}

fn backoff(attempts: u32) -> i64 {
    (1i64 << attempts.min(9)).min(MAX_BACKOFF_SECS)
}

impl Mail {
    /// Signs sealed envelopes as this node and queues them, durably, at
    /// `now`. Returns their entries.
    pub fn send(&self, sealed: Vec<Envelope>, now: i64) -> Result<Vec<OutboxEntry>, MailDbError> {
        let mut out = Vec::with_capacity(sealed.len());
        for env in sealed {
            let (to_node, to_member, listing) = (env.to_node, env.to_member, env.listing);
            let bytes = env
                .sign(&self.node_key)
                .map_err(|_| MailDbError::Corrupt("an envelope to sign"))?;
            let id = Envelope::id(&bytes);
            crate::metrics::count(|m| &m.mail, "queued");
            let entry = OutboxEntry {
                id: hex::encode(id),
                to_node: to_node.to_string(),
                to_member: to_member.to_string(),
                listing: listing.to_string(),
                queued_at: now,
                envelope: hex::encode(&bytes),
                delivery: Delivery::Queued {
                    attempts: 0,
                    last_error: None,
                    next_try: now,
                },
            };
            self.save_entry(&id, &entry)?;
            out.push(entry);
        }
        self.flush()?;
        self.wake.notify_one();
        Ok(out)
    }

    /// Keeps an entry: in `outbox` while queued, else in `sent` (in one
    /// transaction, so that a crash leaves it in exactly one).
    fn save_entry(&self, id: &[u8; 32], e: &OutboxEntry) -> Result<(), MailDbError> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        use sled::Transactional;
        let queued = matches!(e.delivery, Delivery::Queued { .. });
        let json = if queued {
            serde_json::to_vec(e)
        } else {
            // Once settled, the state is what is asked for; the envelope
            // is the home node's to keep.
            serde_json::to_vec(&OutboxEntry {
                envelope: String::new(),
                ..e.clone()
            })
        }
        .map_err(|_| MailDbError::Corrupt("outbox"))?;
        (&self.outbox, &self.sent)
            .transaction(|(o, s)| {
                if queued {
                    o.insert(&id[..], json.as_slice())?;
                } else {
                    s.insert(&id[..], json.as_slice())?;
                    o.remove(&id[..])?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => MailDbError::Db(e),
                TransactionError::Abort(()) => MailDbError::Corrupt("outbox"),
            })
    }

    /// Letters still queued.
    pub fn queued(&self) -> usize {
        self.outbox.len()
    }

    /// Forgets delivered and failed entries settled before `before`.
    pub(crate) fn sweep_sent(&self, before: i64) -> Result<usize, MailDbError> {
        let mut n = 0;
        for item in self.sent.iter() {
            let (k, v) = item?;
            let old = serde_json::from_slice::<OutboxEntry>(&v)
                .map(|e| e.queued_at < before)
                .unwrap_or(true);
            if old {
                self.sent.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// One outbox entry by envelope id (hex).
    pub fn outbox_entry(&self, id: &str) -> Result<Option<OutboxEntry>, MailDbError> {
        let Ok(raw) = hex::decode(id) else {
            return Ok(None);
        };
        let found = match self.outbox.get(&raw)? {
            Some(v) => Some(v),
            None => self.sent.get(&raw)?,
        };
        match found {
            Some(v) => Ok(Some(
                serde_json::from_slice(&v).map_err(|_| MailDbError::Corrupt("outbox"))?,
            )),
            None => Ok(None),
        }
    }

    /// Every letter still queued.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, MailDbError> {
        let mut out = Vec::new();
        for item in self.outbox.iter() {
            let (_, v) = item?;
            out.push(serde_json::from_slice(&v).map_err(|_| MailDbError::Corrupt("outbox"))?);
        }
        Ok(out)
    }

    /// Records the outcome of one try at `now`.
    fn settle(&self, mut e: OutboxEntry, r: Result<Response, String>, now: i64) {
        let attempts = match &e.delivery {
            Delivery::Queued { attempts, .. } => attempts + 1,
            _ => return,
        };
        e.delivery = match r {
            Ok(Response::Stored) => Delivery::Delivered { at: now },
            Ok(Response::Refused(reason)) => Delivery::Failed { reason },
            Ok(Response::ReplyKey(_)) => Delivery::Failed {
                reason: "the home node answered with something else".into(),
            },
            Ok(Response::Unreachable(why)) | Err(why) if now - e.queued_at > GIVE_UP_SECS => {
                Delivery::Failed {
                    reason: format!("not delivered within 14 days ({why})"),
                }
            }
            Ok(Response::Unreachable(why)) | Err(why) => Delivery::Queued {
                attempts,
                last_error: Some(why),
                next_try: now + backoff(attempts),
            },
        };
        match &e.delivery {
            Delivery::Delivered { .. } => {
                crate::metrics::count(|m| &m.mail, "delivered");
                tracing::info!("mail {} delivered to {}", &e.id[..12], e.to_node)
            }
            Delivery::Failed { reason } => {
                crate::metrics::count(|m| &m.mail, "failed");
                tracing::warn!("mail {} failed: {reason}", &e.id[..12])
            }
            Delivery::Queued { .. } => {}
        }
        let Ok(raw) = hex::decode(&e.id) else { return };
        let Ok(id) = <[u8; 32]>::try_from(raw.as_slice()) else {
            return;
        };
        if let Err(err) = self.save_entry(&id, &e).and_then(|_| self.flush()) {
            tracing::warn!(
                "saving the outbox failed: {err}; check that the data directory is writable and \
                 has free space"
            );
        }
        self.settled.notify_waiters();
    }

    /// Entries still queued; with `all`, regardless of their next try.
    fn due(&self, now: i64, all: bool) -> Vec<OutboxEntry> {
        self.outbox()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| match e.delivery {
                Delivery::Queued { next_try, .. } => all || next_try <= now,
                _ => false,
            })
            .collect()
    }

    /// When the next queued entry is due (`None`: nothing queued).
    fn next_due(&self) -> Option<i64> {
        self.outbox()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| match e.delivery {
                Delivery::Queued { next_try, .. } => Some(next_try),
                _ => None,
            })
            .min()
    }

    /// Waits until entry `id` is no longer queued, or `limit` passes.
    pub async fn settled(&self, id: &str, limit: Duration) -> Option<OutboxEntry> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let wait = self.settled.notified();
            let e = self.outbox_entry(id).ok()??;
            if !matches!(e.delivery, Delivery::Queued { .. }) {
                return Some(e);
            }
            if tokio::time::timeout_at(deadline, wait).await.is_err() {
                return Some(e);
            }
        }
    }
}

/// Delivers the outbox for as long as the node runs: every due entry is
/// tried, to this node's own mailboxes directly, else over the network;
/// a wake (new mail, a new connection) tries every queued entry at once.
pub async fn run<C: Courier>(mail: Arc<Mail>, net: Option<C>) {
    let mut all = true;
    loop {
        let now = clock::now();
        for e in mail.due(now, all) {
            let r = attempt(&mail, net.as_ref(), &e).await;
            mail.settle(e, r, clock::now());
        }
        let wait = match mail.next_due() {
            Some(t) => Duration::from_secs((t - clock::now()).clamp(0, MAX_BACKOFF_SECS) as u64),
            None => Duration::from_secs(MAX_BACKOFF_SECS as u64),
        };
        all = tokio::time::timeout(wait.max(Duration::from_millis(200)), mail.wake.notified())
            .await
            .is_ok();
    }
}

async fn attempt<C: Courier>(
    mail: &Arc<Mail>,
    net: Option<&C>,
    e: &OutboxEntry,
) -> Result<Response, String> {
    let bytes = hex::decode(&e.envelope).map_err(|e| e.to_string())?;
    if e.to_node == mail.node_id.to_string() {
        let m = mail.clone();
        let r = tokio::task::spawn_blocking(move || m.deliver(&bytes, clock::now()))
            .await
            .map_err(|e| e.to_string())?;
        return Ok(match r {
            Ok(Accepted::Stored | Accepted::Already) => Response::Stored,
            Err(why) => Response::Refused(why.to_string()),
        });
    }
    let Some(net) = net else {
        return Err("this node runs without a network".into());
    };
    let to = e
        .to_node
        .parse()
        .map_err(|_| "bad home node id".to_string())?;
    net.carry(
        to,
        Request::Deliver {
            hop: 0,
            envelope: bytes,
        },
    )
    .await
}
