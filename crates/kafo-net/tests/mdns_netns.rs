//! Two devices on one link find each other over mDNS and sync, the way two phones on a
//! meetup hotspot would.
//!
//! mDNS never uses loopback, so the test builds its own tiny network: two network
//! namespaces joined by a veth pair with link-local addresses (169.254.77.0/16), which
//! exist only inside those namespaces and vanish with them. The test binary then
//! re-executes itself in each namespace (`ip netns exec`) with `KAFO_NETNS_ROLE` naming
//! the side it plays; each side waits for the other to appear over mDNS, opens a sync
//! stream to it and answers the stream the other opens.
//!
//! Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2. Without them the test
//! FAILS, unless `KAFO_SKIP_NETNS=1` says to skip it. A custom harness (no libtest):
//! the same binary is the orchestrator and both sides.

mod common;

use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use kafo_model::Scope;
use kafo_net::{
    Admission, LinkLimits, MdnsConfig, Network, NetworkConfig, NetworkEvent, Stream, device_id_for,
    run_session,
};
use kafo_proto::testing::MemoryStorage;
use kafo_proto::testing::docs::test_actor;
use kafo_proto::{PeerHello, Reveal, Session, SessionConfig};
use libp2p::multiaddr::Protocol;
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use tokio::sync::broadcast;

use common::{keypair, peer_id};

const ROLE_VAR: &str = "KAFO_NETNS_ROLE";
const SKIP_VAR: &str = "KAFO_SKIP_NETNS";
const SUCCESS_MARKER: &str = "kafo-netns-side-ok";
const SIDE_TIMEOUT: Duration = Duration::from_secs(60);
/// Each side prints its store's state after this, for the orchestrator to compare.
const STATE_PREFIX: &str = "state after sync: ";

/// One side of the test: its key seed, its link-local address, and the other side.
#[derive(Debug, Clone, Copy)]
struct Side {
    name: &'static str,
    seed: u8,
    ip: [u8; 4],
    peer_seed: u8,
    households: usize,
}

const SIDES: [Side; 2] = [
    Side {
        name: "amina",
        seed: 11,
        ip: [169, 254, 77, 1],
        peer_seed: 12,
        households: 5,
    },
    Side {
        name: "bakary",
        seed: 12,
        ip: [169, 254, 77, 2],
        peer_seed: 11,
        households: 3,
    },
];

fn main() {
    match std::env::var(ROLE_VAR) {
        Ok(role) => run_side(&role),
        Err(_) => orchestrate(),
    }
}

// ---------------------------------------------------------------------------------
// The orchestrator: namespaces, veth pair, two children.

/// The namespaces and link of one run, removed on drop (also when the test panics).
#[derive(Debug)]
struct Namespaces {
    names: [String; 2],
}

