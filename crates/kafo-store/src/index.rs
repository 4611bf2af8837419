//! The reconciliation index for the sync layer, and listing households.
//!
//! Every write updates, in the same atomic batch as the document: the document's
//! item (`area/chw/id` → [`HeadsHash`]) and the aggregate of its `area/chw`
//! (the sum of its items' [`Fingerprint`]s and their count). A document whose scope
//! changes leaves its old scope's item and aggregate.

use std::fmt;
use std::ops::RangeBounds;

use kafo_model::{
    AreaId, ChwId, Fingerprint, HeadsHash, HouseholdId, HouseholdScope, ItemKey, Scope,
};

use crate::engine::Iter;
use crate::error::ReadError;
use crate::keys::{self, AggregateKeys};
use crate::records::Aggregate;
use crate::store::Store;

/// One reconciliation item: a document and the hash of its heads, at its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Where the item sorts: `area/chw/id`.
    pub key: ItemKey,
    /// The household.
    pub id: HouseholdId,
    /// The household's scope.
    pub scope: HouseholdScope,
    /// The hash of the document's heads.
    pub heads_hash: HeadsHash,
}

impl Item {
    /// The item's fingerprint, as summed by aggregates and range fingerprints.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_item(&self.id, &self.heads_hash)
    }
}

/// The fingerprint and size of a set of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetFingerprint {
    /// Sum of the items' fingerprints.
    pub fingerprint: Fingerprint,
    /// How many items.
    pub count: u64,
}

impl SetFingerprint {
    fn add(&mut self, fingerprint: Fingerprint) {
        self.fingerprint = self.fingerprint.add(fingerprint);
        self.count += 1;
    }
}

/// The aggregate of one `area/chw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeAggregate {
    /// The scope.
    pub scope: HouseholdScope,
    /// Fingerprint and count of its items.
    pub set: SetFingerprint,
}

/// Which households [`Store::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only households of this area.
    pub area: Option<AreaId>,
    /// Only households followed by this CHW.
    pub chw: Option<ChwId>,
}

/// Items in key order; see [`Store::items`].
pub struct Items {
    iter: Option<Iter>,
    chw: Option<ChwId>,
}

impl fmt::Debug for Items {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("empty", &self.iter.is_none())
            .field("chw", &self.chw)
            .finish_non_exhaustive()
    }
}

impl Iterator for Items {
    type Item = Result<Item, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let iter = self.iter.as_mut()?;
        loop {
            let item = match iter.next()? {
                Ok((key, value)) => decode_item(&key, &value),
                Err(err) => Err(err.into()),
            };
            match (&item, &self.chw) {
                (Ok(found), Some(chw)) if found.scope.chw != *chw => continue,
                _ => return Some(item),
            }
        }
    }
}

/// Household ids in id order; see [`Store::ids`].
pub struct HouseholdIds {
    iter: Iter,
}

impl fmt::Debug for HouseholdIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HouseholdIds").finish_non_exhaustive()
    }
}

impl Iterator for HouseholdIds {
    type Item = Result<HouseholdId, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.iter.next()? {
            Ok((key, _)) => decode_id(&key),
            Err(err) => Err(err.into()),
        })
    }
}

impl Store {
    /// The reconciliation items whose [`ItemKey`] bytes fall in `range`, in key order.
    ///
    /// `range` is over key bytes, e.g. `..`, or
    /// `(Bound::Included(a.as_bytes()), Bound::Excluded(b.as_bytes()))`; an empty or
    /// inverted range yields nothing. The iteration is not a snapshot: a write
    /// landing during it may or may not be seen.
    pub fn items<R: RangeBounds<[u8]>>(&self, range: R) -> Items {
        let iter = keys::item_bounds(range.start_bound(), range.end_bound())
            .map(|bounds| self.db.range(bounds));
        Items { iter, chw: None }
    }

    /// The items of a scope (`area` or `area/chw`), in key order.
    pub fn scope_items(&self, scope: &Scope) -> Items {
        Items {
            iter: Some(self.db.scan_prefix(keys::item_scope_prefix(scope))),
            chw: None,
        }
    }

