//! One session over any byte stream, on this device's store: the session's
//! configuration, admission, the storage that notices what it applied, and the
//! overall deadline.

use automerge::sync;
use futures::io::{AsyncRead, AsyncWrite};
use kafo_model::{AreaId, HouseholdId, HouseholdScope, Scope};
use kafo_net::{PeerId, device_id_for, run_session_split};
use kafo_proto::storage::{
    ApplyOutcome, ApplyPayload, CaseloadSummary, ChangesSince, Item, RangeSummary, StorageError,
    SyncOutcome as StepOutcome, SyncStorage,
};
use kafo_proto::tree::HeadPrefix;
use kafo_proto::{Reveal, Session, SessionConfig};
use kafo_trust::{Credentials, DeviceKey, TrustBook};
use tokio::runtime::{Handle, RuntimeFlavor};
use tracing::{debug, info, warn};

use crate::net::config::SyncOptions;
use crate::net::error::SessionSetupError;
use crate::net::report::SyncReport;
use crate::net::scopes;
use crate::node::Node;
use crate::sync::{StoreStorage, TrustedStorage};
use crate::trust::admission::{self, TrustHooks};

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
/// `authenticated` is the identity the transport authenticated, if any: a peer whose
/// hello claims another device is refused, and an enrolled device admits only a peer
/// whose certificate names it (see [`crate::trust`]). `on_applied` is called with the
/// number of documents applied so far, after each one. The session is cut as soon as
/// this device learns that the peer is revoked (from any session, or
/// [`Node::revoke`]).
pub(crate) async fn drive<R, W>(
    node: &Node,
    reader: R,
    writer: W,
    authenticated: Option<PeerId>,
    options: &SyncOptions,
    on_applied: impl FnMut(u64),
) -> Result<DrivenSession, SessionSetupError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mine, program) = {
        let known = node.trust.read();
        (
            known.enrolment().cloned(),
            known.book.as_ref().map(TrustBook::program),
        )
    };
    let offers = blocking(|| match &mine {
        Some(mine) => admission::enrolled_offers(mine, &options.scopes, node.store()),
        None => scopes::resolve(&options.scopes, node.store()),
    })
    .map_err(SessionSetupError::Scopes)?;
    if offers.is_empty() {
        info!("this device shares no scope: the session only introduces it");
    }
    let device = device_id_for(&node.device_id().peer_id()).ok_or(SessionSetupError::DeviceId)?;
    let config = SessionConfig {
        device,
        offers: offers.clone(),
        accepts: offers.clone(),
        credentials: Credentials {
            chain: mine.as_ref().map(|mine| mine.chain().clone()),
        }
        .encode(),
        reveal: Reveal::default(),
        limits: options.session.clone(),
    };
    let session = {
        let mut rng = rand::rng();
        Session::new(config, tokio::time::Instant::now().into_std(), &mut rng)
    };
    let hooks = TrustHooks::new(node, mine.clone(), authenticated, offers, &options.scopes);
    let peer_key = authenticated.as_ref().and_then(DeviceKey::from_peer_id);
    let inner = match (mine.is_some(), program, peer_key) {
        (true, Some(program), Some(peer)) => {
            NodeStorage::Trusted(Box::new(TrustedStorage::for_session(node, peer, program)))
        }
        // An enrolled device refuses a peer no transport authenticated: nothing is
        // exchanged, whatever the storage.
        _ => NodeStorage::Plain(StoreStorage::new(node.store())),
    };
    let version_before = node.change_count();
    let started = tokio::time::Instant::now();
    let mut storage = ObservedStorage {
        inner,
        node,
        own_changes: 0,
        docs_applied: 0,
        on_applied,
    };
    let run = run_session_split(reader, writer, session, &mut storage, hooks, &options.link);
    let report = tokio::select! {
        biased;
        () = peer_revoked(node, peer_key) => {
            warn!("the peer was revoked: session cut");
            SyncReport::cut(authenticated, started.elapsed())
        }
        ended = tokio::time::timeout(options.session_timeout, run) => match ended {
            Ok(end) => SyncReport::from_end(end),
            Err(_) => {
                warn!(after = ?options.session_timeout, "session abandoned at its deadline");
                SyncReport::abandoned(authenticated, options.session_timeout)
            }
        },
    };
    let report = match &storage.inner {
        NodeStorage::Trusted(trusted) => report.with_held_back(trusted.held_back()),
        NodeStorage::Plain(_) => report,
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

/// Resolves once `peer` is known to be revoked (never when there is no peer).
async fn peer_revoked(node: &Node, peer: Option<DeviceKey>) {
    let Some(peer) = peer else {
        return std::future::pending().await;
    };
    let mut changes = node.trust.revocation_changes();
    loop {
        if node.trust.is_revoked(&peer) {
            return;
        }
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
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

/// The storage of a session: plain between unenrolled devices, trusted (signed and
/// checked) between enrolled ones.
#[derive(Debug)]
enum NodeStorage<'a> {
    Plain(StoreStorage<'a>),
    Trusted(Box<TrustedStorage<'a>>),
}

impl NodeStorage<'_> {
    fn get(&mut self) -> &mut dyn SyncStorage {
        match self {
            Self::Plain(storage) => storage,
            Self::Trusted(storage) => storage.as_mut(),
        }
    }
}

/// The session's storage, bumping the node's change counter after each document it
/// applies, and counting them.
struct ObservedStorage<'a, F> {
    inner: NodeStorage<'a>,
    node: &'a Node,
    own_changes: u64,
    docs_applied: u64,
    on_applied: F,
}

impl<F: FnMut(u64)> ObservedStorage<'_, F> {
    fn applied(&mut self, id: &HouseholdId, changes_added: u64) {
        if changes_added > 0 {
            self.node.note_change(vec![id.clone()]);
            self.own_changes += 1;
            self.docs_applied += 1;
            (self.on_applied)(self.docs_applied);
        }
    }
}

impl<F: FnMut(u64)> SyncStorage for ObservedStorage<'_, F> {
    fn summarize(&mut self, scopes: &[Scope]) -> Result<Vec<RangeSummary>, StorageError> {
        self.inner.get().summarize(scopes)
    }

    fn caseloads(&mut self, area: &AreaId) -> Result<Vec<CaseloadSummary>, StorageError> {
        self.inner.get().caseloads(area)
    }

    fn items(&mut self, caseload: &HouseholdScope) -> Result<Vec<Item>, StorageError> {
        self.inner.get().items(caseload)
    }

    fn changes_since(
        &mut self,
        id: &HouseholdId,
        their_heads: &[HeadPrefix],
    ) -> Result<ChangesSince, StorageError> {
        self.inner.get().changes_since(id, their_heads)
    }

    fn whole_document(&mut self, id: &HouseholdId) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get().whole_document(id)
    }

    fn apply(
        &mut self,
        id: &HouseholdId,
        payload: ApplyPayload,
        within: &[Scope],
    ) -> Result<ApplyOutcome, StorageError> {
        let outcome = self.inner.get().apply(id, payload, within)?;
        if let ApplyOutcome::Applied { changes_added, .. } = &outcome {
            self.applied(id, *changes_added);
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
        let outcome = self.inner.get().sync_step(id, state, message, within)?;
        if let StepOutcome::Stepped { changes_added, .. } = &outcome {
            self.applied(id, *changes_added);
        }
        Ok(outcome)
    }
}
