//! The frames of protocol versions 1 and 2 and their byte layout (see `docs/protocol.md`).
//! Version 2 adds one frame, `Disclose`; every version 1 frame is unchanged.

use std::fmt;

use kafo_model::{ChwId, HouseholdId, Scope};

use super::codec::{Reader, Writer};
use super::{DecodeFrameError, MAX_CREDENTIALS, MAX_DEVICE_ID, MAX_FRAME_LEN, MAX_LIST};
use crate::tree::{FANOUT, HeadPrefix, ItemTag, NodeId, Prefix, Summary, Tag};

/// The magic bytes that open every `Hello`.
pub const MAGIC: [u8; 4] = *b"KAFO";

/// Frame type bytes.
mod kind {
    pub const HELLO: u8 = 0x01;
    pub const BEGIN: u8 = 0x02;
    pub const RECONCILE: u8 = 0x03;
    pub const PAYLOAD: u8 = 0x04;
    pub const ACK: u8 = 0x05;
    pub const DONE: u8 = 0x06;
    pub const CLOSE: u8 = 0x07;
    pub const AUTHORIZED: u8 = 0x08;
    /// Protocol version 2.
    pub const DISCLOSE: u8 = 0x09;
}

/// One protocol frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a session: versions, identity, scopes. Both sides send one first.
    Hello(Hello),
    /// The sender's driver authorized the receiver (sent only by sides that reveal
    /// nothing before both drivers authorized).
    Authorized,
    /// After authorization: the scopes this side shares and the summary of all of them.
    Begin(Begin),
    /// Range comparisons: children summaries, item tags and item heads.
    Reconcile(Vec<NodeMessage>),
    /// A compressed batch of documents, changes and sync messages.
    Payload(Payload),
    /// The batch with this number is durable on the receiver.
    Ack {
        /// The batch number.
        batch: u64,
    },
    /// The sender is idle: it has handled this many of the receiver's data frames and has
    /// nothing more to send unless the receiver sends more.
    Done {
        /// Data frames (`Begin`, `Reconcile`, `Payload`) of the receiver handled so far.
        handled: u64,
    },
    /// The sender ends the session.
    Close {
        /// Why.
        reason: CloseReason,
    },
    /// Protocol version 2: what the sender's trust layer discloses to an authorized
    /// peer (opaque here; Kafo's trust layer puts its known revocations in it). Sent at
    /// most once, after the sender's authorization and before its `Authorized`/`Begin`,
    /// only when version 2 was negotiated. At most
    /// [`MAX_DISCLOSURE`](crate::wire::MAX_DISCLOSURE) bytes.
    Disclose(Vec<u8>),
}

/// The opening frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Protocol versions the sender speaks.
    pub versions: VersionRange,
    /// The sender's device id (opaque bytes, e.g. its libp2p peer id).
    pub device: DeviceId,
    /// A random nonce, fresh for each session.
    pub nonce: Nonce,
    /// Payload bytes (uncompressed) the sender accepts unacknowledged.
    pub window: u32,
    /// Scopes the sender is willing to share.
    pub offers: Vec<Scope>,
    /// Scopes the sender wants.
    pub accepts: Vec<Scope>,
    /// Opaque proof of what the sender may read and write (certificates, later).
    pub credentials: Vec<u8>,
}

/// The first frame after authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The scopes the sender authorized for this session, normalized.
    pub share: Vec<Scope>,
    /// Count and tag of all the sender's items in `share`.
    pub summary: Summary,
}

/// A compressed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Batch number, from 0, increasing by one.
    pub batch: u64,
    /// Length of the uncompressed entries, bounded by the receiver's window.
    pub raw_len: u64,
    /// Raw deflate stream of the entries.
    pub compressed: Vec<u8>,
}

/// The comparison of one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMessage {
    /// The range.
    pub node: NodeId,
    /// What the sender says about it.
    pub body: NodeBody,
}

/// What a side says about one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeBody {
    /// Summary of each scope of the domain, in domain order.
    Scopes(Vec<Summary>),
    /// Summary of each non-empty caseload of an area, sorted by CHW id.
    Caseloads(Vec<(ChwId, Summary)>),
    /// Summary of each of the 16 buckets (absent: empty).
    Buckets(Box<[Option<Summary>; FANOUT]>),
    /// Tags of the sender's items in the range.
    Tags(Vec<ItemTag>),
    /// Id and heads of the sender's items whose tags the receiver did not list.
    Items(Vec<WireItem>),
}

