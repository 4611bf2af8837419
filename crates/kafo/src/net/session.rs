//! One session over any byte stream, on this device's store: the session's
//! configuration, admission, the storage that notices what it applied, and the
//! overall deadline.

use automerge::sync;
use futures::io::{AsyncRead, AsyncWrite};
use kafo_model::{AreaId, HouseholdId, HouseholdScope, Scope};
use kafo_net::{Admission, PeerId, device_id_for, run_session_split};
use kafo_proto::storage::{
    ApplyOutcome, ApplyPayload, CaseloadSummary, ChangesSince, Item, RangeSummary, StorageError,
    SyncOutcome as StepOutcome, SyncStorage,
};
use kafo_proto::tree::HeadPrefix;
use kafo_proto::{PeerHello, Reveal, Session, SessionConfig};
use tokio::runtime::{Handle, RuntimeFlavor};
use tracing::{debug, info, warn};

use crate::net::config::SyncOptions;
use crate::net::error::SessionSetupError;
use crate::net::report::SyncReport;
use crate::net::scopes;
use crate::node::Node;
use crate::sync::StoreStorage;

/// A session that ran, with what the change counter says about the peer.
#[derive(Debug)]
pub(crate) struct DrivenSession {
    pub(crate) report: SyncReport,
    /// The [`Node::change_count`] value the peer is known to hold everything of, if
    /// the session ended in sync: the count at its end when every change during the
    /// session was its own, else the count at its start (other changes landed
    /// meanwhile, which the peer may lack).
    pub(crate) synced_version: u64,
}

/// Runs one session with the peer at the other end of `reader`/`writer`.
///
/// `expected_peer` is the identity the transport authenticated, if any: a peer whose
/// hello claims another device is refused. `on_applied` is called with the number of
/// documents applied so far, after each one.
pub(crate) async fn drive<R, W>(
    node: &Node,
    reader: R,
    writer: W,
    expected_peer: Option<PeerId>,
    options: &SyncOptions,
    on_applied: impl FnMut(u64),
) -> Result<DrivenSession, SessionSetupError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let shared = blocking(|| scopes::resolve(&options.scopes, node.store()))
        .map_err(SessionSetupError::Scopes)?;
    if shared.is_empty() {
        info!("this device shares no scope: the session only introduces it");
    }
    let device = device_id_for(&node.device_id().peer_id()).ok_or(SessionSetupError::DeviceId)?;
    let config = SessionConfig {
        device,
        offers: shared.clone(),
        accepts: shared,
        credentials: Vec::new(),
        reveal: Reveal::default(),
        limits: options.session.clone(),
    };
    let session = {
        let mut rng = rand::rng();
        Session::new(config, tokio::time::Instant::now().into_std(), &mut rng)
    };
    let expected_device = expected_peer.and_then(|peer| device_id_for(&peer));
    let admit = move |hello: &PeerHello| match &expected_device {
        Some(expected) if *expected != hello.device => {
            warn!("peer announced another device id than the one it authenticated as");
            Admission::Refuse
        }
        _ => Admission::DefaultShare,
    };
    let version_before = node.change_count();
    let mut storage = ObservedStorage {
        inner: StoreStorage::new(node.store()),
        node,
        own_changes: 0,
        docs_applied: 0,
        on_applied,
    };
    let run = run_session_split(reader, writer, session, &mut storage, admit, &options.link);
    let report = match tokio::time::timeout(options.session_timeout, run).await {
        Ok(end) => SyncReport::from_end(end),
        Err(_) => {
            warn!(after = ?options.session_timeout, "session abandoned at its deadline");
            SyncReport::abandoned(expected_peer, options.session_timeout)
        }
    };
    let version_after = node.change_count();
    let foreign = version_after
        .wrapping_sub(version_before)
        .wrapping_sub(storage.own_changes);
    let synced_version = if foreign == 0 {
        version_after
    } else {
        version_before
    };
    debug!(
        outcome = report.outcome.kind(),
        docs_sent = report.docs_sent,
        docs_received = report.docs_received,
        "session ended"
    );
    Ok(DrivenSession {
        report,
        synced_version,
    })
}

/// Runs blocking store work: inside `block_in_place` on a multi-threaded runtime (so
/// other tasks move to another worker), inline otherwise.
pub(crate) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    let multi_thread = Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// [`StoreStorage`] that bumps the node's change counter after each document a
/// session applies, and counts them.
struct ObservedStorage<'a, F> {
    inner: StoreStorage<'a>,
    node: &'a Node,
    own_changes: u64,
    docs_applied: u64,
    on_applied: F,
}

impl<F: FnMut(u64)> ObservedStorage<'_, F> {
    fn applied(&mut self, changes_added: u64) {
        if changes_added > 0 {
            self.node.note_change();
            self.own_changes += 1;
            self.docs_applied += 1;
            (self.on_applied)(self.docs_applied);
        }
    }
}

impl<F: FnMut(u64)> SyncStorage for ObservedStorage<'_, F> {
    fn summarize(&mut self, scopes: &[Scope]) -> Result<Vec<RangeSummary>, StorageError> {
        self.inner.summarize(scopes)
    }

    fn caseloads(&mut self, area: &AreaId) -> Result<Vec<CaseloadSummary>, StorageError> {
        self.inner.caseloads(area)
    }

    fn items(&mut self, caseload: &HouseholdScope) -> Result<Vec<Item>, StorageError> {
        self.inner.items(caseload)
    }

    fn changes_since(
        &mut self,
        id: &HouseholdId,
        their_heads: &[HeadPrefix],
    ) -> Result<ChangesSince, StorageError> {
        self.inner.changes_since(id, their_heads)
    }

    fn whole_document(&mut self, id: &HouseholdId) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.whole_document(id)
    }

    fn apply(
        &mut self,
        id: &HouseholdId,
        payload: ApplyPayload,
        within: &[Scope],
    ) -> Result<ApplyOutcome, StorageError> {
        let outcome = self.inner.apply(id, payload, within)?;
        if let ApplyOutcome::Applied { changes_added, .. } = &outcome {
            self.applied(*changes_added);
        }
        Ok(outcome)
    }

    fn sync_step(
        &mut self,
        id: &HouseholdId,
        state: Box<sync::State>,
        message: Option<Vec<u8>>,
        within: &[Scope],
    ) -> Result<StepOutcome, StorageError> {
        let outcome = self.inner.sync_step(id, state, message, within)?;
        if let StepOutcome::Stepped { changes_added, .. } = &outcome {
            self.applied(*changes_added);
        }
        Ok(outcome)
    }
}
