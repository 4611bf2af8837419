//! Expiry and revocation on real stores and real sessions: an expired certificate is
//! refused; a revoked device is refused at its next session (over libp2p) and the
//! revocation spreads ahead of data; what it wrote after its revocation is not taken
//! from an honest relay; a live session with it is cut within a second of the
//! revocation arriving, whether issued here or learnt from another session.

mod common;

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::io::AsyncRead;
use kafo::Node;
use kafo::model::{HouseholdId, Visit};
use kafo::net::{SyncOptions, SyncOutcome, SyncReport};
use kafo::trust::{ProgramKey, Role, TrustBook, TrustError};
use kafo_gen::GeneratorConfig;
use kafo_proto::Side;
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

use common::trust::{admin, enrol, scopes, sync_pair};
use common::{Device, import_caseloads, listen_addr, loopback_config, within};

fn program(households_per_chw: u32) -> GeneratorConfig {
    GeneratorConfig {
        seed: 3,
        areas: GeneratorConfig::bamako_areas(1),
        chws: 10,
        households_per_chw,
        visits_per_chw: households_per_chw * 3,
        ..GeneratorConfig::default()
    }
}

fn now() -> u64 {
    jiff::Timestamp::now()
        .as_second()
        .try_into()
        .expect("after 1970")
}

fn visit_for(device: &Device, id: &HouseholdId, visit_id: &str) -> Visit {
    let view = device.node.household(id).expect("reads").expect("held");
    serde_json::from_value(serde_json::json!({
        "id": visit_id,
        "person_id": view.household.members[0].id.as_str(),
        "date": "2026-01-05",
        "chw": view.household.chw.as_str(),
        "kind": "routine",
    }))
    .expect("a valid visit")
}

fn has_visit(device: &Device, id: &HouseholdId, visit: &Visit) -> bool {
    device
        .node
        .household(id)
        .expect("reads")
        .is_some_and(|view| view.household.visits.iter().any(|v| v.id == visit.id))
}

