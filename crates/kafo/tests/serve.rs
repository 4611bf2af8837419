//! Running nodes on real stores and real libp2p on 127.0.0.1 (explicit dials, no
//! mDNS): two phones converge over TCP and over QUIC, an edit travels without being
//! asked for, a chain of five converges, and a supervisor gathers its team.

mod common;

use std::time::Duration;

use kafo::model::{HouseholdId, Visit};
use kafo::net::{NodeEvent, Scopes};

use common::{Device, area, eventually, listen_addr, loopback_config, program, wait_for, within};

async fn two_phones_converge(quic: bool) {
    let program = program(12, 120);
    let alice = Device::with_caseloads(&program, &[1]);
    let bob = Device::with_caseloads(&program, &[2]);
    let config = loopback_config(Scopes::Only(vec![area()]));
    let alice_node = within(10, alice.node.clone().serve(config.clone()))
        .await
        .expect("alice serves");
    let bob_node = within(10, bob.node.clone().serve(config))
        .await
        .expect("bob serves");
    let mut alice_events = alice_node.events();

    let addr = listen_addr(&bob_node.listen_addrs(), quic);
    let bob_id = within(10, alice_node.dial(addr))
        .await
        .expect("alice reaches bob");
    assert_eq!(bob_id, bob_node.local_peer_id());

    let finished = wait_for(
        &mut alice_events,
        20,
        |event| matches!(event, NodeEvent::SessionFinished { report, .. } if report.is_in_sync()),
    )
    .await;
    let NodeEvent::SessionFinished { peer, report, .. } = finished else {
        unreachable!("matched above")
    };
    assert_eq!(peer, bob_id);
    assert_eq!(report.peer, Some(bob_id), "the peer's hello names it");
    eventually(20, "both hold both caseloads", || {
        alice.len() == 24 && alice.holdings() == bob.holdings()
    })
    .await;

    // Alice records a visit: it reaches Bob with nobody asking.
    let household: HouseholdId = "sikoro-chw-01-h0001".parse().expect("valid id");
    let view = alice
        .node
        .household(&household)
        .expect("reads")
        .expect("alice holds it");
    let person = view.household.members[0].id.clone();
    let visit: Visit = serde_json::from_value(serde_json::json!({
        "id": "sikoro-chw-01-h0001.v99001",
        "person_id": person.as_str(),
        "date": "2026-01-05",
        "chw": "chw-01",
        "kind": "routine",
    }))
    .expect("a valid visit");
    alice.node.add_visit(&household, &visit).expect("recorded");
    eventually(20, "bob sees alice's new visit", || {
        bob.node
            .household(&household)
            .ok()
            .flatten()
            .is_some_and(|view| view.household.visits.iter().any(|v| v.id == visit.id))
    })
    .await;
    assert_eq!(alice.holdings(), bob.holdings());

    // Both remember each other, with the last session's result.
    let peers = alice_node.peers();
    let bob_status = peers
        .iter()
        .find(|status| status.peer == bob_id)
        .expect("alice knows bob");
    let record = bob_status.record.as_ref().expect("a session was recorded");
    assert!(record.last_sync.in_sync);
    assert!(record.last_success.is_some());
    assert!(!bob_status.addrs.is_empty());

    within(10, alice_node.shutdown(Duration::from_secs(2))).await;
    within(10, bob_node.shutdown(Duration::from_secs(2))).await;
    let remembered = alice.node.peers().expect("records read");
    assert!(remembered.iter().any(|record| record.peer == bob_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_converge_over_tcp() {
    two_phones_converge(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_converge_over_quic() {
    two_phones_converge(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_devices_in_a_chain_converge() {
    let program = program(8, 60);
    let devices: Vec<Device> = (1..=5)
        .map(|chw| Device::with_caseloads(&program, &[chw]))
        .collect();
    let config = loopback_config(Scopes::Only(vec![area()]));
    let mut running = Vec::new();
    for device in &devices {
        running.push(
            within(10, device.node.clone().serve(config.clone()))
                .await
                .expect("serves"),
        );
    }
    // Each knows only the next one: changes must travel hop by hop.
    for pair in running.windows(2) {
        let addr = listen_addr(&pair[1].listen_addrs(), false);
        within(10, pair[0].dial(addr))
            .await
            .expect("reaches the next");
    }
    eventually(30, "every device holds all five caseloads", || {
        let first = devices[0].holdings();
        first.len() == 40 && devices.iter().all(|device| device.holdings() == first)
    })
    .await;
    for node in running {
        within(10, node.shutdown(Duration::from_secs(2))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_gathers_each_caseload_and_each_phone_keeps_only_its_own() {
    let program = program(10, 80);
    let supervisor = Device::new();
    let phones: Vec<Device> = (1..=4)
        .map(|chw| Device::with_caseloads(&program, &[chw]))
        .collect();
    let own: Vec<_> = phones.iter().map(Device::holdings).collect();
    let laptop = within(
        10,
        supervisor
            .node
            .clone()
            .serve(loopback_config(Scopes::Only(vec![area()]))),
    )
    .await
    .expect("serves");
    let addr = listen_addr(&laptop.listen_addrs(), false);
    let mut running = Vec::new();
    for phone in &phones {
        let node = within(10, phone.node.clone().serve(loopback_config(Scopes::Held)))
            .await
            .expect("serves");
        within(10, node.dial(addr.clone()))
            .await
            .expect("reaches the laptop");
        running.push(node);
    }
    eventually(30, "the supervisor holds every caseload", || {
        supervisor.len() == 40
    })
    .await;
    let gathered = supervisor.holdings();
    for (phone, own) in phones.iter().zip(&own) {
        assert_eq!(
            &phone.holdings(),
            own,
            "a phone holds its own caseload only"
        );
        assert!(
            own.iter()
                .all(|(key, heads)| gathered.get(key) == Some(heads))
        );
    }
    for node in running {
        within(10, node.shutdown(Duration::from_secs(2))).await;
    }
    within(10, laptop.shutdown(Duration::from_secs(2))).await;
}