impl Namespaces {
    fn create(tag: &str) -> Result<Self, String> {
        let names = [format!("kafo-test-{tag}-a"), format!("kafo-test-{tag}-b")];
        ip(&["netns", "add", &names[0]])?;
        // From here on, dropping the guard removes whatever was created.
        let guard = Self { names };
        ip(&["netns", "add", &guard.names[1]])?;
        let veth = [format!("kv{tag}a"), format!("kv{tag}b")];
        // Created inside namespace a with its peer end inside namespace b: the host's
        // own namespace never sees either end.
        ip(&[
            "-n",
            &guard.names[0],
            "link",
            "add",
            &veth[0],
            "type",
            "veth",
            "peer",
            "name",
            &veth[1],
            "netns",
            &guard.names[1],
        ])?;
        for ((namespace, link), side) in guard.names.iter().zip(&veth).zip(SIDES) {
            let [a, b, c, d] = side.ip;
            ip(&[
                "-n",
                namespace,
                "addr",
                "add",
                &format!("{a}.{b}.{c}.{d}/16"),
                "dev",
                link,
            ])?;
            ip(&["-n", namespace, "link", "set", "lo", "up"])?;
            ip(&["-n", namespace, "link", "set", link, "up"])?;
            // mDNS sends to 224.0.0.251; without a default route the kernel needs
            // this one to know which link multicast leaves by.
            ip(&["-n", namespace, "route", "add", "224.0.0.0/4", "dev", link])?;
        }
        Ok(guard)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Deleting a namespace destroys the veth end inside it, and with it the pair.
        for name in &self.names {
            if let Err(error) = ip(&["netns", "del", name]) {
                eprintln!("cleanup: {error}");
            }
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run `ip {}`: {error}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn orchestrate() {
    // Unique per run without randomness: the process id.
    let tag = std::process::id().to_string();
    let namespaces = match Namespaces::create(&tag) {
        Ok(namespaces) => namespaces,
        Err(error) if std::env::var(SKIP_VAR).as_deref() == Ok("1") => {
            println!("mdns_netns: SKIPPED ({SKIP_VAR}=1): {error}");
            return;
        }
        Err(error) => panic!(
            "the mDNS test cannot create its network namespaces ({error}). It needs root \
             (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2; set {SKIP_VAR}=1 to skip it \
             knowingly."
        ),
    };
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let children: Vec<(Side, Child)> = SIDES
        .iter()
        .zip(&namespaces.names)
        .map(|(side, namespace)| {
            let child = Command::new("ip")
                .args(["netns", "exec", namespace])
                .arg(&exe)
                .env(ROLE_VAR, side.name)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("ip netns exec starts");
            (*side, child)
        })
        .collect();

    let mut failures = Vec::new();
    let mut states = Vec::new();
    for (side, child) in children {
        let (status, stdout, stderr) = wait_with_deadline(child, SIDE_TIMEOUT);
        let ok = status.is_some_and(|s| s.success()) && stdout.contains(SUCCESS_MARKER);
        println!("--- {} ({status:?}) ---\n{stdout}{stderr}", side.name);
        if !ok {
            failures.push(side.name);
        }
        states.extend(stdout.lines().filter_map(|line| {
            line.split_once(STATE_PREFIX)
                .map(|(_, state)| state.to_owned())
        }));
    }
    drop(namespaces);
    assert!(failures.is_empty(), "sides that failed: {failures:?}");
    assert_eq!(states.len(), 2, "each side reports its state");
    assert_eq!(states[0], states[1], "both stores hold the same documents");
    println!(
        "mdns_netns: both sides discovered each other over mDNS, synced, and saw the other leave: ok"
    );
}

/// Waits for `child` at most `limit`, killing it past that; returns its status (`None`
/// if killed) and everything it printed.
fn wait_with_deadline(mut child: Child, limit: Duration) -> (Option<ExitStatus>, String, String) {
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = |reader: JoinHandle<String>| reader.join().unwrap_or_default();
    (status, text(stdout), text(stderr))
}

fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

// ---------------------------------------------------------------------------------
// One side, running inside its namespace.

fn run_side(role: &str) {
    let side = SIDES
        .into_iter()
        .find(|side| side.name == role)
        .expect("the orchestrator names a known side");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    runtime.block_on(async {
        tokio::time::timeout(SIDE_TIMEOUT - Duration::from_secs(5), side_story(side))
            .await
            .expect("the side finished in time");
    });
    println!("{SUCCESS_MARKER}");
}

async fn side_story(side: Side) {
    let ip = Protocol::Ip4(side.ip.into());
    let config = NetworkConfig {
        listen_addrs: vec![
            libp2p::Multiaddr::empty()
                .with(ip.clone())
                .with(Protocol::Tcp(0)),
            libp2p::Multiaddr::empty()
                .with(ip)
                .with(Protocol::Udp(0))
                .with(Protocol::QuicV1),
        ],
        mdns: Some(MdnsConfig {
            query_interval: Duration::from_secs(1),
            // Short, so that a side that leaves expires within the test.
            ttl: Duration::from_secs(4),
        }),
        ..NetworkConfig::default()
    };
    let network = Network::start(keypair(side.seed), config)
        .await
        .expect("the network starts in the namespace");
    let (handle, mut incoming) = network.into_parts();
    let mut events = handle.events();
    let other = peer_id(side.peer_seed);
    println!("{} listens on {:?}", side.name, handle.listen_addrs());

    // Discovery: an event, unless mDNS answered before we subscribed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !handle
        .peers()
        .iter()
        .any(|p| p.peer == other && p.discovered_via_mdns)
    {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(NetworkEvent::PeerDiscovered { peer, addrs })) => {
                println!("{} discovered {peer} at {addrs:?}", side.name);
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => panic!("event channel: {error}"),
            Err(_) => panic!("{} did not discover its peer over mdns", side.name),
        }
    }
    let known = handle
        .peers()
        .into_iter()
        .find(|p| p.peer == other)
        .expect("just discovered");
    let other_ip = SIDES
        .into_iter()
        .find(|s| s.seed == side.peer_seed)
        .map(|s| Protocol::Ip4(s.ip.into()))
        .expect("the other side is one of the two");
    assert!(
        known
            .addrs
            .iter()
            .any(|addr| addr.iter().next() == Some(other_ip.clone())),
        "the other side was found at its link-local address: {:?}",
        known.addrs
    );

    // Both at once: open our stream to them, and answer theirs.
    let outbound = async {
        let mut stream = handle
            .open_sync_stream(other)
            .await
            .expect("a sync stream opens to the discovered peer");
        greet(&mut stream, side.name).await;
    };
    let inbound = async {
        let (opener, mut stream) = incoming
            .next_stream()
            .await
            .expect("the peer opens a stream");
        assert_eq!(opener, other);
        answer(&mut stream).await;
    };
    futures::join!(outbound, inbound);
    println!("{} exchanged streams both ways with {other}", side.name);

    // Then a real sync session. Both opening one at once would be wasteful: the
    // device with the lower peer id opens, the other answers.
    let mut device = Device::new(side);
    let expected = device_id_for(&other).expect("a peer id fits a device id");
    let admit = move |hello: &PeerHello| {
        if hello.device == expected {
            Admission::DefaultShare
        } else {
            Admission::Refuse
        }
    };
    let opener = handle.local_peer_id() < other;
    let stream = if opener {
        handle
            .open_sync_stream(other)
            .await
            .expect("a session stream opens")
    } else {
        let (from, stream) = incoming
            .next_stream()
            .await
            .expect("the peer opens a session");
        assert_eq!(from, other);
        stream
    };
    let session = device.session(u64::from(side.seed));
    let end = run_session(
        stream,
        session,
        &mut device.storage,
        admit,
        &LinkLimits::default(),
    )
    .await;
    assert!(
        end.report.outcome.is_in_sync(),
        "{:?} {:?}",
        end.report.outcome,
        end.link_error
    );
    assert_eq!(device.storage.len(), 8, "3 + 5 households on each side");
    println!("{} {STATE_PREFIX}{:?}", side.name, device.storage.state());

    if opener {
        // The other side leaves the meetup: its connection closes at once, and its
        // mDNS announcement expires after the TTL.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut disconnected = false;
        let mut expired = false;
        while !(disconnected && expired) {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(NetworkEvent::Disconnected { peer })) if peer == other => disconnected = true,
                Ok(Ok(NetworkEvent::PeerExpired { peer })) if peer == other => expired = true,
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(error)) => panic!("event channel: {error}"),
                Err(_) => panic!(
                    "{} saw disconnected={disconnected} expired={expired}",
                    side.name
                ),
            }
        }
        // Still remembered by the addresses it was dialed at, but neither connected
        // nor announced any more.
        let left = handle.peers().into_iter().find(|p| p.peer == other);
        assert!(
            left.as_ref()
                .is_none_or(|p| !p.connected && !p.discovered_via_mdns),
            "{left:?}"
        );
        println!("{} saw {other} leave", side.name);
    }
    handle.shutdown().await;
}