fn refused_by_us(report: &SyncReport) -> bool {
    matches!(report.outcome, SyncOutcome::Refused { by: Side::Us })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused() {
    let admin = admin();
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    import_caseloads(&supervisor.node, &program(3), &[1]);
    let secret: [u8; 32] = admin
        .node
        .store()
        .meta("trust.program-key")
        .expect("reads")
        .expect("the admin holds the program key")
        .try_into()
        .expect("32 bytes");
    let key = ProgramKey::from_secret_bytes(secret);
    let phone = Device::new();
    let day = 86_400;
    let expired = key
        .enrol(
            phone.node.device_id().key().expect("ed25519"),
            Role::Chw,
            scopes(&["sikoro/chw-01"]),
            now() - 30 * day,
            now() - day,
        )
        .expect("issued");
    assert!(matches!(
        phone.node.join(&expired.to_text()),
        Err(TrustError::Refused(_))
    ));

    // A phone that joined while the certificate was valid: it still presents it.
    phone
        .node
        .store()
        .put_meta("trust.book", &TrustBook::new(key.id()).encode())
        .expect("written");
    phone
        .node
        .store()
        .put_meta("trust.chain", &expired.encode())
        .expect("written");
    let dir = phone.dir;
    drop(phone.node);
    let phone = Device::reopen(dir).await;
    assert!(phone.node.whoami().enrolment.is_some());
    let (at_supervisor, at_phone) = sync_pair(&supervisor.node, &phone.node).await;
    assert!(refused_by_us(&at_supervisor), "{}", at_supervisor.outcome);
    assert!(!at_phone.is_in_sync());
    assert_eq!(phone.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_refused_at_its_next_session_and_the_revocation_spreads() {
    let admin = admin();
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    import_caseloads(&supervisor.node, &program(4), &[1, 2]);
    let laptop = within(
        10,
        supervisor
            .node
            .clone()
            .serve(loopback_config(kafo::net::Scopes::Held)),
    )
    .await
    .expect("serves");
    let addr = listen_addr(&laptop.listen_addrs(), false);
    let chw = Device::new();
    enrol(&supervisor.node, &chw, Role::Chw, &["sikoro/chw-01"]);
    let report = within(
        30,
        chw.node.sync_with(addr.clone(), &SyncOptions::default()),
    )
    .await
    .expect("runs");
    assert!(report.is_in_sync(), "{}", report.outcome);
    assert_eq!(chw.len(), 4);

    let revocation = supervisor
        .node
        .revoke(chw.node.device_id(), "phone lost at the market")
        .expect("a supervisor revokes within her area");
    assert_eq!(revocation.reason, "phone lost at the market");
    let id: HouseholdId = "sikoro-chw-01-h0001".parse().expect("valid");
    let visit = visit_for(&chw, &id, "sikoro-chw-01-h0001.v90001");
    chw.node.add_visit(&id, &visit).expect("recorded");
    // The running node refuses it: the session ends out of sync, or, once the node
    // has banned the peer, the connection itself is refused (either may come first).
    match within(30, chw.node.sync_with(addr, &SyncOptions::default())).await {
        Ok(report) => {
            assert!(!report.is_in_sync(), "{}", report.outcome);
            assert_eq!(report.docs_received, 0);
        }
        Err(refused) => eprintln!("the revoked device's connection was refused: {refused}"),
    }
    assert!(!has_visit(&supervisor, &id, &visit));
    within(10, laptop.shutdown(Duration::from_secs(2))).await;

    // The revocation reaches the admin in its next session with the supervisor.
    assert!(!admin.node.is_revoked(&chw.node.device_id()));
    let (a, b) = sync_pair(&admin.node, &supervisor.node).await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    assert!(admin.node.is_revoked(&chw.node.device_id()));
    let known = supervisor.node.devices().expect("reads");
    let phone = known
        .iter()
        .find(|device| device.device == chw.node.device_id())
        .expect("the supervisor knows the phone she enrolled");
    assert_eq!(phone.role, Role::Chw);
    assert_eq!(
        phone
            .revoked
            .as_ref()
            .map(|revoked| revoked.reason.as_str()),
        Some("phone lost at the market")
    );
    let (a, b) = sync_pair(&admin.node, &chw.node).await;
    assert!(refused_by_us(&a), "{}", a.outcome);
    assert!(!b.is_in_sync());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_revoked_device_wrote_after_its_revocation_is_not_taken_from_a_relay() {
    let admin = admin();
    let first = Device::new();
    let second = Device::new();
    enrol(&admin.node, &first, Role::Supervisor, &["sikoro"]);
    enrol(&admin.node, &second, Role::Supervisor, &["sikoro"]);
    import_caseloads(&first.node, &program(3), &[1]);
    let chw = Device::new();
    enrol(&first.node, &chw, Role::Chw, &["sikoro/chw-01"]);
    let (a, b) = sync_pair(&first.node, &chw.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());
    let id: HouseholdId = "sikoro-chw-01-h0002".parse().expect("valid");
    let before = visit_for(&chw, &id, "sikoro-chw-01-h0002.v90001");
    chw.node.add_visit(&id, &before).expect("recorded");
    let (a, b) = sync_pair(&first.node, &chw.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());
    let revocation = first
        .node
        .revoke(chw.node.device_id(), "left the program")
        .expect("revoked");
    assert_eq!(revocation.frontier.len(), 1, "the phone's one actor so far");

    // The phone, unaware, writes again and meets a supervisor who does not know yet.
    let after = visit_for(&chw, &id, "sikoro-chw-01-h0002.v90002");
    chw.node.add_visit(&id, &after).expect("recorded");
    let (a, b) = sync_pair(&second.node, &chw.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());
    assert!(has_visit(&second, &id, &after));

    // That supervisor relays it in good faith: the first one learns nothing new of the
    // phone's and takes the rest.
    let (a, b) = sync_pair(&first.node, &second.node).await;
    assert!(
        !a.outcome.is_peer_fault(),
        "an honest relay is no misbehaving peer"
    );
    assert!(!b.outcome.is_peer_fault(), "{}", b.outcome);
    assert!(has_visit(&first, &id, &before));
    assert!(
        !has_visit(&first, &id, &after),
        "written after the revocation"
    );
    assert!(
        second.node.is_revoked(&chw.node.device_id()),
        "learnt ahead of data"
    );
    // The household is never hidden: held back, reported and listed.
    assert!(
        matches!(a.outcome, SyncOutcome::HeldBack { households: 1 }),
        "{}",
        a.outcome
    );
    assert_eq!(a.held_back, vec![id.clone()]);
    assert_eq!(first.node.held_back().len(), 1);

    // Settled by the supervisor: the next session takes it, and it is no longer held.
    let settlement = first.node.settle_household(&id).expect("settles");
    assert_eq!(settlement.changes.len(), 1);
    let (a, b) = sync_pair(&first.node, &second.node).await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    assert!(has_visit(&first, &id, &after), "taken once settled");
    assert!(first.node.held_back().is_empty());
}

/// A reader that takes at most 2 KiB every 10 ms: a slow link.
struct Slow<R> {
    inner: R,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Slow<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if let Some(pause) = &mut this.pause {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
        }
        let max = buf.len().min(2048);
        let polled = Pin::new(&mut this.inner).poll_read(cx, &mut buf[..max]);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(10))));
        }
        polled
    }
}

