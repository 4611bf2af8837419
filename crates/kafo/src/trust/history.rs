//! A household's history: each change, when and by whom it was made, what it
//! touched (ids and field names only), and whether its signature verifies.

use std::collections::BTreeSet;

use automerge::legacy::{Key, ObjectId, OpId};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ROOT, ReadDoc as _};
use kafo_model::HouseholdId;
use kafo_model::document::{GENESIS_ACTOR, KEY_MEMBERS, KEY_VISITS};
use kafo_trust::{Attestation, TrustBook};

use crate::identity::DeviceId;
use crate::node::Node;
use crate::trust::verify::genesis_hash;
use crate::trust::{HistoryEntry, HistoryError};

/// The most ids one description names before counting the rest.
const MAX_NAMED: usize = 4;

impl Node {
    /// Every change of household `id`, oldest first (in causal order): its hash,
    /// time, author and the author's role (when its certificate is known here), what
    /// it changed (ids and field names only, never record contents), and whether its
    /// signature verifies.
    pub fn household_history(&self, id: &HouseholdId) -> Result<Vec<HistoryEntry>, HistoryError> {
        let mut doc = self
            .store
            .document(id)?
            .ok_or_else(|| HistoryError::NoSuchHousehold(id.clone()))?;
        let genesis_actor = ActorId::from(GENESIS_ACTOR);
        let genesis = genesis_hash(id);
        let maps = Maps::of(&doc);
        let metas: Vec<(ChangeHash, ActorId, i64, Option<String>)> = doc
            .get_changes_meta(&[])
            .into_iter()
            .map(|meta| {
                (
                    meta.hash,
                    meta.actor.into_owned(),
                    meta.timestamp,
                    meta.message.map(|message| message.into_owned()),
                )
            })
            .collect();
        let book = self.trust.read().book.clone();
        let mut entries = Vec::with_capacity(metas.len());
        for (hash, actor, timestamp, message) in metas {
            let time = (timestamp > 0)
                .then(|| jiff::Timestamp::from_second(timestamp).ok())
                .flatten();
            if actor == genesis_actor {
                entries.push(HistoryEntry {
                    hash: hash.to_string(),
                    time,
                    author: None,
                    role: None,
                    message: "household created (shared first change)".to_owned(),
                    verified: genesis == Some(hash),
                });
                continue;
            }
            let attestation = self
                .store
                .attestation(&hash)?
                .and_then(|bytes| Attestation::decode(&bytes).ok());
            // A change's message is free text from its author: only the forms Kafo
            // writes itself (no record contents) are shown; anything else is described.
            let message = match message.filter(|message| is_kafo_message(message)) {
                Some(message) => message,
                None => describe(&mut doc, &hash, &maps),
            };
            entries.push(HistoryEntry {
                hash: hash.to_string(),
                time,
                author: attestation.map(|attestation| DeviceId::from(attestation.author)),
                role: attestation.and_then(|attestation| role_of(book.as_ref(), &attestation)),
                message,
                verified: attestation.is_some_and(|attestation| attestation.verify(&hash.0)),
            });
        }
        Ok(entries)
    }
}

fn role_of(book: Option<&TrustBook>, attestation: &Attestation) -> Option<kafo_trust::Role> {
    Some(book?.chain(&attestation.author)?.leaf().role)
}

/// The members and visits maps of a household document, as change operations name
/// objects.
struct Maps {
    members: Option<OpId>,
    visits: Option<OpId>,
}

impl Maps {
    fn of(doc: &AutoCommit) -> Self {
        let object = |key: &str| match doc.get(ROOT, key) {
            Ok(Some((_, ObjId::Id(counter, actor, _)))) => Some(OpId(counter, actor)),
            _ => None,
        };
        Self {
            members: object(KEY_MEMBERS),
            visits: object(KEY_VISITS),
        }
    }
}

/// What a change without a message touched: household fields by name, members and
/// visits by id, and how many nested fields.
fn describe(doc: &mut AutoCommit, hash: &ChangeHash, maps: &Maps) -> String {
    let Some(change) = doc.get_change_by_hash(hash) else {
        return "change".to_owned();
    };
    let expanded = change.decode();
    let mut fields = BTreeSet::new();
    let mut members = BTreeSet::new();
    let mut visits = BTreeSet::new();
    let mut nested = 0usize;
    for op in &expanded.operations {
        let Key::Map(key) = &op.key else {
            nested += 1;
            continue;
        };
        match &op.obj {
            ObjectId::Root => {
                fields.insert(key.to_string());
            }
            ObjectId::Id(id) if Some(id) == maps.members.as_ref() => {
                members.insert(key.to_string());
            }
            ObjectId::Id(id) if Some(id) == maps.visits.as_ref() => {
                visits.insert(key.to_string());
            }
            ObjectId::Id(_) => nested += 1,
        }
    }
    let mut parts = Vec::new();
    if !fields.is_empty() {
        parts.push(format!("set {}", named(&fields)));
    }
    if !members.is_empty() {
        parts.push(format!("members {}", named(&members)));
    }
    if !visits.is_empty() {
        parts.push(format!("visits {}", named(&visits)));
    }
    if nested > 0 {
        parts.push(format!("{nested} field edits inside them"));
    }
    if parts.is_empty() {
        return "no operation".to_owned();
    }
    parts.join("; ")
}

/// Up to [`MAX_NAMED`] names, then how many more.
fn named(names: &BTreeSet<String>) -> String {
    let mut text = names
        .iter()
        .take(MAX_NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_NAMED {
        text.push_str(&format!(" and {} more", names.len() - MAX_NAMED));
    }
    text
}

/// Whether `message` is one Kafo writes on its own changes: `import`, or
/// `visit <visit id> recorded` with a well-formed id.
fn is_kafo_message(message: &str) -> bool {
    message == "import"
        || message
            .strip_prefix("visit ")
            .and_then(|rest| rest.strip_suffix(" recorded"))
            .is_some_and(|id| id.parse::<kafo_model::VisitId>().is_ok())
}
