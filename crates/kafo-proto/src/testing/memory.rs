//! A store in memory: automerge documents in a `BTreeMap`, indexed like the real store.

use std::collections::{BTreeMap, BTreeSet};

use automerge::sync;
use automerge::{ActorId, AutoCommit, ChangeHash};
use kafo_model::document::{self, DocumentError};
use kafo_model::{AreaId, Fingerprint, HeadsHash, HouseholdId, HouseholdScope, ItemKey, Scope};

use super::docs;
use crate::docops::{self, Refusal};
use crate::storage::{
    ApplyOutcome, ApplyPayload, CaseloadSummary, ChangesSince, Item, RangeSummary, StorageError,
    SyncOutcome, SyncStorage,
};
use crate::tree::HeadPrefix;

/// An in-memory store. Every write is "durable" at once.
#[derive(Debug, Clone)]
pub struct MemoryStorage {
    actor: ActorId,
    docs: BTreeMap<HouseholdId, Stored>,
    index: BTreeMap<String, HouseholdId>,
    writes: u64,
}

#[derive(Debug, Clone)]
struct Stored {
    id: HouseholdId,
    doc: AutoCommit,
    key: String,
    scope: HouseholdScope,
    heads: Vec<ChangeHash>,
    fingerprint: Fingerprint,
}

impl MemoryStorage {
    /// An empty store whose local edits are written by `actor`.
    pub fn new(actor: ActorId) -> Self {
        Self {
            actor,
            docs: BTreeMap::new(),
            index: BTreeMap::new(),
            writes: 0,
        }
    }

    /// Creates a household in `area/chw`, written by this store's actor.
    pub fn create_household(
        &mut self,
        id: &str,
        area: &str,
        chw: &str,
    ) -> Result<HouseholdId, DocumentError> {
        self.put(docs::household(id, area, chw, self.actor.clone()))
    }

    /// Adds a visit to a household; `false` if the store does not hold it.
    pub fn add_visit(&mut self, id: &HouseholdId, visit_id: &str) -> bool {
        self.edit(id, |doc| docs::add_visit(doc, visit_id))
    }

    /// Edits a household as this store's actor; `false` if the store does not hold it.
    pub fn edit(&mut self, id: &HouseholdId, edit: impl FnOnce(&mut AutoCommit)) -> bool {
        let Some(stored) = self.docs.get(id) else {
            return false;
        };
        let mut doc = stored.doc.clone();
        doc.set_actor(self.actor.clone());
        edit(&mut doc);
        // A test edit keeps the layout intact, so the summary stays readable.
        self.put(doc).is_ok()
    }

    /// Stores (or replaces) a document, indexing it by its current scope.
    pub fn put(&mut self, mut doc: AutoCommit) -> Result<HouseholdId, DocumentError> {
        let summary = document::summary(&doc)?;
        let heads = doc.get_heads();
        let key = ItemKey::new(&summary.scope, &summary.id)
            .as_str()
            .to_string();
        let fingerprint = Fingerprint::of_item(&summary.id, &HeadsHash::of(&heads));
        if let Some(old) = self.docs.get(&summary.id) {
            self.index.remove(&old.key);
        }
        self.index.insert(key.clone(), summary.id.clone());
        self.docs.insert(
            summary.id.clone(),
            Stored {
                id: summary.id.clone(),
                doc,
                key,
                scope: summary.scope,
                heads,
                fingerprint,
            },
        );
        Ok(summary.id)
    }

    /// The document of a household.
    pub fn document(&self, id: &HouseholdId) -> Option<&AutoCommit> {
        self.docs.get(id).map(|stored| &stored.doc)
    }

    /// The heads of a household's document.
    pub fn heads(&self, id: &HouseholdId) -> Option<&[ChangeHash]> {
        self.docs.get(id).map(|stored| stored.heads.as_slice())
    }

    /// Visit ids of a household (empty if absent).
    pub fn visits(&self, id: &HouseholdId) -> BTreeSet<String> {
        self.document(id).map(docs::visit_ids).unwrap_or_default()
    }

    /// Household ids held.
    pub fn ids(&self) -> impl Iterator<Item = &HouseholdId> {
        self.docs.keys()
    }

    /// Number of households held.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Heads of every document, for convergence checks.
    pub fn state(&self) -> BTreeMap<HouseholdId, Vec<ChangeHash>> {
        self.docs
            .iter()
            .map(|(id, stored)| (id.clone(), stored.heads.clone()))
            .collect()
    }

    /// Heads of every document in `scopes`.
    pub fn state_within(&self, scopes: &[Scope]) -> BTreeMap<HouseholdId, Vec<ChangeHash>> {
        self.docs
            .iter()
            .filter(|(_, stored)| docops::is_within(&stored.scope, scopes))
            .map(|(id, stored)| (id.clone(), stored.heads.clone()))
            .collect()
    }

