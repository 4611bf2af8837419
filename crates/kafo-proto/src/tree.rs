//! The reconciliation tree: which ranges of items the two sides compare.
//!
//! The tree is the same on both sides, fixed by the shared domain and the item ids
//! alone, so both sides can expand a disagreeing node at the same time without
//! waiting for the other to choose split points:
//!
//! - the root covers the domain (the scopes both sides share);
//! - its children are the domain's scopes;
//! - an area scope's children are its CHW caseloads (`area/chw`), the unit the store
//!   keeps aggregates for;
//! - a caseload's children are 16 buckets by the first 4 bits of a hash of the
//!   household id, each bucket's children the 16 buckets of the next 4 bits, and so on.
//!
//! Fingerprints cross the wire as 8-byte [`Tag`]s salted with both session nonces, so
//! an accidental collision lasts one session at most.

use std::fmt;

use kafo_model::{ChwId, Fingerprint, HeadsHash, HouseholdId, HouseholdScope, Scope};
use sha2::{Digest, Sha256};

/// Largest item count (on either side) for which a caseload range is compared item by item.
pub const LEAF_ITEMS: u64 = 16;

/// Deepest bucket level; a range this deep is compared item by item whatever its size.
pub const MAX_DEPTH: u8 = 15;

/// Buckets per level.
pub const FANOUT: usize = 16;

/// A range of the reconciliation tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeId {
    /// The whole domain.
    Root,
    /// A scope of the domain, a caseload in it, or a bucket of a caseload.
    Range {
        /// Index of the scope in the domain.
        scope: u32,
        /// The caseload, when the scope is an area and the range is within one caseload.
        chw: Option<ChwId>,
        /// The bucket within the caseload (depth 0: the whole caseload).
        prefix: Prefix,
    },
}

impl NodeId {
    /// The range of the domain's scope `index`.
    pub fn scope(index: u32) -> Self {
        Self::Range {
            scope: index,
            chw: None,
            prefix: Prefix::ROOT,
        }
    }

    /// What kind of range this is in `domain`, or `None` if it does not fit the domain.
    pub fn level(&self, domain: &[Scope]) -> Option<Level> {
        match self {
            Self::Root => Some(Level::Root),
            Self::Range { scope, chw, prefix } => {
                let scope = domain.get(*scope as usize)?;
                match (&scope.chw, chw) {
                    (Some(_), Some(_)) => None,
                    (None, None) if prefix.depth == 0 => Some(Level::Area),
                    (None, None) => None,
                    (Some(own), None) => Some(Level::Caseload(HouseholdScope {
                        area: scope.area.clone(),
                        chw: own.clone(),
                    })),
                    (None, Some(chw)) => Some(Level::Caseload(HouseholdScope {
                        area: scope.area.clone(),
                        chw: chw.clone(),
                    })),
                }
            }
        }
    }

    /// The bucket prefix (depth 0 above caseload level).
    pub fn prefix(&self) -> Prefix {
        match self {
            Self::Root => Prefix::ROOT,
            Self::Range { prefix, .. } => *prefix,
        }
    }

    /// The child bucket `index` of a caseload-level range.
    pub(crate) fn bucket(&self, index: u8) -> Option<Self> {
        match self {
            Self::Root => None,
            Self::Range { scope, chw, prefix } => Some(Self::Range {
                scope: *scope,
                chw: chw.clone(),
                prefix: prefix.child(index)?,
            }),
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => write!(f, "root"),
            Self::Range { scope, chw, prefix } => {
                write!(f, "scope{scope}")?;
                if let Some(chw) = chw {
                    write!(f, "/{chw}")?;
                }
                if prefix.depth > 0 {
                    write!(f, "/{prefix}")?;
                }
                Ok(())
            }
        }
    }
}

/// What a node stands for, given the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    /// The whole domain; children are the domain's scopes.
    Root,
    /// A whole area; children are its caseloads.
    Area,
    /// A caseload or a bucket of it; children are buckets.
    Caseload(HouseholdScope),
}

/// A bucket path: the first `depth` 4-bit digits of an item's bucket hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    depth: u8,
    bits: u64,
}

impl Prefix {
    /// The whole caseload.
    pub const ROOT: Self = Self { depth: 0, bits: 0 };

    /// A prefix of `depth` digits with value `bits`, if valid.
    pub fn new(depth: u8, bits: u64) -> Option<Self> {
        if depth > MAX_DEPTH || (depth < 16 && bits >> (4 * u32::from(depth)) != 0) {
            return None;
        }
        Some(Self { depth, bits })
    }

