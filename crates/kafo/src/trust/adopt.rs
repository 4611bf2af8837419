//! Walking the store for trust: signing the changes a device held before it joined
//! a program (adoption), and finding the last change of each actor of a device being
//! revoked (the revocation's frontier).

use std::collections::HashMap;

use automerge::ActorId;
use kafo_model::HouseholdId;
use kafo_model::document::GENESIS_ACTOR;
use kafo_store::{Attachments, ReadError};
use kafo_trust::{Attestation, DeviceKey, Frontier};
use tracing::{debug, info, warn};

use crate::node::Node;
use crate::trust::TrustError;

/// Households whose adopted signatures are written in one durable batch: bounds the
/// memory held (a few hundred bytes per change) while sparing a flush per household.
pub(crate) const ADOPT_BATCH: usize = 2_000;

impl Node {
    /// Signs, as this device, every change in the store that has no signature yet
    /// (except each household's shared first change), binding the actors of those
    /// changes to this device; written [`ADOPT_BATCH`] households per durable write.
    /// Returns the number of changes signed.
    pub(crate) fn adopt_unsigned(&self) -> Result<u64, TrustError> {
        let key = self
            .trust
            .signing_key()
            .ok_or(TrustError::CannotSign)?
            .clone();
        let device = self.trust.device_key().ok_or(TrustError::CannotSign)?;
        let store = &self.store;
        let ids: Vec<HouseholdId> = store.ids().collect::<Result<_, ReadError>>()?;
        let genesis = ActorId::from(GENESIS_ACTOR);
        // Whether each actor seen is this device's (bound to it, or to no device yet:
        // then bound with the first batch that signs one of its changes).
        let mut owners: HashMap<Vec<u8>, bool> = HashMap::new();
        let mut batch = Vec::new();
        let mut signed = 0u64;
        let mut skipped = 0u64;
        for id in ids {
            // A household whose listed changes are all signed needs no loading.
            if let Some(listed) = store.authored_changes(&id)? {
                let mut all_signed = true;
                for hash in &listed {
                    if store.attestation(hash)?.is_none() {
                        all_signed = false;
                        break;
                    }
                }
                if all_signed {
                    continue;
                }
            }
            let Some(mut doc) = store.document(&id)? else {
                continue;
            };
            let mut attachments = Attachments::default();
            for meta in doc.get_changes_meta(&[]) {
                if *meta.actor == genesis || store.attestation(&meta.hash)?.is_some() {
                    continue;
                }
                let actor = meta.actor.to_bytes().to_vec();
                let ours = match owners.get(&actor) {
                    Some(ours) => *ours,
                    None => {
                        let owner = store.actor_owner(&actor)?;
                        let ours = owner
                            .as_deref()
                            .is_none_or(|owner| owner == device.as_bytes());
                        if owner.is_none() {
                            attachments
                                .actor_owners
                                .push((actor.clone(), device.as_bytes().to_vec()));
                        }
                        owners.insert(actor, ours);
                        ours
                    }
                };
                if !ours {
                    // Another device's actor: signing its change as ours would make
                    // every receiver refuse it.
                    skipped += 1;
                    continue;
                }
                let attestation = Attestation::sign(&key, &meta.hash.0);
                attachments
                    .attestations
                    .push((meta.hash, attestation.encode().to_vec()));
            }
            signed += attachments.attestations.len() as u64;
            if !attachments.is_empty() {
                batch.push((id, attachments));
            }
            if batch.len() >= ADOPT_BATCH {
                store.attach_many(std::mem::take(&mut batch))?;
            }
        }
        store.attach_many(batch)?;
        if skipped > 0 {
            warn!(
                changes = skipped,
                "unsigned changes of other devices' actors left unsigned"
            );
        }
        info!(
            changes = signed,
            "changes already in the store signed by this device"
        );
        Ok(signed)
    }

    /// For each actor bound to `device`, the highest sequence number of its changes
    /// stored here.
    pub(crate) fn frontier_of(&self, device: &DeviceKey) -> Result<Frontier, ReadError> {
        let mut owned: HashMap<Vec<u8>, bool> = HashMap::new();
        let mut frontier = Frontier::new();
        for id in self.store.ids() {
            let id = id?;
            let Some(mut doc) = self.store.document(&id)? else {
                continue;
            };
            for meta in doc.get_changes_meta(&[]) {
                let actor = meta.actor.to_bytes();
                let theirs = match owned.get(actor) {
                    Some(theirs) => *theirs,
                    None => {
                        let theirs = self
                            .store
                            .actor_owner(actor)?
                            .is_some_and(|owner| owner == device.as_bytes());
                        owned.insert(actor.to_vec(), theirs);
                        theirs
                    }
                };
                if theirs {
                    let seq = frontier.entry(actor.to_vec()).or_insert(0);
                    *seq = (*seq).max(meta.seq);
                }
            }
        }
        debug!(actors = frontier.len(), "revocation frontier");
        Ok(frontier)
    }
}
