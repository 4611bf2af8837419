//! Payload batches: documents, changes and sync messages, deflated together.
//!
//! Decompression is bounded: the frame announces the uncompressed length, the receiver
//! checks it against its window before inflating, and inflating stops at that length.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use kafo_model::HouseholdId;

use super::DecodeFrameError;
use super::codec::{Reader, Writer};

/// The largest single entry: 1 MiB (a household document is a few KiB).
pub const MAX_ENTRY: usize = 1024 * 1024;

/// What an entry carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// Raw automerge change chunks the receiver lacks (`get_changes` against its heads).
    Changes,
    /// A whole document in compacted `save()` form, for a receiver that lacks it.
    Document,
    /// An automerge sync message, for documents whose heads the sender did not know.
    Sync,
}

impl EntryKind {
    fn code(self) -> u8 {
        match self {
            Self::Changes => 0,
            Self::Document => 1,
            Self::Sync => 2,
        }
    }
}

/// One entry of a batch.
#[derive(Clone, PartialEq, Eq)]
pub struct PayloadEntry {
    /// The document.
    pub id: HouseholdId,
    /// What the bytes are.
    pub kind: EntryKind,
    /// The bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for PayloadEntry {
    /// Never prints the bytes: they are record contents.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadEntry")
            .field("kind", &self.kind)
            .field("len", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl PayloadEntry {
    /// Encoded size of the entry inside a batch.
    pub fn encoded_len(&self) -> usize {
        1 + super::varint_len(self.id.as_str().len() as u64)
            + self.id.as_str().len()
            + super::varint_len(self.data.len() as u64)
            + self.data.len()
    }
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodePayloadError {
    /// The deflate stream is corrupt.
    #[error("payload is not a valid deflate stream")]
    Corrupt,
    /// The stream inflates to more or fewer bytes than announced.
    #[error("payload inflates to a length other than the {announced} bytes announced")]
    WrongLength {
        /// The announced uncompressed length.
        announced: u64,
    },
    /// The entries inside are malformed.
    #[error("payload entries: {0}")]
    Entries(#[from] DecodeFrameError),
    /// An entry kind this version does not know.
    #[error("unknown payload entry kind {found}")]
    UnknownKind {
        /// The byte found.
        found: u8,
    },
}

/// Encodes entries into an uncompressed batch.
pub fn encode_entries(entries: &[PayloadEntry]) -> Vec<u8> {
    let mut w = Writer::default();
    w.varint(entries.len() as u64);
    for entry in entries {
        w.u8(entry.kind.code());
        w.str(entry.id.as_str());
        w.bytes(&entry.data);
    }
    w.bytes
}

/// Decodes an uncompressed batch.
pub fn decode_entries(raw: &[u8]) -> Result<Vec<PayloadEntry>, DecodePayloadError> {
    let mut r = Reader::new(raw);
    let count = r.count("entries", 3, super::MAX_LIST)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = match r.u8("entry kind")? {
            0 => EntryKind::Changes,
            1 => EntryKind::Document,
            2 => EntryKind::Sync,
            found => return Err(DecodePayloadError::UnknownKind { found }),
        };
        let id = r.household_id("entry id")?;
        let data = r.bytes("entry data", MAX_ENTRY)?.to_vec();
        entries.push(PayloadEntry { id, kind, data });
    }
    r.finish("payload")?;
    Ok(entries)
}

/// Deflates (raw deflate, no header) a batch.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(raw.len() / 2 + 64);
    loop {
        let consumed = compressor.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        match compressor.compress_vec(&raw[consumed..], &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return out,
            Ok(Status::Ok | Status::BufError) => {}
            // Compressing in-memory bytes into a growing buffer cannot fail; if zlib-rs
            // ever reports an error, fall back to the stored form below.
            Err(_) => return stored(raw),
        }
    }
}

/// A raw deflate stream of stored (uncompressed) blocks.
fn stored(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 65_535 * 5 + 5);
    let mut chunks = raw.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// Inflates exactly `raw_len` bytes from `compressed`, never allocating more.
pub fn decompress(compressed: &[u8], raw_len: usize) -> Result<Vec<u8>, DecodePayloadError> {
    let mut inflater = Decompress::new(false);
    // One spare byte tells "exactly raw_len" from "longer than announced".
    let mut out = Vec::with_capacity(raw_len + 1);
    loop {
        let consumed = inflater.total_in() as usize;
        let before = (consumed, out.len());
        let status = inflater
            .decompress_vec(&compressed[consumed..], &mut out, FlushDecompress::Finish)
            .map_err(|_| DecodePayloadError::Corrupt)?;
        if out.len() > raw_len {
            return Err(DecodePayloadError::WrongLength {
                announced: raw_len as u64,
            });
        }
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if (inflater.total_in() as usize, out.len()) == before {
                    // No progress: the stream is truncated.
                    return Err(DecodePayloadError::WrongLength {
                        announced: raw_len as u64,
                    });
                }
            }
        }
    }
    if out.len() != raw_len || inflater.total_in() as usize != compressed.len() {
        return Err(DecodePayloadError::WrongLength {
            announced: raw_len as u64,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, kind: EntryKind, data: &[u8]) -> PayloadEntry {
        PayloadEntry {
            id: id.parse().expect("valid id"),
            kind,
            data: data.to_vec(),
        }
    }

    #[test]
    fn batches_round_trip_through_compression() {
        let entries = vec![
            entry("h1", EntryKind::Changes, &[7; 500]),
            entry("h2", EntryKind::Document, b"document bytes"),
            entry("h3", EntryKind::Sync, &[]),
        ];
        let raw = encode_entries(&entries);
        assert_eq!(
            raw.len(),
            1 + entries.iter().map(PayloadEntry::encoded_len).sum::<usize>()
        );
        let compressed = compress(&raw);
        assert!(compressed.len() < raw.len());
        let back = decompress(&compressed, raw.len()).expect("round trip");
        assert_eq!(decode_entries(&back).expect("valid entries"), entries);
    }

    #[test]
    fn inflation_stops_at_the_announced_length() {
        let bomb = compress(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 5_000);
        assert!(matches!(
            decompress(&bomb, 1000),
            Err(DecodePayloadError::WrongLength { .. })
        ));
        assert!(matches!(
            decompress(&bomb, (1 << 20) + 1),
            Err(DecodePayloadError::WrongLength { .. })
        ));
        assert!(decompress(&bomb[..bomb.len() / 2], 1 << 20).is_err());
        assert!(decompress(&[0xff, 0xff, 0xff], 10).is_err());
    }

    #[test]
    fn the_stored_fallback_is_valid_deflate() {
        for len in [0usize, 1, 65_535, 65_536, 200_000] {
            let raw: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            assert_eq!(
                decompress(&stored(&raw), len).expect("valid stored stream"),
                raw
            );
        }
    }
}
