//! Running nodes when things go wrong: a device restarted in the middle of a session
//! resumes and converges; a peer that sends garbage, or claims another device's
//! identity, is disconnected and banned while the others keep syncing.

mod common;

use std::time::Duration;

use futures::AsyncWriteExt as _;
use kafo::net::{NodeEvent, Scopes, SyncOutcome};
use kafo::sync::StoreStorage;
use kafo_net::{
    Admission, Keypair, LinkLimits, Network, NetworkConfig, NetworkEvent, device_id_for,
    run_session,
};
use kafo_proto::{Reveal, Session, SessionConfig, Side};

use common::{
    Device, area, eventually, listen_addr, loopback_config, program, tcp_loopback, wait_for, within,
};

/// A TCP relay on 127.0.0.1 to `target` that passes about 80 KiB/s each way: a slow
/// meetup Wi-Fi, so that a session is still running when the test stops a device.
async fn slow_relay(target: u16) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds on loopback");
    let port = listener.local_addr().expect("bound").port();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                continue;
            };
            let (in_read, in_write) = inbound.into_split();
            let (out_read, out_write) = outbound.into_split();
            tokio::spawn(trickle(in_read, out_write));
            tokio::spawn(trickle(out_read, in_write));
        }
    });
    port
}

async fn trickle(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buffer = vec![0u8; 8 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let _ = to.shutdown().await;
}

fn tcp_port(addr: &kafo::net::Multiaddr) -> u16 {
    let text = addr.to_string();
    let after = text
        .split("/tcp/")
        .nth(1)
        .expect("a TCP address has a port");
    after
        .split('/')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("the port is a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_restarted_mid_session_resumes_where_it_stopped() {
    let program = program(120, 2_500);
    let laptop = Device::with_caseloads(&program, &[1]);
    let total = laptop.len();
    // The laptop never opens sessions itself: every session here is the phone's.
    let mut laptop_config = loopback_config(Scopes::Only(vec![area()]));
    laptop_config.first_contact_grace = Duration::from_secs(600);
    laptop_config.resync_interval = None;
    let laptop_node = within(10, laptop.node.clone().serve(laptop_config))
        .await
        .expect("serves");
    let addr = listen_addr(&laptop_node.listen_addrs(), false);
    let relay = slow_relay(tcp_port(&addr)).await;
    let slow_addr: kafo::net::Multiaddr = format!(
        "/ip4/127.0.0.1/tcp/{relay}/p2p/{}",
        laptop_node.local_peer_id()
    )
    .parse()
    .expect("valid multiaddr");

    let phone_config = loopback_config(Scopes::Only(vec![area()]));
    let phone = Device::new();
    let phone_node = within(10, phone.node.clone().serve(phone_config.clone()))
        .await
        .expect("serves");
    let mut events = phone_node.events();
    within(10, phone_node.dial(slow_addr))
        .await
        .expect("reaches the laptop through the relay");
    wait_for(&mut events, 30, |event| {
        matches!(event, NodeEvent::SessionProgress { docs_received, .. } if *docs_received > 0)
    })
    .await;
    // The phone is switched off in the middle of the session.
    within(10, phone_node.shutdown(Duration::ZERO)).await;
    let partial = phone.len();
    assert!(
        partial > 0 && partial < total,
        "{partial} of {total} households arrived before the restart"
    );

    let Device { dir, node } = phone;
    drop(node);
    let phone = Device::reopen(dir).await;
    assert_eq!(phone.len(), partial, "what arrived was durable");
    let phone_node = within(10, phone.node.clone().serve(phone_config))
        .await
        .expect("serves again");
    let mut events = phone_node.events();
    within(10, phone_node.dial(addr))
        .await
        .expect("reaches the laptop");
    let finished = wait_for(
        &mut events,
        60,
        |event| matches!(event, NodeEvent::SessionFinished { report, .. } if report.is_in_sync()),
    )
    .await;
    let NodeEvent::SessionFinished { report, .. } = finished else {
        unreachable!("matched above")
    };
    assert_eq!(
        report.docs_received,
        total - partial,
        "only what had not arrived is sent again"
    );
    assert_eq!(phone.holdings(), laptop.holdings());
    within(10, phone_node.shutdown(Duration::from_secs(2))).await;
    within(10, laptop_node.shutdown(Duration::from_secs(2))).await;
}

fn stranger(seed: u8) -> Keypair {
    Keypair::ed25519_from_bytes([seed; 32]).expect("32 bytes are a valid ed25519 secret")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_garbage_is_disconnected_and_the_others_keep_syncing() {
    let program = program(10, 80);
    let laptop = Device::new();
    let phone = Device::with_caseloads(&program, &[3]);
    let laptop_node = within(
        10,
        laptop
            .node
            .clone()
            .serve(loopback_config(Scopes::Only(vec![area()]))),
    )
    .await
    .expect("serves");
    let mut laptop_events = laptop_node.events();
    let addr = listen_addr(&laptop_node.listen_addrs(), false);

    // A stranger opens a sync stream and sends bytes that are no frame.
    let garbage = within(
        10,
        Network::start(
            stranger(9),
            NetworkConfig::loopback_only(vec![tcp_loopback()]),
        ),
    )
    .await
    .expect("starts");
    let mut garbage_events = garbage.handle().events();
    let laptop_id = within(10, garbage.handle().dial(addr.clone()))
        .await
        .expect("connects");
    let mut stream = within(10, garbage.handle().open_sync_stream(laptop_id))
        .await
        .expect("opens a stream");
    // Writing may fail once the laptop resets the stream: that is the point.
    let _ = stream.write_all(&[0xff; 4096]).await;
    let _ = stream.flush().await;

    // Meanwhile a phone syncs with the laptop.
    let phone_node = within(10, phone.node.clone().serve(loopback_config(Scopes::Held)))
        .await
        .expect("serves");
    within(10, phone_node.dial(addr.clone()))
        .await
        .expect("reaches the laptop");

    let stranger_id = stranger(9).public().to_peer_id();
    let finished = wait_for(
        &mut laptop_events,
        20,
        |event| matches!(event, NodeEvent::SessionFinished { peer, .. } if *peer == stranger_id),
    )
    .await;
    let NodeEvent::SessionFinished { report, .. } = finished else {
        unreachable!("matched above")
    };
    assert!(report.outcome.is_peer_fault(), "{}", report.outcome);
    wait_for(
        &mut laptop_events,
        10,
        |event| matches!(event, NodeEvent::PeerBanned { peer } if *peer == stranger_id),
    )
    .await;
    within(20, async {
        loop {
            match garbage_events.recv().await {
                Ok(NetworkEvent::Disconnected { peer }) if peer == laptop_id => break,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => panic!("the stranger's events ended: {error}"),
            }
        }
    })
    .await;
    // Coming back does not help: its new session is dropped and it is disconnected.
    if within(10, garbage.handle().dial(addr)).await.is_ok()
        && let Ok(mut again) = within(10, garbage.handle().open_sync_stream(laptop_id)).await
    {
        let mut buffer = [0u8; 16];
        let read = within(10, futures::AsyncReadExt::read(&mut again, &mut buffer)).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a banned peer gets no hello: {read:?}"
        );
    }

    eventually(20, "the phone's caseload reached the laptop", || {
        laptop.holdings() == phone.holdings() && laptop.len() == 10
    })
    .await;
    garbage.handle().shutdown().await;
    within(10, phone_node.shutdown(Duration::from_secs(2))).await;
    within(10, laptop_node.shutdown(Duration::from_secs(2))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_claiming_another_device_is_refused_and_banned() {
    let program = program(10, 80);
    let laptop = Device::with_caseloads(&program, &[4]);
    let laptop_node = within(
        10,
        laptop
            .node
            .clone()
            .serve(loopback_config(Scopes::Only(vec![area()]))),
    )
    .await
    .expect("serves");
    let mut laptop_events = laptop_node.events();
    let addr = listen_addr(&laptop_node.listen_addrs(), false);

    // An impostor connects with its own key but says it is another device.
    let impostor = Device::new();
    let network = within(
        10,
        Network::start(
            stranger(7),
            NetworkConfig::loopback_only(vec![tcp_loopback()]),
        ),
    )
    .await
    .expect("starts");
    let laptop_id = within(10, network.handle().dial(addr))
        .await
        .expect("connects");
    let stream = within(10, network.handle().open_sync_stream(laptop_id))
        .await
        .expect("opens a stream");
    let claimed = device_id_for(&stranger(8).public().to_peer_id()).expect("fits");
    let config = SessionConfig {
        device: claimed,
        offers: vec![area()],
        accepts: vec![area()],
        credentials: Vec::new(),
        reveal: Reveal::default(),
        limits: kafo_proto::Limits::default(),
    };
    let session = Session::new(
        config,
        tokio::time::Instant::now().into_std(),
        &mut rand::rng(),
    );
    let mut storage = StoreStorage::new(impostor.node.store());
    let end = within(
        30,
        run_session(
            stream,
            session,
            &mut storage,
            |_: &kafo_proto::PeerHello| Admission::DefaultShare,
            &LinkLimits::default(),
        ),
    )
    .await;
    assert!(
        matches!(
            end.report.outcome,
            kafo_proto::Outcome::Refused { by: Side::Peer }
        ),
        "{:?}",
        end.report.outcome
    );
    assert_eq!(impostor.len(), 0, "nothing was revealed to it");

    let finished = wait_for(&mut laptop_events, 10, |event| {
        matches!(event, NodeEvent::SessionFinished { .. })
    })
    .await;
    let NodeEvent::SessionFinished { report, .. } = finished else {
        unreachable!("matched above")
    };
    assert!(matches!(
        report.outcome,
        SyncOutcome::Refused { by: Side::Us }
    ));
    wait_for(&mut laptop_events, 10, |event| {
        matches!(event, NodeEvent::PeerBanned { .. })
    })
    .await;
    network.handle().shutdown().await;
    within(10, laptop_node.shutdown(Duration::from_secs(2))).await;
}
