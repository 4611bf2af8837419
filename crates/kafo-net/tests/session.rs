//! Sync sessions driven over real byte streams: an in-process duplex, a Unix socket
//! pair, and a libp2p `/kafo/sync/1` stream between two networks on 127.0.0.1. Also
//! the ways a link goes wrong: silence, a peer that stops reading, garbage, hang-ups.
//! And the trust layer's hooks: disclosures seen, refused, and absent under version 1.

mod common;

use std::time::{Duration, Instant};

use futures::AsyncWriteExt as _;
use kafo_model::Scope;
use kafo_net::{
    Admission, LinkError, LinkLimits, SessionEnd, SessionHooks, device_id_for, run_session,
};
use kafo_proto::testing::MemoryStorage;
use kafo_proto::testing::docs::test_actor;
use kafo_proto::wire::{DeviceId, VersionRange};
use kafo_proto::{Limits, Outcome, PeerHello, Reveal, Session, SessionConfig, SessionError, Side};
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use tokio_util::compat::TokioAsyncReadCompatExt as _;

use common::{listen_addr, peer_id, start_loopback, within};

const CASELOAD: &str = "sikoro/chw-01";

/// A device with an in-memory store and a session configuration.
struct Device {
    storage: MemoryStorage,
    config: SessionConfig,
}

impl Device {
    fn new(index: u64, device: DeviceId) -> Self {
        let scopes: Vec<Scope> = vec![CASELOAD.parse().expect("valid scope")];
        Self {
            storage: MemoryStorage::new(test_actor(index)),
            config: SessionConfig {
                device,
                offers: scopes.clone(),
                accepts: scopes,
                credentials: Vec::new(),
                reveal: Reveal::default(),
                limits: Limits::default(),
            },
        }
    }

    fn named(name: &str, index: u64) -> Self {
        Self::new(
            index,
            DeviceId::new(name.as_bytes()).expect("a short name fits"),
        )
    }

    fn with_households(mut self, prefix: &str, count: usize) -> Self {
        for n in 0..count {
            self.storage
                .create_household(&format!("{prefix}{n}"), "sikoro", "chw-01")
                .expect("valid household");
        }
        self
    }

    fn session(&self, seed: u64) -> Session {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Session::new(
            self.config.clone(),
            tokio::time::Instant::now().into_std(),
            &mut rng,
        )
    }
}

fn share_all(_: &PeerHello) -> Admission {
    Admission::DefaultShare
}

