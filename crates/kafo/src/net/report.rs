//! What a session did, in a form that can be cloned into events, printed and stored.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kafo_model::HouseholdId;
use kafo_net::{LinkError, PeerId, SessionEnd};
use kafo_proto::{Outcome, SessionError, SessionReport, Side};
use serde::ser::SerializeStruct as _;

/// Who opened a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// This node opened it.
    Outbound,
    /// The peer opened it.
    Inbound,
}

impl Direction {
    /// `outbound` or `inbound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Inbound => "inbound",
        }
    }
}

/// How a session ended.
#[derive(Debug, Clone)]
pub enum SyncOutcome {
    /// Both sides hold the same documents in the scopes they share.
    InSync,
    /// The peer went silent for longer than the protocol's idle timeout.
    TimedOut,
    /// The whole session took longer than
    /// [`SyncOptions::session_timeout`](crate::net::SyncOptions::session_timeout) and was
    /// abandoned.
    DeadlineExceeded {
        /// The deadline.
        after: Duration,
    },
    /// One side refused the other (identity mismatch, or no trust).
    Refused {
        /// Which side refused.
        by: Side,
    },
    /// The session failed.
    Failed(Arc<SessionError>),
    /// The session ran to its end, but households were held back: offered with
    /// changes a revoked device made past its frontier, which this device does not
    /// take until a supervisor settles them (see [`SyncReport::held_back`]).
    HeldBack {
        /// How many households were held back.
        households: u64,
    },
}

impl SyncOutcome {
    /// Whether both sides are in sync.
    pub fn is_in_sync(&self) -> bool {
        matches!(self, Self::InSync)
    }

    /// Whether the peer broke the protocol (it is disconnected and refused for a while).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            Self::Failed(error) if matches!(**error, SessionError::PeerMisbehaved(_))
        )
    }

    /// A short name without identifiers: `in sync`, `timed out`, `peer misbehaved`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InSync => "in sync",
            Self::TimedOut => "timed out",
            Self::DeadlineExceeded { .. } => "deadline exceeded",
            Self::Refused { by: Side::Us } => "refused by us",
            Self::Refused { by: Side::Peer } => "refused by the peer",
            Self::Failed(error) => error.kind(),
            Self::HeldBack { .. } => "held back",
        }
    }
}

impl fmt::Display for SyncOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeadlineExceeded { after } => {
                write!(f, "abandoned after the {after:?} session deadline")
            }
            Self::Failed(error) => write!(f, "failed: {error}"),
            Self::HeldBack { households } => write!(
                f,
                "not in sync: {households} household{} held back (changes by a revoked device; a supervisor can settle them with kafo household settle)",
                if *households == 1 { "" } else { "s" }
            ),
            other => f.write_str(other.kind()),
        }
    }
}

/// What one session did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The peer, as it introduced itself (`None` if its hello never arrived).
    pub peer: Option<PeerId>,
    /// How it ended.
    pub outcome: SyncOutcome,
    /// Why the byte stream failed, if it did.
    pub link_error: Option<Arc<LinkError>>,
    /// Documents sent whole or as changes.
    pub docs_sent: u64,
    /// Documents received and applied.
    pub docs_received: u64,
    /// Documents received but outside the scopes this side holds them in.
    pub docs_skipped: u64,
    /// Automerge changes sent.
    pub changes_sent: u64,
    /// Automerge changes new to this store.
    pub changes_received: u64,
    /// Bytes written to the link.
    pub bytes_sent: u64,
    /// Bytes read from the link.
    pub bytes_received: u64,
    /// Round trips.
    pub round_trips: u32,
    /// From the session's start to its end.
    pub duration: Duration,
    /// The households this session held back, in id order
    /// ([`SyncOutcome::HeldBack`]).
    pub held_back: Vec<HouseholdId>,
}

