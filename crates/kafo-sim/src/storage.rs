//! A simulated device's store: the protocol's in-memory store, watched.
//!
//! [`SimStorage`] answers the session's requests with [`MemoryStorage`] (writes are
//! durable when the reply is given, so a crash loses only session state) and notes what
//! the simulator needs: a change counter per caseload (what discovery advertises, so
//! that two devices sync again only when one of them changed something they share), an
//! estimate of the bytes stored, and, on devices that track arrivals, the visits each
//! write brought. For tests it can be sabotaged: acknowledge one received payload
//! without storing it, the bug the invariants must catch.

use std::collections::{BTreeMap, BTreeSet};

use automerge::sync;
use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use kafo_model::document::{self, DocumentError};
use kafo_model::record::Visit;
use kafo_model::{AreaId, HouseholdId, HouseholdScope, Scope};
use kafo_proto::docops;
use kafo_proto::storage::{
    ApplyOutcome, ApplyPayload, CaseloadSummary, ChangesSince, Item, RangeSummary, StorageError,
    SyncOutcome, SyncStorage,
};
use kafo_proto::testing::MemoryStorage;
use kafo_proto::tree::HeadPrefix;

use crate::time::SimTime;

/// Acknowledge one received payload without storing it: a deliberately broken device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sabotage {
    /// The first payload that would add changes at or after this time is dropped.
    pub after: SimTime,
}

/// A payload that was acknowledged and not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sabotaged {
    /// When.
    pub at: SimTime,
    /// The household whose changes were dropped.
    pub household: HouseholdId,
}

/// Why a visit could not be recorded on a device.
#[derive(Debug, thiserror::Error)]
pub enum RecordVisitError {
    /// The device does not hold the household.
    #[error("the device does not hold household {household}")]
    NotHeld {
        /// The household.
        household: HouseholdId,
    },
    /// The visit was refused by the document layer.
    #[error("the visit could not be written: {0}")]
    Document(#[from] DocumentError),
}

/// A device's store. See the module docs.
#[derive(Debug)]
pub struct SimStorage {
    inner: MemoryStorage,
    /// The virtual time of the request being answered (set by the engine).
    pub now: SimTime,
    versions: BTreeMap<String, u64>,
    stored_bytes: u64,
    track_arrivals: bool,
    arrived: Vec<String>,
    sabotage: Option<Sabotage>,
    sabotaged: Option<Sabotaged>,
}

impl SimStorage {
    /// An empty store whose local edits are written by `actor`; `track_arrivals` makes
    /// it note the visits each write brings.
    pub fn new(actor: ActorId, track_arrivals: bool) -> Self {
        Self {
            inner: MemoryStorage::new(actor),
            now: SimTime::ZERO,
            versions: BTreeMap::new(),
            stored_bytes: 0,
            track_arrivals,
            arrived: Vec::new(),
            sabotage: None,
            sabotaged: None,
        }
    }

    /// Arms the sabotage.
    pub fn sabotage(&mut self, sabotage: Sabotage) {
        self.sabotage = Some(sabotage);
    }

    /// The payload dropped by the sabotage, if it struck.
    pub fn sabotaged(&self) -> Option<&Sabotaged> {
        self.sabotaged.as_ref()
    }

    /// Puts a document of the initial state, `saved_len` being the size of its
    /// `save()` form.
    pub fn seed(&mut self, doc: AutoCommit, saved_len: u64) -> Result<HouseholdId, SeedError> {
        let id = self.inner.put(doc)?;
        self.stored_bytes += saved_len;
        Ok(id)
    }

