//! The key layout of the store's single ordered map (sled's tree, or redb's table).
//!
//! Every record lives in one tree so that every write is one atomic batch. A key
//! starts with a one-letter prefix and `/`:
//!
//! | key | value |
//! |---|---|
//! | `s/version` | schema version, u64 big-endian |
//! | `s/totals` | [`Totals`](crate::Totals): households, members, visits |
//! | `u/<key>` | opaque metadata of the layers above ([`Store::put_meta`](crate::Store::put_meta)) |
//! | `p/<peer>` | opaque per-peer state of the sync layer |
//! | `h/<id>` | the document's index entry: heads, scope, counts, storage layout |
//! | `d/<id>\0s` | the document's latest snapshot (`AutoCommit::save`) |
//! | `d/<id>\0c<seq>` | a change chunk appended after the snapshot, seq u64 big-endian |
//! | `i/<area>/<chw>/<id>` | reconciliation item: the document's [`HeadsHash`](kafo_model::HeadsHash) |
//! | `a/<area>/<chw>` | aggregate of a scope: fingerprint and item count |
//! | `c/<hash>` | opaque attestation record of a change, hash 32 bytes (schema 2) |
//! | `o/<actor>` | opaque owner record of an automerge actor, actor id bytes (schema 2) |
//! | `l/<id>\0s` | the hashes of the document's authored changes as of its snapshot (schema 3) |
//! | `l/<id>\0c<seq>` | the hashes of the authored changes of change chunk `seq` (schema 3) |
//! | `v/<id>` | the household's view: its decoded record, with the heads it was read at (schema 4, [`crate::view`]) |
//!
//! Identifiers never contain `/` or NUL, and every identifier character sorts above
//! NUL, so `h/` keys are in household id order, `i/` keys in [`ItemKey`] order,
//! and the keys of one document never interleave with another's.

use std::ops::Bound;

use automerge::ChangeHash;
use kafo_model::{HouseholdId, HouseholdScope, ItemKey, Scope};

/// The schema version record.
pub(crate) const SCHEMA_VERSION: &[u8] = b"s/version";
/// The totals counters record.
pub(crate) const TOTALS: &[u8] = b"s/totals";

const META: &[u8] = b"u/";
const PEER: &[u8] = b"p/";
const ENTRY: &[u8] = b"h/";
const DOCUMENT: &[u8] = b"d/";
pub(crate) const ITEM: &[u8] = b"i/";
const AGGREGATE: &[u8] = b"a/";
const ATTESTATION: &[u8] = b"c/";
const ACTOR_OWNER: &[u8] = b"o/";
const CHANGE_LIST: &[u8] = b"l/";
const VIEW: &[u8] = b"v/";

fn join(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + rest.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(rest);
    key
}

/// The key of a metadata value.
pub(crate) fn meta(key: &str) -> Vec<u8> {
    join(META, key.as_bytes())
}

/// The key of a peer's state.
pub(crate) fn peer(peer: &[u8]) -> Vec<u8> {
    join(PEER, peer)
}

/// The key of a change's attestation record.
pub(crate) fn attestation(hash: &ChangeHash) -> Vec<u8> {
    join(ATTESTATION, &hash.0)
}

/// The key of an actor's owner record.
pub(crate) fn actor_owner(actor: &[u8]) -> Vec<u8> {
    join(ACTOR_OWNER, actor)
}

/// The key of a household's view.
pub(crate) fn view(id: &HouseholdId) -> Vec<u8> {
    join(VIEW, id.as_str().as_bytes())
}

/// The key of the change list of a document's snapshot.
pub(crate) fn change_list(id: &HouseholdId) -> Vec<u8> {
    let mut key = join(CHANGE_LIST, id.as_str().as_bytes());
    key.extend_from_slice(b"\0s");
    key
}

/// The prefix of the change lists of a document's chunks.
pub(crate) fn change_list_chunk_prefix(id: &HouseholdId) -> Vec<u8> {
    let mut key = join(CHANGE_LIST, id.as_str().as_bytes());
    key.extend_from_slice(b"\0c");
    key
}

