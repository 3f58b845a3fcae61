//! Checks the test vectors of `docs/protocol.md` against this crate.
//!
//! The document is read as it is on disk, so a vector that no longer matches
//! the code (or a code change that no longer matches the document) fails here.
//! Hashes, ids and signatures are recomputed with `sha2`, `data-encoding` and
//! `ed25519-dalek` directly, following the text of the specification, so that
//! the test checks the description as well as the implementation.

use std::collections::BTreeSet;

use buurt_protocol::sample::{self, Identity};
use buurt_protocol::{keys, validate, Limits, MemberId, NodeId};
use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");

fn doc() -> String {
    std::fs::read_to_string(DOC_PATH).unwrap_or_else(|e| panic!("cannot read {DOC_PATH}: {e}"))
}

/// The contents of every fenced block opened with exactly ```` ```info ````.
fn fenced_blocks(doc: &str, info: &str) -> Vec<String> {
    let open = format!("```{info}");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match current.as_mut() {
            None if line.trim_end() == open => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unterminated ```{info} block");
    blocks
}

/// The parsed JSON test vectors: blocks that contain `signed_bytes`.
fn doc_vectors(doc: &str) -> Vec<Value> {
    fenced_blocks(doc, "json")
        .into_iter()
        .filter(|b| b.contains("signed_bytes"))
        .map(|b| serde_json::from_str(&b).unwrap_or_else(|e| panic!("bad vector JSON: {e}\n{b}")))
        .collect()
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("vector field `{field}` is missing or not a string"))
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(text(v, field)).unwrap_or_else(|e| panic!("vector field `{field}`: {e}"))
}

fn array<const N: usize>(v: &Value, field: &str) -> [u8; N] {
    bytes(v, field)
        .try_into()
        .unwrap_or_else(|_| panic!("vector field `{field}` is not {N} bytes"))
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The text form of an id, written from section 2 of the document.
fn id_text(prefix: &str, kind: u8, key: &[u8; 32]) -> String {
    let checksum = sha256(&[b"buurt/id/v1", &[kind], key]);
    let mut raw = key.to_vec();
    raw.extend_from_slice(&checksum[..4]);
    format!("{prefix}{}", BASE32_NOPAD.encode(&raw).to_ascii_lowercase())
}

fn verify_strict(public_key: &[u8; 32], message: &[u8], signature: &[u8]) {
    let key = VerifyingKey::from_bytes(public_key).expect("public key is a valid point");
    let signature: [u8; 64] = signature.try_into().expect("64-byte signature");
    key.verify_strict(message, &Signature::from_bytes(&signature))
        .expect("signature verifies strictly");
}

#[test]
fn document_vectors_match_the_code() {
    let doc = doc();
    let vectors = doc_vectors(&doc);
    assert!(
        vectors.len() >= 3,
        "expected at least 3 vectors in {DOC_PATH}, found {}",
        vectors.len()
    );
    let samples = sample::vectors();
    let fixed = Identity::fixed();

    for v in &vectors {
        let name = text(v, "name");
        let now = v["now"].as_i64().expect("`now` is an integer");

        // Keys and ids.
        let node_key = keys::from_seed(array(v, "node_seed"));
        let member_key = keys::from_seed(array(v, "member_seed"));
        let node_public: [u8; 32] = array(v, "node_public_key");
        let member_public: [u8; 32] = array(v, "member_public_key");
        assert_eq!(node_key.verifying_key().to_bytes(), node_public, "{name}");
        assert_eq!(
            member_key.verifying_key().to_bytes(),
            member_public,
            "{name}"
        );
        assert_eq!(keys::node_id(&node_key).to_string(), text(v, "node_id"));
        assert_eq!(
            keys::member_id(&member_key).to_string(),
            text(v, "member_id")
        );
        assert_eq!(id_text("bn", b'n', &node_public), text(v, "node_id"));
        assert_eq!(id_text("bm", b'm', &member_public), text(v, "member_id"));
        assert_eq!(text(v, "node_id").parse::<NodeId>().unwrap().0, node_public);
        assert_eq!(
            text(v, "member_id").parse::<MemberId>().unwrap().0,
            member_public
        );

        // Signing input, signature and signed form.
        let signed_bytes = bytes(v, "signed_bytes");
        assert!(signed_bytes.len() > 64, "{name}: signed_bytes too short");
        let (body, signature) = signed_bytes.split_at(signed_bytes.len() - 64);
        let signing_input = bytes(v, "signing_input");
        assert_eq!(
            hex::encode(&signing_input),
            hex::encode([b"buurt/listing/v1", body].concat()),
            "{name}: signing_input"
        );
        assert_eq!(text(v, "signature"), hex::encode(signature), "{name}");
        verify_strict(&member_public, &signing_input, signature);

        // Content id and listing id.
        assert_eq!(
            hex::encode(Sha256::digest(&signed_bytes)),
            text(v, "content_id"),
            "{name}"
        );
        let version = if name.ends_with("-v2") { 2 } else { 1 };
        assert_eq!(body[0], version, "{name}: version byte");
        assert_eq!(body[1..33], member_public, "{name}: author");
        let address = sha256(&[b"buurt/address/v1", &body[1..33], &body[33..49]]);
        assert_eq!(hex::encode(&address[..16]), text(v, "listing_id"), "{name}");

        // The crate's validation accepts it, with the same ids.
        let signed = validate(&signed_bytes, now, &Limits::default())
            .unwrap_or_else(|r| panic!("{name}: rejected ({}): {r}", r.code()));
        assert_eq!(signed.bytes(), &signed_bytes[..], "{name}");
        assert_eq!(signed.content_id().to_string(), text(v, "content_id"));
        assert_eq!(signed.listing_id().to_string(), text(v, "listing_id"));

        // The embedded certificate ends the body; its node signature verifies
        // over "buurt/certificate/v1" || its unsigned bytes.
        let cert = signed.listing.certificate.to_bytes().expect("encodable");
        assert!(
            body.ends_with(&cert),
            "{name}: certificate is not at the end"
        );
        assert_eq!(cert[1..33], node_public, "{name}: certificate node");
        let (unsigned, cert_signature) = cert.split_at(cert.len() - 64);
        verify_strict(
            &node_public,
            &[b"buurt/certificate/v1", unsigned].concat(),
            cert_signature,
        );

        // The sample of the same name, signed now, gives the same bytes.
        let sample = samples
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("vector `{name}` is not in sample::vectors()"));
        assert_eq!(sample.now, now, "{name}");
        assert_eq!(text(v, "node_seed"), hex::encode(sample::NODE_SEED));
        assert_eq!(text(v, "member_seed"), hex::encode(sample::MEMBER_SEED));
        let resigned = sample
            .listing
            .clone()
            .sign(&fixed.member)
            .expect("sample encodes");
        assert_eq!(
            hex::encode(resigned.bytes()),
            text(v, "signed_bytes"),
            "{name}: docs/protocol.md is out of date; regenerate it with \
             `cargo run -p buurt-protocol --example vectors`"
        );
    }

    let in_doc: BTreeSet<&str> = vectors.iter().map(|v| text(v, "name")).collect();
    assert_eq!(in_doc.len(), vectors.len(), "vector names must be unique");
    for s in &samples {
        assert!(
            in_doc.contains(s.name),
            "sample vector `{}` is missing from {DOC_PATH}",
            s.name
        );
    }
}

/// The annotated dump of the `offer` vector: every line that starts with a
/// decimal offset must continue the bytes exactly where the previous one ended,
/// and together they must be the vector's signed bytes.
#[test]
fn offer_breakdown_matches_the_offer_vector() {
    let doc = doc();
    let offer = doc_vectors(&doc)
        .into_iter()
        .find(|v| text(v, "name") == "offer")
        .expect("an `offer` vector");
    let dumps: Vec<String> = fenced_blocks(&doc, "text")
        .into_iter()
        .filter(|b| b.starts_with("offset"))
        .collect();
    assert_eq!(dumps.len(), 1, "expected one annotated dump");

    let mut seen = Vec::new();
    for line in dumps[0].lines().skip(1) {
        let mut words = line.split_whitespace();
        let (Some(offset), Some(hex_bytes)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(offset) = offset.parse::<usize>() else {
            continue;
        };
        assert_eq!(offset, seen.len(), "offset of line `{line}`");
        seen.extend(hex::decode(hex_bytes).unwrap_or_else(|e| panic!("`{line}`: {e}")));
    }
    assert_eq!(hex::encode(seen), text(&offer, "signed_bytes"));
}

/// An RNG that yields one 32-byte block and nothing else: the input key
/// material of the vector's ephemeral key pair (section 14, *Sealing*).
struct OneBlock(Option<[u8; 32]>);

impl hpke::rand_core::TryRng for OneBlock {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        panic!("sealing asks only for the ephemeral's 32 bytes")
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        panic!("sealing asks only for the ephemeral's 32 bytes")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let block = self.0.take().expect("sealing asks for one block");
        dst.copy_from_slice(&block);
        Ok(())
    }
}

impl hpke::rand_core::TryCryptoRng for OneBlock {}

fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b.try_into().expect("8 bytes"))
}

fn be_u16(b: &[u8]) -> usize {
    u16::from_be_bytes(b.try_into().expect("2 bytes")) as usize
}

/// The reply vector of section 14: (1) every byte string rebuilt by the
/// crate from the vector's seeds and the sample identities, and the crate's
/// checks accept them; (2) the records read at the offsets of section 14,
/// their signatures verified with `ed25519-dalek`, and the envelope opened
/// and sealed again with the `hpke` crate, as the text says, without the
/// crate's mail code.
#[test]
fn reply_vector_matches() {
    use buurt_protocol::mail::key::keypair;
    use buurt_protocol::mail::mailbox::Op;
    use buurt_protocol::mail::wire::{Request, Response};
    use buurt_protocol::mail::{Envelope, Letter, MailboxRequest, ReplyKey};
    use buurt_protocol::sample::{SCOPE, T0};
    use buurt_protocol::{ListingId, ListingKey};
    use hpke::aead::ChaCha20Poly1305;
    use hpke::kdf::HkdfSha256;
    use hpke::kem::X25519HkdfSha256;
    use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};

    let doc = doc();
    let blocks = fenced_blocks(&doc, "mail");
    assert_eq!(blocks.len(), 1, "expected one mail vector");
    let v: Value = serde_json::from_str(&blocks[0])
        .unwrap_or_else(|e| panic!("bad mail vector JSON: {e}\n{}", blocks[0]));
    let int = |field: &str| {
        v[field]
            .as_i64()
            .unwrap_or_else(|| panic!("mail vector field `{field}` is not an integer"))
    };
    let regenerate = "docs/protocol.md section 14 is out of date; regenerate its ```mail block \
                      with `cargo run -q -p buurt-protocol --example mail_vectors`";

    // The people: the fixed identity of section 11, and a resident of
    // another node with a certificate for the same scope and period.
    assert_eq!(text(&v, "author_node_seed"), hex::encode(sample::NODE_SEED));
    assert_eq!(
        text(&v, "author_member_seed"),
        hex::encode(sample::MEMBER_SEED)
    );
    let author = Identity::fixed();
    let resident = Identity::new(
        array(&v, "resident_node_seed"),
        array(&v, "resident_member_seed"),
        SCOPE,
        T0 - 86_400,
    );
    let author_member = keys::member_id(&author.member);
    let resident_member = keys::member_id(&resident.member);
    let now = int("now");
    let n = SCOPE.len();

    // (1) Every byte string, rebuilt by the crate.
    for (who, name) in [(&author, "author"), (&resident, "resident")] {
        let (_, public) = keypair(&array(&v, &format!("{name}_reply_seed")));
        assert_eq!(
            hex::encode(public),
            text(&v, &format!("{name}_reply_public"))
        );
        let record = ReplyKey {
            member: keys::member_id(&who.member),
            key: public,
            not_before: int("key_not_before"),
            not_after: int("key_not_after"),
            certificate: who.certificate.clone(),
        }
        .sign(&who.member)
        .expect("the record encodes");
        assert_eq!(
            hex::encode(&record),
            text(&v, &format!("{name}_reply_key")),
            "{regenerate}"
        );
        ReplyKey::verify(&record, now).expect("the record verifies");
    }
    // The conversation is about the `offer` listing of section 11.
    let listing = ListingId::of(&author_member, &ListingKey([0x11; 16]));
    assert_eq!(listing.to_string(), text(&v, "listing_id"));
    let offer = doc_vectors(&doc)
        .into_iter()
        .find(|o| text(o, "name") == "offer")
        .expect("an `offer` vector");
    assert_eq!(text(&offer, "listing_id"), text(&v, "listing_id"));
    let letter = Letter {
        listing,
        to: author_member,
        created_at: int("created_at"),
        text: text(&v, "text").into(),
        certificate: resident.certificate.clone(),
        reply_key: bytes(&v, "resident_reply_key"),
    }
    .sign(&resident.member)
    .expect("the letter encodes");
    assert_eq!(hex::encode(&letter), text(&v, "letter"), "{regenerate}");
    let to = ReplyKey::verify(&bytes(&v, "author_reply_key"), now).expect("valid");
    let unsigned = Envelope::seal_unsigned(
        &letter,
        &to,
        author.certificate.node,
        listing,
        now,
        array(&v, "seal_seed"),
    )
    .expect("the letter seals");
    let digest = Envelope::send_digest(std::slice::from_ref(&unsigned)).expect("digest");
    assert_eq!(hex::encode(digest), text(&v, "send_digest"), "{regenerate}");
    let envelope = unsigned.sign(&resident.node).expect("the envelope encodes");
    assert_eq!(hex::encode(&envelope), text(&v, "envelope"), "{regenerate}");
    assert_eq!(
        hex::encode(Envelope::id(&envelope)),
        text(&v, "envelope_id")
    );
    let send = MailboxRequest {
        member: resident_member,
        at: now,
        nonce: array(&v, "send_nonce"),
        op: Op::Send { digest },
    };
    assert_eq!(
        hex::encode(send.sign(&resident.member).expect("encodes")),
        text(&v, "mailbox_send"),
        "{regenerate}"
    );
    assert_eq!(int("fetch_at"), T0 + 1_300);
    assert_eq!(array::<16>(&v, "fetch_nonce"), [0x07; 16]);
    let fetch = MailboxRequest {
        member: author_member,
        at: int("fetch_at"),
        nonce: array(&v, "fetch_nonce"),
        op: Op::Fetch { after: 0 },
    };
    assert_eq!(
        hex::encode(fetch.sign(&author.member).expect("encodes")),
        text(&v, "mailbox_fetch"),
        "{regenerate}"
    );
    // The crate's own checks accept the document's bytes.
    assert_eq!(
        MailboxRequest::verify(&bytes(&v, "mailbox_fetch")).expect("verifies"),
        fetch
    );
    assert_eq!(
        MailboxRequest::verify(&bytes(&v, "mailbox_send")).expect("verifies"),
        send
    );
    let (author_secret, _) = keypair(&array(&v, "author_reply_seed"));
    let opened = Envelope::verify(&bytes(&v, "envelope"))
        .expect("the envelope verifies")
        .open(&author_secret, now)
        .expect("the envelope opens");
    assert_eq!(opened.text, text(&v, "text"));
    assert_eq!(opened.from(), resident_member);
    // Wire messages.
    for (hop, field) in [(0u8, "deliver_hop0_head"), (1, "deliver_hop1_head")] {
        let request = Request::Deliver {
            hop,
            envelope: envelope.clone(),
        };
        let wire = request.encode();
        assert_eq!(
            hex::encode(&wire),
            hex::encode([bytes(&v, field), envelope.clone()].concat()),
            "{field}"
        );
        assert_eq!(wire.len() as i64, int("deliver_len"));
        assert_eq!(Request::decode(&wire).expect("decodes"), request);
    }
    let hop0 = Request::Deliver {
        hop: 0,
        envelope: envelope.clone(),
    };
    assert_eq!(hop0.relayed().encode()[..6], bytes(&v, "deliver_hop1_head"));
    let key_request = Request::ReplyKey {
        hop: 0,
        node: author.certificate.node,
        member: author_member,
    };
    assert_eq!(
        hex::encode(key_request.encode()),
        text(&v, "reply_key_request")
    );
    let author_record = bytes(&v, "author_reply_key");
    assert_eq!(
        Response::ReplyKey(author_record.clone()).encode(),
        [bytes(&v, "reply_key_response_head"), author_record.clone()].concat()
    );
    assert_eq!(
        hex::encode(Response::Stored.encode()),
        text(&v, "stored_response")
    );

    // (2) From the text of section 14, without the crate's mail code.
    let (x_secret, x_public) =
        X25519HkdfSha256::derive_keypair(&array::<32>(&v, "author_reply_seed"));
    assert_eq!(
        hex::encode(x_public.to_bytes()),
        text(&v, "author_reply_public")
    );

    // The author's reply key record.
    let record = author_record;
    assert_eq!(record.len(), 291 + n);
    assert_eq!(record[0], 1, "record version");
    assert_eq!(record[1..33], author_member.0, "record member");
    assert_eq!(record[33..65], x_public.to_bytes()[..], "record key");
    assert_eq!(be_i64(&record[65..73]), int("key_not_before"));
    assert_eq!(be_i64(&record[73..81]), int("key_not_after"));
    assert!(int("key_not_after") - int("key_not_before") <= 120 * 86_400);
    let certificate = author.certificate.to_bytes().expect("encodes");
    assert_eq!(record[81..227 + n], certificate[..], "record certificate");
    verify_strict(
        &author_member.0,
        &[b"buurt/replykey/v1", &record[..227 + n]].concat(),
        &record[227 + n..],
    );

    // The envelope: routing fields, the sending node's signature, the ids.
    let env = bytes(&v, "envelope");
    let c = be_u16(&env[121..123]);
    assert_eq!(env.len(), 219 + c);
    assert_eq!(env[0], 1, "envelope version");
    assert_eq!(env[1..33], author.certificate.node.0, "to_node");
    assert_eq!(env[33..65], author_member.0, "to_member");
    assert_eq!(hex::encode(&env[65..81]), text(&v, "listing_id"));
    assert_eq!(be_i64(&env[81..89]), now - now.rem_euclid(3_600), "hour");
    assert_eq!(be_i64(&env[81..89]), T0, "2026-01-01T00:00:00Z");
    let from_node: [u8; 32] = env[123 + c..155 + c].try_into().expect("32 bytes");
    assert_eq!(from_node, resident.node.verifying_key().to_bytes());
    verify_strict(
        &from_node,
        &[b"buurt/envelope/v1", &env[..155 + c]].concat(),
        &env[155 + c..],
    );
    assert_eq!(hex::encode(sha256(&[&env])), text(&v, "envelope_id"));
    assert_eq!(
        hex::encode(sha256(&[&env[..123 + c]])),
        text(&v, "send_digest")
    );

    // Open it with HPKE: base mode, single shot, info and aad as specified.
    let info = [b"buurt/mail/v1", &env[33..65]].concat();
    let aad = &env[65..81];
    let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&env[89..121]).expect("32 bytes");
    let ciphertext = &env[123..123 + c];
    let padded = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &x_secret,
        &enc,
        &info,
        ciphertext,
        aad,
    )
    .expect("the envelope opens with the author's reply secret");
    assert_eq!(padded.len() + 16, c, "the AEAD tag is 16 bytes");
    assert_eq!(padded.len() as i64, int("padded_len"));
    // Strip the padding: the last non-zero byte is 0x80.
    let end = padded.iter().rposition(|b| *b != 0).expect("not all zeros");
    assert_eq!(padded[end], 0x80, "the end mark");
    let plain = &padded[..end];
    assert_eq!(hex::encode(plain), text(&v, "letter"));
    // The smallest of 256, 512, … 16,384 that holds the letter and the mark.
    let bucket = [256usize, 512, 1_024, 2_048, 4_096, 8_192, 16_384]
        .into_iter()
        .find(|b| *b > plain.len())
        .expect("a bucket");
    assert_eq!(padded.len(), bucket);

    // The letter inside: its fields, its text, the sender's signature.
    let t = be_u16(&plain[57..59]);
    assert_eq!(plain[0], 1, "letter version");
    assert_eq!(plain[1..17], env[65..81], "letter listing");
    assert_eq!(plain[17..49], author_member.0, "letter to");
    assert_eq!(be_i64(&plain[49..57]), int("created_at"));
    let letter_text = std::str::from_utf8(&plain[59..59 + t]).expect("UTF-8");
    assert_eq!(letter_text, "Mag ik hem zaterdag lenen?");
    assert_eq!(letter_text, text(&v, "text"));
    let sender_certificate = resident.certificate.to_bytes().expect("encodes");
    assert_eq!(plain[59 + t..205 + t + n], sender_certificate[..]);
    let sender: [u8; 32] = plain[59 + t + 33..59 + t + 65].try_into().expect("32");
    assert_eq!(
        sender, resident_member.0,
        "the sender is the certificate's member"
    );
    let k = be_u16(&plain[205 + t + n..207 + t + n]);
    assert_eq!(
        hex::encode(&plain[207 + t + n..207 + t + n + k]),
        text(&v, "resident_reply_key")
    );
    assert_eq!(plain.len(), 271 + t + n + k);
    verify_strict(
        &sender,
        &[b"buurt/letter/v1", &plain[..207 + t + n + k]].concat(),
        &plain[207 + t + n + k..],
    );

    // Sealed again with the ephemeral of `seal_seed`, it is the same.
    let ikm = sha256(&[&array::<32>(&v, "seal_seed"), &0u64.to_be_bytes()]);
    let (_, ephemeral) = X25519HkdfSha256::derive_keypair(&ikm);
    assert_eq!(ephemeral.to_bytes()[..], env[89..121], "enc");
    let (enc_again, sealed_again) =
        hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &x_public,
            &info,
            &padded,
            aad,
            &mut OneBlock(Some(ikm)),
        )
        .expect("seals");
    assert_eq!(enc_again.to_bytes()[..], env[89..121]);
    assert_eq!(hex::encode(sealed_again), hex::encode(ciphertext));

    // The mailbox requests: fields and the member's signature.
    let fetch = bytes(&v, "mailbox_fetch");
    assert_eq!(fetch.len(), 130);
    assert_eq!(fetch[0], 1, "mailbox version");
    assert_eq!(fetch[1..33], author_member.0, "member");
    assert_eq!(be_i64(&fetch[33..41]), T0 + 1_300, "at");
    assert_eq!(fetch[41..57], [0x07; 16], "nonce");
    assert_eq!(fetch[57], 0, "op fetch");
    assert_eq!(fetch[58..66], 0u64.to_be_bytes(), "after");
    verify_strict(
        &author_member.0,
        &[b"buurt/mailbox/v1", &fetch[..66]].concat(),
        &fetch[66..],
    );
    let send = bytes(&v, "mailbox_send");
    assert_eq!(send.len(), 154);
    assert_eq!(send[1..33], resident_member.0, "member");
    assert_eq!(be_i64(&send[33..41]), now, "at");
    assert_eq!(send[57], 2, "op send");
    assert_eq!(hex::encode(&send[58..90]), text(&v, "send_digest"));
    verify_strict(
        &resident_member.0,
        &[b"buurt/mailbox/v1", &send[..90]].concat(),
        &send[90..],
    );

    // The wire heads: tag, hop, u32 length; tag, u16 length.
    let length = (env.len() as u32).to_be_bytes();
    assert_eq!(
        bytes(&v, "deliver_hop0_head"),
        [&[0x01, 0x00][..], &length].concat()
    );
    assert_eq!(
        bytes(&v, "deliver_hop1_head"),
        [&[0x01, 0x01][..], &length].concat()
    );
    assert_eq!(
        bytes(&v, "reply_key_request"),
        [
            &[0x02, 0x00][..],
            &author.certificate.node.0,
            &author_member.0
        ]
        .concat()
    );
    assert_eq!(
        bytes(&v, "reply_key_response_head"),
        [&[0x82][..], &(record.len() as u16).to_be_bytes()].concat()
    );
}

