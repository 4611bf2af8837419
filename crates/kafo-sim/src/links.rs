//! Links: what carries a session's bytes, and at what cost in time and airtime.
//!
//! The transports Kafo runs over (TCP or QUIC on Wi-Fi, RFCOMM on Bluetooth, a cable)
//! are reliable byte streams: packet loss, duplication and reordering cost airtime and
//! delay but never reach the protocol. A chunk of bytes is cut into packets; each lost
//! packet is sent again after a retransmission timeout that doubles at each loss, and a
//! packet lost more than `max_retransmits` times breaks the connection. A shared medium
//! (a meetup's Wi-Fi, a phone's hotspot) is one queue for everyone on it: its bandwidth
//! is divided among all transmissions, first come first served. A Bluetooth link or a
//! cable is a medium of its own.
//!
//! Two faults do reach the protocol: cuts (the connection dies, as when two phones walk
//! out of range) and, for testing the protocol's defences, `stream_drop` and
//! `stream_duplicate`, a broken bridge that loses or repeats whole chunks of the stream.

use rand::Rng;
use serde::Deserialize;

use crate::scenario::LoadScenarioError;
use crate::time::{HOUR, SECOND, SimTime};

/// Payload bytes per packet.
const PACKET_PAYLOAD: usize = 1400;
/// Header bytes per packet on the air (link, IP and transport headers).
const PACKET_HEADER: usize = 60;

/// What kind of link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// A Wi-Fi network at the meetup place, shared by everyone on it.
    Wifi,
    /// A phone's hotspot, shared by everyone on it.
    Hotspot,
    /// A Bluetooth link between two phones.
    Bluetooth,
    /// A USB cable between two devices.
    Cable,
    /// A local pipe through a file or card (`kafo sync --stdio`).
    File,
}

impl LinkKind {
    /// Its name in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wifi => "wifi",
            Self::Hotspot => "hotspot",
            Self::Bluetooth => "bluetooth",
            Self::Cable => "cable",
            Self::File => "file",
        }
    }
}

/// A link profile as written in a scenario: the kind, and any value that differs from
/// the kind's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    kind: LinkKind,
    shared: Option<bool>,
    bandwidth_kbit: Option<f64>,
    latency_ms: Option<f64>,
    connect_ms: Option<f64>,
    loss: Option<f64>,
    duplicate: Option<f64>,
    reorder: Option<f64>,
    reorder_ms: Option<f64>,
    rto_ms: Option<f64>,
    max_retransmits: Option<u32>,
    cut_per_hour: Option<f64>,
    stream_drop: Option<f64>,
    stream_duplicate: Option<f64>,
}

/// A link profile: the character of every connection made with it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkProfile {
    /// The kind.
    pub kind: LinkKind,
    /// Whether the bandwidth is shared by every connection at one meetup.
    pub shared: bool,
    /// Bytes per second on the air.
    pub bytes_per_second: f64,
    /// One-way latency, microseconds.
    pub latency: u64,
    /// Time to set up a connection, microseconds.
    pub connect: u64,
    /// Probability that a packet is lost (and retransmitted).
    pub loss: f64,
    /// Probability that a packet is sent twice (airtime only).
    pub duplicate: f64,
    /// Probability that a chunk is held back (the transport delivers in order).
    pub reorder: f64,
    /// Longest hold-back, microseconds.
    pub reorder_delay: u64,
    /// First retransmission timeout, microseconds (doubles at each loss).
    pub rto: u64,
    /// Retransmissions of one packet before the connection breaks.
    pub max_retransmits: u32,
    /// Expected cuts per hour of connection.
    pub cut_per_hour: f64,
    /// Probability that a chunk vanishes from the stream (a broken bridge).
    pub stream_drop: f64,
    /// Probability that a chunk is repeated in the stream (a broken bridge).
    pub stream_duplicate: f64,
}

