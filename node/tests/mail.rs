//! A home node's mailboxes in process: what it refuses (tampered,
//! misaddressed, oversized, over quota or rate, from a blocked node, a
//! replayed or forged mailbox request) stores nothing; what it takes a
//! member fetches after a cursor and deletes.

use std::sync::Arc;

use buurt_node::config::{Config, FileConfig, MailLimits, Overrides};
use buurt_node::mail::{Accepted, Mail, Refusal};
use buurt_node::moderation::{Moderation, Target};
use buurt_node::store::MemoryStore;
use buurt_protocol::keys;
use buurt_protocol::mail::key::keypair;
use buurt_protocol::mail::mailbox::{MailboxRequest, Op};
use buurt_protocol::mail::{Envelope, Letter, MailError, ReplyKey};
use buurt_protocol::sample::{Identity, NODE_SEED, SCOPE, T0};
use buurt_protocol::{ListingId, MemberId, Scope};

const LISTING: ListingId = ListingId([0x11; 16]);

struct Home {
    mail: Mail,
    moderation: Arc<Moderation>,
    /// The author, a member of this node.
    author: Identity,
    /// A resident of another node.
    resident: Identity,
}

fn home(limits: MailLimits) -> Home {
    let file = FileConfig {
        scope: SCOPE.into(),
        // Listings of other nodes' members: accepted whatever node admitted them.
        policy: buurt_node::config::Policy::Open,
        mail: limits,
        ..FileConfig::default()
    };
    let config = Arc::new(Config::build(file, Overrides::default()).expect("config"));
    let node_key = keys::from_seed(NODE_SEED);
    let moderation = Arc::new(Moderation::in_memory(config, node_key.clone()));
    let author = Identity::fixed();
    let scope = Scope::parse(SCOPE, 8).unwrap();
    moderation
        .admit(
            keys::member_id(&author.member),
            "auteur",
            scope,
            T0 - 86_400,
            365 * 86_400,
        )
        .expect("admitted");
    let mail = Mail::in_memory(
        node_key,
        moderation.clone(),
        Arc::new(MemoryStore::new()),
        limits,
    )
    .expect("mail");
    let resident = Identity::new([0x31; 32], [0x32; 32], SCOPE, T0 - 86_400);
    Home {
        mail,
        moderation,
        author,
        resident,
    }
}

fn key_record(who: &Identity, seed: u8) -> Vec<u8> {
    ReplyKey {
        member: keys::member_id(&who.member),
        key: keypair(&[seed; 32]).1,
        not_before: T0 - 3_600,
        not_after: T0 + 90 * 86_400,
        certificate: who.certificate.clone(),
    }
    .sign(&who.member)
    .unwrap()
}

/// A letter of the resident to the author, sealed to the author's reply key
/// and signed by the resident's node, with ephemeral seed `n`.
fn envelope(h: &Home, text: &str, n: u8) -> Vec<u8> {
    envelope_about(h, LISTING, text, n)
}

/// Like [`envelope`], about `listing`.
fn envelope_about(h: &Home, listing: ListingId, text: &str, n: u8) -> Vec<u8> {
    let letter = Letter {
        listing,
        to: keys::member_id(&h.author.member),
        created_at: T0,
        text: text.into(),
        certificate: h.resident.certificate.clone(),
        reply_key: key_record(&h.resident, 0x55),
    }
    .sign(&h.resident.member)
    .unwrap();
    let to = ReplyKey::verify(&key_record(&h.author, 0x44), T0).unwrap();
    Envelope::seal(
        &letter,
        &to,
        h.author.certificate.node,
        listing,
        T0,
        &h.resident.node,
        [n; 32],
    )
    .unwrap()
}

fn request(who: &Identity, member: MemberId, at: i64, nonce: u8, op: Op) -> Vec<u8> {
    MailboxRequest {
        member,
        at,
        nonce: [nonce; 16],
        op,
    }
    .sign(&who.member)
    .unwrap()
}

fn stored(h: &Home) -> u64 {
    h.mail
        .letterboxes()
        .unwrap()
        .iter()
        .map(|b| b.letters)
        .sum()
}

#[test]
fn a_letter_is_stored_once_and_fetched_after_a_cursor() {
    let h = home(MailLimits::default());
    let one = envelope(&h, "Eerste", 1);
    assert_eq!(h.mail.deliver(&one, T0).unwrap(), Accepted::Stored);
    assert_eq!(h.mail.deliver(&one, T0).unwrap(), Accepted::Already);
    let two = envelope(&h, "Tweede", 2);
    assert_eq!(h.mail.deliver(&two, T0).unwrap(), Accepted::Stored);
    assert_eq!(stored(&h), 2);

    let me = keys::member_id(&h.author.member);
    let req = request(&h.author, me, T0, 1, Op::Fetch { after: 0 });
    let ok = h.mail.authorise(&req, T0).unwrap();
    assert_eq!(ok.member, me);
    let all = h.mail.fetch(&me, 0).unwrap();
    assert_eq!(all.len(), 2);
    let after_first = h.mail.fetch(&me, all[0].seq).unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].id, hex::encode(Envelope::id(&two)));
    // What is stored opens for the author, and only the sealed bytes are kept.
    let env = Envelope::verify(&hex::decode(&all[0].envelope).unwrap()).unwrap();
    let letter = env.open(&keypair(&[0x44; 32]).0, T0).unwrap();
    assert_eq!(letter.text, "Eerste");

    // Deleting names letters of this mailbox only.
    assert_eq!(
        h.mail.delete(&me, &[Envelope::id(&one), [9; 32]]).unwrap(),
        1
    );
    assert_eq!(stored(&h), 1);
    let other = keys::member_id(&h.resident.member);
    assert_eq!(h.mail.delete(&other, &[Envelope::id(&two)]).unwrap(), 0);
    assert_eq!(stored(&h), 1);
}

