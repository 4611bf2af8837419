//! The peers a device synced with, remembered in its store: addresses, when the last
//! session ran and how it ended. `kafo peers` reads them; a running node keeps them
//! up to date after every session.
//!
//! Each record is the store's opaque per-peer state (key: the peer id's bytes),
//! encoded as JSON; an index of the peer ids lives in the store's metadata. At most
//! [`MAX_PEER_RECORDS`] are kept: the least recently seen peer is forgotten first.

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::time::Duration;

use jiff::Timestamp;
use kafo_net::{Multiaddr, PeerId};

use crate::net::error::PeerRecordError;
use crate::net::report::{Direction, SyncReport, duration_ms};
use crate::node::Node;

/// The most peers a store remembers.
pub const MAX_PEER_RECORDS: usize = 256;

/// The metadata key of the index of remembered peers.
const META_PEER_INDEX: &str = "net.peers";

/// What a device remembers of a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// The peer (its device id).
    pub peer: PeerId,
    /// Addresses it was reached at, most useful first (none for pipes and serial lines).
    pub addrs: Vec<Multiaddr>,
    /// When a session with it last ended.
    pub last_seen: Timestamp,
    /// The last session.
    pub last_sync: LastSync,
    /// When a session with it last ended in sync.
    pub last_success: Option<Timestamp>,
}

/// The last session with a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSync {
    /// When it ended.
    pub at: Timestamp,
    /// Who opened it.
    pub direction: Direction,
    /// Whether it ended in sync.
    pub in_sync: bool,
    /// How it ended ([`SyncOutcome::kind`](crate::net::SyncOutcome::kind)).
    pub outcome: String,
    /// Documents sent.
    pub docs_sent: u64,
    /// Documents received.
    pub docs_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// How long it took.
    pub duration: Duration,
}

/// A record as stored.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StoredRecord {
    addrs: Vec<String>,
    last_seen: Timestamp,
    last_success: Option<Timestamp>,
    last_sync: StoredSync,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StoredSync {
    at: Timestamp,
    direction: String,
    in_sync: bool,
    outcome: String,
    docs_sent: u64,
    docs_received: u64,
    bytes_sent: u64,
    bytes_received: u64,
    duration_ms: u64,
}

impl PeerRecord {
    fn encode(&self) -> Result<Vec<u8>, PeerRecordError> {
        let sync = &self.last_sync;
        let stored = StoredRecord {
            addrs: self.addrs.iter().map(ToString::to_string).collect(),
            last_seen: self.last_seen,
            last_success: self.last_success,
            last_sync: StoredSync {
                at: sync.at,
                direction: sync.direction.as_str().to_owned(),
                in_sync: sync.in_sync,
                outcome: sync.outcome.clone(),
                docs_sent: sync.docs_sent,
                docs_received: sync.docs_received,
                bytes_sent: sync.bytes_sent,
                bytes_received: sync.bytes_received,
                duration_ms: duration_ms(sync.duration),
            },
        };
        serde_json::to_vec(&stored).map_err(PeerRecordError::Encode)
    }

    fn decode(peer: PeerId, bytes: &[u8]) -> Result<Self, PeerRecordError> {
        let stored: StoredRecord =
            serde_json::from_slice(bytes).map_err(|_| PeerRecordError::Damaged {
                what: "peer record",
            })?;
        let direction = match stored.last_sync.direction.as_str() {
            "inbound" => Direction::Inbound,
            _ => Direction::Outbound,
        };
        let sync = stored.last_sync;
        Ok(Self {
            peer,
            // An address that no longer parses is dropped, not fatal.
            addrs: stored
                .addrs
                .iter()
                .filter_map(|addr| Multiaddr::from_str(addr).ok())
                .collect(),
            last_seen: stored.last_seen,
            last_success: stored.last_success,
            last_sync: LastSync {
                at: sync.at,
                direction,
                in_sync: sync.in_sync,
                outcome: sync.outcome,
                docs_sent: sync.docs_sent,
                docs_received: sync.docs_received,
                bytes_sent: sync.bytes_sent,
                bytes_received: sync.bytes_received,
                duration: Duration::from_millis(sync.duration_ms),
            },
        })
    }
}

