//! A resident's side of replies, in their own data directory: their reply
//! keys (secret), the letters they have opened, and which conversations
//! they have read. Nothing here reaches a node except the public halves of
//! the reply keys.
//!
//! - `reply-keys.json` (mode 0600): every reply key this member made, with
//!   its seed, kept until mail sealed to it can no longer arrive;
//! - `letters/letters.jsonl`: the opened letters, one JSON object a line,
//!   appended as `buurt inbox` fetches them (so a mailbox of thousands is
//!   not opened again on every look);
//! - `letters/state.json`: the mailbox cursor, the last letter read per
//!   conversation, and the members whose mail is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use buurt_node::datadir::{random_bytes, write_secret, DataDir};
use buurt_protocol::keys::SigningKey;
use buurt_protocol::mail::key::{keypair, ReplySecret};
use buurt_protocol::mail::{Letter, ReplyKey, MAX_KEY_SECS};
use buurt_protocol::{Certificate, ListingId, MemberId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a new reply key is valid.
pub const KEY_DAYS: i64 = 90;
/// A new key is made when the newest has less than this left.
pub const RENEW_DAYS: i64 = 30;
/// How long a key's secret is kept after it stops being valid: mail sealed
/// to it may wait in a mailbox until it expires.
pub const KEEP_AFTER_SECS: i64 = MAX_KEY_SECS;

/// One reply key, with its seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyEntry {
    pub seed: String,
    pub not_before: i64,
    pub not_after: i64,
    /// The member-signed record, hex.
    pub record: String,
}

impl KeyEntry {
    pub fn secret(&self) -> Option<ReplySecret> {
        let seed: [u8; 32] = hex::decode(&self.seed).ok()?.try_into().ok()?;
        Some(keypair(&seed).0)
    }
    pub fn record_bytes(&self) -> Vec<u8> {
        hex::decode(&self.record).unwrap_or_default()
    }
}

/// One opened letter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Opened {
    pub seq: u64,
    /// The envelope id, hex.
    pub id: String,
    pub conversation: String,
    pub listing: String,
    pub from: String,
    pub to: String,
    /// The sender's home node (from their certificate).
    pub from_node: String,
    pub created_at: i64,
    pub received_at: i64,
    pub text: String,
    /// The sender's signed reply key, hex: where an answer is sealed to.
    pub reply_key: String,
    /// The sender's certificate, hex (what a thanks names them by).
    #[serde(default)]
    pub certificate: String,
}

/// The cursor and the read marks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The last mailbox sequence number fetched.
    pub last: u64,
    /// Per conversation, the newest letter (by sequence number) read.
    pub read: BTreeMap<String, u64>,
    /// Members whose mail is dropped unread (`buurt block MEMBER`).
    pub blocked: BTreeSet<String>,
    /// Letters that did not open with any of this member's keys.
    pub unopened: u64,
    /// Listings this member reported (each is reported once).
    #[serde(default)]
    pub reported: BTreeSet<String>,
}

/// The id of the conversation between two members about one listing: the
/// same on both sides.
pub fn conversation_id(listing: &ListingId, a: &MemberId, b: &MemberId) -> String {
    let (lo, hi) = if a.as_bytes() <= b.as_bytes() {
        (a, b)
    } else {
        (b, a)
    };
    let mut h = Sha256::new();
    h.update(b"buurt/conversation/v1");
    h.update(listing.0);
    h.update(lo.as_bytes());
    h.update(hi.as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// The resident's letters folder.
pub struct Letters {
    dir: PathBuf,
    keys_path: PathBuf,
}

impl Letters {
    pub fn new(data: &DataDir) -> Letters {
        Letters {
            dir: data.root().join("letters"),
            keys_path: data.root().join("reply-keys.json"),
        }
    }

    pub fn keys(&self) -> Result<Vec<KeyEntry>> {
        match fs::read(&self.keys_path) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("{} is damaged", self.keys_path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(e).with_context(|| self.keys_path.display().to_string()),
        }
    }

    fn save_keys(&self, keys: &[KeyEntry]) -> Result<()> {
        write_secret(&self.keys_path, &serde_json::to_vec_pretty(keys)?)?;
        Ok(())
    }

    /// The current reply key, made (and kept) if there is none with at
    /// least [`RENEW_DAYS`] left. Returns it and whether it is new.
    pub fn current_key(
        &self,
        member: &SigningKey,
        cert: &Certificate,
        now: i64,
    ) -> Result<(KeyEntry, bool)> {
        let mut keys = self.keys()?;
        if let Some(k) = keys
            .iter()
            .filter(|k| k.not_before <= now && k.not_after - now > RENEW_DAYS * 86_400)
            .max_by_key(|k| k.not_after)
        {
            return Ok((k.clone(), false));
        }
        let seed = random_bytes::<32>()?;
        let not_before = now - 60;
        let not_after = now + KEY_DAYS * 86_400;
        let record = ReplyKey {
            member: buurt_protocol::keys::member_id(member),
            key: keypair(&seed).1,
            not_before,
            not_after,
            certificate: cert.clone(),
        }
        .sign(member)?;
        let entry = KeyEntry {
            seed: hex::encode(seed),
            not_before,
            not_after,
            record: hex::encode(record),
        };
        keys.retain(|k| k.not_after + KEEP_AFTER_SECS > now);
        keys.push(entry.clone());
        self.save_keys(&keys)?;
        Ok((entry, true))
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn letters_path(&self) -> PathBuf {
        self.dir.join("letters.jsonl")
    }

    pub fn state(&self) -> Result<State> {
        match fs::read(self.state_path()) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("{} is damaged", self.state_path().display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| self.state_path().display().to_string()),
        }
    }

    /// Saves the state (after the letters it counts are saved).
    pub fn save_state(&self, s: &State) -> Result<()> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.state_path().with_extension("tmp");
        fs::write(&tmp, serde_json::to_vec(s)?)?;
        fs::rename(&tmp, self.state_path())?;
        Ok(())
    }

    /// Every opened letter, oldest first.
    pub fn letters(&self) -> Result<Vec<Opened>> {
        let text = match fs::read_to_string(self.letters_path()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e).with_context(|| self.letters_path().display().to_string()),
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // A line cut short by a crash is skipped; the letter is fetched
            // again because the cursor was saved after it.
            if let Ok(o) = serde_json::from_str::<Opened>(line) {
                if seen.insert(o.id.clone()) {
                    out.push(o);
                }
            }
        }
        Ok(out)
    }

    /// Appends opened letters and syncs them to disk.
    pub fn append(&self, new: &[Opened]) -> Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.letters_path())?;
        let mut buf = Vec::new();
        for o in new {
            serde_json::to_writer(&mut buf, o)?;
            buf.push(b'\n');
        }
        f.write_all(&buf)?;
        f.sync_all()?;
        Ok(())
    }
}

/// Opens an envelope with the first of `keys` that opens it.
pub fn open_with(
    env: &buurt_protocol::mail::Envelope,
    keys: &[(ReplySecret, i64)],
    now: i64,
) -> Result<Letter, buurt_protocol::mail::MailError> {
    let mut last = buurt_protocol::mail::MailError::DoesNotOpen;
    for (secret, _) in keys {
        match env.open(secret, now) {
            Ok(l) => return Ok(l),
            Err(buurt_protocol::mail::MailError::DoesNotOpen) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}