/// Starts a slow pull of `holder`'s area by `puller`; returns both sessions' tasks.
fn slow_pull(
    holder: &Arc<Node>,
    puller: &Arc<Node>,
) -> (
    tokio::task::JoinHandle<SyncReport>,
    tokio::task::JoinHandle<SyncReport>,
) {
    let (h_end, p_end) = tokio::io::duplex(16 * 1024);
    let (h_read, h_write) = tokio::io::split(h_end);
    let (p_read, p_write) = tokio::io::split(p_end);
    let holder = Arc::clone(holder);
    let puller = Arc::clone(puller);
    let at_holder = tokio::spawn(async move {
        holder
            .sync_over(
                h_read.compat(),
                h_write.compat_write(),
                &SyncOptions::default(),
            )
            .await
            .expect("the holder's session runs")
    });
    let at_puller = tokio::spawn(async move {
        let slow = Slow {
            inner: p_read.compat(),
            pause: None,
        };
        puller
            .sync_over(slow, p_write.compat_write(), &SyncOptions::default())
            .await
            .expect("the puller's session runs")
    });
    (at_holder, at_puller)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_is_cut_within_a_second_of_a_revocation_issued_here() {
    let admin = admin();
    let holder = Device::new();
    let puller = Device::new();
    enrol(&admin.node, &holder, Role::Supervisor, &["sikoro"]);
    enrol(&admin.node, &puller, Role::Supervisor, &["sikoro"]);
    import_caseloads(&holder.node, &program(40), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(holder.len(), 400);
    let (at_holder, at_puller) = slow_pull(&holder.node, &puller.node);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!at_holder.is_finished(), "the pull is still running");
    let node = Arc::clone(&holder.node);
    let target = puller.node.device_id();
    within(
        30,
        tokio::task::spawn_blocking(move || node.revoke(target, "stolen")),
    )
    .await
    .expect("no panic")
    .expect("revoked");
    let revoked_at = Instant::now();
    let report = within(5, at_holder).await.expect("no panic");
    let cut_after = revoked_at.elapsed();
    assert!(
        cut_after < Duration::from_secs(1),
        "cut after {cut_after:?}"
    );
    assert!(refused_by_us(&report), "{}", report.outcome);
    let _ = within(10, at_puller).await.expect("no panic");
    assert!(puller.len() < 400, "the pull was cut short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_is_cut_within_a_second_of_a_revocation_learnt_from_another_session() {
    let admin = admin();
    let holder = Device::new();
    let puller = Device::new();
    enrol(&admin.node, &holder, Role::Supervisor, &["sikoro"]);
    enrol(&admin.node, &puller, Role::Supervisor, &["sikoro"]);
    import_caseloads(&holder.node, &program(40), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let revocation = admin
        .node
        .revoke(puller.node.device_id(), "stolen")
        .expect("revoked");
    assert!(revocation.frontier.is_empty());
    let (at_holder, at_puller) = slow_pull(&holder.node, &puller.node);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!at_holder.is_finished(), "the pull is still running");

    // The admin meets the holder: the revocation arrives ahead of any data.
    let started = Instant::now();
    let cut = async {
        let report = at_holder.await.expect("no panic");
        (report, started.elapsed())
    };
    let ((report, cut_after), (a, b)) = within(60, async {
        tokio::join!(cut, sync_pair(&admin.node, &holder.node))
    })
    .await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    assert!(
        cut_after < Duration::from_secs(1),
        "cut after {cut_after:?}"
    );
    assert!(refused_by_us(&report), "{}", report.outcome);
    let _ = within(10, at_puller).await.expect("no panic");
    assert!(puller.len() < 400, "the pull was cut short");
}