/// The side's store and session configuration: one caseload, its own households.
struct Device {
    storage: MemoryStorage,
    config: SessionConfig,
}

impl Device {
    fn new(side: Side) -> Self {
        let scopes: Vec<Scope> = vec!["sikoro/chw-01".parse().expect("valid scope")];
        let mut storage = MemoryStorage::new(test_actor(u64::from(side.seed)));
        for n in 0..side.households {
            storage
                .create_household(&format!("{}{n}", &side.name[..1]), "sikoro", "chw-01")
                .expect("valid household");
        }
        let device = device_id_for(&peer_id(side.seed)).expect("a peer id fits a device id");
        Self {
            storage,
            config: SessionConfig {
                device,
                offers: scopes.clone(),
                accepts: scopes,
                credentials: Vec::new(),
                reveal: Reveal::default(),
                limits: kafo_proto::Limits::default(),
            },
        }
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

/// Our half of a session we opened: hello, then wait for the acknowledgement.
async fn greet(stream: &mut Stream, name: &str) {
    let hello = format!("hello from {name:<8}");
    stream
        .write_all(hello.as_bytes())
        .await
        .expect("write hello");
    stream.flush().await.expect("flush hello");
    let mut ack = [0u8; 3];
    stream.read_exact(&mut ack).await.expect("read ack");
    assert_eq!(&ack, b"ack");
    stream.close().await.expect("close our stream");
}

/// Our half of a session they opened: read the hello, acknowledge, read to the end.
async fn answer(stream: &mut Stream) {
    let mut hello = [0u8; 19];
    stream.read_exact(&mut hello).await.expect("read hello");
    assert!(hello.starts_with(b"hello from "), "{hello:?}");
    stream.write_all(b"ack").await.expect("write ack");
    stream.flush().await.expect("flush ack");
    // The opener closes its half once it has the ack, and may shut down right
    // after: its close can race its own connection teardown, so an end by error is
    // as good as an end of stream here.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "nothing follows the hello");
}