impl Node {
    /// The peers this device synced with, in peer id order.
    pub fn peers(&self) -> Result<Vec<PeerRecord>, PeerRecordError> {
        let records = self.peer_records_map()?;
        Ok(records.into_values().collect())
    }

    fn peer_records_map(&self) -> Result<BTreeMap<PeerId, PeerRecord>, PeerRecordError> {
        let mut records = BTreeMap::new();
        for peer in self.peer_index()? {
            if let Some(bytes) = self.store.peer_state(&peer.to_bytes())? {
                records.insert(peer, PeerRecord::decode(peer, &bytes)?);
            }
        }
        Ok(records)
    }

    fn peer_index(&self) -> Result<Vec<PeerId>, PeerRecordError> {
        let Some(bytes) = self.store.meta(META_PEER_INDEX)? else {
            return Ok(Vec::new());
        };
        let ids: Vec<String> = serde_json::from_slice(&bytes)
            .map_err(|_| PeerRecordError::Damaged { what: "peer index" })?;
        Ok(ids
            .iter()
            .filter_map(|id| PeerId::from_str(id).ok())
            .collect())
    }

    /// Records the end of a session with `peer`, reached at `addrs` (kept from the
    /// previous record when empty); durable on return.
    pub(crate) fn record_session(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        direction: Direction,
        report: &SyncReport,
    ) -> Result<PeerRecord, PeerRecordError> {
        // A panic while holding the lock leaves the store consistent (each write is
        // atomic), so a poisoned lock is still usable.
        let _guard = self
            .peer_records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Timestamp::now();
        let previous = match self.store.peer_state(&peer.to_bytes())? {
            Some(bytes) => PeerRecord::decode(peer, &bytes).ok(),
            None => None,
        };
        let in_sync = report.is_in_sync();
        let record = PeerRecord {
            peer,
            addrs: if addrs.is_empty() {
                previous
                    .as_ref()
                    .map(|record| record.addrs.clone())
                    .unwrap_or_default()
            } else {
                addrs
            },
            last_seen: now,
            last_success: if in_sync {
                Some(now)
            } else {
                previous.as_ref().and_then(|record| record.last_success)
            },
            last_sync: LastSync {
                at: now,
                direction,
                in_sync,
                outcome: report.outcome.kind().to_owned(),
                docs_sent: report.docs_sent,
                docs_received: report.docs_received,
                bytes_sent: report.bytes_sent,
                bytes_received: report.bytes_received,
                duration: report.duration,
            },
        };
        self.store
            .put_peer_state(&peer.to_bytes(), &record.encode()?)?;
        if previous.is_none() {
            self.add_to_peer_index(peer)?;
        }
        Ok(record)
    }

    /// Adds `peer` to the index, forgetting the least recently seen peers beyond
    /// [`MAX_PEER_RECORDS`].
    fn add_to_peer_index(&self, peer: PeerId) -> Result<(), PeerRecordError> {
        let mut index = self.peer_index()?;
        if index.contains(&peer) {
            return Ok(());
        }
        index.push(peer);
        if index.len() > MAX_PEER_RECORDS {
            let records = self.peer_records_map()?;
            index.sort_by_key(|id| {
                (
                    std::cmp::Reverse(records.get(id).map(|record| record.last_seen)),
                    *id,
                )
            });
            for forgotten in index.split_off(MAX_PEER_RECORDS) {
                self.store.remove_peer_state(&forgotten.to_bytes())?;
            }
        }
        let ids: Vec<String> = index.iter().map(ToString::to_string).collect();
        let bytes = serde_json::to_vec(&ids).map_err(PeerRecordError::Encode)?;
        self.store.put_meta(META_PEER_INDEX, &bytes)?;
        Ok(())
    }
}
