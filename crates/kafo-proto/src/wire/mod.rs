//! The wire format: length-prefixed, typed frames, and the payload batches inside them.
//!
//! A frame is a big-endian `u32` length, then that many bytes: one frame-type byte and
//! the body. The length is checked against [`MAX_FRAME_LEN`] before anything is
//! buffered; every count and length inside a body is checked against what remains of
//! the frame before it sizes an allocation. `docs/protocol.md` gives every layout.

mod codec;
mod decoder;
mod frame;
mod payload;

pub use decoder::FrameDecoder;
pub use frame::{
    Begin, CloseReason, DeviceId, Frame, Hello, MAGIC, NodeBody, NodeMessage, Nonce, Payload,
    VersionRange, WireItem,
};
pub use payload::{
    DecodePayloadError, EntryKind, MAX_ENTRY, PayloadEntry, compress, decode_entries, decompress,
    encode_entries,
};

pub(crate) use codec::varint_len;

/// The newest protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 2;

/// The protocol versions this crate speaks: 1 (the sync protocol) and 2 (adds the
/// `Disclose` frame). A peer that speaks only version 1 still syncs, without `Disclose`.
pub const SUPPORTED_VERSIONS: VersionRange = VersionRange {
    min: 1,
    max: PROTOCOL_VERSION,
};

/// The first version with the `Disclose` frame.
pub const DISCLOSE_VERSION: u16 = 2;

/// The largest frame (type byte and body), checked before allocation: 4 MiB.
pub const MAX_FRAME_LEN: u32 = 4 * 1024 * 1024;

/// The longest `Disclose` body: a whole frame but its type byte.
pub const MAX_DISCLOSURE: usize = MAX_FRAME_LEN as usize - 1;

/// The longest device id, in bytes.
pub const MAX_DEVICE_ID: usize = 64;

/// The longest credentials blob, in bytes.
pub const MAX_CREDENTIALS: usize = 64 * 1024;

/// The most scopes in one list.
pub const MAX_SCOPES: usize = 1024;

/// The most heads one item may report.
pub const MAX_HEADS: usize = 1024;

/// The most elements of any other list in a frame.
pub const MAX_LIST: usize = 1 << 20;

/// Why bytes from a peer are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFrameError {
    /// The length prefix announces a frame larger than allowed.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Announced length.
        len: u64,
        /// The limit.
        max: u32,
    },
    /// A frame of length zero (it must hold at least its type byte).
    #[error("empty frame")]
    EmptyFrame,
    /// The frame-type byte is not one this version knows.
    #[error("unknown frame type {found:#04x}")]
    UnknownFrameType {
        /// The byte found.
        found: u8,
    },
    /// The body ended before a field was complete.
    #[error("frame ends inside `{field}`")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A length or count exceeds its limit.
    #[error("`{field}` is {len}, at most {max} allowed")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The value found.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A varint is overlong or overflows 64 bits.
    #[error("`{field}` is not a valid varint")]
    BadVarint {
        /// The field.
        field: &'static str,
    },
    /// Bytes remain after the last field.
    #[error("{extra} trailing bytes after a {frame} frame")]
    TrailingBytes {
        /// The frame type.
        frame: &'static str,
        /// How many bytes remain.
        extra: usize,
    },
    /// A `Hello` without the protocol's magic bytes: not a Kafo peer.
    #[error("hello does not start with the Kafo magic")]
    BadMagic,
    /// A string field is not UTF-8.
    #[error("`{field}` is not UTF-8")]
    BadUtf8 {
        /// The field.
        field: &'static str,
    },
    /// An identifier field is not a valid identifier.
    #[error("`{field}` is not a valid id: {source}")]
    BadId {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        source: kafo_model::IdError,
    },
    /// A scope field is not a valid scope.
    #[error("`{field}` is not a valid scope: {source}")]
    BadScope {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        source: kafo_model::ScopeError,
    },
    /// A bucket prefix with too many digits, or bits beyond its depth.
    #[error("bucket prefix of depth {depth} cannot hold bits {bits:#x}")]
    BadPrefix {
        /// Depth found.
        depth: u8,
        /// Bits found.
        bits: u64,
    },
    /// A node body kind this version does not know.
    #[error("unknown node body kind {found}")]
    UnknownNodeBody {
        /// The byte found.
        found: u8,
    },
    /// A range message refers to the previous message's CHW, but there is none.
    #[error("range refers to a previous chw in a frame that named none")]
    NoPreviousChw,
    /// A CHW marker this version does not know.
    #[error("unknown chw marker {found}")]
    UnknownChwMarker {
        /// The byte found.
        found: u8,
    },
    /// A close reason this version does not know.
    #[error("unknown close reason {found}")]
    UnknownCloseReason {
        /// The byte found.
        found: u8,
    },
}