#[test]
fn tampered_oversized_and_misaddressed_envelopes_store_nothing() {
    let h = home(MailLimits::default());
    let good = envelope(&h, "Hallo", 1);
    let env = Envelope::verify(&good).unwrap();
    // A byte of the ciphertext changed.
    let mut tampered = good.clone();
    let at = good.len() - 64 - 32 - 10;
    tampered[at] ^= 1;
    let r = h.mail.deliver(&tampered, T0);
    assert!(
        matches!(r, Err(Refusal::Invalid(ref w)) if w.contains("signature")),
        "{r:?}"
    );
    // The listing id (the associated data) changed.
    let mut relisted = good.clone();
    relisted[1 + 32 + 32] ^= 1;
    assert!(matches!(
        h.mail.deliver(&relisted, T0),
        Err(Refusal::Invalid(_))
    ));
    // Over the largest envelope.
    let mut big = good.clone();
    big.resize(buurt_protocol::mail::envelope::MAX_ENVELOPE_BYTES + 1, 0);
    let r = h.mail.deliver(&big, T0);
    assert!(
        matches!(r, Err(Refusal::Invalid(ref w)) if w.contains("padded sizes")),
        "{r:?}"
    );
    // For another node.
    let elsewhere = Envelope {
        to_node: h.resident.certificate.node,
        ..env.clone()
    }
    .sign(&h.resident.node)
    .unwrap();
    assert!(matches!(
        h.mail.deliver(&elsewhere, T0),
        Err(Refusal::NotHere)
    ));
    // For someone who is not a member here.
    let stranger = Envelope {
        to_member: keys::member_id(&h.resident.member),
        ..env.clone()
    }
    .sign(&h.resident.node)
    .unwrap();
    assert!(matches!(
        h.mail.deliver(&stranger, T0),
        Err(Refusal::NoSuchMailbox)
    ));
    // Sealed in the future, or longer ago than mail is kept.
    assert!(matches!(
        h.mail.deliver(&good, T0 - 7_200),
        Err(Refusal::Invalid(_))
    ));
    assert!(matches!(
        h.mail.deliver(&good, T0 + 31 * 86_400),
        Err(Refusal::Expired(30))
    ));
    assert_eq!(stored(&h), 0);

    // Sealed with another listing id as associated data than the envelope
    // names: the node cannot tell (it holds no key) and stores it, and the
    // author's device refuses to open it.
    let letter = Letter {
        listing: LISTING,
        to: keys::member_id(&h.author.member),
        created_at: T0,
        text: "Andere advertentie".into(),
        certificate: h.resident.certificate.clone(),
        reply_key: key_record(&h.resident, 0x55),
    }
    .sign(&h.resident.member)
    .unwrap();
    let to = ReplyKey::verify(&key_record(&h.author, 0x44), T0).unwrap();
    let mut wrong = Envelope::seal_unsigned(
        &letter,
        &to,
        env.to_node,
        ListingId([0x22; 16]),
        T0,
        [3; 32],
    )
    .unwrap();
    wrong.listing = LISTING;
    let wrong = wrong.sign(&h.resident.node).unwrap();
    assert_eq!(h.mail.deliver(&wrong, T0).unwrap(), Accepted::Stored);
    let opened = Envelope::verify(&wrong)
        .unwrap()
        .open(&keypair(&[0x44; 32]).0, T0);
    assert_eq!(opened.unwrap_err(), MailError::DoesNotOpen);
}

