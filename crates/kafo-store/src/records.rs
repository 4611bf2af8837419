//! The binary encoding of the store's own records: index entries, aggregates,
//! totals and the schema version.
//!
//! Fixed-width big-endian integers and length-prefixed strings; a record that does
//! not decode is reported as [`ReadError::CorruptRecord`], never a panic.

use automerge::ChangeHash;
use kafo_model::{AreaId, ChwId, Fingerprint, HouseholdScope};

use crate::error::ReadError;

/// What the store keeps about one document beside its bytes (`h/<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocEntry {
    /// Incremented by every write of the document; lets a reader detect a write
    /// that happened while it read the document's bytes.
    pub(crate) generation: u64,
    /// The scope the document is indexed under.
    pub(crate) scope: HouseholdScope,
    /// The document's heads, sorted.
    pub(crate) heads: Vec<ChangeHash>,
    /// Members counted in the totals for this document.
    pub(crate) members: u64,
    /// Visits counted in the totals for this document.
    pub(crate) visits: u64,
    /// Size of the snapshot in bytes.
    pub(crate) snapshot_len: u64,
    /// Sequence number of the oldest change chunk still stored.
    pub(crate) first_chunk: u64,
    /// Sequence number the next change chunk gets.
    pub(crate) next_chunk: u64,
    /// Total size of the stored change chunks in bytes.
    pub(crate) chunk_bytes: u64,
}

impl DocEntry {
    /// How many change chunks follow the snapshot.
    pub(crate) fn chunks(&self) -> u64 {
        self.next_chunk - self.first_chunk
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80 + 32 * self.heads.len());
        put_u64(&mut out, self.generation);
        put_str(&mut out, self.scope.area.as_str());
        put_str(&mut out, self.scope.chw.as_str());
        for value in [
            self.members,
            self.visits,
            self.snapshot_len,
            self.first_chunk,
            self.next_chunk,
            self.chunk_bytes,
        ] {
            put_u64(&mut out, value);
        }
        put_u64(&mut out, self.heads.len() as u64);
        for head in &self.heads {
            out.extend_from_slice(&head.0);
        }
        out
    }

    pub(crate) fn decode(key: &[u8], bytes: &[u8]) -> Result<Self, ReadError> {
        let mut reader = Reader::new(key, bytes);
        let generation = reader.u64()?;
        let area = AreaId::parse(reader.str()?).map_err(|_| reader.corrupt("area"))?;
        let chw = ChwId::parse(reader.str()?).map_err(|_| reader.corrupt("chw"))?;
        let members = reader.u64()?;
        let visits = reader.u64()?;
        let snapshot_len = reader.u64()?;
        let first_chunk = reader.u64()?;
        let next_chunk = reader.u64()?;
        let chunk_bytes = reader.u64()?;
        if next_chunk < first_chunk {
            return Err(reader.corrupt("chunk sequence"));
        }
        let count = reader.u64()?;
        // Each head takes 32 bytes: a count the bytes cannot hold is corrupt, and
        // checking first keeps a corrupt count from driving an allocation.
        if count > (reader.remaining() / 32) as u64 {
            return Err(reader.corrupt("heads"));
        }
        let mut heads = Vec::with_capacity(count as usize);
        for _ in 0..count {
            heads.push(ChangeHash(reader.array()?));
        }
        reader.finish()?;
        Ok(Self {
            generation,
            scope: HouseholdScope { area, chw },
            heads,
            members,
            visits,
            snapshot_len,
            first_chunk,
            next_chunk,
            chunk_bytes,
        })
    }
}

/// The aggregate of one `area/chw` (`a/<area>/<chw>`): the sum of its items'
/// fingerprints and how many items there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Aggregate {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) count: u64,
}

impl Aggregate {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        out.extend_from_slice(&self.fingerprint.0);
        put_u64(&mut out, self.count);
        out
    }

    pub(crate) fn decode(key: &[u8], bytes: &[u8]) -> Result<Self, ReadError> {
        let mut reader = Reader::new(key, bytes);
        let fingerprint = Fingerprint(reader.array()?);
        let count = reader.u64()?;
        reader.finish()?;
        Ok(Self { fingerprint, count })
    }
}