/// The key of the change list of one change chunk of a document.
pub(crate) fn change_list_chunk(id: &HouseholdId, seq: u64) -> Vec<u8> {
    let mut key = change_list_chunk_prefix(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The prefix of every index entry.
pub(crate) fn entry_prefix() -> &'static [u8] {
    ENTRY
}

/// The key of a document's index entry.
pub(crate) fn entry(id: &HouseholdId) -> Vec<u8> {
    join(ENTRY, id.as_str().as_bytes())
}

/// The key of a document's snapshot.
pub(crate) fn snapshot(id: &HouseholdId) -> Vec<u8> {
    let mut key = join(DOCUMENT, id.as_str().as_bytes());
    key.extend_from_slice(b"\0s");
    key
}

/// The prefix of a document's change chunks.
pub(crate) fn chunk_prefix(id: &HouseholdId) -> Vec<u8> {
    let mut key = join(DOCUMENT, id.as_str().as_bytes());
    key.extend_from_slice(b"\0c");
    key
}

/// The key of one change chunk of a document.
pub(crate) fn chunk(id: &HouseholdId, seq: u64) -> Vec<u8> {
    let mut key = chunk_prefix(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The key of a reconciliation item.
pub(crate) fn item(key: &ItemKey) -> Vec<u8> {
    join(ITEM, key.as_bytes())
}

/// The prefix of the items of a scope (`area/` or `area/chw/`).
pub(crate) fn item_scope_prefix(scope: &Scope) -> Vec<u8> {
    join(ITEM, ItemKey::scope_prefix(scope).as_bytes())
}

/// The key of a scope's aggregate.
pub(crate) fn aggregate(scope: &HouseholdScope) -> Vec<u8> {
    join(AGGREGATE, scope.to_string().as_bytes())
}

/// The prefix of the aggregates of an area, or the exact key of one `area/chw`.
pub(crate) fn aggregate_scope(scope: &Scope) -> AggregateKeys {
    match &scope.chw {
        Some(chw) => AggregateKeys::Exact(aggregate(&HouseholdScope {
            area: scope.area.clone(),
            chw: chw.clone(),
        })),
        None => AggregateKeys::Prefix(join(AGGREGATE, format!("{}/", scope.area).as_bytes())),
    }
}

/// Which aggregate keys a scope covers.
pub(crate) enum AggregateKeys {
    /// One `area/chw`.
    Exact(Vec<u8>),
    /// Every `area/chw` of an area.
    Prefix(Vec<u8>),
}

/// The part of an aggregate key after its prefix (`area/chw`).
pub(crate) fn aggregate_suffix(key: &[u8]) -> &[u8] {
    key.strip_prefix(AGGREGATE).unwrap_or(key)
}

/// The part of an item key after its prefix (the [`ItemKey`] bytes).
pub(crate) fn item_suffix(key: &[u8]) -> &[u8] {
    key.strip_prefix(ITEM).unwrap_or(key)
}

/// The part of an index entry key after its prefix (the household id).
pub(crate) fn entry_suffix(key: &[u8]) -> &[u8] {
    key.strip_prefix(ENTRY).unwrap_or(key)
}

/// A range of the engine's keys.
pub(crate) struct KeyRange {
    pub(crate) start: Bound<Vec<u8>>,
    pub(crate) end: Bound<Vec<u8>>,
}

/// The engine's key bounds of a range of item keys, or `None` when the range is empty.
pub(crate) fn item_bounds(start: Bound<&[u8]>, end: Bound<&[u8]>) -> Option<KeyRange> {
    let lower = match start {
        Bound::Included(key) => Bound::Included(join(ITEM, key)),
        Bound::Excluded(key) => Bound::Excluded(join(ITEM, key)),
        Bound::Unbounded => Bound::Included(ITEM.to_vec()),
    };
    let upper = match end {
        Bound::Included(key) => Bound::Included(join(ITEM, key)),
        Bound::Excluded(key) => Bound::Excluded(join(ITEM, key)),
        // `0` is the byte after `/`: the first key past every `i/` key.
        Bound::Unbounded => Bound::Excluded(b"i0".to_vec()),
    };
    let empty = match (&lower, &upper) {
        (Bound::Included(low), Bound::Included(high)) => low > high,
        (Bound::Included(low) | Bound::Excluded(low), Bound::Excluded(high))
        | (Bound::Excluded(low), Bound::Included(high)) => low >= high,
        _ => false,
    };
    (!empty).then_some(KeyRange {
        start: lower,
        end: upper,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: &str) -> HouseholdId {
        HouseholdId::parse(value).expect("test ids are valid")
    }

    #[test]
    fn entry_keys_sort_in_id_order() {
        let mut ids = [id("h1-x"), id("h1"), id("h1.a"), id("h10"), id("H2")];
        let mut keys: Vec<Vec<u8>> = ids.iter().map(entry).collect();
        ids.sort();
        keys.sort();
        let back: Vec<&[u8]> = keys.iter().map(|key| entry_suffix(key)).collect();
        let expected: Vec<&[u8]> = ids.iter().map(|id| id.as_str().as_bytes()).collect();
        assert_eq!(back, expected);
    }

    #[test]
    fn one_documents_chunks_never_interleave_with_another() {
        let (short, long) = (id("h1"), id("h1-"));
        let short_keys = [snapshot(&short), chunk(&short, 0), chunk(&short, u64::MAX)];
        let long_keys = [snapshot(&long), chunk(&long, 0)];
        for key in &short_keys {
            assert!(!key.starts_with(&chunk_prefix(&long)));
            for other in &long_keys {
                assert!(key < other, "every key of h1 sorts before every key of h1-");
            }
        }
        assert!(chunk(&short, 1) < chunk(&short, 256));
    }

    #[test]
    fn empty_or_inverted_item_ranges_are_none() {
        assert!(item_bounds(Bound::Included(b"b"), Bound::Excluded(b"a")).is_none());
        assert!(item_bounds(Bound::Included(b"a"), Bound::Excluded(b"a")).is_none());
        assert!(item_bounds(Bound::Included(b"a"), Bound::Included(b"a")).is_some());
        assert!(item_bounds(Bound::Unbounded, Bound::Unbounded).is_some());
    }
}