    /// Number of digits.
    pub fn depth(self) -> u8 {
        self.depth
    }

    /// The digits as an integer.
    pub fn bits(self) -> u64 {
        self.bits
    }

    /// Whether an item with this bucket hash lies under the prefix.
    pub fn contains(self, hash: u64) -> bool {
        self.depth == 0 || hash >> (64 - 4 * u32::from(self.depth)) == self.bits
    }

    /// The child bucket an item with this hash falls in.
    pub fn child_index(self, hash: u64) -> u8 {
        ((hash >> (60 - 4 * u32::from(self.depth))) & 0xf) as u8
    }

    fn child(self, index: u8) -> Option<Self> {
        Self::new(self.depth + 1, (self.bits << 4) | u64::from(index & 0xf))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for digit in (0..self.depth).rev() {
            write!(f, "{:x}", (self.bits >> (4 * u32::from(digit))) & 0xf)?;
        }
        Ok(())
    }
}

/// The bucket hash of a household id.
pub fn bucket_hash(id: &HouseholdId) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(b"kafo/bucket/v1");
    hasher.update(id.as_str().as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// A fingerprint as it crosses the wire: 8 bytes of a salted hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tag(pub [u8; 8]);

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// An item as it crosses the wire in a range's tag list: 6 bytes of a salted hash of
/// its fingerprint. Compared only within one small range, in one session.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ItemTag(pub [u8; 6]);

impl fmt::Debug for ItemTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemTag(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// The first 8 bytes of a change hash: how item lists report heads. The receiver
/// resolves a prefix against the changes it holds; one it cannot resolve is unknown.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeadPrefix(pub [u8; 8]);

impl HeadPrefix {
    /// The prefix of a change hash.
    pub fn of(hash: &automerge::ChangeHash) -> Self {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&hash.0[..8]);
        Self(prefix)
    }

    /// Whether `hash` starts with this prefix.
    pub fn matches(&self, hash: &automerge::ChangeHash) -> bool {
        hash.0[..8] == self.0
    }
}

impl fmt::Debug for HeadPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeadPrefix(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// The per-session salt of tags, derived from both nonces (order-independent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Salt([u8; 32]);

impl Salt {
    /// The salt of a session between nonces `a` and `b`.
    pub fn new(a: &[u8; 16], b: &[u8; 16]) -> Self {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let mut hasher = Sha256::new();
        hasher.update(b"kafo/salt/v1");
        hasher.update(low);
        hasher.update(high);
        Self(hasher.finalize().into())
    }

    /// The tag of a range's fingerprint.
    pub fn tag(&self, fingerprint: &Fingerprint) -> Tag {
        let digest = self.digest(b"range", fingerprint);
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&digest[..8]);
        Tag(tag)
    }

    /// The tag of one item's fingerprint.
    pub fn item_tag(&self, fingerprint: &Fingerprint) -> ItemTag {
        let digest = self.digest(b"item", fingerprint);
        let mut tag = [0u8; 6];
        tag.copy_from_slice(&digest[..6]);
        ItemTag(tag)
    }

    fn digest(&self, domain: &[u8], fingerprint: &Fingerprint) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(domain);
        hasher.update(fingerprint.0);
        hasher.finalize().into()
    }
}

/// Count and tag of a range, as compared on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Number of items.
    pub count: u64,
    /// Salted tag of their fingerprint.
    pub tag: Tag,
}

/// What a side does with a range the two sides disagree on, decided from both counts
/// alone so both sides decide the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The peer has nothing here: send every document whole.
    Push,
    /// This side has nothing here: the peer sends every document whole.
    Pull,
    /// Small enough: compare item by item.
    Leaf,
    /// Compare the children.
    Expand,
}

pub(crate) fn decide(level: &Level, prefix: Prefix, mine: u64, theirs: u64) -> Mode {
    if theirs == 0 {
        Mode::Push
    } else if mine == 0 {
        Mode::Pull
    } else if matches!(level, Level::Caseload(_))
        && (mine.max(theirs) <= LEAF_ITEMS || prefix.depth() >= MAX_DEPTH)
    {
        Mode::Leaf
    } else {
        Mode::Expand
    }
}

/// One item as the session holds it: its id, heads, and derived hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemEntry {
    /// The household id.
    pub id: HouseholdId,
    /// Its document's heads.
    pub heads: Vec<automerge::ChangeHash>,
    /// Its fingerprint (id and heads hash).
    pub fingerprint: Fingerprint,
    /// Its bucket hash.
    pub bucket: u64,
}