fn assert_in_sync(end: &SessionEnd) {
    assert!(
        end.report.outcome.is_in_sync(),
        "expected in sync, got {:?} (link: {:?})",
        end.report.outcome,
        end.link_error
    );
    assert!(end.link_error.is_none(), "{:?}", end.link_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_and_bob_converge_over_an_in_process_duplex() {
    let mut alice = Device::named("alice", 1).with_households("a", 5);
    let mut bob = Device::named("bob", 2).with_households("b", 3);
    let (alice_end, bob_end) = tokio::io::duplex(64 * 1024);
    let limits = LinkLimits::default();
    let (alice_session, bob_session) = (alice.session(1), bob.session(2));

    let (a, b) = within(30, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                alice_session,
                &mut alice.storage,
                share_all,
                &limits
            ),
            run_session(
                bob_end.compat(),
                bob_session,
                &mut bob.storage,
                share_all,
                &limits
            ),
        )
    })
    .await;

    assert_in_sync(&a);
    assert_in_sync(&b);
    assert_eq!(alice.storage.state(), bob.storage.state());
    assert_eq!(alice.storage.len(), 8);
    assert_eq!(a.report.docs_received, 3);
    assert_eq!(b.report.docs_received, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_sync_their_caseload_over_libp2p() {
    let alice_net = start_loopback(1).await;
    let mut bob_net = start_loopback(2).await;
    let mut alice =
        Device::new(1, device_id_for(&peer_id(1)).expect("fits")).with_households("a", 12);
    let mut bob = Device::new(2, device_id_for(&peer_id(2)).expect("fits")).with_households("b", 7);
    // Both edit one shared household while apart.
    alice
        .storage
        .create_household("shared", "sikoro", "chw-01")
        .expect("valid");
    let shared_doc = alice
        .storage
        .document(&"shared".parse().expect("valid id"))
        .expect("just created")
        .clone();
    bob.storage.put(shared_doc).expect("bob gets a copy");
    alice
        .storage
        .add_visit(&"shared".parse().expect("valid id"), "v-alice");
    bob.storage
        .add_visit(&"shared".parse().expect("valid id"), "v-bob");

    within(20, alice_net.handle().dial(listen_addr(&bob_net, false)))
        .await
        .expect("connects");
    let alice_stream = within(20, alice_net.handle().open_sync_stream(peer_id(2)))
        .await
        .expect("opens a sync stream");
    let (opener, bob_stream) = within(20, bob_net.incoming_sync_streams().next_stream())
        .await
        .expect("bob is offered it");

    // Each side only admits the device whose identity the transport authenticated.
    let admit_only = |expected: DeviceId| {
        move |hello: &PeerHello| {
            if hello.device == expected {
                Admission::DefaultShare
            } else {
                Admission::Refuse
            }
        }
    };
    let limits = LinkLimits::default();
    let (alice_session, bob_session) = (alice.session(3), bob.session(4));
    let (a, b) = within(30, async {
        tokio::join!(
            run_session(
                alice_stream,
                alice_session,
                &mut alice.storage,
                admit_only(device_id_for(&peer_id(2)).expect("fits")),
                &limits
            ),
            run_session(
                bob_stream,
                bob_session,
                &mut bob.storage,
                admit_only(device_id_for(&opener).expect("fits")),
                &limits
            ),
        )
    })
    .await;

    assert_in_sync(&a);
    assert_in_sync(&b);
    assert_eq!(alice.storage.state(), bob.storage.state());
    assert_eq!(alice.storage.len(), 20);
    let visits = bob.storage.visits(&"shared".parse().expect("valid id"));
    assert!(
        visits.contains("v-alice") && visits.contains("v-bob"),
        "{visits:?}"
    );
    alice_net.handle().shutdown().await;
    bob_net.handle().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_exchange_converges_through_a_unix_socket_read_seven_bytes_at_a_time() {
    let mut alice = Device::named("alice", 1).with_households("a", 60);
    let mut bob = Device::named("bob", 2).with_households("b", 60);
    for n in 0..60 {
        alice
            .storage
            .add_visit(&format!("a{n}").parse().expect("valid id"), "v1");
        bob.storage
            .add_visit(&format!("b{n}").parse().expect("valid id"), "v1");
    }
    let (alice_end, bob_end) = tokio::net::UnixStream::pair().expect("a socket pair");
    let tiny = LinkLimits {
        read_chunk: 7,
        ..LinkLimits::default()
    };
    let (alice_session, bob_session) = (alice.session(5), bob.session(6));
    let started = Instant::now();
    let (a, b) = within(60, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                alice_session,
                &mut alice.storage,
                share_all,
                &tiny
            ),
            run_session(
                bob_end.compat(),
                bob_session,
                &mut bob.storage,
                share_all,
                &tiny
            ),
        )
    })
    .await;
    assert_in_sync(&a);
    assert_in_sync(&b);
    assert_eq!(alice.storage.state(), bob.storage.state());
    assert_eq!(alice.storage.len(), 120);
    println!(
        "120 households over a unix socket in {:?}: {} + {} bytes, {} round trips",
        started.elapsed(),
        a.report.bytes_sent,
        b.report.bytes_sent,
        a.report.round_trips
    );
}