    /// Total size of the compacted documents in `scopes` (what a pull must move).
    pub fn compacted_size(&self, scopes: &[Scope]) -> u64 {
        self.docs
            .values()
            .filter(|stored| docops::is_within(&stored.scope, scopes))
            .map(|stored| stored.doc.clone().save().len() as u64)
            .sum()
    }

    /// Writes performed by sync (applies and sync steps that changed a document).
    pub fn writes(&self) -> u64 {
        self.writes
    }

    fn range(&self, prefix: &str) -> impl Iterator<Item = &Stored> {
        self.index
            .range(prefix.to_string()..)
            .take_while(move |(key, _)| key.starts_with(prefix))
            .filter_map(|(_, id)| self.docs.get(id))
    }

    fn persist(&mut self, merged: docops::Merged) -> Vec<ChangeHash> {
        self.writes += 1;
        let mut doc = merged.doc;
        let heads = doc.get_heads();
        // A merged document passed `document::summary` in docops, so it indexes.
        let _ = self.put(doc);
        heads
    }
}

impl SyncStorage for MemoryStorage {
    fn summarize(&mut self, scopes: &[Scope]) -> Result<Vec<RangeSummary>, StorageError> {
        Ok(scopes
            .iter()
            .map(|scope| {
                let mut summary = RangeSummary::default();
                for stored in self.range(&ItemKey::scope_prefix(scope)) {
                    summary.add(stored.fingerprint);
                }
                summary
            })
            .collect())
    }

    fn caseloads(&mut self, area: &AreaId) -> Result<Vec<CaseloadSummary>, StorageError> {
        let mut caseloads: Vec<CaseloadSummary> = Vec::new();
        for stored in self.range(&format!("{area}/")) {
            match caseloads.last_mut() {
                Some(last) if last.chw == stored.scope.chw => last.summary.add(stored.fingerprint),
                _ => {
                    let mut summary = RangeSummary::default();
                    summary.add(stored.fingerprint);
                    caseloads.push(CaseloadSummary {
                        chw: stored.scope.chw.clone(),
                        summary,
                    });
                }
            }
        }
        Ok(caseloads)
    }

    fn items(&mut self, caseload: &HouseholdScope) -> Result<Vec<Item>, StorageError> {
        Ok(self
            .range(&format!("{caseload}/"))
            .map(|stored| Item {
                id: stored.id.clone(),
                heads: stored.heads.clone(),
            })
            .collect())
    }

    fn changes_since(
        &mut self,
        id: &HouseholdId,
        their_heads: &[HeadPrefix],
    ) -> Result<ChangesSince, StorageError> {
        Ok(match self.docs.get_mut(id) {
            Some(stored) => docops::changes_since(&mut stored.doc, their_heads),
            None => ChangesSince::Missing,
        })
    }

    fn whole_document(&mut self, id: &HouseholdId) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.docs.get_mut(id).map(|stored| stored.doc.save()))
    }

    fn apply(
        &mut self,
        id: &HouseholdId,
        payload: ApplyPayload,
        within: &[Scope],
    ) -> Result<ApplyOutcome, StorageError> {
        let existing = self.docs.get(id).map(|stored| &stored.doc);
        Ok(
            match docops::merge_payload(existing, id, &payload, within) {
                Ok(merged) => {
                    let changes_added = merged.changes_added;
                    let heads = self.persist(merged);
                    ApplyOutcome::Applied {
                        heads,
                        changes_added,
                    }
                }
                Err(Refusal::Skipped) => ApplyOutcome::Skipped,
                Err(Refusal::Rejected(reason)) => ApplyOutcome::Rejected(reason),
            },
        )
    }

    fn sync_step(
        &mut self,
        id: &HouseholdId,
        mut state: Box<sync::State>,
        message: Option<Vec<u8>>,
        within: &[Scope],
    ) -> Result<SyncOutcome, StorageError> {
        let existing = self.docs.get(id).map(|stored| &stored.doc);
        Ok(
            match docops::sync_step(existing, id, &mut state, message.as_deref(), within) {
                Ok(stepped) => {
                    let changes_added = stepped
                        .doc
                        .as_ref()
                        .map_or(0, |merged| merged.changes_added);
                    if let Some(merged) = stepped.doc {
                        self.persist(merged);
                    }
                    SyncOutcome::Stepped {
                        state,
                        reply: stepped.reply,
                        changes_added,
                    }
                }
                Err(Refusal::Skipped) => SyncOutcome::Skipped,
                Err(Refusal::Rejected(reason)) => SyncOutcome::Rejected(reason),
            },
        )
    }
}