    /// Records a visit on this device: the acknowledgement a CHW sees. `time` is the
    /// change's timestamp (seconds since the Unix epoch).
    pub fn record_visit(
        &mut self,
        household: &HouseholdId,
        visit: &Visit,
        time: i64,
    ) -> Result<(), RecordVisitError> {
        let mut result = Ok(());
        let mut added = 0u64;
        let held = self.inner.edit(household, |doc| {
            result = document::put_visit(doc, visit);
            doc.commit_with(CommitOptions::default().with_time(time));
            added = doc
                .get_last_local_change()
                .map_or(0, |change| change.raw_bytes().len() as u64);
        });
        if !held {
            return Err(RecordVisitError::NotHeld {
                household: household.clone(),
            });
        }
        result?;
        self.note_write(household, added, &BTreeSet::new());
        Ok(())
    }

    /// Writes into documents of `scopes` so far: the change counter discovery advertises.
    pub fn version_within(&self, scopes: &[Scope]) -> u64 {
        scopes
            .iter()
            .map(|scope| match &scope.chw {
                Some(chw) => self
                    .versions
                    .get(&format!("{}/{chw}", scope.area))
                    .copied()
                    .unwrap_or(0),
                None => {
                    let prefix = format!("{}/", scope.area);
                    self.versions
                        .range(prefix.clone()..)
                        .take_while(|(key, _)| key.starts_with(&prefix))
                        .map(|(_, count)| count)
                        .sum()
                }
            })
            .sum()
    }

    /// Estimated bytes of the stored documents: their saved size when seeded, plus
    /// every change written since.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes
    }

    /// Visits new to this store since the last call (on a device that tracks them).
    pub fn take_arrivals(&mut self) -> Vec<String> {
        std::mem::take(&mut self.arrived)
    }

    /// The store underneath, for invariant checks.
    pub fn memory(&self) -> &MemoryStorage {
        &self.inner
    }

    fn visits_if_tracked(&self, id: &HouseholdId) -> BTreeSet<String> {
        if self.track_arrivals {
            self.inner.visits(id)
        } else {
            BTreeSet::new()
        }
    }

    /// After a write to `id` that added `bytes`: counts it, and notes new visits.
    fn note_write(&mut self, id: &HouseholdId, bytes: u64, visits_before: &BTreeSet<String>) {
        self.stored_bytes += bytes;
        let Some(doc) = self.inner.document(id) else {
            return;
        };
        if let Ok(summary) = document::summary(doc) {
            *self
                .versions
                .entry(caseload_key(&summary.scope))
                .or_default() += 1;
        }
        if self.track_arrivals {
            let after = self.inner.visits(id);
            self.arrived
                .extend(after.difference(visits_before).cloned());
        }
    }

    /// The sabotage: if armed and due, returns the acknowledgement of a payload that
    /// would add changes, and stores nothing.
    fn sabotaged_apply(
        &mut self,
        id: &HouseholdId,
        payload: &ApplyPayload,
        within: &[Scope],
    ) -> Option<ApplyOutcome> {
        let sabotage = self.sabotage?;
        if self.now < sabotage.after {
            return None;
        }
        let merged = docops::merge_payload(self.inner.document(id), id, payload, within).ok()?;
        if merged.changes_added == 0 {
            return None;
        }
        self.sabotage = None;
        self.sabotaged = Some(Sabotaged {
            at: self.now,
            household: id.clone(),
        });
        let mut doc = merged.doc;
        Some(ApplyOutcome::Applied {
            heads: doc.get_heads(),
            changes_added: merged.changes_added,
        })
    }
}

/// Why a document of the initial state could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The document is not a household document.
    #[error("initial document is not a household: {0}")]
    Document(#[from] DocumentError),
}

/// `area/chw`, the key of a caseload's change counter.
pub fn caseload_key(scope: &HouseholdScope) -> String {
    format!("{}/{}", scope.area, scope.chw)
}

