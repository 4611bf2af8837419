//! One session on request: over an in-process byte stream (what a Bluetooth socket or
//! a pipe gives), and with a running node at a libp2p address; an unreachable address
//! is told apart from other failures.

mod common;

use std::time::Duration;

use kafo::net::{Scopes, SyncOptions};
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

use common::{Device, area, listen_addr, loopback_config, program, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_sync_over_any_byte_stream() {
    let program = program(10, 80);
    let alice = Device::with_caseloads(&program, &[1]);
    let bob = Device::with_caseloads(&program, &[2]);
    let options = SyncOptions {
        scopes: Scopes::Only(vec![area()]),
        ..SyncOptions::default()
    };
    let (alice_end, bob_end) = tokio::io::duplex(16 * 1024);
    let (alice_read, alice_write) = tokio::io::split(alice_end);
    let (bob_read, bob_write) = tokio::io::split(bob_end);
    let (a, b) = within(30, async {
        tokio::join!(
            alice
                .node
                .sync_over(alice_read.compat(), alice_write.compat_write(), &options),
            bob.node
                .sync_over(bob_read.compat(), bob_write.compat_write(), &options),
        )
    })
    .await;
    let (a, b) = (
        a.expect("alice's session runs"),
        b.expect("bob's session runs"),
    );
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    assert_eq!((a.docs_received, b.docs_received), (10, 10));
    assert_eq!(a.peer, Some(bob.node.device_id().peer_id()));
    assert_eq!(alice.holdings(), bob.holdings());
    assert_eq!(alice.len(), 20);

    let remembered = alice.node.peers().expect("records read");
    assert_eq!(remembered.len(), 1);
    assert_eq!(remembered[0].peer, bob.node.device_id().peer_id());
    assert!(
        remembered[0].addrs.is_empty(),
        "a byte stream has no address"
    );
    assert_eq!(remembered[0].last_sync.docs_received, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_laptop_syncs_once_with_a_running_phone() {
    let program = program(10, 80);
    let phone = Device::with_caseloads(&program, &[5]);
    let laptop = Device::with_caseloads(&program, &[6]);
    let phone_node = within(10, phone.node.clone().serve(loopback_config(Scopes::Held)))
        .await
        .expect("serves");
    let options = SyncOptions {
        scopes: Scopes::Only(vec![area()]),
        ..SyncOptions::default()
    };
    for quic in [false, true] {
        let addr = listen_addr(&phone_node.listen_addrs(), quic);
        let report = within(30, laptop.node.sync_with(addr, &options))
            .await
            .expect("the session runs");
        assert!(report.is_in_sync(), "{}", report.outcome);
        assert_eq!(report.peer, Some(phone_node.local_peer_id()));
    }
    // The laptop gathered the phone's caseload; the phone took nothing of the
    // laptop's other caseload (it shares only what it holds).
    assert_eq!(laptop.len(), 20);
    assert_eq!(phone.len(), 10);
    let record = laptop.node.peers().expect("records read");
    assert_eq!(record.len(), 1);
    assert!(!record[0].addrs.is_empty(), "the address is remembered");
    within(10, phone_node.shutdown(Duration::from_secs(2))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_nobody_listens_on_is_unreachable() {
    let laptop = Device::new();
    // A port that was just free: connecting to it is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binds on loopback")
        .port();
    let addr = format!("/ip4/127.0.0.1/tcp/{port}")
        .parse()
        .expect("valid multiaddr");
    let error = within(30, laptop.node.sync_with(addr, &SyncOptions::default()))
        .await
        .expect_err("nobody listens");
    assert!(error.is_unreachable(), "{error}");
    assert!(laptop.node.peers().expect("records read").is_empty());
}

#[test]
fn a_device_shares_by_default_exactly_the_caseloads_it_holds() {
    let program = program(3, 20);
    let device = Device::with_caseloads(&program, &[1, 3, 10]);
    let held = kafo::net::held_caseloads(device.node.store()).expect("the index reads");
    let names: Vec<String> = held.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["sikoro/chw-01", "sikoro/chw-03", "sikoro/chw-10"]);
    assert!(
        kafo::net::held_caseloads(Device::new().node.store())
            .expect("the index reads")
            .is_empty()
    );
}
