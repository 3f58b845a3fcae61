//! HPKE sealing with a seed that comes in as an argument (the crate draws
//! no randomness), and the padding of letters to size buckets.

use hpke::rand_core::{Infallible, TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

use super::{MailError, MAX_BUCKET, MIN_BUCKET};

/// A deterministic stream from a 32-byte seed (SHA-256 of seed and a
/// counter): the only "randomness" a seal uses is the caller's seed.
pub struct SeedRng {
    seed: [u8; 32],
    counter: u64,
    buf: [u8; 32],
    used: usize,
}

impl SeedRng {
    pub fn new(seed: [u8; 32]) -> SeedRng {
        SeedRng {
            seed,
            counter: 0,
            buf: [0; 32],
            used: 32,
        }
    }
}

impl TryRng for SeedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for out in dst {
            if self.used == 32 {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.buf.copy_from_slice(&h.finalize());
                self.counter += 1;
                self.used = 0;
            }
            *out = self.buf[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

impl TryCryptoRng for SeedRng {}

/// The bucket a plaintext of `len` bytes is padded to (one byte more for
/// the end mark): 256, 512, … 16,384.
pub fn bucket(len: usize) -> Result<usize, MailError> {
    let need = len + 1;
    let mut b = MIN_BUCKET;
    while b < need {
        b *= 2;
    }
    if b > MAX_BUCKET {
        return Err(MailError::TextTooLong);
    }
    Ok(b)
}

/// `plain`, then 0x80, then zeros up to its bucket.
pub fn pad(plain: &[u8]) -> Result<Vec<u8>, MailError> {
    let size = bucket(plain.len())?;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(plain);
    out.push(0x80);
    out.resize(size, 0);
    Ok(out)
}

/// The plaintext of a padded buffer.
pub fn unpad(padded: &[u8]) -> Result<&[u8], MailError> {
    let end = padded
        .iter()
        .rposition(|b| *b != 0)
        .ok_or(MailError::BadSize)?;
    if padded[end] != 0x80 {
        return Err(MailError::BadSize);
    }
    Ok(&padded[..end])
}

/// Whether `n` is a padded size.
pub fn is_bucket(n: usize) -> bool {
    (MIN_BUCKET..=MAX_BUCKET).contains(&n) && n.is_power_of_two()
}
