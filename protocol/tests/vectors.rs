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
        assert_eq!(body[0], 1, "{name}: version byte");
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

/// The revocation vector of section 13: re-signed from `sample::revocation`
/// to the same bytes, and verified.
#[test]
fn revocation_vector_matches() {
    use buurt_protocol::revocation::{Revocation, REVOCATION_LEN};
    let doc = doc();
    let blocks = fenced_blocks(&doc, "revocation");
    assert_eq!(blocks.len(), 1, "expected one revocation vector");
    let field = |name: &str| -> String {
        blocks[0]
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("revocation vector lacks {name}"))
    };
    let rev = buurt_protocol::sample::revocation();
    let node = buurt_protocol::keys::from_seed(
        hex::decode(field("node_seed")).unwrap().try_into().unwrap(),
    );
    assert_eq!(field("certificate"), hex::encode(rev.certificate));
    assert_eq!(field("revoked_at"), rev.revoked_at.to_string());
    assert_eq!(field("signing_input"), hex::encode(rev.signing_input()));
    let signed = rev.clone().sign(&node);
    assert_eq!(field("signed_bytes"), hex::encode(&signed));
    assert_eq!(signed.len(), REVOCATION_LEN);
    let doc_bytes = hex::decode(field("signed_bytes")).unwrap();
    assert_eq!(Revocation::verify(&doc_bytes).unwrap(), rev);
}