impl ItemEntry {
    /// Derives the hashes of an item.
    pub fn new(id: HouseholdId, heads: Vec<automerge::ChangeHash>) -> Self {
        let fingerprint = Fingerprint::of_item(&id, &HeadsHash::of(&heads));
        let bucket = bucket_hash(&id);
        Self {
            id,
            heads,
            fingerprint,
            bucket,
        }
    }
}

/// The count and fingerprint of each of the 16 children of `prefix`.
pub(crate) fn bucket_sums(items: &[ItemEntry], prefix: Prefix) -> [(u64, Fingerprint); FANOUT] {
    let mut sums = [(0u64, Fingerprint::EMPTY); FANOUT];
    for item in items.iter().filter(|item| prefix.contains(item.bucket)) {
        let slot = &mut sums[usize::from(prefix.child_index(item.bucket))];
        slot.0 += 1;
        slot.1 = slot.1.add(item.fingerprint);
    }
    sums
}

/// Sorts, deduplicates and drops scopes covered by another, so the scopes are disjoint.
pub fn normalize(scopes: &[Scope]) -> Vec<Scope> {
    let mut sorted: Vec<Scope> = scopes.to_vec();
    sorted.sort();
    sorted.dedup();
    let covered = |scope: &Scope| {
        sorted
            .iter()
            .any(|other| other != scope && other.covers(scope))
    };
    sorted
        .iter()
        .filter(|scope| !covered(scope))
        .cloned()
        .collect()
}

/// The households in both `a` and `b`, as normalized scopes.
pub fn intersect(a: &[Scope], b: &[Scope]) -> Vec<Scope> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            if x.covers(y) {
                out.push(y.clone());
            } else if y.covers(x) {
                out.push(x.clone());
            }
        }
    }
    normalize(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<Scope> {
        list.iter()
            .map(|s| s.parse().expect("valid scope"))
            .collect()
    }

    #[test]
    fn intersections_keep_the_narrower_scope() {
        assert_eq!(
            intersect(&scopes(&["sikoro"]), &scopes(&["sikoro/chw-01"])),
            scopes(&["sikoro/chw-01"])
        );
        assert_eq!(
            intersect(
                &scopes(&["sikoro", "banconi/chw-02"]),
                &scopes(&["banconi", "sikoro/chw-01", "sikoro/chw-03"])
            ),
            scopes(&["banconi/chw-02", "sikoro/chw-01", "sikoro/chw-03"])
        );
        assert!(intersect(&scopes(&["sikoro"]), &scopes(&["banconi"])).is_empty());
        assert_eq!(
            normalize(&scopes(&["sikoro/chw-01", "sikoro", "sikoro"])),
            scopes(&["sikoro"])
        );
    }

    #[test]
    fn prefixes_partition_hashes() {
        let hash = 0xabcd_0000_0000_0000u64;
        let root = Prefix::ROOT;
        assert!(root.contains(hash));
        assert_eq!(root.child_index(hash), 0xa);
        let a = root.child(0xa).expect("depth 1 is valid");
        assert!(a.contains(hash));
        assert!(!root.child(0xb).expect("valid").contains(hash));
        assert_eq!(a.child_index(hash), 0xb);
        let deep = Prefix::new(MAX_DEPTH, (1 << 60) - 1).expect("valid");
        assert!(deep.child(0).is_none());
        assert!(Prefix::new(2, 0x100).is_none());
        assert_eq!(Prefix::new(3, 0xabc).expect("valid").to_string(), "abc");
    }

    #[test]
    fn both_sides_decide_alike() {
        let caseload = Level::Caseload(HouseholdScope {
            area: "a".parse().expect("valid"),
            chw: "c".parse().expect("valid"),
        });
        assert_eq!(decide(&caseload, Prefix::ROOT, 5, 0), Mode::Push);
        assert_eq!(decide(&caseload, Prefix::ROOT, 0, 5), Mode::Pull);
        assert_eq!(decide(&caseload, Prefix::ROOT, 5, 16), Mode::Leaf);
        assert_eq!(decide(&caseload, Prefix::ROOT, 5, 17), Mode::Expand);
        assert_eq!(decide(&Level::Area, Prefix::ROOT, 1, 1), Mode::Expand);
    }

    #[test]
    fn salts_are_symmetric() {
        let (a, b) = ([1u8; 16], [2u8; 16]);
        assert_eq!(Salt::new(&a, &b), Salt::new(&b, &a));
        assert_ne!(Salt::new(&a, &b), Salt::new(&a, &a));
    }
}
