//! The bounded book of peers this device has heard of: discovered over mDNS, dialed,
//! connected to, or added by the host, with the addresses to reach them again.

use std::collections::BTreeMap;
use std::time::Instant;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

/// A peer as [`NetworkHandle::peers`](crate::NetworkHandle::peers) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPeer {
    /// The peer (its device id).
    pub peer: PeerId,
    /// Addresses to reach it, in address order.
    pub addrs: Vec<Multiaddr>,
    /// Whether at least one connection is established.
    pub connected: bool,
    /// Whether an unexpired mDNS announcement names it.
    pub discovered_via_mdns: bool,
    /// Whether it announced `/kafo/sync/1` (via identify); `None` until identified.
    pub supports_sync: Option<bool>,
}

/// Where an address came from; an address may come from several places.
#[derive(Debug, Clone, Copy, Default)]
struct AddrSources {
    mdns: bool,
    dialed: bool,
    identify: bool,
    added: bool,
}

impl AddrSources {
    fn is_empty(self) -> bool {
        !(self.mdns || self.dialed || self.identify || self.added)
    }

    fn identify_only(self) -> bool {
        self.identify && !(self.mdns || self.dialed || self.added)
    }
}

/// How an address is being learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddrSource {
    Mdns,
    Dialed,
    Identify,
    Added,
}

#[derive(Debug)]
struct Entry {
    addrs: BTreeMap<Multiaddr, AddrSources>,
    connections: u32,
    last_seen: Instant,
    connected_over_loopback: bool,
    supports_sync: Option<bool>,
}

impl Entry {
    fn new(now: Instant) -> Self {
        Self {
            addrs: BTreeMap::new(),
            connections: 0,
            last_seen: now,
            connected_over_loopback: false,
            supports_sync: None,
        }
    }

    fn has_mdns(&self) -> bool {
        self.addrs.values().any(|sources| sources.mdns)
    }
}

/// The book itself. Bounded by peer count and by addresses per peer.
#[derive(Debug)]
pub(crate) struct PeerBook {
    entries: BTreeMap<PeerId, Entry>,
    max_peers: usize,
    max_addrs_per_peer: usize,
}

impl PeerBook {
    pub(crate) fn new(max_peers: usize, max_addrs_per_peer: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            max_peers,
            max_addrs_per_peer,
        }
    }

    /// Learns an address; returns whether it was new. The `/p2p/` suffix is stripped.
    pub(crate) fn add_addr(&mut self, peer: PeerId, addr: &Multiaddr, source: AddrSource) -> bool {
        let addr = without_peer_id(addr);
        let max_addrs = self.max_addrs_per_peer;
        let Some(entry) = self.entry(peer) else {
            return false;
        };
        if source == AddrSource::Identify && is_loopback(&addr) && !entry.connected_over_loopback {
            // A remote on the LAN announcing its loopback address would have us dial
            // ourselves.
            return false;
        }
        let is_new = !entry.addrs.contains_key(&addr);
        if is_new && entry.addrs.len() >= max_addrs {
            let evictable = entry
                .addrs
                .iter()
                .find(|(_, sources)| sources.identify_only())
                .map(|(addr, _)| addr.clone());
            match evictable {
                Some(old) if source != AddrSource::Identify => {
                    entry.addrs.remove(&old);
                }
                _ => return false,
            }
        }
        let sources = entry.addrs.entry(addr).or_default();
        match source {
            AddrSource::Mdns => sources.mdns = true,
            AddrSource::Dialed => sources.dialed = true,
            AddrSource::Identify => sources.identify = true,
            AddrSource::Added => sources.added = true,
        }
        is_new
    }

    /// Forgets an mDNS announcement; returns whether the peer no longer has any.
    pub(crate) fn expire_mdns(&mut self, peer: PeerId, addr: &Multiaddr) -> bool {
        let addr = without_peer_id(addr);
        let Some(entry) = self.entries.get_mut(&peer) else {
            return false;
        };
        let had_mdns = entry.has_mdns();
        if let Some(sources) = entry.addrs.get_mut(&addr) {
            sources.mdns = false;
            if sources.is_empty() {
                entry.addrs.remove(&addr);
            }
        }
        let expired = had_mdns && !entry.has_mdns();
        self.forget_if_unreachable(peer);
        expired
    }

    /// Records the identify answer of a connected peer.
    pub(crate) fn identified(
        &mut self,
        peer: PeerId,
        listen_addrs: &[Multiaddr],
        supports_sync: bool,
    ) {
        if let Some(entry) = self.entry(peer) {
            entry.supports_sync = Some(supports_sync);
        }
        for addr in listen_addrs {
            self.add_addr(peer, addr, AddrSource::Identify);
        }
    }

    /// A connection to `peer` was established.
    pub(crate) fn connection_opened(&mut self, peer: PeerId, remote_addr: &Multiaddr) {
        if let Some(entry) = self.entry(peer) {
            entry.connections = entry.connections.saturating_add(1);
            entry.connected_over_loopback = is_loopback(remote_addr);
        }
    }

    /// A connection to `peer` closed; `remaining` connections are left.
    pub(crate) fn connection_closed(&mut self, peer: PeerId, remaining: u32) {
        if let Some(entry) = self.entries.get_mut(&peer) {
            entry.connections = remaining;
            entry.last_seen = Instant::now();
        }
        self.forget_if_unreachable(peer);
    }

    /// The addresses to dial `peer` at.
    pub(crate) fn addrs(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.entries
            .get(peer)
            .map(|entry| entry.addrs.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn is_connected(&self, peer: &PeerId) -> bool {
        self.entries
            .get(peer)
            .is_some_and(|entry| entry.connections > 0)
    }

    pub(crate) fn snapshot(&self) -> Vec<KnownPeer> {
        self.entries
            .iter()
            .map(|(peer, entry)| KnownPeer {
                peer: *peer,
                addrs: entry.addrs.keys().cloned().collect(),
                connected: entry.connections > 0,
                discovered_via_mdns: entry.has_mdns(),
                supports_sync: entry.supports_sync,
            })
            .collect()
    }

    /// The entry of `peer`, created if there is room (forgetting the least recently
    /// seen disconnected peer if needed). `None` only when every remembered peer is
    /// connected, which the limits check at start prevents for connected peers.
    fn entry(&mut self, peer: PeerId) -> Option<&mut Entry> {
        let now = Instant::now();
        if !self.entries.contains_key(&peer) && self.entries.len() >= self.max_peers {
            let victim = self
                .entries
                .iter()
                .filter(|(_, entry)| entry.connections == 0)
                .min_by_key(|(id, entry)| (entry.last_seen, **id))
                .map(|(id, _)| *id)?;
            self.entries.remove(&victim);
        }
        let entry = self.entries.entry(peer).or_insert_with(|| Entry::new(now));
        entry.last_seen = now;
        Some(entry)
    }

    fn forget_if_unreachable(&mut self, peer: PeerId) {
        let unreachable = self
            .entries
            .get(&peer)
            .is_some_and(|entry| entry.connections == 0 && entry.addrs.is_empty());
        if unreachable {
            self.entries.remove(&peer);
        }
    }
}

/// The address without a trailing `/p2p/<peer id>`.
pub(crate) fn without_peer_id(addr: &Multiaddr) -> Multiaddr {
    let mut addr = addr.clone();
    if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        addr.pop();
    }
    addr
}

