//! Gossip through the pipeline: each message is checked (rate, size, topic)
//! on the loop, then submitted to ingest on a blocking thread with a permit,
//! and its verdict reported to gossipsub (accept forwards it; reject counts
//! against the sender). And the other way: publishing what ingest announced
//! from this node.

use std::sync::Arc;
use std::time::Instant;

use buurt_protocol::SignedListing;
use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::PeerId;
use tokio::sync::{mpsc, Semaphore};

use super::peers::Rate;
use super::swarm_core::Core;
use super::{
    reply_key_topic, revocation_topic, thanks_topic, topic, vouch_topic, TOPIC_PREFIX, VALIDATING,
};
use crate::clock;
use crate::ingest::{Announcement, Ingest, IngestError, Outcome, Revoked, Source, Vouched};

/// The verdict on one gossip message, on its way back to the loop.
pub struct Validated {
    message_id: gossipsub::MessageId,
    source: PeerId,
    acceptance: MessageAcceptance,
    /// A vouch made a node join the web: what it posted comes by sync.
    pub grew: bool,
}

/// Validation of incoming gossip, and publishing.
pub struct Gossip {
    ingest: Arc<Ingest>,
    /// Largest listing accepted from a peer.
    max_listing: usize,
    /// Permits for validating off the loop ([`VALIDATING`]).
    validating: Arc<Semaphore>,
    done: mpsc::Sender<Validated>,
    /// Where members' reply keys heard by gossip are kept.
    mail: Option<Arc<crate::mail::Mail>>,
}

impl Gossip {
    /// The validator, and the receiver of its verdicts (for the loop to
    /// [`Gossip::report`]).
    pub fn new(
        ingest: Arc<Ingest>,
        max_listing: usize,
        mail: Option<Arc<crate::mail::Mail>>,
    ) -> (Gossip, mpsc::Receiver<Validated>) {
        let (done, verdicts) = mpsc::channel(VALIDATING);
        let g = Gossip {
            ingest,
            max_listing,
            validating: Arc::new(Semaphore::new(VALIDATING)),
            done,
            mail,
        };
        (g, verdicts)
    }

    /// Hands a gossip message to the ingest pipeline off the event loop.
    pub fn on_message(
        &self,
        core: &mut Core,
        source: PeerId,
        message_id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let verdict = |acceptance| Validated {
            message_id: message_id.clone(),
            source,
            acceptance,
            grew: false,
        };
        // Over its rate, a peer's messages are skipped unread, not held
        // against it: an honest node posting a burst is no attacker. What
        // was skipped comes by a catch-up sync once the peer is quiet.
        if let Rate::Over { first } = core.peers.message(source, clock::now()) {
            if first {
                tracing::debug!(
                    "{source} sends more gossip than its rate allows; the rest comes by sync"
                );
            }
            core.peers.fell_behind(source, Instant::now());
            dropped("over_rate");
            return report(core, verdict(MessageAcceptance::Ignore));
        }
        let is_revocation = message.topic == revocation_topic().hash();
        let is_key = message.topic == reply_key_topic().hash();
        let is_vouch = message.topic == vouch_topic().hash();
        let is_thanks = message.topic == thanks_topic().hash();
        if is_thanks && message.data.len() > buurt_protocol::thanks::MAX_THANKS_LEN {
            return report(core, verdict(MessageAcceptance::Reject));
        }
        if is_vouch && message.data.len() > buurt_protocol::vouch::MAX_VOUCH_LEN {
            return report(core, verdict(MessageAcceptance::Reject));
        }
        if is_key && (self.mail.is_none() || message.data.len() > 4_096) {
            return report(core, verdict(MessageAcceptance::Ignore));
        }
        if !is_revocation && !is_key && !is_vouch && !is_thanks {
            if let Err(why) = self.check_listing(&message) {
                tracing::debug!("rejected a message from {source}: {why}");
                return report(core, verdict(MessageAcceptance::Reject));
            }
        }
        let Ok(permit) = self.validating.clone().try_acquire_owned() else {
            core.peers.fell_behind(source, Instant::now());
            dropped("no_room");
            return report(core, verdict(MessageAcceptance::Ignore));
        };
        let ingest = self.ingest.clone();
        let mail = self.mail.clone();
        let done = self.done.clone();
        let v = verdict(MessageAcceptance::Ignore);
        tokio::task::spawn_blocking(move || {
            let mut grew = false;
            let acceptance = if let (true, Some(mail)) = (is_key, mail) {
                key_verdict(mail.take_reply_key(&message.data, clock::now()))
            } else if is_thanks {
                thanks_verdict(ingest.take_thanks(&message.data, Source::Gossip))
            } else if is_vouch {
                let r = ingest.take_vouch(&message.data, Source::Gossip);
                grew = matches!(r, Ok(Vouched::New { grew: true, .. }));
                vouch_verdict(r)
            } else if is_revocation {
                revocation_verdict(ingest.take_revocation(&message.data, Source::Gossip))
            } else {
                listing_verdict(ingest.submit(&message.data, Source::Gossip, clock::now()))
            };
            drop(permit);
            let _ = done.blocking_send(Validated {
                acceptance,
                grew,
                ..v
            });
        });
    }

    /// The checks made on the loop before a listing goes to ingest: its size
    /// and that it travels on its own scope's topic. Only the scope is read
    /// here; ingest decodes and validates the whole listing once, and a
    /// malformed one is rejected there, as here.
    fn check_listing(&self, message: &gossipsub::Message) -> Result<(), &'static str> {
        if message.data.len() > self.max_listing {
            return Err("too large");
        }
        let scope = SignedListing::scope_text_of(&message.data).ok_or("malformed")?;
        if message.topic.as_str().strip_prefix(TOPIC_PREFIX) != Some(scope) {
            return Err("listing on another scope's topic");
        }
        Ok(())
    }
}