/// An item with its heads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireItem {
    /// The household id.
    pub id: HouseholdId,
    /// Its document's heads, by prefix.
    pub heads: Vec<HeadPrefix>,
}

/// An inclusive range of protocol versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// Oldest version spoken.
    pub min: u16,
    /// Newest version spoken.
    pub max: u16,
}

impl VersionRange {
    /// The newest version both ranges contain.
    pub fn negotiate(self, other: Self) -> Option<u16> {
        let version = self.max.min(other.max);
        (version >= self.min.max(other.min)).then_some(version)
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

/// A device id: opaque bytes (at most 64).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(Vec<u8>);

impl DeviceId {
    /// A device id, if at most [`MAX_DEVICE_ID`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() <= MAX_DEVICE_ID).then_some(Self(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({self})")
    }
}

impl fmt::Display for DeviceId {
    /// Hex of the first 6 bytes: enough to tell devices apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.iter().take(6) {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// A session nonce.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nonce(pub [u8; 16]);

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// Why a side closes a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The sender's driver refused the peer (not authorized).
    Refused,
    /// The receiver broke the protocol.
    ProtocolViolation,
    /// The sender failed locally (storage).
    LocalFailure,
    /// No common protocol version.
    IncompatibleVersion,
    /// The receiver went silent.
    TimedOut,
}

impl CloseReason {
    fn code(self) -> u8 {
        match self {
            Self::Refused => 1,
            Self::ProtocolViolation => 2,
            Self::LocalFailure => 3,
            Self::IncompatibleVersion => 4,
            Self::TimedOut => 5,
        }
    }

    fn from_code(code: u8) -> Result<Self, DecodeFrameError> {
        Ok(match code {
            1 => Self::Refused,
            2 => Self::ProtocolViolation,
            3 => Self::LocalFailure,
            4 => Self::IncompatibleVersion,
            5 => Self::TimedOut,
            found => return Err(DecodeFrameError::UnknownCloseReason { found }),
        })
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Refused => "refused",
            Self::ProtocolViolation => "protocol violation",
            Self::LocalFailure => "local failure",
            Self::IncompatibleVersion => "incompatible version",
            Self::TimedOut => "timed out",
        })
    }
}

/// Node message kinds.
mod body_kind {
    pub const SCOPES: u8 = 0;
    pub const CASELOADS: u8 = 1;
    pub const BUCKETS: u8 = 2;
    pub const TAGS: u8 = 3;
    pub const ITEMS: u8 = 4;
}