impl SyncStorage for SimStorage {
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
        if let Some(outcome) = self.sabotaged_apply(id, &payload, within) {
            return Ok(outcome);
        }
        let before = self.inner.heads(id).map(<[_]>::to_vec);
        let visits_before = self.visits_if_tracked(id);
        let bytes = match &payload {
            ApplyPayload::Changes(bytes) | ApplyPayload::Document(bytes) => bytes.len() as u64,
        };
        let outcome = self.inner.apply(id, payload, within)?;
        if matches!(outcome, ApplyOutcome::Applied { .. })
            && self.inner.heads(id).map(<[_]>::to_vec) != before
        {
            self.note_write(id, bytes, &visits_before);
        }
        Ok(outcome)
    }

    fn sync_step(
        &mut self,
        id: &HouseholdId,
        state: Box<sync::State>,
        message: Option<Vec<u8>>,
        within: &[Scope],
    ) -> Result<SyncOutcome, StorageError> {
        let before = self.inner.heads(id).map(<[_]>::to_vec);
        let visits_before = self.visits_if_tracked(id);
        let bytes = message.as_ref().map_or(0, |message| message.len() as u64);
        let outcome = self.inner.sync_step(id, state, message, within)?;
        if self.inner.heads(id).map(<[_]>::to_vec) != before {
            self.note_write(id, bytes, &visits_before);
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use kafo_proto::testing::docs::{add_visit, household, test_actor};

    use super::*;

    fn scope(text: &str) -> Scope {
        text.parse().expect("valid scope")
    }

    fn store_with(doc: &mut AutoCommit, track: bool) -> SimStorage {
        let mut store = SimStorage::new(test_actor(9), track);
        let saved = doc.save();
        let loaded = AutoCommit::load(&saved).expect("saved documents load");
        store
            .seed(loaded, saved.len() as u64)
            .expect("a household document");
        store
    }

    #[test]
    fn writes_bump_the_counter_of_their_caseload_and_note_new_visits() {
        let mut doc = household("h1", "sikoro", "chw-01", test_actor(1));
        let mut store = store_with(&mut doc, true);
        let id: HouseholdId = "h1".parse().expect("valid id");
        let heads: Vec<HeadPrefix> = doc.get_heads().iter().map(HeadPrefix::of).collect();
        add_visit(&mut doc, "v1");
        let ChangesSince::Changes { bytes, .. } = docops::changes_since(&mut doc, &heads) else {
            panic!("heads are known");
        };
        let outcome = store
            .apply(&id, ApplyPayload::Changes(bytes), &[scope("sikoro")])
            .expect("memory storage never fails");
        assert!(matches!(outcome, ApplyOutcome::Applied { .. }));
        assert_eq!(store.version_within(&[scope("sikoro/chw-01")]), 1);
        assert_eq!(store.version_within(&[scope("sikoro")]), 1);
        assert_eq!(store.version_within(&[scope("sikoro/chw-02")]), 0);
        assert_eq!(store.take_arrivals(), vec!["v1".to_string()]);
        assert!(store.take_arrivals().is_empty());
    }

    #[test]
    fn a_sabotaged_store_acknowledges_and_forgets() {
        let mut doc = household("h1", "sikoro", "chw-01", test_actor(1));
        let mut store = store_with(&mut doc, true);
        store.sabotage(Sabotage {
            after: SimTime::ZERO,
        });
        let id: HouseholdId = "h1".parse().expect("valid id");
        let heads: Vec<HeadPrefix> = doc.get_heads().iter().map(HeadPrefix::of).collect();
        add_visit(&mut doc, "v1");
        let ChangesSince::Changes { bytes, .. } = docops::changes_since(&mut doc, &heads) else {
            panic!("heads are known");
        };
        let outcome = store
            .apply(
                &id,
                ApplyPayload::Changes(bytes.clone()),
                &[scope("sikoro")],
            )
            .expect("memory storage never fails");
        assert!(matches!(
            outcome,
            ApplyOutcome::Applied {
                changes_added: 1,
                ..
            }
        ));
        assert!(store.memory().visits(&id).is_empty());
        assert!(store.sabotaged().is_some());
        // Only once: the next payload is stored.
        store
            .apply(&id, ApplyPayload::Changes(bytes), &[scope("sikoro")])
            .expect("memory storage never fails");
        assert_eq!(store.memory().visits(&id).len(), 1);
    }
}