/// The vouch vector of section 15: (1) both statements rebuilt by the crate
/// from the vector's seeds, accepted by `Vouch::verify`, and the withdrawal
/// superseding the vouch; (2) the fields read at the offsets of section 15
/// and the signatures verified with `ed25519-dalek`, without the crate's
/// vouch code.
#[test]
fn vouch_vector_matches() {
    use buurt_protocol::sample::{SCOPE, T0};
    use buurt_protocol::vouch::{Vouch, MAX_VOUCH_LEN, VOUCH_DOMAIN};

    let doc = doc();
    let blocks = fenced_blocks(&doc, "vouch");
    assert_eq!(blocks.len(), 1, "expected one vouch vector");
    let v: Value = serde_json::from_str(&blocks[0])
        .unwrap_or_else(|e| panic!("bad vouch vector JSON: {e}\n{}", blocks[0]));
    let int = |field: &str| {
        v[field]
            .as_i64()
            .unwrap_or_else(|| panic!("vouch vector field `{field}` is not an integer"))
    };
    let regenerate = "docs/protocol.md section 15 is out of date; regenerate its ```vouch block \
                      with `cargo run -q -p buurt-protocol --example vouch_vectors`";

    // The nodes: the fixed identity's of section 11, and the resident's of
    // section 14.
    assert_eq!(text(&v, "name"), "vouch");
    assert_eq!(text(&v, "voucher_seed"), hex::encode(sample::NODE_SEED));
    assert_eq!(array::<32>(&v, "subject_seed"), [0x31; 32]);
    let voucher = Identity::fixed();
    let subject = Identity::new(array(&v, "subject_seed"), [0x32; 32], SCOPE, T0 - 86_400);
    let voucher_id = keys::node_id(&voucher.node);
    let subject_id = subject.certificate.node;
    assert_eq!(subject_id, keys::node_id(&subject.node));
    assert_eq!(int("vouch_at"), T0 + 60);
    assert_eq!(int("withdraw_at"), T0 + 3_600);
    assert_eq!(text(&v, "note"), "Buurtcentrum Dapperbuurt");

    // (1) Both statements, rebuilt by the crate.
    let vouch = Vouch {
        voucher: voucher_id,
        subject: subject_id,
        at: int("vouch_at"),
        vouches: true,
        note: text(&v, "note").into(),
    };
    let withdraw = Vouch {
        at: int("withdraw_at"),
        vouches: false,
        note: String::new(),
        ..vouch.clone()
    };
    for (statement, field) in [(&vouch, "vouch"), (&withdraw, "withdraw")] {
        let signed = statement.clone().sign(&voucher.node).expect("encodes");
        assert_eq!(hex::encode(&signed), text(&v, field), "{regenerate}");
        assert!(signed.len() <= MAX_VOUCH_LEN);
        assert_eq!(
            &Vouch::verify(&bytes(&v, field)).expect("the statement verifies"),
            statement
        );
        assert_eq!(
            hex::encode([VOUCH_DOMAIN, &signed[..signed.len() - 64]].concat()),
            text(&v, &format!("{field}_signing_input"))
        );
    }
    let held_vouch = Vouch::verify(&bytes(&v, "vouch")).expect("verifies");
    let held_withdraw = Vouch::verify(&bytes(&v, "withdraw")).expect("verifies");
    assert!(held_withdraw.supersedes(&held_vouch));
    assert!(!held_vouch.supersedes(&held_withdraw));
    // At the same second, a withdrawal still wins.
    let same_second = Vouch {
        at: held_vouch.at,
        ..held_withdraw.clone()
    };
    assert!(same_second.supersedes(&held_vouch) && !held_vouch.supersedes(&same_second));

    // (2) From the text of section 15: ids, fields and signatures.
    assert_eq!(
        hex::encode(voucher.node.verifying_key().to_bytes()),
        text(&v, "voucher")
    );
    assert_eq!(
        hex::encode(subject.node.verifying_key().to_bytes()),
        text(&v, "subject")
    );
    let voucher_key = array::<32>(&v, "voucher");
    let subject_key = array::<32>(&v, "subject");
    assert_eq!(id_text("bn", b'n', &voucher_key), text(&v, "voucher_id"));
    assert_eq!(id_text("bn", b'n', &subject_key), text(&v, "subject_id"));
    assert_eq!(
        text(&v, "voucher_id").parse::<NodeId>().expect("a node id"),
        voucher_id
    );
    let prefix = b"buurt/vouch/v1";
    assert_eq!(prefix.len(), 14);
    for (field, at, kind, note) in [
        ("vouch", int("vouch_at"), 1u8, text(&v, "note")),
        ("withdraw", int("withdraw_at"), 0, ""),
    ] {
        let s = bytes(&v, field);
        let t = s[74] as usize;
        assert_eq!(s.len(), 139 + t, "{field}: total length");
        assert_eq!(s[0], 1, "{field}: version");
        assert_eq!(s[1..33], voucher_key, "{field}: voucher");
        assert_eq!(s[33..65], subject_key, "{field}: subject");
        assert_eq!(be_i64(&s[65..73]), at, "{field}: at");
        assert_eq!(s[73], kind, "{field}: kind");
        assert_eq!(t, note.len(), "{field}: note length");
        assert_eq!(
            std::str::from_utf8(&s[75..75 + t]).expect("UTF-8"),
            note,
            "{field}: note"
        );
        let signing_input = [&prefix[..], &s[..75 + t]].concat();
        assert_eq!(
            hex::encode(&signing_input),
            text(&v, &format!("{field}_signing_input"))
        );
        verify_strict(&voucher_key, &signing_input, &s[75 + t..]);
    }
    assert_eq!(bytes(&v, "vouch").len(), 163);
    assert_eq!(bytes(&v, "withdraw").len(), 139);
    assert_eq!(bytes(&v, "vouch")[74], 24);
}