#[tokio::test]
async fn both_sides_sending_at_once_through_a_256_byte_pipe_do_not_deadlock() {
    // A driver that wrote everything before reading again would deadlock here: both
    // sides have kilobytes to send and the pipe holds 256 bytes.
    let mut alice = Device::named("alice", 1).with_households("a", 40);
    let mut bob = Device::named("bob", 2).with_households("b", 40);
    let (alice_end, bob_end) = tokio::io::duplex(256);
    let limits = LinkLimits::default();
    let (alice_session, bob_session) = (alice.session(14), bob.session(15));
    let (a, b) = within(60, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                alice_session,
                &mut alice.storage,
                share_all,
                &limits
            ),
            run_session(
                bob_end.compat(),
                bob_session,
                &mut bob.storage,
                share_all,
                &limits
            ),
        )
    })
    .await;
    assert_in_sync(&a);
    assert_in_sync(&b);
    assert_eq!(alice.storage.state(), bob.storage.state());
    assert!(
        a.report.bytes_sent > 1024 && b.report.bytes_sent > 1024,
        "both sides had a lot to say"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_times_out_and_nothing_hangs() {
    let mut alice = Device::named("alice", 1).with_households("a", 2);
    // The other end is held open but never read nor written.
    let (alice_end, _silent) = tokio::io::duplex(64 * 1024);
    let session = alice.session(7);
    let end = within(
        600,
        run_session(
            alice_end.compat(),
            session,
            &mut alice.storage,
            share_all,
            &LinkLimits::default(),
        ),
    )
    .await;
    assert!(
        matches!(end.report.outcome, Outcome::TimedOut),
        "{:?}",
        end.report.outcome
    );
    assert!(end.link_error.is_none());
    assert_eq!(
        end.report.docs_sent, 0,
        "nothing about documents left before the handshake"
    );
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_stalls_the_link() {
    let mut alice = Device::named("alice", 1);
    // Eight bytes of buffer: the hello does not fit, and nobody reads.
    let (alice_end, _deaf) = tokio::io::duplex(8);
    let limits = LinkLimits {
        write_stall_timeout: Duration::from_secs(5),
        ..LinkLimits::default()
    };
    let session = alice.session(8);
    let end = within(
        600,
        run_session(
            alice_end.compat(),
            session,
            &mut alice.storage,
            share_all,
            &limits,
        ),
    )
    .await;
    assert!(
        matches!(end.link_error, Some(LinkError::WriteStalled { after }) if after == Duration::from_secs(5)),
        "{:?}",
        end.link_error
    );
    assert!(
        matches!(
            end.report.outcome,
            Outcome::Failed(SessionError::ConnectionLost)
        ),
        "{:?}",
        end.report.outcome
    );
}

#[tokio::test]
async fn a_refused_peer_learns_nothing() {
    let mut alice = Device::named("alice", 1).with_households("a", 3);
    let mut bob = Device::named("bob", 2).with_households("b", 3);
    let (alice_end, bob_end) = tokio::io::duplex(64 * 1024);
    let limits = LinkLimits::default();
    let (alice_session, bob_session) = (alice.session(9), bob.session(10));
    let (a, b) = within(30, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                alice_session,
                &mut alice.storage,
                share_all,
                &limits
            ),
            run_session(
                bob_end.compat(),
                bob_session,
                &mut bob.storage,
                |_: &PeerHello| Admission::Refuse,
                &limits
            ),
        )
    })
    .await;
    assert!(
        matches!(b.report.outcome, Outcome::Refused { by: Side::Us }),
        "{:?}",
        b.report.outcome
    );
    assert!(
        matches!(a.report.outcome, Outcome::Refused { by: Side::Peer }),
        "{:?}",
        a.report.outcome
    );
    assert_eq!(a.report.docs_sent + b.report.docs_sent, 0);
    assert_eq!(alice.storage.len(), 3);
    assert_eq!(bob.storage.len(), 3);
}

#[tokio::test]
async fn garbage_from_the_peer_is_a_typed_fault_not_a_panic() {
    let mut alice = Device::named("alice", 1).with_households("a", 2);
    let (alice_end, garbage_end) = tokio::io::duplex(64 * 1024);
    let mut garbage_end = garbage_end.compat();
    let session = alice.session(11);
    let limits = LinkLimits::default();
    let writer = async {
        // Deterministic noise: a seeded generator, not the OS.
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut noise = vec![0u8; 4096];
        rand::RngCore::fill_bytes(&mut rng, &mut noise);
        let _ = garbage_end.write_all(&noise).await;
        garbage_end
    };
    let (end, _garbage_end) = within(30, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                session,
                &mut alice.storage,
                share_all,
                &limits
            ),
            writer
        )
    })
    .await;
    assert!(
        matches!(
            end.report.outcome,
            Outcome::Failed(SessionError::PeerMisbehaved(_))
        ),
        "{:?}",
        end.report.outcome
    );
}

#[tokio::test]
async fn a_peer_that_hangs_up_loses_the_connection() {
    let mut alice = Device::named("alice", 1).with_households("a", 2);
    let (alice_end, gone) = tokio::io::duplex(64 * 1024);
    drop(gone);
    let session = alice.session(13);
    let end = within(
        30,
        run_session(
            alice_end.compat(),
            session,
            &mut alice.storage,
            share_all,
            &LinkLimits::default(),
        ),
    )
    .await;
    assert!(
        matches!(
            end.report.outcome,
            Outcome::Failed(SessionError::ConnectionLost)
        ),
        "{:?}",
        end.report.outcome
    );
}

/// What a [`Trust`] saw: the peer's protocol version, and what it disclosed.
type Seen = (Option<u16>, Vec<Vec<u8>>);

/// Hooks of a trust layer: discloses its bytes on admission, records what the peer
/// disclosed, and refuses the peer on its disclosure if told to.
#[derive(Clone)]
struct Trust {
    disclose: Vec<u8>,
    accept: bool,
    /// Shared with the test.
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
}

impl Trust {
    fn new(disclose: &[u8], accept: bool) -> Self {
        Self {
            disclose: disclose.to_vec(),
            accept,
            seen: Default::default(),
        }
    }

    fn seen(&self) -> Seen {
        self.seen.lock().expect("not poisoned").clone()
    }
}

impl SessionHooks for Trust {
    fn admit(&mut self, hello: &PeerHello) -> Admission {
        self.seen.lock().expect("not poisoned").0 = Some(hello.version);
        Admission::ShareWith {
            share: vec![CASELOAD.parse().expect("valid scope")],
            disclose: self.disclose.clone(),
        }
    }