impl LinkProfile {
    /// The defaults of a kind.
    pub fn of_kind(kind: LinkKind) -> Self {
        let (shared, kbit, latency_ms, connect_ms) = match kind {
            LinkKind::Wifi => (true, 4_000.0, 5.0, 30.0),
            LinkKind::Hotspot => (true, 2_000.0, 20.0, 100.0),
            LinkKind::Bluetooth => (false, 160.0, 30.0, 2_000.0),
            LinkKind::Cable => (false, 80_000.0, 1.0, 200.0),
            LinkKind::File => (false, 400_000.0, 0.2, 0.0),
        };
        Self {
            kind,
            shared,
            bytes_per_second: kbit * 1000.0 / 8.0,
            latency: millis(latency_ms),
            connect: millis(connect_ms),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: millis(100.0),
            rto: millis(200.0),
            max_retransmits: 8,
            cut_per_hour: 0.0,
            stream_drop: 0.0,
            stream_duplicate: 0.0,
        }
    }
}

impl LinkSpec {
    /// The profile: the kind's defaults with this spec's values, checked.
    pub(crate) fn resolve(&self, key: &str) -> Result<LinkProfile, LoadScenarioError> {
        let mut profile = LinkProfile::of_kind(self.kind);
        let invalid = |reason| LoadScenarioError::Invalid {
            key: key.to_string(),
            reason,
        };
        let probability = |value: Option<f64>, default: f64| match value {
            Some(p) if !(0.0..1.0).contains(&p) => Err(invalid("probabilities must be in [0, 1)")),
            Some(p) => Ok(p),
            None => Ok(default),
        };
        let non_negative = |value: Option<f64>| match value {
            Some(v) if !(v >= 0.0 && v.is_finite()) => {
                Err(invalid("durations and rates must be finite and >= 0"))
            }
            other => Ok(other),
        };
        profile.shared = self.shared.unwrap_or(profile.shared);
        if let Some(kbit) = self.bandwidth_kbit {
            if !(kbit > 0.0 && kbit.is_finite()) {
                return Err(invalid("bandwidth must be > 0"));
            }
            profile.bytes_per_second = kbit * 1000.0 / 8.0;
        }
        if let Some(ms) = non_negative(self.latency_ms)? {
            profile.latency = millis(ms);
        }
        if let Some(ms) = non_negative(self.connect_ms)? {
            profile.connect = millis(ms);
        }
        if let Some(ms) = non_negative(self.reorder_ms)? {
            profile.reorder_delay = millis(ms);
        }
        if let Some(ms) = non_negative(self.rto_ms)? {
            profile.rto = millis(ms).max(1);
        }
        if let Some(rate) = non_negative(self.cut_per_hour)? {
            profile.cut_per_hour = rate;
        }
        profile.loss = probability(self.loss, profile.loss)?;
        profile.duplicate = probability(self.duplicate, profile.duplicate)?;
        profile.reorder = probability(self.reorder, profile.reorder)?;
        profile.stream_drop = probability(self.stream_drop, profile.stream_drop)?;
        profile.stream_duplicate = probability(self.stream_duplicate, profile.stream_duplicate)?;
        profile.max_retransmits = self
            .max_retransmits
            .unwrap_or(profile.max_retransmits)
            .min(30);
        Ok(profile)
    }
}

fn millis(ms: f64) -> u64 {
    (ms * 1000.0).round() as u64
}

/// One medium: a queue with a bandwidth, shared by everyone on it.
#[derive(Debug, Clone, Default)]
pub struct Medium {
    busy_until: SimTime,
}

/// What sending one chunk did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transmission {
    /// When the chunk reaches the other end, or `None` if a packet was lost too often
    /// and the connection broke.
    pub arrives: Option<SimTime>,
    /// When the sender's radio finished sending it.
    pub sent: SimTime,
    /// Bytes on the air, with headers, retransmissions and duplicates.
    pub bytes_on_air: u64,
    /// Microseconds of airtime.
    pub airtime: u64,
}