impl Frame {
    /// The frame's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::Authorized => "authorized",
            Self::Begin(_) => "begin",
            Self::Reconcile(_) => "reconcile",
            Self::Payload(_) => "payload",
            Self::Ack { .. } => "ack",
            Self::Done { .. } => "done",
            Self::Close { .. } => "close",
            Self::Disclose(_) => "disclose",
        }
    }

    /// Whether the frame counts as data for [`Frame::Done`].
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Begin(_) | Self::Reconcile(_) | Self::Payload(_))
    }

    /// Appends the frame, with its length prefix, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut writer = Writer::default();
        self.encode_body(&mut writer);
        out.extend_from_slice(&(writer.bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&writer.bytes);
    }

    /// The encoded frame, with its length prefix.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    fn encode_body(&self, w: &mut Writer) {
        match self {
            Self::Hello(hello) => {
                w.u8(kind::HELLO);
                w.raw(&MAGIC);
                w.u16(hello.versions.min);
                w.u16(hello.versions.max);
                w.bytes(hello.device.as_bytes());
                w.raw(&hello.nonce.0);
                w.u32(hello.window);
                w.scopes(&hello.offers);
                w.scopes(&hello.accepts);
                w.bytes(&hello.credentials);
            }
            Self::Authorized => w.u8(kind::AUTHORIZED),
            Self::Begin(begin) => {
                w.u8(kind::BEGIN);
                w.scopes(&begin.share);
                write_summary(w, &begin.summary);
            }
            Self::Reconcile(messages) => {
                w.u8(kind::RECONCILE);
                w.varint(messages.len() as u64);
                let mut previous = None;
                for message in messages {
                    write_node(w, &message.node, &mut previous);
                    write_body(w, &message.body);
                }
            }
            Self::Payload(payload) => {
                w.u8(kind::PAYLOAD);
                w.varint(payload.batch);
                w.varint(payload.raw_len);
                w.raw(&payload.compressed);
            }
            Self::Ack { batch } => {
                w.u8(kind::ACK);
                w.varint(*batch);
            }
            Self::Done { handled } => {
                w.u8(kind::DONE);
                w.varint(*handled);
            }
            Self::Close { reason } => {
                w.u8(kind::CLOSE);
                w.u8(reason.code());
            }
            Self::Disclose(bytes) => {
                w.u8(kind::DISCLOSE);
                w.raw(bytes);
            }
        }
    }

    /// Decodes one frame from its bytes after the length prefix (type byte and body).
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeFrameError> {
        if frame.len() > MAX_FRAME_LEN as usize {
            return Err(DecodeFrameError::FrameTooLarge {
                len: frame.len() as u64,
                max: MAX_FRAME_LEN,
            });
        }
        let mut r = Reader::new(frame);
        let frame = match r.u8("frame type")? {
            kind::HELLO => {
                if r.array::<4>("magic")? != MAGIC {
                    return Err(DecodeFrameError::BadMagic);
                }
                let versions = VersionRange {
                    min: r.u16("min version")?,
                    max: r.u16("max version")?,
                };
                let device = DeviceId(r.bytes("device", MAX_DEVICE_ID)?.to_vec());
                let nonce = Nonce(r.array("nonce")?);
                let window = r.u32("window")?;
                let offers = r.scopes("offers")?;
                let accepts = r.scopes("accepts")?;
                let credentials = r.bytes("credentials", MAX_CREDENTIALS)?.to_vec();
                r.finish("hello")?;
                Self::Hello(Hello {
                    versions,
                    device,
                    nonce,
                    window,
                    offers,
                    accepts,
                    credentials,
                })
            }
            kind::AUTHORIZED => {
                r.finish("authorized")?;
                Self::Authorized
            }
            kind::BEGIN => {
                let share = r.scopes("share")?;
                let summary = read_summary(&mut r)?;
                r.finish("begin")?;
                Self::Begin(Begin { share, summary })
            }
            kind::RECONCILE => {
                let count = r.count("node messages", 3, MAX_LIST)?;
                let mut messages = Vec::with_capacity(count);
                let mut previous = None;
                for _ in 0..count {
                    let node = read_node(&mut r, &mut previous)?;
                    let body = read_body(&mut r)?;
                    messages.push(NodeMessage { node, body });
                }
                r.finish("reconcile")?;
                Self::Reconcile(messages)
            }
            kind::PAYLOAD => {
                let batch = r.varint("batch")?;
                let raw_len = r.varint("raw length")?;
                let compressed = r.rest().to_vec();
                Self::Payload(Payload {
                    batch,
                    raw_len,
                    compressed,
                })
            }
            kind::ACK => {
                let batch = r.varint("batch")?;
                r.finish("ack")?;
                Self::Ack { batch }
            }
            kind::DONE => {
                let handled = r.varint("handled")?;
                r.finish("done")?;
                Self::Done { handled }
            }
            kind::CLOSE => {
                let reason = CloseReason::from_code(r.u8("reason")?)?;
                r.finish("close")?;
                Self::Close { reason }
            }
            // The rest of the frame, so at most `MAX_DISCLOSURE` bytes (the frame's
            // length was checked above).
            kind::DISCLOSE => Self::Disclose(r.rest().to_vec()),
            found => return Err(DecodeFrameError::UnknownFrameType { found }),
        };
        Ok(frame)
    }
}

fn write_summary(w: &mut Writer, summary: &Summary) {
    w.varint(summary.count);
    w.raw(&summary.tag.0);
}

fn read_summary(r: &mut Reader<'_>) -> Result<Summary, DecodeFrameError> {
    Ok(Summary {
        count: r.varint("count")?,
        tag: Tag(r.array("tag")?),
    })
}

/// Node ids: `0` for the root, else `scope + 1`, the CHW (a marker byte: 0 none, 1 the
/// same as the previous message's in this frame, 2 a new CHW id follows), the depth and
/// the bits of the bucket prefix.
fn write_node<'a>(w: &mut Writer, node: &'a NodeId, previous: &mut Option<&'a ChwId>) {
    match node {
        NodeId::Root => w.varint(0),
        NodeId::Range { scope, chw, prefix } => {
            w.varint(u64::from(*scope) + 1);
            match chw {
                None => w.u8(chw_marker::NONE),
                Some(chw) if *previous == Some(chw) => w.u8(chw_marker::SAME),
                Some(chw) => {
                    w.u8(chw_marker::NEW);
                    w.str(chw.as_str());
                    *previous = Some(chw);
                }
            }
            w.u8(prefix.depth());
            w.varint(prefix.bits());
        }
    }
}