impl SyncReport {
    pub(crate) fn from_end(end: SessionEnd) -> Self {
        let SessionEnd { report, link_error } = end;
        let SessionReport {
            outcome,
            peer,
            docs_sent,
            docs_received,
            docs_skipped,
            changes_sent,
            changes_received,
            bytes_sent,
            bytes_received,
            round_trips,
            duration,
            ..
        } = report;
        let outcome = match outcome {
            Outcome::InSync => SyncOutcome::InSync,
            Outcome::TimedOut => SyncOutcome::TimedOut,
            Outcome::Refused { by } => SyncOutcome::Refused { by },
            Outcome::Failed(error) => SyncOutcome::Failed(Arc::new(error)),
        };
        Self {
            peer: peer.and_then(|device| PeerId::from_bytes(device.as_bytes()).ok()),
            outcome,
            link_error: link_error.map(Arc::new),
            docs_sent,
            docs_received,
            docs_skipped,
            changes_sent,
            changes_received,
            bytes_sent,
            bytes_received,
            round_trips,
            duration,
            held_back: Vec::new(),
        }
    }

    /// Marks the households a session held back; a session that otherwise ended in
    /// sync is then not in sync.
    pub(crate) fn with_held_back(mut self, held_back: Vec<HouseholdId>) -> Self {
        if !held_back.is_empty() && self.outcome.is_in_sync() {
            self.outcome = SyncOutcome::HeldBack {
                households: held_back.len() as u64,
            };
        }
        self.held_back = held_back;
        self
    }

    /// The report of a session abandoned at its deadline: its statistics are lost
    /// with it, but what it applied is durable.
    pub(crate) fn abandoned(peer: Option<PeerId>, after: Duration) -> Self {
        Self {
            peer,
            outcome: SyncOutcome::DeadlineExceeded { after },
            link_error: None,
            docs_sent: 0,
            docs_received: 0,
            docs_skipped: 0,
            changes_sent: 0,
            changes_received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            round_trips: 0,
            duration: after,
            held_back: Vec::new(),
        }
    }

    /// The report of a session this device cut because the peer was revoked while
    /// it ran: refused by us; its statistics are lost with it, but what it applied
    /// (all of it checked) is durable.
    pub(crate) fn cut(peer: Option<PeerId>, after: Duration) -> Self {
        Self {
            outcome: SyncOutcome::Refused { by: Side::Us },
            duration: after,
            ..Self::abandoned(peer, after)
        }
    }

    /// Whether both sides are in sync.
    pub fn is_in_sync(&self) -> bool {
        self.outcome.is_in_sync()
    }
}

impl serde::Serialize for SyncReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut report = serializer.serialize_struct("SyncReport", 15)?;
        report.serialize_field("peer", &self.peer.map(|peer| peer.to_string()))?;
        report.serialize_field("outcome", self.outcome.kind())?;
        report.serialize_field("in_sync", &self.is_in_sync())?;
        report.serialize_field(
            "error",
            &match &self.outcome {
                SyncOutcome::InSync => None,
                other => Some(other.to_string()),
            },
        )?;
        report.serialize_field(
            "link_error",
            &self.link_error.as_ref().map(|error| error.to_string()),
        )?;
        report.serialize_field("docs_sent", &self.docs_sent)?;
        report.serialize_field("docs_received", &self.docs_received)?;
        report.serialize_field("docs_skipped", &self.docs_skipped)?;
        report.serialize_field("changes_sent", &self.changes_sent)?;
        report.serialize_field("changes_received", &self.changes_received)?;
        report.serialize_field("bytes_sent", &self.bytes_sent)?;
        report.serialize_field("bytes_received", &self.bytes_received)?;
        report.serialize_field("round_trips", &self.round_trips)?;
        report.serialize_field("duration_ms", &duration_ms(self.duration))?;
        report.serialize_field("held_back", &self.held_back)?;
        report.end()
    }
}

/// Whole milliseconds, saturating.
pub(crate) fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