#[test]
fn agreement_vector_matches() {
    use buurt_protocol::agreement::{Agreement, SignedEvent, Stage};
    use buurt_protocol::thanks::SignedThanks;

    let doc = doc();
    let blocks = fenced_blocks(&doc, "agreement");
    assert_eq!(blocks.len(), 1, "expected one agreement vector");
    let v: Value = serde_json::from_str(&blocks[0])
        .unwrap_or_else(|e| panic!("bad agreement vector JSON: {e}\n{}", blocks[0]));
    let regenerate = "docs/protocol.md section 16 is out of date; regenerate its ```agreement \
                      block with `cargo run -q -p buurt-protocol --example agreement_vectors`";
    assert_eq!(text(&v, "name"), "agreement");

    // (1) The crate rebuilds every byte string of the vector.
    let s = sample::agreement();
    for (field, b) in [
        ("propose", &s.propose.bytes),
        ("accept", &s.accept.bytes),
        ("returned", &s.returned.bytes),
        ("thanks", &s.thanks.bytes),
        ("pledge", &s.pledge.bytes),
    ] {
        assert_eq!(&hex::encode(b), text(&v, field), "{field}: {regenerate}");
    }
    assert_eq!(
        hex::encode(s.completion.signing_input()),
        text(&v, "completion_signing_input"),
        "{regenerate}"
    );
    // And reads them back: the events fold into an agreement the author
    // accepted, the thanks and pledge verify.
    let events: Vec<SignedEvent> = ["propose", "accept", "returned"]
        .iter()
        .map(|f| SignedEvent::verify(&bytes(&v, f)).expect("the event verifies"))
        .collect();
    let folded = Agreement::fold(events);
    assert_eq!(folded.len(), 1);
    assert_eq!(
        folded[0].stage,
        Stage::Accepted,
        "returned comes after a handover"
    );
    assert_eq!(folded[0].events.len(), 2);
    SignedThanks::verify(&bytes(&v, "thanks")).expect("the thanks verifies");
    SignedThanks::verify(&bytes(&v, "pledge")).expect("the pledge verifies");

    // (2) From the text of section 16, with sha2 and ed25519-dalek directly.
    let proposer_key = keys::from_seed(array(&v, "proposer_member_seed")).verifying_key();
    assert_eq!(
        keys::member_id(&keys::from_seed(array(&v, "proposer_member_seed"))).to_string(),
        text(&v, "proposer")
    );
    let author_key = s.author.member.verifying_key();
    assert_eq!(MemberId::from(author_key).to_string(), text(&v, "author"));
    let check = |key: &VerifyingKey, input: &[u8], sig: &[u8]| {
        let sig = Signature::from_bytes(sig.try_into().expect("64 bytes"));
        key.verify_strict(input, &sig).is_ok()
    };
    // An event: domain || body, signed by its member; the id is SHA-256 of
    // the signed form; a propose's id is the agreement's id.
    let propose = bytes(&v, "propose");
    let (body, sig) = propose.split_at(propose.len() - 64);
    let input = [b"buurt/agreement/v1".as_slice(), body].concat();
    assert_eq!(hex::encode(&input), text(&v, "propose_signing_input"));
    assert!(
        check(&proposer_key, &input, sig),
        "the proposer signed the propose"
    );
    assert_eq!(
        hex::encode(Sha256::digest(&propose)),
        text(&v, "agreement_id")
    );
    // The propose's body: version 1, zero agreement and prev, the proposer,
    // at, action 1, the listing, the author.
    assert_eq!(body[0], 1);
    assert_eq!(&body[1..65], &[0u8; 64][..]);
    assert_eq!(&body[65..97], proposer_key.as_bytes());
    assert_eq!(body[105], 1, "action propose");
    assert_eq!(&body[122..154], author_key.as_bytes());
    // The accept names the agreement and, as prev, the propose.
    let accept = bytes(&v, "accept");
    let agreement_id = bytes(&v, "agreement_id");
    assert_eq!(&accept[1..33], agreement_id.as_slice());
    assert_eq!(
        &accept[33..65],
        agreement_id.as_slice(),
        "prev is the propose"
    );
    assert_eq!(&accept[65..97], author_key.as_bytes());
    assert_eq!(accept[105], 2, "action accept");
    let (body, sig) = accept.split_at(accept.len() - 64);
    assert!(check(
        &author_key,
        &[b"buurt/agreement/v1".as_slice(), body].concat(),
        sig
    ));
    assert_eq!(hex::encode(Sha256::digest(&accept)), text(&v, "accept_id"));
    // The completion: domain || agreement || proposer || other || day ||
    // group; both members sign it, and the returned event carries the
    // proposer's signature as its last 64 bytes before its own.
    let c_input = bytes(&v, "completion_signing_input");
    assert!(c_input.starts_with(b"buurt/completion/v1"));
    let p_sig = bytes(&v, "proposer_completion_signature");
    let a_sig = bytes(&v, "author_completion_signature");
    assert!(check(&proposer_key, &c_input, &p_sig));
    assert!(check(&author_key, &c_input, &a_sig));
    let returned = bytes(&v, "returned");
    assert_eq!(returned[105], 7, "action returned");
    assert_eq!(
        &returned[returned.len() - 128..returned.len() - 64],
        p_sig.as_slice()
    );
    // The thanks: domain || body, signed by the author; the pledge names
    // the thanks by its SHA-256 and carries both completion signatures too.
    let thanks = bytes(&v, "thanks");
    let (body, sig) = thanks.split_at(thanks.len() - 64);
    assert!(check(
        &author_key,
        &[b"buurt/thanks/v1".as_slice(), body].concat(),
        sig
    ));
    assert_eq!(
        hex::encode(Sha256::digest(&thanks)),
        text(&v, "thanks_digest")
    );
    let pledge = bytes(&v, "pledge");
    assert_eq!(pledge[1], 0, "a pledge");
    assert_eq!(thanks[1], 1, "a thanks");
    assert_eq!(
        &pledge[pledge.len() - 96..pledge.len() - 64],
        bytes(&v, "thanks_digest").as_slice()
    );
    for s in [&p_sig, &a_sig] {
        assert!(thanks.windows(64).any(|w| w == s.as_slice()));
        assert!(pledge.windows(64).any(|w| w == s.as_slice()));
    }
}

