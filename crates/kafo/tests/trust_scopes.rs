//! Who gets what between enrolled devices, on real stores and real sessions: an
//! outsider gets nothing (checked on the frames that crossed the wire), a CHW gets
//! exactly her caseload, a supervisor her area, over in-memory pipes and over libp2p
//! on 127.0.0.1; a supervisor cannot enrol outside her scope.

mod common;

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};
use kafo::net::{Scopes as ShareScopes, SyncOptions};
use kafo::sync::StoreStorage;
use kafo::trust::{Credentials, ProgramKey, Role, Scopes, TrustError};
use kafo_gen::GeneratorConfig;
use kafo_net::{Admission, LinkLimits, device_id_for, run_session, secure_stream};
use kafo_proto::wire::{Frame, FrameDecoder};
use kafo_proto::{PeerHello, Reveal, Session, SessionConfig};
use tokio_util::compat::TokioAsyncReadCompatExt as _;

use common::trust::{admin, enrol, ids, scopes, sync_pair};
use common::{Device, import_caseloads, listen_addr, loopback_config, within};

/// Two areas of two CHWs each: `sikoro` (CHWs 1 and 2) and `sirakoro` (3 and 4).
fn two_areas() -> GeneratorConfig {
    GeneratorConfig {
        seed: 5,
        areas: GeneratorConfig::bamako_areas(2),
        chws: 4,
        households_per_chw: 6,
        visits_per_chw: 12,
        ..GeneratorConfig::default()
    }
}

