//! Household documents for tests: the layout's root keys, a `name` and a `visits` map.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use kafo_model::document::{KEY_AREA, KEY_CHW, KEY_ID, KEY_LAYOUT, KEY_VISITS, LAYOUT_VERSION};

/// A deterministic actor id for test device `n`.
pub fn test_actor(n: u64) -> ActorId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(b"kafotest");
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    ActorId::from(bytes)
}

/// A new household document written by `actor`.
///
/// Panics if automerge refuses a put on a fresh document, which it cannot.
pub fn household(id: &str, area: &str, chw: &str, actor: ActorId) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor);
    let result = (|| -> Result<(), automerge::AutomergeError> {
        doc.put(ROOT, KEY_LAYOUT, LAYOUT_VERSION)?;
        doc.put(ROOT, KEY_ID, id)?;
        doc.put(ROOT, KEY_AREA, area)?;
        doc.put(ROOT, KEY_CHW, chw)?;
        doc.put(ROOT, "name", format!("household {id}"))?;
        doc.put_object(ROOT, KEY_VISITS, ObjType::Map)?;
        Ok(())
    })();
    // Invariant: puts on the root of a fresh document always succeed.
    result.expect("puts on a fresh document succeed");
    doc.commit();
    doc
}

/// Adds a visit (one change) to a household document.
///
/// Panics if the document has no `visits` map: test documents always have one.
pub fn add_visit(doc: &mut AutoCommit, visit_id: &str) {
    let visits = match doc.get(ROOT, KEY_VISITS) {
        Ok(Some((_, visits))) => visits,
        _ => panic!("test documents have a visits map"),
    };
    let result = (|| -> Result<(), automerge::AutomergeError> {
        let visit = doc.put_object(&visits, visit_id, ObjType::Map)?;
        doc.put(&visit, "kind", "routine")?;
        doc.put(&visit, "date", "2026-03-01")?;
        Ok(())
    })();
    // Invariant: the visits map exists (checked above), so puts into it succeed.
    result.expect("puts into the visits map succeed");
    doc.commit();
}

/// Sets a household's name (a conflicting scalar when done on two devices).
pub fn rename(doc: &mut AutoCommit, name: &str) {
    // Invariant: putting a string on the root map always succeeds.
    doc.put(ROOT, "name", name)
        .expect("put on the root succeeds");
    doc.commit();
}

/// The visit ids of a household document.
pub fn visit_ids(doc: &AutoCommit) -> BTreeSet<String> {
    match doc.get(ROOT, KEY_VISITS) {
        Ok(Some((_, visits))) => doc.keys(&visits).collect(),
        _ => BTreeSet::new(),
    }
}