    fn disclosed(&mut self, bytes: &[u8]) -> bool {
        self.seen
            .lock()
            .expect("not poisoned")
            .1
            .push(bytes.to_vec());
        self.accept
    }
}

#[tokio::test]
async fn disclosures_reach_the_hooks_on_both_sides_and_the_sync_completes() {
    let mut alice = Device::named("alice", 1).with_households("a", 4);
    let mut bob = Device::named("bob", 2).with_households("b", 2);
    let (alice_end, bob_end) = tokio::io::duplex(64 * 1024);
    let limits = LinkLimits::default();
    let (alice_trust, bob_trust) = (
        Trust::new(b"alice's revocations", true),
        Trust::new(b"bob's", true),
    );
    let (alice_session, bob_session) = (alice.session(21), bob.session(22));
    let (a, b) = within(30, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                alice_session,
                &mut alice.storage,
                alice_trust.clone(),
                &limits
            ),
            run_session(
                bob_end.compat(),
                bob_session,
                &mut bob.storage,
                bob_trust.clone(),
                &limits
            ),
        )
    })
    .await;
    assert_in_sync(&a);
    assert_in_sync(&b);
    assert_eq!(alice.storage.len(), 6);
    assert_eq!(alice.storage.state(), bob.storage.state());
    assert_eq!(alice_trust.seen(), (Some(2), vec![b"bob's".to_vec()]));
    assert_eq!(
        bob_trust.seen(),
        (Some(2), vec![b"alice's revocations".to_vec()])
    );
}

#[tokio::test]
async fn a_hook_refusing_the_disclosure_ends_the_session_before_anything_is_written() {
    let mut alice = Device::named("alice", 1).with_households("a", 4);
    let mut bob = Device::named("bob", 2).with_households("b", 2);
    let (alice_end, bob_end) = tokio::io::duplex(64 * 1024);
    let limits = LinkLimits::default();
    // Bob learns from alice's disclosure that she must be cut off.
    let (alice_trust, bob_trust) = (Trust::new(b"you are revoked", true), Trust::new(b"", false));
    let (alice_session, bob_session) = (alice.session(23), bob.session(24));
    let (a, b) = within(30, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                alice_session,
                &mut alice.storage,
                alice_trust.clone(),
                &limits
            ),
            run_session(
                bob_end.compat(),
                bob_session,
                &mut bob.storage,
                bob_trust.clone(),
                &limits
            ),
        )
    })
    .await;
    assert!(
        matches!(b.report.outcome, Outcome::Refused { by: Side::Us }),
        "{:?}",
        b.report.outcome
    );
    assert!(
        matches!(a.report.outcome, Outcome::Refused { by: Side::Peer }),
        "{:?}",
        a.report.outcome
    );
    assert_eq!(bob_trust.seen().1, vec![b"you are revoked".to_vec()]);
    // bob disclosed nothing (empty), so alice's hook was never asked
    assert!(alice_trust.seen().1.is_empty());
    // Nothing of alice's was written on bob's side (bob revealed his count before the
    // disclosure arrived, so alice may have pushed; bob wrote none of it), and bob sent
    // her nothing: her disclosure came ahead of her begin.
    assert_eq!(bob.storage.writes(), 0);
    assert_eq!(bob.storage.len(), 2);
    assert_eq!(b.report.docs_received, 0);
    assert_eq!(b.report.docs_sent, 0);
    assert_eq!(alice.storage.len(), 4);
}

#[tokio::test]
async fn a_version_1_peer_is_admitted_without_disclosures() {
    let mut alice = Device::named("alice", 1).with_households("a", 3);
    let mut bob = Device::named("bob", 2).with_households("b", 1);
    let (alice_end, bob_end) = tokio::io::duplex(64 * 1024);
    let limits = LinkLimits::default();
    let (alice_trust, bob_trust) = (Trust::new(b"revocations", true), Trust::new(b"more", true));
    let alice_session = alice.session(25);
    let bob_session = Session::with_versions(
        bob.config.clone(),
        VersionRange { min: 1, max: 1 },
        tokio::time::Instant::now().into_std(),
        &mut ChaCha8Rng::seed_from_u64(26),
    )
    .expect("version 1 is supported");
    let (a, b) = within(30, async {
        tokio::join!(
            run_session(
                alice_end.compat(),
                alice_session,
                &mut alice.storage,
                alice_trust.clone(),
                &limits
            ),
            run_session(
                bob_end.compat(),
                bob_session,
                &mut bob.storage,
                bob_trust.clone(),
                &limits
            ),
        )
    })
    .await;
    assert_in_sync(&a);
    assert_in_sync(&b);
    assert_eq!(alice.storage.state(), bob.storage.state());
    assert_eq!(alice_trust.seen(), (Some(1), Vec::new()));
    assert_eq!(bob_trust.seen(), (Some(1), Vec::new()));
}
