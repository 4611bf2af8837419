//! Held-back households and their settlement.
//!
//! A household is held back on a device when a peer offers it with changes that a
//! revoked device made past its revocation's frontier: the device that knows the
//! revocation does not take the document (an honest relay may still carry it), so the
//! household stops syncing there. Such a household is never hidden: the session
//! reports "not in sync: N households held back" and names them, and `kafo status`
//! lists them, with the held-back change hashes kept in the store.
//!
//! A supervisor or admin settles one ([`Node::settle_household`]): a signed
//! [`Settlement`] naming the household and the held-back change hashes it accepts. It
//! is disclosed ahead of data like a revocation, and a device that knows it takes
//! those changes again, so the household syncs everywhere. Nothing already recorded
//! is dropped: settling only lets the named changes in.

use std::collections::{BTreeMap, BTreeSet};

use kafo_model::{HouseholdId, HouseholdScope};
use kafo_store::{Store, WriteError};
use kafo_trust::{Disclosure, ProgramId, Scopes, Settlement};
use tracing::{info, warn};

use crate::Node;
use crate::trust::state::TrustState;
use crate::trust::{TrustError, unix_now};

/// The settlements this device knows (as a [`Disclosure`] without revocations).
pub(crate) const META_SETTLEMENTS: &str = "trust.settlements";
/// The households held back here and their held-back change hashes (JSON).
pub(crate) const META_HELD_BACK: &str = "trust.held-back";

/// Verified settlements by household id, with their issuers' scopes.
#[derive(Debug, Default)]
pub(crate) struct Settlements(BTreeMap<String, Vec<(Settlement, Scopes)>>);

impl Settlements {
    /// Whether a settlement accepts change `hash` of `household`, in `scope` (the
    /// issuer's scopes must cover the household).
    pub(crate) fn accepts(
        &self,
        household: &HouseholdId,
        scope: Option<&HouseholdScope>,
        hash: &[u8; 32],
    ) -> bool {
        self.0.get(household.as_str()).is_some_and(|settlements| {
            settlements.iter().any(|(settlement, scopes)| {
                settlement.accepts(hash) && scope.is_some_and(|s| scopes.covers_household(s))
            })
        })
    }

    /// Every settlement, to disclose or persist.
    pub(crate) fn all(&self) -> Vec<Settlement> {
        self.0
            .values()
            .flatten()
            .map(|(settlement, _)| settlement.clone())
            .collect()
    }

    /// Adds a verified settlement; `false` when it was already known.
    fn insert(&mut self, settlement: Settlement, scopes: Scopes) -> bool {
        let entry = self.0.entry(settlement.household.clone()).or_default();
        if entry.iter().any(|(known, _)| *known == settlement) {
            return false;
        }
        entry.push((settlement, scopes));
        true
    }

    /// The settlements stored in `store`, each verified again.
    pub(crate) fn load(store: &Store, program: Option<ProgramId>) -> Result<Self, String> {
        let mut settlements = Self::default();
        let (Some(bytes), Some(program)) = (
            store.meta(META_SETTLEMENTS).map_err(|e| e.to_string())?,
            program,
        ) else {
            return Ok(settlements);
        };
        let disclosure = Disclosure::decode(&bytes).map_err(|e| e.to_string())?;
        for settlement in disclosure.settlements {
            if let Ok(scopes) = settlement.verify(&program) {
                settlements.insert(settlement, scopes);
            }
        }
        Ok(settlements)
    }
}

/// Held-back households: id → the hashes of the held-back changes.
pub(crate) type HeldBack = BTreeMap<HouseholdId, BTreeSet<[u8; 32]>>;

/// Decodes the stored held-back record.
pub(crate) fn decode_held_back(bytes: &[u8]) -> Result<HeldBack, String> {
    let stored: BTreeMap<String, Vec<String>> =
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut held = HeldBack::new();
    for (id, hashes) in stored {
        let id = HouseholdId::parse(&id).map_err(|e| e.to_string())?;
        let mut set = BTreeSet::new();
        for hash in hashes {
            let bytes = data_encoding::HEXLOWER
                .decode(hash.as_bytes())
                .map_err(|e| e.to_string())?;
            set.insert(
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| "a hash is not 32 bytes")?,
            );
        }
        held.insert(id, set);
    }
    Ok(held)
}

