//! Primitive readers and writers of the canonical encoding.
//!
//! Integers are fixed-width big-endian; strings are a length prefix (1 or 2
//! bytes, big-endian) followed by UTF-8; options are a tag byte `0` (absent) or
//! `1` (present) followed by the value. There is exactly one encoding of every
//! value, which [`Reader`] enforces: any other byte sequence is an error.

/// Why bytes could not be decoded. Every variant means "not a canonical
/// encoding"; none of them is a signature or policy question.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("ends early while reading {0}")]
    Truncated(&'static str),
    #[error("{0} unexpected bytes after the end")]
    TrailingBytes(usize),
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    #[error("{0} is not valid UTF-8")]
    BadUtf8(&'static str),
    #[error("{field} has unknown value {value}")]
    BadEnum { field: &'static str, value: u8 },
    #[error("{0} has an option tag other than 0 or 1")]
    BadOptionTag(&'static str),
    #[error("not in canonical form")]
    NonCanonical,
    #[error("{0}")]
    BadScope(crate::scope::ScopeError),
}

/// Appends canonical encodings to a byte vector.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
    /// The first string field that did not fit its length prefix.
    overflow: Option<&'static str>,
}

/// A value that cannot be encoded at all (a string longer than its length
/// prefix allows). Validation limits are far below these ceilings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is too long to encode")]
pub struct EncodeError(pub &'static str);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// A string of at most 255 bytes.
    pub fn str8(&mut self, s: &str, what: &'static str) {
        match u8::try_from(s.len()) {
            Ok(len) => {
                self.buf.push(len);
                self.buf.extend_from_slice(s.as_bytes());
            }
            Err(_) => {
                self.overflow.get_or_insert(what);
            }
        }
    }
    /// A string of at most 65,535 bytes.
    pub fn str16(&mut self, s: &str, what: &'static str) {
        match u16::try_from(s.len()) {
            Ok(len) => {
                self.buf.extend_from_slice(&len.to_be_bytes());
                self.buf.extend_from_slice(s.as_bytes());
            }
            Err(_) => {
                self.overflow.get_or_insert(what);
            }
        }
    }
    /// The encoded bytes, or the first field that did not fit.
    pub fn finish(self) -> Result<Vec<u8>, EncodeError> {
        match self.overflow {
            None => Ok(self.buf),
            Some(what) => Err(EncodeError(what)),
        }
    }
}

/// Reads canonical encodings from a byte slice, never panicking.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError::Truncated(what))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated(what))?;
        self.pos = end;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
    pub fn option(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::BadOptionTag(what)),
        }
    }
    fn utf8(&mut self, n: usize, what: &'static str) -> Result<String, DecodeError> {
        let raw = self.take(n, what)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadUtf8(what))
    }
    pub fn str8(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let n = self.u8(what)? as usize;
        self.utf8(n, what)
    }
    pub fn str16(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let n = self.u16(what)? as usize;
        self.utf8(n, what)
    }
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.data.len() - self.pos {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}