mod chw_marker {
    pub const NONE: u8 = 0;
    pub const SAME: u8 = 1;
    pub const NEW: u8 = 2;
}

fn read_node(r: &mut Reader<'_>, previous: &mut Option<ChwId>) -> Result<NodeId, DecodeFrameError> {
    let scope = r.bounded("node scope", u64::from(u32::MAX) + 1)?;
    if scope == 0 {
        return Ok(NodeId::Root);
    }
    let chw = match r.u8("node chw")? {
        chw_marker::NONE => None,
        chw_marker::SAME => Some(previous.clone().ok_or(DecodeFrameError::NoPreviousChw)?),
        chw_marker::NEW => {
            let chw = r.chw("node chw")?;
            *previous = Some(chw.clone());
            Some(chw)
        }
        found => return Err(DecodeFrameError::UnknownChwMarker { found }),
    };
    let depth = r.u8("node depth")?;
    let bits = r.varint("node bits")?;
    let prefix = Prefix::new(depth, bits).ok_or(DecodeFrameError::BadPrefix { depth, bits })?;
    Ok(NodeId::Range {
        scope: (scope - 1) as u32,
        chw,
        prefix,
    })
}

fn write_body(w: &mut Writer, body: &NodeBody) {
    match body {
        NodeBody::Scopes(summaries) => {
            w.u8(body_kind::SCOPES);
            w.varint(summaries.len() as u64);
            for summary in summaries {
                write_summary(w, summary);
            }
        }
        NodeBody::Caseloads(caseloads) => {
            w.u8(body_kind::CASELOADS);
            w.varint(caseloads.len() as u64);
            for (chw, summary) in caseloads {
                w.str(chw.as_str());
                write_summary(w, summary);
            }
        }
        NodeBody::Buckets(buckets) => {
            w.u8(body_kind::BUCKETS);
            let mut present: u16 = 0;
            for (index, bucket) in buckets.iter().enumerate() {
                if bucket.is_some() {
                    present |= 1 << index;
                }
            }
            w.u16(present);
            for summary in buckets.iter().flatten() {
                write_summary(w, summary);
            }
        }
        NodeBody::Tags(tags) => {
            w.u8(body_kind::TAGS);
            w.varint(tags.len() as u64);
            for tag in tags {
                w.raw(&tag.0);
            }
        }
        NodeBody::Items(items) => {
            w.u8(body_kind::ITEMS);
            w.varint(items.len() as u64);
            for item in items {
                w.str(item.id.as_str());
                w.head_prefixes(&item.heads);
            }
        }
    }
}

fn read_body(r: &mut Reader<'_>) -> Result<NodeBody, DecodeFrameError> {
    Ok(match r.u8("node body kind")? {
        body_kind::SCOPES => {
            let count = r.count("scope summaries", 9, MAX_LIST)?;
            let mut summaries = Vec::with_capacity(count);
            for _ in 0..count {
                summaries.push(read_summary(r)?);
            }
            NodeBody::Scopes(summaries)
        }
        body_kind::CASELOADS => {
            let count = r.count("caseloads", 11, MAX_LIST)?;
            let mut caseloads = Vec::with_capacity(count);
            for _ in 0..count {
                let chw = r.chw("caseload chw")?;
                caseloads.push((chw, read_summary(r)?));
            }
            NodeBody::Caseloads(caseloads)
        }
        body_kind::BUCKETS => {
            let present = r.u16("bucket bitmap")?;
            let mut buckets = [None; FANOUT];
            for (index, bucket) in buckets.iter_mut().enumerate() {
                if present & (1 << index) != 0 {
                    *bucket = Some(read_summary(r)?);
                }
            }
            NodeBody::Buckets(Box::new(buckets))
        }
        body_kind::TAGS => {
            let count = r.count("tags", 6, MAX_LIST)?;
            let mut tags = Vec::with_capacity(count);
            for _ in 0..count {
                tags.push(ItemTag(r.array("tag")?));
            }
            NodeBody::Tags(tags)
        }
        body_kind::ITEMS => {
            let count = r.count("items", 2, MAX_LIST)?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let id = r.household_id("item id")?;
                let heads = r.head_prefixes("item heads")?;
                items.push(WireItem { id, heads });
            }
            NodeBody::Items(items)
        }
        found => return Err(DecodeFrameError::UnknownNodeBody { found }),
    })
}