fn encode_held_back(held: &HeldBack) -> Vec<u8> {
    let stored: BTreeMap<&str, Vec<String>> = held
        .iter()
        .map(|(id, hashes)| {
            (
                id.as_str(),
                hashes
                    .iter()
                    .map(|hash| data_encoding::HEXLOWER.encode(hash))
                    .collect(),
            )
        })
        .collect();
    serde_json::to_vec(&stored).unwrap_or_default()
}

/// A household held back on this device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldBackHousehold {
    /// The household.
    pub id: HouseholdId,
    /// How many of a revoked device's changes past its frontier hold it back.
    pub changes: usize,
}

impl TrustState {
    /// Records that `household` is held back by these changes (persisted).
    pub(crate) fn note_held_back(
        &self,
        store: &Store,
        household: &HouseholdId,
        changes: BTreeSet<[u8; 32]>,
    ) -> Result<(), WriteError> {
        let mut known = self.write();
        let entry = known.held_back.entry(household.clone()).or_default();
        let before = entry.len();
        entry.extend(changes);
        if entry.len() != before {
            store.put_meta(META_HELD_BACK, &encode_held_back(&known.held_back))?;
        }
        Ok(())
    }

    /// Forgets that `household` is held back (it was taken); persisted.
    pub(crate) fn clear_held_back(
        &self,
        store: &Store,
        household: &HouseholdId,
    ) -> Result<(), WriteError> {
        if !self.read().held_back.contains_key(household) {
            return Ok(());
        }
        let mut known = self.write();
        if known.held_back.remove(household).is_some() {
            store.put_meta(META_HELD_BACK, &encode_held_back(&known.held_back))?;
        }
        Ok(())
    }

    /// Learns settlements (each verified; invalid ones are skipped with a warning)
    /// and persists them if any was new. Returns how many were new.
    pub(crate) fn learn_settlements(
        &self,
        store: &Store,
        settlements: Vec<Settlement>,
    ) -> Result<usize, WriteError> {
        if settlements.is_empty() {
            return Ok(0);
        }
        let mut known = self.write();
        let Some(program) = known.book.as_ref().map(|book| book.program()) else {
            return Ok(0);
        };
        let mut new = 0;
        for settlement in settlements {
            match settlement.verify(&program) {
                Ok(scopes) => {
                    if known.settlements.insert(settlement, scopes) {
                        new += 1;
                    }
                }
                Err(error) => warn!(%error, "settlement ignored"),
            }
        }
        if new > 0 {
            let disclosure = Disclosure {
                revocations: Vec::new(),
                settlements: known.settlements.all(),
            };
            store.put_meta(META_SETTLEMENTS, &disclosure.encode())?;
            info!(settlements = new, "learned settlements");
        }
        Ok(new)
    }
}

impl Node {
    /// The households held back on this device, in id order.
    pub fn held_back(&self) -> Vec<HeldBackHousehold> {
        self.trust
            .read()
            .held_back
            .iter()
            .map(|(id, changes)| HeldBackHousehold {
                id: id.clone(),
                changes: changes.len(),
            })
            .collect()
    }

    /// Settles a household held back here: signs an acceptance of its held-back
    /// changes (this device must be a supervisor or admin whose scopes cover the
    /// household), records it and discloses it to every peer from now on. The
    /// household is taken at the next session with a device that holds it.
    pub fn settle_household(&self, household: &HouseholdId) -> Result<Settlement, TrustError> {
        let changes = self
            .trust
            .read()
            .held_back
            .get(household)
            .cloned()
            .ok_or_else(|| TrustError::NotHeldBack {
                id: household.clone(),
            })?;
        let settlement = {
            let known = self.trust.read();
            let own = known.enrolment().ok_or(TrustError::NotEnrolled)?;
            let signing = self.trust.signing_key().ok_or(TrustError::CannotSign)?;
            Settlement::issue(own, signing, household.as_str(), changes, unix_now())?
        };
        self.trust
            .learn_settlements(&self.store, vec![settlement.clone()])?;
        info!(
            changes = settlement.changes.len(),
            "held-back household settled"
        );
        Ok(settlement)
    }
}