/// Reports a verdict to gossipsub; a rejection counts against the sender.
pub fn report(core: &mut Core, v: Validated) {
    let rejected = matches!(v.acceptance, MessageAcceptance::Reject);
    core.swarm
        .behaviour_mut()
        .gossipsub
        .report_message_validation_result(&v.message_id, &v.source, v.acceptance);
    if rejected {
        dropped("invalid");
        core.count_invalid(v.source);
    }
}

/// Counts a gossip message not taken.
fn dropped(reason: &'static str) {
    if let Some(m) = crate::metrics::get() {
        m.gossip_dropped
            .get_or_create(&crate::metrics::Why { reason })
            .inc();
    }
}

/// The one publisher: publishes what was made on this node; what came from
/// peers is never published again.
pub fn publish(core: &mut Core, a: Announcement) {
    if !a.source().publishes() {
        return;
    }
    let (t, data, what) = match &a {
        Announcement::Listing { listing, .. } => (
            topic(&listing.listing.scope),
            listing.bytes().to_vec(),
            listing.listing_id().to_string(),
        ),
        Announcement::Revocation { bytes, .. } => {
            (revocation_topic(), bytes.to_vec(), "a revocation".into())
        }
        Announcement::Vouch { bytes, .. } => (vouch_topic(), bytes.to_vec(), "a vouch".into()),
        Announcement::Thanks { bytes, .. } => (thanks_topic(), bytes.to_vec(), "a thanks".into()),
    };
    match core.swarm.behaviour_mut().gossipsub.publish(t, data) {
        Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
            tracing::debug!("no peer follows the topic of {what} yet; sync will deliver")
        }
        Err(e) => tracing::warn!("publish of {what} failed: {e}; it is stored, and peers get it by catch-up sync (check `buurt peers` and that a peer follows its scope)"),
    }
}

fn listing_verdict(r: Result<Outcome, IngestError>) -> MessageAcceptance {
    match r {
        Ok(Outcome::Stored(_)) => MessageAcceptance::Accept,
        Ok(Outcome::Duplicate(_)) | Ok(Outcome::Superseded(_)) => MessageAcceptance::Ignore,
        Ok(Outcome::Rejected(r)) if r.is_invalid() => MessageAcceptance::Reject,
        Ok(Outcome::Rejected(_)) => MessageAcceptance::Ignore,
        // Said once by the space watcher; sync brings what was missed.
        Err(IngestError::StorageFull { .. } | IngestError::Closed) => MessageAcceptance::Ignore,
        Err(e) => {
            tracing::warn!("ingest failed on a gossip message: {e}; the message is dropped and peers offer it again by sync; if this repeats, run `buurt check`");
            MessageAcceptance::Ignore
        }
    }
}

fn thanks_verdict(r: Result<crate::thanks::Took, IngestError>) -> MessageAcceptance {
    use crate::thanks::Took;
    match r {
        Ok(Took::New { .. }) => MessageAcceptance::Accept,
        Ok(Took::Invalid(why)) => {
            tracing::debug!("an invalid thanks: {why}");
            MessageAcceptance::Reject
        }
        Ok(Took::Refused(why)) => {
            tracing::debug!("a thanks refused: {why}");
            MessageAcceptance::Ignore
        }
        Ok(Took::Ignored | Took::Known) => MessageAcceptance::Ignore,
        Err(e) => {
            tracing::debug!("taking in a thanks failed: {e}");
            MessageAcceptance::Ignore
        }
    }
}

fn vouch_verdict(r: Result<Vouched, IngestError>) -> MessageAcceptance {
    match r {
        Ok(Vouched::New { removed, .. }) => {
            if removed > 0 {
                tracing::info!(
                    "a vouch was withdrawn: {removed} listings of nodes outside the web removed"
                );
            }
            MessageAcceptance::Accept
        }
        Ok(Vouched::Known) => MessageAcceptance::Ignore,
        Ok(Vouched::Invalid) => MessageAcceptance::Reject,
        Err(e) => {
            tracing::warn!("taking in a vouch failed: {e}; peers offer it again by sync; if this repeats, run `buurt check`");
            MessageAcceptance::Ignore
        }
    }
}

fn key_verdict(r: crate::mail::boxes::KeyNews) -> MessageAcceptance {
    use crate::mail::boxes::KeyNews;
    match r {
        KeyNews::New => MessageAcceptance::Accept,
        KeyNews::Known | KeyNews::NotTaken => MessageAcceptance::Ignore,
        KeyNews::Invalid => MessageAcceptance::Reject,
    }
}

/// Publishes a member's reply-key record on the reply-key topic.
pub fn publish_reply_key(core: &mut Core, bytes: Vec<u8>) {
    match core
        .swarm
        .behaviour_mut()
        .gossipsub
        .publish(reply_key_topic(), bytes)
    {
        Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
            tracing::debug!("no peer follows the reply-key topic yet")
        }
        Err(e) => tracing::warn!("publish of a reply key failed: {e}; it is kept here and published again the next time the member fetches mail (check `buurt peers`)"),
    }
}

fn revocation_verdict(r: Result<Revoked, IngestError>) -> MessageAcceptance {
    match r {
        Ok(Revoked::New { removed }) => {
            tracing::info!("revocation received: {removed} listings removed");
            MessageAcceptance::Accept
        }
        Ok(Revoked::Known) => MessageAcceptance::Ignore,
        Ok(Revoked::Invalid) => MessageAcceptance::Reject,
        Err(e) => {
            tracing::warn!("taking in a revocation failed: {e}; peers offer it again by sync; if this repeats, run `buurt check`");
            MessageAcceptance::Ignore
        }
    }
}