/// Bytes read through a stream, recorded.
struct Tap<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            this.seen
                .lock()
                .expect("not poisoned")
                .extend_from_slice(&buf[..*n]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// An outsider (presenting `credentials`) runs a raw protocol session against
/// `target` over a secured pipe; returns the names of the frames it received.
async fn outsider_session(
    target: &Device,
    outsider: Device,
    credentials: Vec<u8>,
) -> Vec<&'static str> {
    let keypair = outsider.node.identity().keypair().clone();
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (theirs_read, theirs_write) = tokio::io::split(theirs);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = SyncOptions::default();
    let node = Arc::clone(&outsider.node);
    let recorded = Arc::clone(&seen);
    let outsider_side = async move {
        let (_peer, secured) = secure_stream(ours.compat(), &keypair)
            .await
            .expect("the outsider secures the pipe");
        let area: kafo_model::Scope = "sikoro".parse().expect("valid scope");
        let config = SessionConfig {
            device: device_id_for(&node.device_id().peer_id()).expect("an ed25519 id"),
            offers: vec![area.clone()],
            accepts: vec![area],
            credentials,
            reveal: Reveal::default(),
            limits: kafo_proto::Limits::default(),
        };
        let session = Session::new(
            config,
            tokio::time::Instant::now().into_std(),
            &mut rand::rng(),
        );
        let mut storage = StoreStorage::new(node.store());
        let tap = Tap {
            inner: secured,
            seen: recorded,
        };
        run_session(
            tap,
            session,
            &mut storage,
            |_: &PeerHello| Admission::DefaultShare,
            &LinkLimits::default(),
        )
        .await
    };
    let (end, target_report) = within(30, async {
        tokio::join!(
            outsider_side,
            target.node.sync_over(
                theirs_read.compat(),
                tokio_util::compat::TokioAsyncWriteCompatExt::compat_write(theirs_write),
                &options
            )
        )
    })
    .await;
    let target_report = target_report.expect("the target's session runs");
    assert!(
        !target_report.is_in_sync(),
        "the target refused the outsider"
    );
    assert_eq!(end.report.docs_received, 0);
    assert_eq!(outsider.len(), 0, "the outsider stores nothing");
    let bytes = seen.lock().expect("not poisoned").clone();
    let mut decoder = FrameDecoder::new();
    let mut input = bytes.as_slice();
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = decoder.decode(&mut input) {
        frames.push(match frame {
            Frame::Hello(_) => "hello",
            Frame::Close { .. } => "close",
            Frame::Begin(_) => "begin",
            Frame::Payload(_) => "payload",
            Frame::Reconcile(_) => "reconcile",
            _ => "other",
        });
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_receives_no_document_id_count_or_record() {
    let program = two_areas();
    let admin = admin();
    let chw = Device::new();
    enrol(&admin.node, &chw, Role::Chw, &["sikoro/chw-01"]);
    import_caseloads(&chw.node, &program, &[1]);
    assert_eq!(chw.len(), 6);

    // Not enrolled at all.
    let frames = outsider_session(&chw, Device::new(), Vec::new()).await;
    assert_eq!(
        frames,
        ["hello", "close"],
        "only the hello and the refusal crossed"
    );

    // Enrolled as an admin of every scope, but in another program.
    let other_program = ProgramKey::generate();
    let outsider = Device::new();
    let foreign = other_program
        .enrol(
            outsider.node.device_id().key().expect("ed25519"),
            Role::Admin,
            Scopes::All,
            0,
            u64::MAX / 2,
        )
        .expect("issued");
    let credentials = Credentials {
        chain: Some(foreign.clone()),
    }
    .encode();
    let frames = outsider_session(&chw, outsider, credentials).await;
    assert_eq!(frames, ["hello", "close"]);

    // A valid certificate of this program, presented by another device than the one
    // it names.
    let thief = Device::new();
    let stolen = admin
        .node
        .enrol(
            Device::new().node.device_id(),
            Role::Supervisor,
            scopes(&["sikoro"]),
            30,
        )
        .expect("issued");
    let credentials = Credentials {
        chain: Some(stolen),
    }
    .encode();
    let frames = outsider_session(&chw, thief, credentials).await;
    assert_eq!(frames, ["hello", "close"]);

    // An unenrolled device syncing as usual is refused too, on both sides.
    let stranger = Device::with_caseloads(&program, &[2]);
    let (a, b) = sync_pair(&chw.node, &stranger.node).await;
    assert!(!a.is_in_sync() && !b.is_in_sync());
    assert_eq!((a.docs_received, b.docs_received), (0, 0));
    assert_eq!(stranger.len(), 6, "the stranger keeps only its own");
    assert_eq!(chw.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chw_gets_exactly_her_caseload_and_a_supervisor_her_area() {
    let program = two_areas();
    let admin = admin();
    import_caseloads(&admin.node, &program, &[1, 2, 3, 4]);
    assert_eq!(admin.len(), 24);

    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    let (a, b) = sync_pair(&admin.node, &supervisor.node).await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    let held = ids(&supervisor);
    assert_eq!(held.len(), 12, "the supervisor holds her area: {held:?}");
    assert!(held.iter().all(|id| id.starts_with("sikoro-")));

    let chw = Device::new();
    enrol(&supervisor.node, &chw, Role::Chw, &["sikoro/chw-02"]);
    let (a, b) = sync_pair(&supervisor.node, &chw.node).await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    let held = ids(&chw);
    assert_eq!(held.len(), 6, "the CHW holds her caseload: {held:?}");
    assert!(held.iter().all(|id| id.starts_with("sikoro-chw-02-")));
    assert_eq!(a.docs_sent, 6);

    // What she holds is exactly what the admin imported (same changes, verified).
    let admin_holdings = admin.holdings();
    for (key, heads) in chw.holdings() {
        assert_eq!(admin_holdings.get(&key), Some(&heads));
    }

    // A wider sync option does not widen what a certificate allows.
    let options = SyncOptions {
        scopes: ShareScopes::Only(vec!["sikoro".parse().expect("valid")]),
        ..SyncOptions::default()
    };
    let (a, b) = common::trust::sync_pair_with(&supervisor.node, &chw.node, &options).await;
    assert!(a.is_in_sync() && b.is_in_sync());
    assert_eq!(ids(&chw).len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_cannot_enrol_outside_her_scope_nor_a_chw_anyone() {
    let admin = admin();
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    let target = Device::new();
    let outside = supervisor.node.enrol(
        target.node.device_id(),
        Role::Chw,
        scopes(&["sirakoro/chw-03"]),
        30,
    );
    assert!(matches!(outside, Err(TrustError::Issue(_))), "{outside:?}");
    let wider = supervisor.node.enrol(
        target.node.device_id(),
        Role::Admin,
        scopes(&["sikoro"]),
        30,
    );
    assert!(matches!(wider, Err(TrustError::Issue(_))), "{wider:?}");
    let everything = supervisor
        .node
        .enrol(target.node.device_id(), Role::Chw, Scopes::All, 30);
    assert!(matches!(everything, Err(TrustError::Issue(_))));
    // Within her area she may.
    enrol(&supervisor.node, &target, Role::Chw, &["sikoro/chw-01"]);
    let chw = target;
    let other = Device::new();
    let by_chw = chw.node.enrol(
        other.node.device_id(),
        Role::Chw,
        scopes(&["sikoro/chw-01"]),
        30,
    );
    assert!(matches!(by_chw, Err(TrustError::Issue(_))));
    // Joining with another device's certificate is refused.
    let chain = supervisor
        .node
        .enrol(
            other.node.device_id(),
            Role::Chw,
            scopes(&["sikoro/chw-02"]),
            30,
        )
        .expect("issued");
    assert!(matches!(
        chw.node.join(&chain.to_text()),
        Err(TrustError::NotThisDevice { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolled_nodes_sync_over_libp2p_and_an_outsider_gets_nothing() {
    let program = two_areas();
    let admin = admin();
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    import_caseloads(&supervisor.node, &program, &[1, 2]);
    let laptop = within(
        10,
        supervisor
            .node
            .clone()
            .serve(loopback_config(ShareScopes::Held)),
    )
    .await
    .expect("serves");
    let chw = Device::new();
    enrol(&supervisor.node, &chw, Role::Chw, &["sikoro/chw-01"]);
    for quic in [false, true] {
        let addr = listen_addr(&laptop.listen_addrs(), quic);
        let report = within(30, chw.node.sync_with(addr, &SyncOptions::default()))
            .await
            .expect("the session runs");
        assert!(report.is_in_sync(), "{}", report.outcome);
    }
    let held = ids(&chw);
    assert_eq!(held.len(), 6);
    assert!(held.iter().all(|id| id.starts_with("sikoro-chw-01-")));

    let outsider = Device::with_caseloads(&program, &[3]);
    let addr = listen_addr(&laptop.listen_addrs(), false);
    let report = within(30, outsider.node.sync_with(addr, &SyncOptions::default()))
        .await
        .expect("the session runs");
    assert!(!report.is_in_sync(), "the outsider is refused");
    assert_eq!(report.docs_received, 0);
    assert!(ids(&outsider).iter().all(|id| id.starts_with("sirakoro-")));
    assert_eq!(supervisor.len(), 12, "nothing of the outsider's was taken");
    within(10, laptop.shutdown(std::time::Duration::from_secs(2))).await;
}
