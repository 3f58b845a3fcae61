//! A listing's photo: the image bytes a listing names by SHA-256, size and
//! type ([`crate::listing::Photo`]), and `/buurt/photo/1`, by which a node
//! fetches them from a peer.
//!
//! ```text
//! request  = sha256 (32)
//! response = 0x00 not here
//!          | 0x01 | the image bytes (to the end of the stream)
//! ```
//!
//! A receiver keeps (and serves on) only bytes that [`check`] accepts
//! against the listing's [`Photo`]; bytes that do not match count against
//! the peer that sent them.

use sha2::{Digest, Sha256};

use crate::codec::DecodeError;
use crate::listing::{Media, Photo, MAX_PHOTO_BYTES};

/// Name of the request-response protocol.
pub const PROTOCOL: &str = "/buurt/photo/1";
/// Encoded request size.
pub const MAX_REQUEST: usize = 32;
/// Largest encoded response.
pub const MAX_RESPONSE: usize = 1 + MAX_PHOTO_BYTES as usize;

/// Why image bytes are not the photo a listing names, or not a photo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("a photo is 1 byte to 300 KB; this is {0} bytes")]
    Size(usize),
    #[error("not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("the image is not the one the listing names (its size or SHA-256 differs)")]
    Mismatch,
}

/// What the listing would say of `bytes`: their hash, size and type.
pub fn describe(bytes: &[u8]) -> Result<Photo, PhotoError> {
    if bytes.is_empty() || bytes.len() > MAX_PHOTO_BYTES as usize {
        return Err(PhotoError::Size(bytes.len()));
    }
    let media = Media::sniff(bytes).ok_or(PhotoError::NotAnImage)?;
    Ok(Photo {
        sha256: Sha256::digest(bytes).into(),
        size: bytes.len() as u32,
        media,
    })
}

/// Accepts `bytes` only if they are exactly the photo `want` names.
pub fn check(want: &Photo, bytes: &[u8]) -> Result<(), PhotoError> {
    if describe(bytes)? == *want {
        Ok(())
    } else {
        Err(PhotoError::Mismatch)
    }
}

/// A node's request: the photo with this hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request(pub [u8; 32]);

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        self.0.to_vec()
    }

    pub fn decode(b: &[u8]) -> Result<Request, DecodeError> {
        match <[u8; 32]>::try_from(b) {
            Ok(h) => Ok(Request(h)),
            Err(_) if b.len() < 32 => Err(DecodeError::Truncated("photo request")),
            Err(_) => Err(DecodeError::TrailingBytes(b.len() - 32)),
        }
    }
}

/// The answer: the bytes (unchecked until the asker checks them), or not
/// here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    NotHere,
    Photo(Vec<u8>),
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Response::NotHere => vec![0],
            Response::Photo(b) => {
                let mut v = Vec::with_capacity(1 + b.len());
                v.push(1);
                v.extend_from_slice(b);
                v
            }
        }
    }

    pub fn decode(b: &[u8]) -> Result<Response, DecodeError> {
        match b.split_first() {
            Some((0, [])) => Ok(Response::NotHere),
            Some((0, rest)) => Err(DecodeError::TrailingBytes(rest.len())),
            Some((1, rest)) => Ok(Response::Photo(rest.to_vec())),
            Some((&value, _)) => Err(DecodeError::BadEnum {
                field: "photo response",
                value,
            }),
            None => Err(DecodeError::Truncated("photo response")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_bytes_pass() {
        let png = b"\x89PNG\r\n\x1a\nrest of an image".to_vec();
        let p = describe(&png).unwrap();
        assert_eq!(p.media, Media::Png);
        assert_eq!(check(&p, &png), Ok(()));
        let mut tampered = png.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(check(&p, &tampered), Err(PhotoError::Mismatch));
        assert_eq!(describe(b"GIF89a"), Err(PhotoError::NotAnImage));
        assert_eq!(describe(&[]), Err(PhotoError::Size(0)));
    }

    #[test]
    fn wire_round_trip() {
        for r in [Response::NotHere, Response::Photo(vec![1, 2, 3])] {
            assert_eq!(Response::decode(&r.encode()), Ok(r));
        }
        assert!(Response::decode(&[0, 0]).is_err());
        assert!(Response::decode(&[2]).is_err());
        assert_eq!(Request::decode(&[7; 32]), Ok(Request([7; 32])));
        assert!(Request::decode(&[7; 31]).is_err());
        assert!(Request::decode(&[7; 33]).is_err());
    }
}