/// Encodes the totals record.
pub(crate) fn encode_totals(totals: &crate::Totals) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    put_u64(&mut out, totals.households);
    put_u64(&mut out, totals.members);
    put_u64(&mut out, totals.visits);
    out
}

/// Decodes the totals record.
pub(crate) fn decode_totals(key: &[u8], bytes: &[u8]) -> Result<crate::Totals, ReadError> {
    let mut reader = Reader::new(key, bytes);
    let totals = crate::Totals {
        households: reader.u64()?,
        members: reader.u64()?,
        visits: reader.u64()?,
    };
    reader.finish()?;
    Ok(totals)
}

/// Decodes a record that is one u64 (the schema version).
pub(crate) fn decode_u64(key: &[u8], bytes: &[u8]) -> Result<u64, ReadError> {
    let mut reader = Reader::new(key, bytes);
    let value = reader.u64()?;
    reader.finish()?;
    Ok(value)
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    // Identifiers are at most 64 bytes (kafo_model::ids::MAX_ID_LEN), so the length fits a byte.
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

/// A cursor over a record's bytes that reports truncation as corruption of `key`.
struct Reader<'a> {
    key: &'a [u8],
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(key: &'a [u8], bytes: &'a [u8]) -> Self {
        Self { key, bytes }
    }

    fn corrupt(&self, what: &'static str) -> ReadError {
        ReadError::corrupt_record(self.key, what)
    }

    fn remaining(&self) -> usize {
        self.bytes.len()
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ReadError> {
        if self.bytes.len() < len {
            return Err(self.corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn str(&mut self) -> Result<&'a str, ReadError> {
        let len = usize::from(self.array::<1>()?[0]);
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| self.corrupt("string"))
    }

    fn finish(self) -> Result<(), ReadError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> DocEntry {
        DocEntry {
            generation: 7,
            scope: HouseholdScope {
                area: AreaId::parse("sikoro").expect("valid"),
                chw: ChwId::parse("chw-01").expect("valid"),
            },
            heads: vec![ChangeHash([1; 32]), ChangeHash([2; 32])],
            members: 3,
            visits: 12,
            snapshot_len: 1600,
            first_chunk: 4,
            next_chunk: 6,
            chunk_bytes: 300,
        }
    }

    #[test]
    fn entries_round_trip() {
        let entry = entry();
        let bytes = entry.encode();
        assert_eq!(DocEntry::decode(b"h/x", &bytes).expect("decodes"), entry);
        assert_eq!(entry.chunks(), 2);
    }

    #[test]
    fn damaged_entries_are_corrupt_not_panics() {
        let bytes = entry().encode();
        for len in 0..bytes.len() {
            assert!(matches!(
                DocEntry::decode(b"h/x", &bytes[..len]),
                Err(ReadError::CorruptRecord { .. })
            ));
        }
        let mut huge_count = bytes.clone();
        let at = bytes.len() - 64 - 8;
        huge_count[at..at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(DocEntry::decode(b"h/x", &huge_count).is_err());
        let mut longer = bytes;
        longer.push(0);
        assert!(DocEntry::decode(b"h/x", &longer).is_err());
    }

    #[test]
    fn aggregates_and_totals_round_trip() {
        let aggregate = Aggregate {
            fingerprint: Fingerprint([9; 32]),
            count: 42,
        };
        assert_eq!(
            Aggregate::decode(b"a/x", &aggregate.encode()).expect("decodes"),
            aggregate
        );
        let totals = crate::Totals {
            households: 1,
            members: 2,
            visits: 3,
        };
        assert_eq!(
            decode_totals(b"s/totals", &encode_totals(&totals)).expect("decodes"),
            totals
        );
        assert!(decode_u64(b"s/version", &[1, 2]).is_err());
    }
}
