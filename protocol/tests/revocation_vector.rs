//! Checks the revocation vector of `docs/protocol.md` (section 13) against
//! this crate, and against the text: the certificate's fingerprint, the
//! encoding and the node's signature are recomputed with `sha2` and
//! `ed25519-dalek` directly, as another implementation would.

use buurt_protocol::revocation::{Revocation, REVOCATION_LEN};
use buurt_protocol::{keys, sample, Certificate};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use sha2::{Digest, Sha256};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");

/// The one block opened with ```` ```revocation ````, as (name, value) lines.
fn revocation_block() -> Vec<(String, String)> {
    let doc =
        std::fs::read_to_string(DOC_PATH).unwrap_or_else(|e| panic!("cannot read {DOC_PATH}: {e}"));
    let mut blocks = doc.split("\n```revocation\n").skip(1);
    let block = blocks.next().expect("a ```revocation block");
    assert!(blocks.next().is_none(), "expected one revocation vector");
    let block = block.split("\n```").next().expect("a closed block");
    block
        .lines()
        .map(|l| {
            let mut words = l.split_whitespace();
            let (Some(name), Some(value), None) = (words.next(), words.next(), words.next()) else {
                panic!("revocation vector line `{l}` is not `name value`");
            };
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> &'a str {
    block
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("revocation vector lacks {name}"))
}

fn bytes(block: &[(String, String)], name: &str) -> Vec<u8> {
    hex::decode(field(block, name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn array<const N: usize>(block: &[(String, String)], name: &str) -> [u8; N] {
    bytes(block, name)
        .try_into()
        .unwrap_or_else(|_| panic!("{name} is not {N} bytes"))
}

/// The block is the generator's output: every field is what
/// `sample::revocation` and the fixed identity give.
#[test]
fn revocation_vector_matches_the_code() {
    let block = revocation_block();
    let names: Vec<&str> = block.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "node_seed",
            "node_public_key",
            "member_seed",
            "member_public_key",
            "certificate_bytes",
            "certificate",
            "revoked_at",
            "signing_input",
            "signed_bytes",
        ]
    );
    let id = sample::Identity::fixed();
    let rev = sample::revocation();
    assert_eq!(array::<32>(&block, "node_seed"), sample::NODE_SEED);
    assert_eq!(array::<32>(&block, "member_seed"), sample::MEMBER_SEED);
    assert_eq!(
        bytes(&block, "certificate_bytes"),
        id.certificate.to_bytes().unwrap()
    );
    assert_eq!(array::<32>(&block, "certificate"), rev.certificate);
    assert_eq!(field(&block, "revoked_at"), rev.revoked_at.to_string());
    assert_eq!(bytes(&block, "signing_input"), rev.signing_input());
    let signed = rev.clone().sign(&id.node);
    assert_eq!(signed.len(), REVOCATION_LEN);
    assert_eq!(bytes(&block, "signed_bytes"), signed);
    assert_eq!(
        Revocation::verify(&bytes(&block, "signed_bytes")).unwrap(),
        rev
    );
}

/// The block can be recomputed from the text of sections 1, 4 and 13 alone,
/// as its steps say.
#[test]
fn revocation_vector_recomputes_from_the_text() {
    let block = revocation_block();
    // 1. Keys from the seeds.
    let node = keys::from_seed(array(&block, "node_seed"));
    let member = keys::from_seed(array(&block, "member_seed"));
    let node_public: [u8; 32] = array(&block, "node_public_key");
    let member_public: [u8; 32] = array(&block, "member_public_key");
    assert_eq!(node.verifying_key().to_bytes(), node_public);
    assert_eq!(member.verifying_key().to_bytes(), member_public);

    // 2. The certificate, and its fingerprint.
    let cert_bytes = bytes(&block, "certificate_bytes");
    let cert = Certificate::from_bytes(&cert_bytes).expect("the certificate decodes");
    assert_eq!(cert.node.0, node_public);
    assert_eq!(cert.member.0, member_public);
    assert_eq!(&cert_bytes[1..33], node_public);
    assert_eq!(&cert_bytes[33..65], member_public);
    let signed_part = cert_bytes.len() - 64;
    let mut cert_input = b"buurt/certificate/v1".to_vec();
    cert_input.extend_from_slice(&cert_bytes[..signed_part]);
    verify_strict(&node_public, &cert_input, &cert_bytes[signed_part..]);
    let fingerprint: [u8; 32] = Sha256::new()
        .chain_update(b"buurt/certificate/v1")
        .chain_update(&cert_bytes)
        .finalize()
        .into();
    assert_eq!(fingerprint, array::<32>(&block, "certificate"));

    // 3. The encoding: version, node, member, fingerprint, revoked_at.
    let revoked_at: i64 = field(&block, "revoked_at").parse().unwrap();
    let mut body = vec![1u8];
    body.extend_from_slice(&node_public);
    body.extend_from_slice(&member_public);
    body.extend_from_slice(&fingerprint);
    body.extend_from_slice(&revoked_at.to_be_bytes());
    assert_eq!(body.len(), 105);
    let mut input = b"buurt/revocation/v1".to_vec();
    input.extend_from_slice(&body);
    assert_eq!(input, bytes(&block, "signing_input"));
    let signed = bytes(&block, "signed_bytes");
    assert_eq!(signed.len(), 169);
    assert_eq!(signed[..105], body[..]);

    // 4. The node's signature verifies, and signing again gives it.
    verify_strict(&node_public, &input, &signed[105..]);
    assert_eq!(node.sign(&input).to_bytes()[..], signed[105..]);
}

fn verify_strict(public_key: &[u8; 32], message: &[u8], signature: &[u8]) {
    let key = VerifyingKey::from_bytes(public_key).expect("public key is a valid point");
    assert!(!key.is_weak(), "public key is of small order");
    let signature: [u8; 64] = signature.try_into().expect("64-byte signature");
    key.verify_strict(message, &Signature::from_bytes(&signature))
        .expect("signature verifies strictly");
}