#[test]
fn circle_vector_matches() {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

    let doc = doc();
    let blocks = fenced_blocks(&doc, "circle");
    assert_eq!(blocks.len(), 1, "expected one circle vector");
    let v: Value = serde_json::from_str(&blocks[0]).expect("circle vector JSON");
    let regenerate = "docs/protocol.md section 18 is out of date; regenerate its ```circle \
                      block with `cargo run -q -p buurt-protocol --example circle_vectors`";
    let s = sample::circle();
    assert_eq!(
        hex::encode(s.key.encode().unwrap()),
        text(&v, "key_record"),
        "{regenerate}"
    );
    assert_eq!(
        hex::encode(s.listing.bytes()),
        text(&v, "listing"),
        "{regenerate}"
    );
    assert_eq!(hex::encode(&s.sealed), text(&v, "sealed"), "{regenerate}");

    // Following the text: the record, the sealed form, the AEAD.
    let record = bytes(&v, "key_record");
    assert_eq!(record[..16], bytes(&v, "circle")[..]);
    assert_eq!(record[16..20], 1u32.to_be_bytes());
    assert_eq!(record[20..52], bytes(&v, "key")[..]);
    let sealed = bytes(&v, "sealed");
    assert_eq!(sealed[..16], bytes(&v, "circle")[..]);
    assert_eq!(sealed[20..32], bytes(&v, "nonce")[..]);
    let aad = [
        b"buurt/circle/v1".as_slice(),
        &sealed[..16],
        &sealed[16..20],
    ]
    .concat();
    assert_eq!(hex::encode(&aad), text(&v, "aad"));
    let key = bytes(&v, "key");
    let plain = ChaCha20Poly1305::new(Key::from_slice(&key))
        .decrypt(
            Nonce::from_slice(&sealed[20..32]),
            Payload {
                msg: &sealed[32..],
                aad: &aad,
            },
        )
        .expect("the sealed listing opens");
    assert_eq!(plain, bytes(&v, "listing"));
    let now = v["now"].as_i64().unwrap();
    let l = validate(&plain, now, &Limits::default()).expect("the listing is valid");
    assert_eq!(
        l.listing.extras.circle.map(hex::encode).as_deref(),
        Some(text(&v, "circle"))
    );
    // The letters' texts.
    let key_text = text(&v, "key_letter_text");
    let b64 = key_text
        .strip_prefix("buurt-circle/v1 key ")
        .expect("the key prefix");
    assert_eq!(
        data_encoding::BASE64.decode(b64.as_bytes()).unwrap(),
        record
    );
    let listing_text = text(&v, "listing_letter_text");
    let b64 = listing_text
        .strip_prefix("buurt-circle/v1 listing ")
        .expect("the listing prefix");
    assert_eq!(
        data_encoding::BASE64.decode(b64.as_bytes()).unwrap(),
        sealed
    );
}
