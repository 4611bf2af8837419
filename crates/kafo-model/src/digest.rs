//! What set reconciliation compares: each document summarised as an item
//! `(document id, hash of its heads)`, and additive fingerprints over sets of items.
//!
//! Shared by the store (which keeps fingerprints up to date on every write) and the
//! sync protocol (which compares them across peers), so both agree on the bytes.

use std::fmt;

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

use crate::ids::HouseholdId;
use crate::scope::{HouseholdScope, Scope};

/// Where an item sorts in reconciliation: `area/chw/household-id`.
///
/// Identifiers never contain `/`, so the keys of one scope (`area/` or `area/chw/`)
/// form one contiguous range, and the store can keep a fingerprint per `area/chw`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey(String);

impl ItemKey {
    /// The key of a household in its scope.
    pub fn new(scope: &HouseholdScope, id: &HouseholdId) -> Self {
        Self(format!("{}/{}/{}", scope.area, scope.chw, id))
    }

    /// The key prefix every household of `scope` has (`area/` or `area/chw/`).
    pub fn scope_prefix(scope: &Scope) -> String {
        format!("{scope}/")
    }

    /// The key as bytes, in sort order.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The hash of a document's heads: equal on two devices exactly when they hold the same changes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeadsHash(pub [u8; 32]);

impl HeadsHash {
    /// Hashes a set of heads; order does not matter (they are sorted first).
    pub fn of(heads: &[ChangeHash]) -> Self {
        let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
        sorted.sort();
        let mut hasher = Sha256::new();
        hasher.update(b"kafo/heads/v1");
        for head in sorted {
            hasher.update(head.0);
        }
        Self(hasher.finalize().into())
    }
}

impl fmt::Debug for HeadsHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeadsHash({})", hex_prefix(&self.0))
    }
}

/// An additive fingerprint of a set of items: the sum, modulo 2^256, of the items' hashes.
///
/// Adding or removing one item is O(1), so the store keeps the fingerprint of each
/// scope current on every write, and the fingerprint of a union of disjoint ranges
/// is the sum of theirs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of the empty set.
    pub const EMPTY: Self = Self([0; 32]);

    /// The fingerprint of the single item `(id, heads_hash)`.
    pub fn of_item(id: &HouseholdId, heads_hash: &HeadsHash) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"kafo/item/v1");
        hasher.update((id.as_str().len() as u32).to_be_bytes());
        hasher.update(id.as_str().as_bytes());
        hasher.update(heads_hash.0);
        Self(hasher.finalize().into())
    }

    /// The fingerprint of the union of two disjoint sets.
    #[must_use]
    #[allow(
        clippy::should_implement_trait,
        reason = "a named method keeps modular set arithmetic visible at the call site"
    )]
    pub fn add(self, other: Self) -> Self {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let sum = u16::from(self.0[i]) + u16::from(other.0[i]) + carry;
            out[i] = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        Self(out)
    }

    /// The fingerprint of `self` without the items of `other` (which must be a subset).
    #[must_use]
    #[allow(
        clippy::should_implement_trait,
        reason = "a named method keeps modular set arithmetic visible at the call site"
    )]
    pub fn sub(self, other: Self) -> Self {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut diff = i16::from(self.0[i]) - i16::from(other.0[i]) - borrow;
            borrow = 0;
            if diff < 0 {
                diff += 256;
                borrow = 1;
            }
            out[i] = diff as u8;
        }
        Self(out)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", hex_prefix(&self.0))
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, seed: u8) -> Fingerprint {
        let id = HouseholdId::parse(id).expect("test ids are valid");
        Fingerprint::of_item(&id, &HeadsHash::of(&[ChangeHash([seed; 32])]))
    }

    #[test]
    fn fingerprints_are_order_independent_and_subtractable() {
        let (a, b, c) = (item("a", 1), item("b", 2), item("c", 3));
        let abc = a.add(b).add(c);
        assert_eq!(abc, c.add(a).add(b));
        assert_eq!(abc.sub(b), a.add(c));
        assert_eq!(abc.sub(a).sub(b).sub(c), Fingerprint::EMPTY);
        assert_ne!(a.add(b), a.add(c));
    }

    #[test]
    fn item_keys_of_a_scope_share_its_prefix() {
        let scope = HouseholdScope {
            area: "sikoro".parse().expect("valid"),
            chw: "chw-01".parse().expect("valid"),
        };
        let key = ItemKey::new(&scope, &"h1".parse().expect("valid"));
        assert_eq!(key.as_str(), "sikoro/chw-01/h1");
        assert!(
            key.as_str()
                .starts_with(&ItemKey::scope_prefix(&"sikoro".parse().expect("valid")))
        );
        assert!(!key.as_str().starts_with(&ItemKey::scope_prefix(
            &"sikoro/chw-0".parse().expect("valid")
        )));
    }

    #[test]
    fn heads_hash_ignores_head_order() {
        let (x, y) = (ChangeHash([1; 32]), ChangeHash([2; 32]));
        assert_eq!(HeadsHash::of(&[x, y]), HeadsHash::of(&[y, x]));
        assert_ne!(HeadsHash::of(&[x]), HeadsHash::of(&[x, y]));
    }
}
