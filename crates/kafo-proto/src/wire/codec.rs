//! Bounded reading and writing of the primitive values frames are made of.
//!
//! Every length or count read from a peer is checked against the bytes that remain
//! in the frame (and against a per-field maximum) before anything is allocated for it,
//! so a frame can never make the decoder allocate more than its own size.

use std::str::FromStr;

use kafo_model::{ChwId, HouseholdId, Scope};

use super::DecodeFrameError;
use crate::tree::HeadPrefix;

/// Reads primitive values from the body of one frame.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub(crate) fn take(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<&'a [u8], DecodeFrameError> {
        if len > self.bytes.len() {
            return Err(DecodeFrameError::Truncated { field });
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeFrameError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeFrameError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeFrameError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeFrameError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// An unsigned LEB128 integer of at most 64 bits, in its shortest form.
    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u64, DecodeFrameError> {
        let mut value: u64 = 0;
        for index in 0..10 {
            let byte = self.u8(field)?;
            let low = u64::from(byte & 0x7f);
            if index == 9 && byte > 1 {
                return Err(DecodeFrameError::BadVarint { field });
            }
            value |= low << (7 * index);
            if byte & 0x80 == 0 {
                if byte == 0 && index > 0 {
                    return Err(DecodeFrameError::BadVarint { field });
                }
                return Ok(value);
            }
        }
        Err(DecodeFrameError::BadVarint { field })
    }

    /// A varint that must fit `max`.
    pub(crate) fn bounded(
        &mut self,
        field: &'static str,
        max: u64,
    ) -> Result<u64, DecodeFrameError> {
        let value = self.varint(field)?;
        if value > max {
            return Err(DecodeFrameError::TooLong {
                field,
                len: value,
                max,
            });
        }
        Ok(value)
    }

    /// A count of elements that each take at least `min_size` bytes: checked against
    /// `max` and against the bytes left, so it can size an allocation safely.
    pub(crate) fn count(
        &mut self,
        field: &'static str,
        min_size: usize,
        max: usize,
    ) -> Result<usize, DecodeFrameError> {
        let count = self.bounded(field, max as u64)? as usize;
        if count.saturating_mul(min_size.max(1)) > self.bytes.len() {
            return Err(DecodeFrameError::Truncated { field });
        }
        Ok(count)
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub(crate) fn bytes(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeFrameError> {
        let len = self.bounded(field, max as u64)? as usize;
        self.take(len, field)
    }

    pub(crate) fn str(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a str, DecodeFrameError> {
        std::str::from_utf8(self.bytes(field, max)?)
            .map_err(|_| DecodeFrameError::BadUtf8 { field })
    }

    pub(crate) fn household_id(
        &mut self,
        field: &'static str,
    ) -> Result<HouseholdId, DecodeFrameError> {
        let text = self.str(field, kafo_model::ids::MAX_ID_LEN)?;
        HouseholdId::parse(text).map_err(|source| DecodeFrameError::BadId { field, source })
    }

    pub(crate) fn chw(&mut self, field: &'static str) -> Result<ChwId, DecodeFrameError> {
        let text = self.str(field, kafo_model::ids::MAX_ID_LEN)?;
        ChwId::parse(text).map_err(|source| DecodeFrameError::BadId { field, source })
    }

    pub(crate) fn scopes(&mut self, field: &'static str) -> Result<Vec<Scope>, DecodeFrameError> {
        let count = self.count(field, 2, super::MAX_SCOPES)?;
        let mut scopes = Vec::with_capacity(count);
        for _ in 0..count {
            let text = self.str(field, 2 * kafo_model::ids::MAX_ID_LEN + 1)?;
            let scope = Scope::from_str(text)
                .map_err(|source| DecodeFrameError::BadScope { field, source })?;
            scopes.push(scope);
        }
        Ok(scopes)
    }

    pub(crate) fn head_prefixes(
        &mut self,
        field: &'static str,
    ) -> Result<Vec<HeadPrefix>, DecodeFrameError> {
        let count = self.count(field, 8, super::MAX_HEADS)?;
        let mut heads = Vec::with_capacity(count);
        for _ in 0..count {
            heads.push(HeadPrefix(self.array(field)?));
        }
        Ok(heads)
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(self, frame: &'static str) -> Result<(), DecodeFrameError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeFrameError::TrailingBytes {
                frame,
                extra: self.bytes.len(),
            })
        }
    }

    /// Everything left, consuming it.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }
}

/// Appends primitive values to a frame body.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) bytes: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub(crate) fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    pub(crate) fn varint(&mut self, mut value: u64) {
        loop {
            let low = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.bytes.push(low);
                return;
            }
            self.bytes.push(low | 0x80);
        }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.varint(bytes.len() as u64);
        self.raw(bytes);
    }

    pub(crate) fn str(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    pub(crate) fn scopes(&mut self, scopes: &[Scope]) {
        self.varint(scopes.len() as u64);
        for scope in scopes {
            self.str(&scope.to_string());
        }
    }

    pub(crate) fn head_prefixes(&mut self, heads: &[HeadPrefix]) {
        self.varint(heads.len() as u64);
        for head in heads {
            self.raw(&head.0);
        }
    }
}

/// The encoded length of a varint.
pub(crate) fn varint_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_in_shortest_form() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut writer = Writer::default();
            writer.varint(value);
            assert_eq!(writer.bytes.len(), varint_len(value));
            let mut reader = Reader::new(&writer.bytes);
            assert_eq!(reader.varint("v").expect("valid varint"), value);
            reader.finish("test").expect("all consumed");
        }
    }

    #[test]
    fn overlong_and_overflowing_varints_are_rejected() {
        assert!(Reader::new(&[0x80, 0x00]).varint("v").is_err());
        assert!(Reader::new(&[0xff; 10]).varint("v").is_err());
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .varint("v")
                .is_err()
        );
        assert!(Reader::new(&[0x80]).varint("v").is_err());
    }

    #[test]
    fn counts_cannot_exceed_the_remaining_bytes() {
        // claims a million 32-byte heads in a 3-byte body
        let mut writer = Writer::default();
        writer.varint(1_000_000);
        let mut reader = Reader::new(&writer.bytes);
        assert!(matches!(
            reader.count("heads", 32, usize::MAX),
            Err(DecodeFrameError::Truncated { .. })
        ));
    }
}