#[test]
fn quotas_rates_and_blocks_refuse_with_a_reason() {
    let h = home(MailLimits {
        max_messages: 2,
        node_per_minute: 3,
        ..MailLimits::default()
    });
    h.mail.deliver(&envelope(&h, "een", 1), T0).unwrap();
    h.mail.deliver(&envelope(&h, "twee", 2), T0).unwrap();
    let r = h.mail.deliver(&envelope(&h, "drie", 3), T0).unwrap_err();
    assert!(
        r.to_string()
            .contains("mailbox is full (2 letters, the limit is 2)"),
        "{r}"
    );
    assert_eq!(stored(&h), 2);

    let one = envelope(&h, "een", 1).len() as u64;
    let h = home(MailLimits {
        max_bytes: 2 * one + one / 2,
        ..MailLimits::default()
    });
    h.mail.deliver(&envelope(&h, "een", 1), T0).unwrap();
    h.mail.deliver(&envelope(&h, "twee", 2), T0).unwrap();
    let r = h.mail.deliver(&envelope(&h, "drie", 3), T0).unwrap_err();
    let want = format!("{} bytes, the limit is {}", 2 * one, 2 * one + one / 2);
    assert!(r.to_string().contains(&want), "{r}");

    let h = home(MailLimits {
        node_per_minute: 2,
        ..MailLimits::default()
    });
    h.mail.deliver(&envelope(&h, "een", 1), T0).unwrap();
    h.mail.deliver(&envelope(&h, "twee", 2), T0).unwrap();
    let r = h.mail.deliver(&envelope(&h, "drie", 3), T0).unwrap_err();
    assert!(matches!(r, Refusal::Rate(2)), "{r}");
    // The next minute the node may send again.
    h.mail.deliver(&envelope(&h, "drie", 3), T0 + 60).unwrap();

    let h = home(MailLimits::default());
    let node = Target::Node(h.resident.certificate.node);
    h.moderation.block(node, "spam", T0).unwrap();
    let r = h
        .mail
        .deliver(&envelope(&h, "geblokkeerd", 1), T0)
        .unwrap_err();
    assert!(r.to_string().contains("is blocked here"), "{r}");
    assert_eq!(stored(&h), 0);
}

#[test]
fn mailbox_requests_are_fresh_signed_by_their_member_and_never_replayed() {
    let h = home(MailLimits::default());
    let me = keys::member_id(&h.author.member);
    let fetch = request(&h.author, me, T0, 1, Op::Fetch { after: 0 });
    h.mail.authorise(&fetch, T0).unwrap();
    let again = h.mail.authorise(&fetch, T0 + 5).unwrap_err();
    assert!(again.to_string().contains("replayed"), "{again}");

    // The author's mailbox, signed by someone else.
    let forged = request(&h.resident, me, T0, 2, Op::Fetch { after: 0 });
    let r = h.mail.authorise(&forged, T0).unwrap_err();
    assert!(r.to_string().contains("signature"), "{r}");
    // A member of another node has no mailbox here.
    let theirs = keys::member_id(&h.resident.member);
    let r = h
        .mail
        .authorise(
            &request(&h.resident, theirs, T0, 3, Op::Fetch { after: 0 }),
            T0,
        )
        .unwrap_err();
    assert!(matches!(r, Refusal::NoSuchMailbox), "{r}");
    // Signed 11 minutes before the node's clock.
    let stale = request(&h.author, me, T0 - 660, 4, Op::Fetch { after: 0 });
    let r = h.mail.authorise(&stale, T0).unwrap_err();
    assert!(r.to_string().contains("check the clock"), "{r}");
}

#[test]
fn the_first_letter_about_a_members_listing_is_its_first_reaction() {
    use buurt_node::store::Store;
    let file = FileConfig {
        scope: SCOPE.into(),
        policy: buurt_node::config::Policy::Open,
        ..FileConfig::default()
    };
    let config = Arc::new(Config::build(file, Overrides::default()).expect("config"));
    let node_key = keys::from_seed(NODE_SEED);
    let moderation = Arc::new(Moderation::in_memory(config, node_key.clone()));
    let author = Identity::fixed();
    moderation
        .admit(
            keys::member_id(&author.member),
            "auteur",
            Scope::parse(SCOPE, 8).unwrap(),
            T0 - 86_400,
            365 * 86_400,
        )
        .expect("admitted");
    let store = Arc::new(MemoryStore::new());
    let ask = author
        .offer(
            [0x21; 16],
            "Wie helpt met de belastingaangifte?",
            T0 - 7_200,
        )
        .sign(&author.member)
        .unwrap();
    store.put(&ask).unwrap();
    let mail = Mail::in_memory(node_key, moderation.clone(), store, MailLimits::default()).unwrap();
    let ledger = Arc::new(buurt_node::impact::Ledger::in_memory(b"node secret").unwrap());
    ledger.listing(&ask, true).unwrap();
    mail.set_impact(ledger.clone());
    let h = Home {
        mail,
        moderation,
        author,
        resident: Identity::new([0x31; 32], [0x32; 32], SCOPE, T0 - 86_400),
    };
    // A letter about another listing is no reaction to this one.
    assert_eq!(
        h.mail
            .deliver(&envelope(&h, "Over iets anders", 1), T0)
            .unwrap(),
        Accepted::Stored
    );
    assert_eq!(ledger.facts().unwrap()[0].1, None);
    let first = envelope_about(&h, ask.listing_id(), "Ik help graag", 2);
    assert_eq!(h.mail.deliver(&first, T0).unwrap(), Accepted::Stored);
    let second = envelope_about(&h, ask.listing_id(), "Ik ook", 3);
    assert_eq!(
        h.mail.deliver(&second, T0 + 3_600).unwrap(),
        Accepted::Stored
    );
    let facts = ledger.facts().unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(
        facts[0].1,
        Some(T0 / 3_600 * 3_600),
        "the first letter's hour"
    );
}