    /// Fingerprint and count of the items in `range`, by scanning them.
    pub fn range_fingerprint<R: RangeBounds<[u8]>>(
        &self,
        range: R,
    ) -> Result<SetFingerprint, ReadError> {
        let mut set = SetFingerprint::default();
        for item in self.items(range) {
            set.add(item?.fingerprint());
        }
        Ok(set)
    }

    /// The aggregates of every `area/chw` in `scope`, in scope order, read from the
    /// counters every write keeps (no scan of items).
    pub fn scope_aggregates(&self, scope: &Scope) -> Result<Vec<ScopeAggregate>, ReadError> {
        let mut aggregates = Vec::new();
        match keys::aggregate_scope(scope) {
            AggregateKeys::Exact(key) => {
                if let Some(value) = self.db.get(&key)? {
                    aggregates.push(decode_aggregate(&key, &value)?);
                }
            }
            AggregateKeys::Prefix(prefix) => {
                for record in self.db.scan_prefix(prefix) {
                    let (key, value) = record?;
                    aggregates.push(decode_aggregate(&key, &value)?);
                }
            }
        }
        Ok(aggregates)
    }

    /// Fingerprint and count of every item in `scope`: the sum of its aggregates.
    pub fn scope_fingerprint(&self, scope: &Scope) -> Result<SetFingerprint, ReadError> {
        let mut total = SetFingerprint::default();
        for aggregate in self.scope_aggregates(scope)? {
            total.fingerprint = total.fingerprint.add(aggregate.set.fingerprint);
            total.count += aggregate.set.count;
        }
        Ok(total)
    }

    /// The households matching `filter`, in [`ItemKey`] order (area, CHW, id).
    ///
    /// Filtering by area (and CHW) reads only that scope's items; filtering by CHW
    /// alone reads every item.
    pub fn list(&self, filter: &ListFilter) -> Items {
        match (&filter.area, &filter.chw) {
            (Some(area), chw) => self.scope_items(&Scope {
                area: area.clone(),
                chw: chw.clone(),
            }),
            (None, chw) => Items {
                chw: chw.clone(),
                ..self.items(..)
            },
        }
    }

    /// Every household id in id order (for export).
    pub fn ids(&self) -> HouseholdIds {
        HouseholdIds {
            iter: self.db.scan_prefix(keys::entry_prefix()),
        }
    }
}

fn decode_item(key: &[u8], value: &[u8]) -> Result<Item, ReadError> {
    let corrupt = |what| ReadError::corrupt_record(key, what);
    let text = std::str::from_utf8(keys::item_suffix(key)).map_err(|_| corrupt("key"))?;
    let mut parts = text.split('/');
    let (Some(area), Some(chw), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt("key"));
    };
    let scope = HouseholdScope {
        area: AreaId::parse(area).map_err(|_| corrupt("area"))?,
        chw: ChwId::parse(chw).map_err(|_| corrupt("chw"))?,
    };
    let id = HouseholdId::parse(id).map_err(|_| corrupt("id"))?;
    let heads_hash = HeadsHash(value.try_into().map_err(|_| corrupt("heads hash"))?);
    Ok(Item {
        key: ItemKey::new(&scope, &id),
        id,
        scope,
        heads_hash,
    })
}

fn decode_aggregate(key: &[u8], value: &[u8]) -> Result<ScopeAggregate, ReadError> {
    let corrupt = |what| ReadError::corrupt_record(key, what);
    let text = std::str::from_utf8(keys::aggregate_suffix(key)).map_err(|_| corrupt("key"))?;
    let (area, chw) = text.split_once('/').ok_or_else(|| corrupt("key"))?;
    let scope = HouseholdScope {
        area: AreaId::parse(area).map_err(|_| corrupt("area"))?,
        chw: ChwId::parse(chw).map_err(|_| corrupt("chw"))?,
    };
    let Aggregate { fingerprint, count } = Aggregate::decode(key, value)?;
    Ok(ScopeAggregate {
        scope,
        set: SetFingerprint { fingerprint, count },
    })
}

fn decode_id(key: &[u8]) -> Result<HouseholdId, ReadError> {
    let corrupt = || ReadError::corrupt_record(key, "id");
    let text = std::str::from_utf8(keys::entry_suffix(key)).map_err(|_| corrupt())?;
    HouseholdId::parse(text).map_err(|_| corrupt())
}