/// The peer id an address ends with, if any.
pub(crate) fn peer_id_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|protocol| match protocol {
        Protocol::Ip4(ip) => ip.is_loopback() || ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_loopback() || ip.is_unspecified(),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(seed: u8) -> PeerId {
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes([seed; 32])
            .expect("32 bytes are a valid ed25519 secret");
        keypair.public().to_peer_id()
    }

    fn addr(text: &str) -> Multiaddr {
        text.parse().expect("test addresses are valid multiaddrs")
    }

    #[test]
    fn forgets_the_least_recently_seen_disconnected_peer_when_full() {
        let mut book = PeerBook::new(2, 4);
        book.add_addr(peer(1), &addr("/ip4/169.254.0.1/tcp/1"), AddrSource::Mdns);
        book.add_addr(peer(2), &addr("/ip4/169.254.0.2/tcp/1"), AddrSource::Dialed);
        book.connection_opened(peer(2), &addr("/ip4/169.254.0.2/tcp/1"));
        book.add_addr(peer(3), &addr("/ip4/169.254.0.3/tcp/1"), AddrSource::Mdns);
        let known: Vec<PeerId> = book.snapshot().into_iter().map(|p| p.peer).collect();
        assert_eq!(known.len(), 2);
        assert!(
            known.contains(&peer(2)),
            "a connected peer is never forgotten"
        );
        assert!(known.contains(&peer(3)));
    }

    #[test]
    fn mdns_expiry_is_reported_once_and_forgets_unreachable_peers() {
        let mut book = PeerBook::new(8, 4);
        let a = addr("/ip4/169.254.0.1/tcp/1");
        let b = addr("/ip4/169.254.0.1/udp/1/quic-v1");
        book.add_addr(peer(1), &a, AddrSource::Mdns);
        book.add_addr(peer(1), &b, AddrSource::Mdns);
        assert!(!book.expire_mdns(peer(1), &a), "one announcement is left");
        assert!(book.expire_mdns(peer(1), &b));
        assert!(book.snapshot().is_empty());
    }

    #[test]
    fn addresses_per_peer_are_bounded_and_identify_yields_first() {
        let mut book = PeerBook::new(8, 2);
        book.connection_opened(peer(1), &addr("/ip4/169.254.0.1/tcp/9"));
        book.identified(
            peer(1),
            &[
                addr("/ip4/169.254.0.1/tcp/1"),
                addr("/ip4/169.254.0.1/tcp/2"),
            ],
            true,
        );
        assert!(!book.add_addr(
            peer(1),
            &addr("/ip4/169.254.0.1/tcp/3"),
            AddrSource::Identify
        ));
        assert!(book.add_addr(peer(1), &addr("/ip4/169.254.0.1/tcp/4"), AddrSource::Mdns));
        assert_eq!(book.addrs(&peer(1)).len(), 2);
        assert!(
            book.addrs(&peer(1))
                .contains(&addr("/ip4/169.254.0.1/tcp/4"))
        );
    }

    #[test]
    fn a_lan_peer_announcing_loopback_is_not_believed() {
        let mut book = PeerBook::new(8, 4);
        book.connection_opened(peer(1), &addr("/ip4/169.254.0.1/tcp/9"));
        book.identified(peer(1), &[addr("/ip4/127.0.0.1/tcp/1")], true);
        assert!(book.addrs(&peer(1)).is_empty());
        let snapshot = book.snapshot();
        assert_eq!(snapshot[0].supports_sync, Some(true));
    }
}