impl Medium {
    /// Sends `len` bytes at `now`: queues behind what the medium carries, draws losses
    /// and duplicates per packet, and says when the chunk arrives (before the in-order
    /// rule of the stream, which the caller applies).
    pub fn send(
        &mut self,
        profile: &LinkProfile,
        now: SimTime,
        len: usize,
        rng: &mut impl Rng,
    ) -> Transmission {
        let packets = len.div_ceil(PACKET_PAYLOAD).max(1);
        let mut sends = packets as u64;
        let mut worst_backoff = 0u64;
        let mut broken = false;
        if profile.loss > 0.0 || profile.duplicate > 0.0 {
            for _ in 0..packets {
                let mut losses = 0u32;
                while profile.loss > 0.0 && rng.random_bool(profile.loss) {
                    losses += 1;
                    sends += 1;
                    if losses > profile.max_retransmits {
                        broken = true;
                        break;
                    }
                }
                if profile.duplicate > 0.0 && rng.random_bool(profile.duplicate) {
                    sends += 1;
                }
                // Timeouts 1, 2, 4 ... times the first one, waited one after another.
                let backoff = profile.rto.saturating_mul((1u64 << losses.min(20)) - 1);
                worst_backoff = worst_backoff.max(backoff);
                if broken {
                    break;
                }
            }
        }
        // Every extra send carries a packet's payload again (an average-sized one).
        let extra = sends - packets as u64;
        let payload = len as u64 + extra * (len as u64 / packets as u64);
        let bytes_on_air = payload + sends * PACKET_HEADER as u64;
        let airtime =
            ((bytes_on_air as f64 / profile.bytes_per_second) * SECOND as f64).ceil() as u64;
        let start = self.busy_until.max(now);
        let sent = start.plus(airtime);
        self.busy_until = sent;
        let mut arrives = sent.plus(profile.latency).plus(worst_backoff);
        if profile.reorder > 0.0 && rng.random_bool(profile.reorder) {
            arrives = arrives.plus(rng.random_range(0..=profile.reorder_delay));
        }
        Transmission {
            arrives: (!broken).then_some(arrives),
            sent,
            bytes_on_air,
            airtime,
        }
    }
}

/// When a connection opened at `now` will be cut by the link's hazard, if ever.
pub fn cut_time(profile: &LinkProfile, now: SimTime, rng: &mut impl Rng) -> Option<SimTime> {
    if profile.cut_per_hour <= 0.0 {
        return None;
    }
    let mean = HOUR as f64 / profile.cut_per_hour;
    Some(now.plus(exponential(mean, rng)))
}

/// A draw from the exponential distribution of mean `mean` (microseconds).
pub fn exponential(mean: f64, rng: &mut impl Rng) -> u64 {
    let uniform: f64 = rng.random_range(f64::EPSILON..1.0);
    (-uniform.ln() * mean).min(u64::MAX as f64 / 2.0) as u64
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn a_shared_medium_queues_everyone() {
        let wifi = LinkProfile::of_kind(LinkKind::Wifi);
        let mut medium = Medium::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let first = medium.send(&wifi, SimTime(0), 500_000, &mut rng);
        let second = medium.send(&wifi, SimTime(0), 500_000, &mut rng);
        // 4 Mbit/s: half a megabyte takes about a second, the second waits for the first.
        assert!(first.airtime > SECOND && first.airtime < SECOND + SECOND / 10);
        assert_eq!(second.sent.0, first.sent.0 + second.airtime);
        assert!(second.arrives > first.arrives);
    }

    #[test]
    fn loss_costs_airtime_and_time_but_not_bytes() {
        let clean = LinkProfile::of_kind(LinkKind::Bluetooth);
        let lossy = LinkProfile {
            loss: 0.3,
            ..clean.clone()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let a = Medium::default().send(&clean, SimTime(0), 100_000, &mut rng);
        let b = Medium::default().send(&lossy, SimTime(0), 100_000, &mut rng);
        assert!(b.bytes_on_air as f64 > a.bytes_on_air as f64 * 1.3);
        assert!(b.arrives > a.arrives);
        // 20 KB/s: 100 KB takes about five seconds on a clean Bluetooth link.
        let seconds = a.airtime as f64 / SECOND as f64;
        assert!((5.0..5.5).contains(&seconds), "{seconds}");
    }

    #[test]
    fn specs_override_kind_defaults_and_are_checked() {
        let spec: LinkSpec = toml::from_str("kind = \"wifi\"\nloss = 0.3\nbandwidth_kbit = 2000")
            .expect("valid spec");
        let profile = spec.resolve("links.x").expect("valid");
        assert_eq!(profile.loss, 0.3);
        assert_eq!(profile.bytes_per_second, 250_000.0);
        assert!(profile.shared);
        let bad: LinkSpec = toml::from_str("kind = \"wifi\"\nloss = 1.5").expect("parses");
        assert!(bad.resolve("links.x").is_err());
    }
}
