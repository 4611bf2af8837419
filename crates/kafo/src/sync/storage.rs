//! The sync protocol's storage effects, performed on the device's sled store.
//!
//! Reads come from the store's reconciliation index (per-caseload aggregates, so a
//! summary of a whole area reads a few counters, not every document). A payload from
//! a peer is merged inside one store update: the scope check, the merge and the
//! durable write happen together, and a refused payload writes nothing.

use automerge::{AutoCommit, ChangeHash, sync};
use kafo_model::{AreaId, HouseholdId, HouseholdScope, Scope};
use kafo_proto::docops::{self, Refusal};
use kafo_proto::storage::{
    ApplyOutcome, ApplyPayload, CaseloadSummary, ChangesSince, Item, RangeSummary, StorageError,
    StorageOperation, SyncOutcome, SyncStorage,
};
use kafo_proto::tree::HeadPrefix;
use kafo_store::{Store, UpdateError};

/// [`SyncStorage`] over a [`Store`].
#[derive(Debug)]
pub struct StoreStorage<'a> {
    store: &'a Store,
}

impl<'a> StoreStorage<'a> {
    /// Performs sessions' storage work on `store`.
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Runs a merge inside one store update; maps the outcome for the session.
    fn merge<T>(
        &mut self,
        id: &HouseholdId,
        operation: StorageOperation,
        merge: impl FnOnce(Option<&AutoCommit>) -> Result<(Option<AutoCommit>, T), Refusal>,
    ) -> Result<Result<T, Refusal>, StorageError> {
        let result = self.store.update(id, |doc| {
            let existing = (!doc.get_heads().is_empty()).then_some(&*doc);
            let (merged, value) = merge(existing)?;
            if let Some(merged) = merged {
                *doc = merged;
            }
            Ok::<_, Refusal>(value)
        });
        match result {
            Ok((value, _outcome)) => Ok(Ok(value)),
            Err(UpdateError::Edit { source, .. }) => Ok(Err(source)),
            // The store's own checks (id, layout, no change lost) refused a merge that
            // docops had validated: a local invariant broke, not the peer. Nothing was written.
            Err(UpdateError::Invalid { source, .. }) => Err(StorageError::new(operation, source)),
            Err(UpdateError::Write(error)) => Err(StorageError::new(operation, error)),
        }
    }
}

impl SyncStorage for StoreStorage<'_> {
    fn summarize(&mut self, scopes: &[Scope]) -> Result<Vec<RangeSummary>, StorageError> {
        scopes
            .iter()
            .map(|scope| {
                let set = self
                    .store
                    .scope_fingerprint(scope)
                    .map_err(|e| StorageError::new(StorageOperation::Summarize, e))?;
                Ok(RangeSummary {
                    count: set.count,
                    fingerprint: set.fingerprint,
                })
            })
            .collect()
    }

    fn caseloads(&mut self, area: &AreaId) -> Result<Vec<CaseloadSummary>, StorageError> {
        let aggregates = self
            .store
            .scope_aggregates(&Scope::area(area.clone()))
            .map_err(|e| StorageError::new(StorageOperation::Caseloads, e))?;
        Ok(aggregates
            .into_iter()
            .filter(|aggregate| aggregate.set.count > 0)
            .map(|aggregate| CaseloadSummary {
                chw: aggregate.scope.chw,
                summary: RangeSummary {
                    count: aggregate.set.count,
                    fingerprint: aggregate.set.fingerprint,
                },
            })
            .collect())
    }

    fn items(&mut self, caseload: &HouseholdScope) -> Result<Vec<Item>, StorageError> {
        let error = |e| StorageError::new(StorageOperation::Items, e);
        let scope = Scope::chw(caseload.area.clone(), caseload.chw.clone());
        let mut items = Vec::new();
        for item in self.store.scope_items(&scope) {
            let item = item.map_err(error)?;
            // An item without heads was removed between the two reads: skip it.
            if let Some(heads) = self.store.heads(&item.id).map_err(error)? {
                items.push(Item { id: item.id, heads });
            }
        }
        items.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(items)
    }

    fn changes_since(
        &mut self,
        id: &HouseholdId,
        their_heads: &[HeadPrefix],
    ) -> Result<ChangesSince, StorageError> {
        match self
            .store
            .document(id)
            .map_err(|e| StorageError::new(StorageOperation::ChangesSince, e))?
        {
            Some(mut doc) => Ok(docops::changes_since(&mut doc, their_heads)),
            None => Ok(ChangesSince::Missing),
        }
    }

    fn whole_document(&mut self, id: &HouseholdId) -> Result<Option<Vec<u8>>, StorageError> {
        self.store
            .compacted_bytes(id)
            .map_err(|e| StorageError::new(StorageOperation::WholeDocument, e))
    }

    fn apply(
        &mut self,
        id: &HouseholdId,
        payload: ApplyPayload,
        within: &[Scope],
    ) -> Result<ApplyOutcome, StorageError> {
        let merged = self.merge(id, StorageOperation::Apply, |existing| {
            merge_payload(existing, id, &payload, within)
        })?;
        Ok(apply_outcome(merged))
    }

    fn sync_step(
        &mut self,
        id: &HouseholdId,
        mut state: Box<sync::State>,
        message: Option<Vec<u8>>,
        within: &[Scope],
    ) -> Result<SyncOutcome, StorageError> {
        let stepped = self.merge(id, StorageOperation::SyncStep, |existing| {
            let stepped = docops::sync_step(existing, id, &mut state, message.as_deref(), within)?;
            let changes_added = stepped.doc.as_ref().map_or(0, |m| m.changes_added);
            Ok((stepped.doc.map(|m| m.doc), (stepped.reply, changes_added)))
        })?;
        Ok(match stepped {
            Ok((reply, changes_added)) => SyncOutcome::Stepped {
                state,
                reply,
                changes_added,
            },
            Err(Refusal::Skipped) => SyncOutcome::Skipped,
            Err(Refusal::Rejected(reason)) => SyncOutcome::Rejected(reason),
        })
    }
}

/// A merged document's heads and how many of its changes were new.
pub(super) type Merged = (Vec<ChangeHash>, u64);

/// Merges a peer's payload into the stored document (`None` if absent): the merged
/// document, its heads and how many changes were new.
pub(super) fn merge_payload(
    existing: Option<&AutoCommit>,
    id: &HouseholdId,
    payload: &ApplyPayload,
    within: &[Scope],
) -> Result<(Option<AutoCommit>, Merged), Refusal> {
    let merged = docops::merge_payload(existing, id, payload, within)?;
    let mut doc = merged.doc;
    let heads = doc.get_heads();
    Ok((Some(doc), (heads, merged.changes_added)))
}

/// What the session hears of a merge: applied (heads and new changes), skipped or rejected.
pub(super) fn apply_outcome(merged: Result<Merged, Refusal>) -> ApplyOutcome {
    match merged {
        Ok((heads, changes_added)) => ApplyOutcome::Applied {
            heads,
            changes_added,
        },
        Err(Refusal::Skipped) => ApplyOutcome::Skipped,
        Err(Refusal::Rejected(reason)) => ApplyOutcome::Rejected(reason),
    }
}
