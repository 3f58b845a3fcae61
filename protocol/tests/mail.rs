//! Replies: key records, letters, envelopes and mailbox requests — round
//! trips, and every kind of tampering refused.

use buurt_protocol::keys;
use buurt_protocol::mail::envelope::TAG_LEN;
use buurt_protocol::mail::key::keypair;
use buurt_protocol::mail::mailbox::Op;
use buurt_protocol::mail::{Envelope, Letter, MailError, MailboxRequest, ReplyKey};
use buurt_protocol::sample::{Identity, SCOPE, T0};
use buurt_protocol::ListingId;

/// The author (sample identity) and a resident of another node.
fn people() -> (Identity, Identity) {
    (
        Identity::fixed(),
        Identity::new([0x31; 32], [0x32; 32], SCOPE, T0 - 86_400),
    )
}

fn reply_key(who: &Identity, seed: u8) -> (Vec<u8>, ReplyKey) {
    let (_, public) = keypair(&[seed; 32]);
    let k = ReplyKey {
        member: keys::member_id(&who.member),
        key: public,
        not_before: T0 - 3_600,
        not_after: T0 + 90 * 86_400,
        certificate: who.certificate.clone(),
    };
    let signed = k.sign(&who.member).unwrap();
    (signed, k)
}

fn letter(from: &Identity, to: &Identity, listing: ListingId, text: &str) -> Vec<u8> {
    Letter {
        listing,
        to: keys::member_id(&to.member),
        created_at: T0,
        text: text.into(),
        certificate: from.certificate.clone(),
        reply_key: reply_key(from, 0x55).0,
    }
    .sign(&from.member)
    .unwrap()
}

const LISTING: ListingId = ListingId([0x11; 16]);

#[test]
fn a_reply_opens_for_its_recipient_only() {
    let (author, resident) = people();
    let (signed_key, _) = reply_key(&author, 0x44);
    let to = ReplyKey::verify(&signed_key, T0).unwrap();
    let text = "Mag ik hem zaterdag lenen? Ik woon op nummer 12.";
    let sealed = Envelope::seal(
        &letter(&resident, &author, LISTING, text),
        &to,
        author.certificate.node,
        LISTING,
        T0 + 1_234,
        &resident.node,
        [9; 32],
    )
    .unwrap();
    // The envelope shows route, listing and size, never the text.
    assert!(!sealed.windows(5).any(|w| w == b"lenen"));
    let env = Envelope::verify(&sealed).unwrap();
    assert_eq!(env.to_member, to.member);
    assert_eq!(env.hour, T0, "the time is rounded to the hour");
    assert_eq!(env.ciphertext.len(), 1_024 + TAG_LEN, "padded to a bucket");
    let (secret, _) = keypair(&[0x44; 32]);
    let got = env.open(&secret, T0 + 2_000).unwrap();
    assert_eq!(got.text, text);
    assert_eq!(got.from(), keys::member_id(&resident.member));
    // Another key does not open it.
    let (other, _) = keypair(&[0x45; 32]);
    assert_eq!(env.open(&other, T0), Err(MailError::DoesNotOpen));
    // The same seed seals to the same bytes (test vectors rely on it).
    let again = Envelope::seal(
        &letter(&resident, &author, LISTING, text),
        &to,
        author.certificate.node,
        LISTING,
        T0 + 1_234,
        &resident.node,
        [9; 32],
    )
    .unwrap();
    assert_eq!(sealed, again);
}

#[test]
fn tampering_is_refused_everywhere() {
    let (author, resident) = people();
    let (signed_key, to) = reply_key(&author, 0x44);
    let (secret, _) = keypair(&[0x44; 32]);
    let sealed = Envelope::seal(
        &letter(&resident, &author, LISTING, "Hallo"),
        &to,
        author.certificate.node,
        LISTING,
        T0,
        &resident.node,
        [1; 32],
    )
    .unwrap();
    // Any flipped bit: the node's signature fails, or (in the ciphertext,
    // re-signed by a node) the envelope does not open.
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x04;
        let ok = Envelope::verify(&bad).and_then(|e| e.open(&secret, T0));
        assert!(ok.is_err(), "flip at {i}");
    }
    // A wrong listing as associated data: another node re-addresses the
    // envelope to another listing and signs it; it does not open.
    let mut env = Envelope::verify(&sealed).unwrap();
    env.listing = ListingId([0x22; 16]);
    assert_eq!(env.open(&secret, T0), Err(MailError::DoesNotOpen));
    // Key records: flipped bits refused; expired; over 120 days.
    for i in 0..signed_key.len() {
        let mut bad = signed_key.clone();
        bad[i] ^= 0x01;
        assert!(ReplyKey::verify(&bad, T0).is_err(), "key flip at {i}");
    }
    assert_eq!(
        ReplyKey::verify(&signed_key, T0 + 91 * 86_400),
        Err(MailError::KeyExpired)
    );
    let mut long = to.clone();
    long.not_after = long.not_before + 121 * 86_400;
    assert_eq!(
        ReplyKey::verify(&long.sign(&author.member).unwrap(), T0),
        Err(MailError::KeyTooLong)
    );
    // A key record signed by someone else than the member it names.
    let forged = to.sign(&resident.member).unwrap();
    assert_eq!(ReplyKey::verify(&forged, T0), Err(MailError::BadSignature));
    // A letter: flipped bits refused.
    let l = letter(&resident, &author, LISTING, "Hallo");
    for i in 0..l.len() {
        let mut bad = l.clone();
        bad[i] ^= 0x01;
        assert!(Letter::verify(&bad, T0).is_err(), "letter flip at {i}");
    }
    // Too long a text.
    let long_text = Letter {
        listing: LISTING,
        to: to.member,
        created_at: T0,
        text: "x".repeat(4_001),
        certificate: resident.certificate.clone(),
        reply_key: reply_key(&resident, 0x55).0,
    };
    assert_eq!(
        long_text.sign(&resident.member),
        Err(MailError::TextTooLong)
    );
}

