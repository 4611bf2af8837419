//! The compact binary form shared by every encoded object: a bounds-checked
//! reader that names the field and byte offset of whatever is wrong, minimal
//! LEB128 varints, and the matching writer helpers.

use std::fmt;

/// What is wrong with some bytes, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} at byte {offset}: {kind}")]
pub struct DecodeError {
    /// The field being read (for example `chain.cert.scopes`).
    pub field: &'static str,
    /// The byte offset into the decoded input where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ends before the field does.
    Truncated {
        /// How many bytes the field needs.
        needed: usize,
        /// How many are left.
        remaining: usize,
    },
    /// A format version this build does not know.
    UnsupportedVersion(u8),
    /// A length or count above its bound.
    TooLarge {
        /// The length or count found.
        found: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A varint longer than 10 bytes, overflowing u64, or not minimally encoded.
    BadVarint,
    /// Bytes left over after the object.
    TrailingBytes(usize),
    /// Not valid UTF-8.
    NotUtf8,
    /// Not an ed25519 public key (or not an ed25519 peer id).
    BadKey,
    /// An unknown tag or enum value.
    UnknownTag(u8),
    /// Not in the one canonical form (unsorted, duplicate, redundant entry).
    NotCanonical,
    /// A value that breaks a rule of the format (explained).
    Invalid(String),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, remaining } => {
                write!(f, "truncated: needs {needed} bytes, {remaining} left")
            }
            Self::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            Self::TooLarge { found, max } => write!(f, "{found} is above the limit of {max}"),
            Self::BadVarint => write!(f, "malformed or non-minimal varint"),
            Self::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes"),
            Self::NotUtf8 => write!(f, "not valid UTF-8"),
            Self::BadKey => write!(f, "not a valid ed25519 public key"),
            Self::UnknownTag(t) => write!(f, "unknown tag {t}"),
            Self::NotCanonical => write!(f, "not in canonical order (unsorted or duplicate)"),
            Self::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl DecodeError {
    pub(crate) fn new(field: &'static str, offset: usize, kind: DecodeErrorKind) -> Self {
        Self {
            field,
            offset,
            kind,
        }
    }

    /// Shifts the offset by `base` (for an object decoded inside another).
    pub(crate) fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }
}

/// A cursor over untrusted bytes. Every read checks bounds first.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn error(&self, field: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(field, self.pos, kind)
    }

    pub(crate) fn take(
        &mut self,
        field: &'static str,
        len: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let slice = self
            .pos
            .checked_add(len)
            .and_then(|end| self.bytes.get(self.pos..end));
        match slice {
            Some(slice) => {
                self.pos += len;
                Ok(slice)
            }
            None => Err(self.error(
                field,
                DecodeErrorKind::Truncated {
                    needed: len,
                    remaining: self.remaining(),
                },
            )),
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(field, 1)?.first().copied().unwrap_or_default())
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    /// A minimal LEB128 u64.
    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for index in 0..10u32 {
            let byte = self.u8(field)?;
            let bits = u64::from(byte & 0x7f);
            if index == 9 && byte > 1 {
                return Err(DecodeError::new(field, start, DecodeErrorKind::BadVarint));
            }
            value |= bits << (7 * index);
            if byte & 0x80 == 0 {
                if index > 0 && byte == 0 {
                    return Err(DecodeError::new(field, start, DecodeErrorKind::BadVarint));
                }
                return Ok(value);
            }
        }
        Err(DecodeError::new(field, start, DecodeErrorKind::BadVarint))
    }

    /// A varint length or count at most `max`, and (each item being at least
    /// `min_item` bytes long) no more than what is left: checked before anything is allocated.
    pub(crate) fn count(
        &mut self,
        field: &'static str,
        max: usize,
        min_item: usize,
    ) -> Result<usize, DecodeError> {
        let start = self.pos;
        let found = self.varint(field)?;
        if found > max as u64 {
            return Err(DecodeError::new(
                field,
                start,
                DecodeErrorKind::TooLarge {
                    found,
                    max: max as u64,
                },
            ));
        }
        let count = usize::try_from(found).unwrap_or(usize::MAX);
        let needed = count.saturating_mul(min_item.max(1));
        if min_item > 0 && needed > self.remaining() {
            return Err(DecodeError::new(
                field,
                start,
                DecodeErrorKind::Truncated {
                    needed,
                    remaining: self.remaining(),
                },
            ));
        }
        Ok(count)
    }

    /// A varint-length-prefixed byte string of at most `max` bytes.
    pub(crate) fn bytes(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.count(field, max, 1)?;
        self.take(field, len)
    }

    pub(crate) fn string(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let raw = self.bytes(field, max)?;
        std::str::from_utf8(raw)
            .map_err(|_| DecodeError::new(field, start, DecodeErrorKind::NotUtf8))
    }

    pub(crate) fn finish(&self, field: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(field, DecodeErrorKind::TrailingBytes(n))),
        }
    }

    pub(crate) fn version(&mut self, field: &'static str, expected: u8) -> Result<(), DecodeError> {
        let start = self.pos;
        let version = self.u8(field)?;
        if version == expected {
            Ok(())
        } else {
            Err(DecodeError::new(
                field,
                start,
                DecodeErrorKind::UnsupportedVersion(version),
            ))
        }
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_non_minimal_forms() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.varint("v"), Ok(value));
            assert_eq!(reader.remaining(), 0);
        }
        assert!(Reader::new(&[0x80, 0x00]).varint("v").is_err());
        assert!(Reader::new(&[0xff; 11]).varint("v").is_err());
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .varint("v")
                .is_err()
        );
    }

    #[test]
    fn counts_are_checked_against_the_remaining_bytes() {
        let mut out = Vec::new();
        put_varint(&mut out, 1000);
        let error = Reader::new(&out)
            .count("items", 4096, 8)
            .expect_err("too few bytes");
        assert_eq!(error.field, "items");
        assert!(matches!(error.kind, DecodeErrorKind::Truncated { .. }));
    }
}
