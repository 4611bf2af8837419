//! `secure_stream`: Noise over a raw byte stream whose two ends both just start. Both
//! ends authenticate each other's peer id and exchange bytes; an altered byte, a stream
//! that loops back, or a peer that hangs up is a typed error, never a panic.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use kafo_model::Scope;
use kafo_net::{
    Admission, LinkLimits, SECURE_NONCE_LEN, SecureStreamError, device_id_for, run_session,
    secure_stream,
};
use kafo_proto::testing::MemoryStorage;
use kafo_proto::testing::docs::test_actor;
use kafo_proto::{Limits, PeerHello, Reveal, Session, SessionConfig};
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, DuplexStream};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt as _};

use common::{keypair, peer_id, within};

/// What the relay between the two ends does to the bytes of one direction.
#[derive(Clone, Default)]
struct Tamper {
    /// Flip the lowest bit of the bytes at these offsets of the direction.
    offsets: Vec<u64>,
    /// Once set, flip the 10th byte that follows (inside the next Noise frame's
    /// ciphertext, past its 2-byte length).
    armed: Option<Arc<AtomicBool>>,
    /// Keep a copy of every byte that crossed.
    record: Option<Arc<Mutex<Vec<u8>>>>,
}

/// Copies `from` to `to` through `tamper` until the end of either, then closes `to`.
async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, tamper: Tamper) {
    let mut buffer = vec![0u8; 4096];
    let mut offset = 0u64;
    let mut flip_at = None;
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if flip_at.is_none()
            && tamper
                .armed
                .as_ref()
                .is_some_and(|armed| armed.load(Ordering::SeqCst))
        {
            flip_at = Some(offset + 10);
        }
        for (index, byte) in buffer[..n].iter_mut().enumerate() {
            let at = offset + index as u64;
            if tamper.offsets.contains(&at) || flip_at == Some(at) {
                *byte ^= 0x01;
            }
        }
        offset += n as u64;
        if let Some(record) = &tamper.record {
            record
                .lock()
                .expect("the recorder is not poisoned")
                .extend_from_slice(&buffer[..n]);
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Two stream ends joined by a relay that tampers with each direction.
fn relayed(a_to_b: Tamper, b_to_a: Tamper) -> (Compat<DuplexStream>, Compat<DuplexStream>) {
    let (a_end, relay_a) = tokio::io::duplex(64 * 1024);
    let (relay_b, b_end) = tokio::io::duplex(64 * 1024);
    let (from_a, to_a) = tokio::io::split(relay_a);
    let (from_b, to_b) = tokio::io::split(relay_b);
    tokio::spawn(pump(from_a, to_b, a_to_b));
    tokio::spawn(pump(from_b, to_a, b_to_a));
    (a_end.compat(), b_end.compat())
}

#[tokio::test]
async fn two_ends_authenticate_each_other_and_exchange_bytes() {
    let (alice_key, bob_key) = (keypair(1), keypair(2));
    let (alice_end, bob_end) = tokio::io::duplex(1024);
    let (alice, bob) = within(
        20,
        futures::future::join(
            secure_stream(alice_end.compat(), &alice_key),
            secure_stream(bob_end.compat(), &bob_key),
        ),
    )
    .await;
    let (alice_sees, alice) = alice.expect("alice secures the stream");
    let (bob_sees, bob) = bob.expect("bob secures the stream");
    assert_eq!(alice_sees, peer_id(2));
    assert_eq!(bob_sees, peer_id(1));

    // Both directions at once, more than one Noise frame (64 KiB) each way, through a
    // 1 KiB pipe.
    let from_alice: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
    let from_bob: Vec<u8> = (0..150_000u32).map(|n| (n % 241) as u8).collect();
    // Reads and writes run concurrently on each end, as `run_session` does.
    let exchange = |stream: kafo_net::SecureStream<Compat<DuplexStream>>,
                    out: Vec<u8>,
                    expect: usize| async move {
        let (mut reader, mut writer) = stream.split();
        let write = async {
            writer.write_all(&out).await.expect("writes");
            writer.flush().await.expect("flushes");
        };
        let read = async {
            let mut got = vec![0u8; expect];
            reader.read_exact(&mut got).await.expect("reads");
            got
        };
        futures::future::join(write, read).await.1
    };
    let alice_side = exchange(alice, from_alice.clone(), from_bob.len());
    let bob_side = exchange(bob, from_bob.clone(), from_alice.len());
    let (alice_got, bob_got) = within(30, futures::future::join(alice_side, bob_side)).await;
    assert_eq!(alice_got, from_bob);
    assert_eq!(bob_got, from_alice);
}

#[tokio::test]
async fn the_bytes_on_the_wire_are_not_the_plaintext() {
    let wire = Arc::new(Mutex::new(Vec::new()));
    let watch = Tamper {
        record: Some(Arc::clone(&wire)),
        ..Tamper::default()
    };
    let (alice_end, bob_end) = relayed(watch, Tamper::default());
    let (alice, bob) = within(
        20,
        futures::future::join(
            secure_stream(alice_end, &keypair(1)),
            secure_stream(bob_end, &keypair(2)),
        ),
    )
    .await;
    let (_, mut alice) = alice.expect("secured");
    let (_, mut bob) = bob.expect("secured");
    let secret = b"household h1: 3 visits";
    alice.write_all(secret).await.expect("writes");
    alice.flush().await.expect("flushes");
    let mut got = [0u8; 22];
    within(10, bob.read_exact(&mut got)).await.expect("reads");
    assert_eq!(&got, secret);
    let wire = wire.lock().expect("the recorder is not poisoned").clone();
    assert!(wire.len() > SECURE_NONCE_LEN + secret.len());
    assert!(
        !wire.windows(9).any(|window| window == b"household"),
        "plaintext crossed the relay"
    );
}

#[tokio::test]
async fn a_byte_altered_during_the_handshake_fails_both_ends_with_a_typed_error() {
    // 31: the last byte of a role nonce (roles unchanged, the prologues now differ);
    // 40, 50: the Noise ephemeral keys; 90, 120: the encrypted identities.
    for offset in [31u64, 40, 50, 90, 120] {
        let tamper = Tamper {
            offsets: vec![offset],
            ..Tamper::default()
        };
        let (alice_end, bob_end) = relayed(tamper.clone(), tamper);
        let (alice, bob) = within(
            20,
            futures::future::join(
                secure_stream(alice_end, &keypair(1)),
                secure_stream(bob_end, &keypair(2)),
            ),
        )
        .await;
        for (name, result) in [("alice", alice), ("bob", bob)] {
            match result {
                Err(SecureStreamError::Handshake { .. }) => {}
                Err(other) => panic!("{name}, byte {offset}: unexpected error {other:?}"),
                Ok((peer, _)) => panic!("{name}, byte {offset}: authenticated {peer} anyway"),
            }
        }
    }
}

#[tokio::test]
async fn a_byte_altered_after_the_handshake_fails_the_read() {
    let armed = Arc::new(AtomicBool::new(false));
    let (alice_end, bob_end) = relayed(
        Tamper {
            armed: Some(Arc::clone(&armed)),
            ..Tamper::default()
        },
        Tamper::default(),
    );
    let (alice, bob) = within(
        20,
        futures::future::join(
            secure_stream(alice_end, &keypair(1)),
            secure_stream(bob_end, &keypair(2)),
        ),
    )
    .await;
    let (_, mut alice) = alice.expect("secured");
    let (_, mut bob) = bob.expect("secured");
    armed.store(true, Ordering::SeqCst);
    alice.write_all(&[7u8; 100]).await.expect("writes");
    alice.flush().await.expect("flushes");
    let mut got = [0u8; 100];
    let read = within(10, bob.read_exact(&mut got)).await;
    assert!(read.is_err(), "an altered frame must not be delivered");
}

#[tokio::test]
async fn a_stream_that_loops_back_to_this_device_is_refused() {
    let (end, mirror) = tokio::io::duplex(1024);
    // The other end echoes every byte back.
    tokio::spawn(async move {
        let (mut from, mut to) = tokio::io::split(mirror);
        let _ = tokio::io::copy(&mut from, &mut to).await;
    });
    let result = within(10, secure_stream(end.compat(), &keypair(1))).await;
    assert!(
        matches!(result, Err(SecureStreamError::SameNonce)),
        "{:?}",
        result.map(|(peer, _)| peer)
    );
}

#[tokio::test]
async fn a_peer_that_hangs_up_before_its_nonce_is_a_nonce_error() {
    let (end, mut other) = tokio::io::duplex(1024);
    tokio::spawn(async move {
        // Half a nonce, then gone.
        let _ = other.write_all(&[1u8; SECURE_NONCE_LEN / 2]).await;
    });
    let result = within(10, secure_stream(end.compat(), &keypair(1))).await;
    assert!(
        matches!(result, Err(SecureStreamError::Nonce(_))),
        "{:?}",
        result.map(|(peer, _)| peer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_session_runs_over_secure_streams_between_authenticated_devices() {
    let scopes: Vec<Scope> = vec!["sikoro/chw-01".parse().expect("valid scope")];
    let device = |seed: u8, actor: u64, count: usize| {
        let mut storage = MemoryStorage::new(test_actor(actor));
        for n in 0..count {
            storage
                .create_household(&format!("d{seed}-h{n}"), "sikoro", "chw-01")
                .expect("valid household");
        }
        let config = SessionConfig {
            device: device_id_for(&peer_id(seed)).expect("fits"),
            offers: scopes.clone(),
            accepts: scopes.clone(),
            credentials: Vec::new(),
            reveal: Reveal::default(),
            limits: Limits::default(),
        };
        let session = Session::new(
            config,
            tokio::time::Instant::now().into_std(),
            &mut ChaCha8Rng::seed_from_u64(u64::from(seed)),
        );
        (storage, session)
    };
    let (mut alice_store, alice_session) = device(1, 1, 6);
    let (mut bob_store, bob_session) = device(2, 2, 4);
    let (alice_end, bob_end) = tokio::io::duplex(4096);
    let limits = LinkLimits::default();
    // Each admits only the device its secure stream authenticated.
    let admit_only = |authenticated| {
        let expected = device_id_for(&authenticated).expect("fits");
        move |hello: &PeerHello| {
            if hello.device == expected {
                Admission::DefaultShare
            } else {
                Admission::Refuse
            }
        }
    };
    let alice_store = &mut alice_store;
    let bob_store = &mut bob_store;
    let alice_side = async {
        let (peer, stream) = secure_stream(alice_end.compat(), &keypair(1))
            .await
            .expect("secured");
        run_session(
            stream,
            alice_session,
            alice_store,
            admit_only(peer),
            &limits,
        )
        .await
    };
    let bob_side = async {
        let (peer, stream) = secure_stream(bob_end.compat(), &keypair(2))
            .await
            .expect("secured");
        run_session(stream, bob_session, bob_store, admit_only(peer), &limits).await
    };
    let (a, b) = within(30, futures::future::join(alice_side, bob_side)).await;
    assert!(a.report.outcome.is_in_sync(), "{:?}", a.report.outcome);
    assert!(b.report.outcome.is_in_sync(), "{:?}", b.report.outcome);
    assert_eq!(alice_store.state(), bob_store.state());
    assert_eq!(alice_store.len(), 10);
}