#[test]
fn a_letter_for_another_mailbox_is_misaddressed() {
    let (author, resident) = people();
    let (_, to) = reply_key(&author, 0x44);
    let (secret, _) = keypair(&[0x44; 32]);
    // Written by the resident to a third member, sealed to the author's
    // key: the letter inside names neither the author nor comes from them.
    let third = Identity::new([0x61; 32], [0x62; 32], SCOPE, T0 - 86_400);
    let wrong = letter(&resident, &third, LISTING, "Voor iemand anders");
    let sealed = Envelope::seal(
        &wrong,
        &to,
        author.certificate.node,
        LISTING,
        T0,
        &author.node,
        [2; 32],
    )
    .unwrap();
    let env = Envelope::verify(&sealed).unwrap();
    assert_eq!(env.open(&secret, T0), Err(MailError::Misaddressed));
}

#[test]
fn the_senders_own_copy_opens_for_the_sender() {
    let (author, resident) = people();
    let (_, own) = reply_key(&resident, 0x55);
    let (secret, _) = keypair(&[0x55; 32]);
    let sent = letter(&resident, &author, LISTING, "Mijn eigen kopie");
    let copy = Envelope::seal(
        &sent,
        &own,
        resident.certificate.node,
        LISTING,
        T0,
        &resident.node,
        [4; 32],
    )
    .unwrap();
    let opened = Envelope::verify(&copy).unwrap().open(&secret, T0).unwrap();
    assert_eq!(opened.text, "Mijn eigen kopie");
    assert_eq!(opened.to, keys::member_id(&author.member));
}

#[test]
fn mail_wire_messages_round_trip() {
    use buurt_protocol::mail::wire::{Request, Response};
    let reqs = [
        Request::Deliver {
            hop: 1,
            envelope: vec![9; 700],
        },
        Request::ReplyKey {
            hop: 0,
            node: Identity::fixed().certificate.node,
            member: keys::member_id(&author_key()),
        },
    ];
    for r in reqs {
        let b = r.encode();
        assert_eq!(Request::decode(&b).unwrap(), r);
        assert!(Request::decode(&b[..b.len() - 1]).is_err());
    }
    let mut hop2 = Request::Deliver {
        hop: 0,
        envelope: vec![1],
    }
    .encode();
    hop2[1] = 2;
    assert!(Request::decode(&hop2).is_err());
    for r in [
        Response::Stored,
        Response::ReplyKey(vec![5; 300]),
        Response::Refused("mailbox full".into()),
        Response::Unreachable("not connected to the home node".into()),
    ] {
        assert_eq!(Response::decode(&r.encode()).unwrap(), r);
    }
}

fn author_key() -> ed25519_dalek::SigningKey {
    Identity::fixed().member
}

#[test]
fn mailbox_requests_sign_and_verify() {
    let (author, resident) = people();
    for op in [
        Op::Fetch { after: 7 },
        Op::Delete(vec![[7; 32], [8; 32]]),
        Op::Send { digest: [9; 32] },
    ] {
        let req = MailboxRequest {
            member: keys::member_id(&author.member),
            at: T0,
            nonce: [3; 16],
            op,
        };
        let signed = req.sign(&author.member).unwrap();
        assert_eq!(MailboxRequest::verify(&signed).unwrap(), req);
        // Signed by another member than the mailbox's: refused.
        let forged = req.sign(&resident.member).unwrap();
        assert_eq!(
            MailboxRequest::verify(&forged),
            Err(MailError::BadSignature)
        );
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x01;
            assert!(MailboxRequest::verify(&bad).is_err(), "flip at {i}");
        }
    }
}
