//! [`Node::stream_households`]: the households of a scope, read one at a time in key
//! order (`area/chw/id`), for whatever walks a whole caseload (the exports). Each is
//! read from its view in the store when the view is current, else decoded from its
//! document (`kafo_store::view`). Memory holds one household at a time, never the
//! caseload.

use kafo_model::{AreaId, ChwId, Household};
use kafo_store::{Items, ListFilter};

use crate::node::Node;
use crate::records::ReadHouseholdError;

/// The households of a scope, one at a time ([`Node::stream_households`]).
#[derive(Debug)]
pub struct HouseholdStream<'n> {
    node: &'n Node,
    items: Items,
}

impl Iterator for HouseholdStream<'_> {
    type Item = Result<Household, ReadHouseholdError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let id = match self.items.next()? {
                Ok(item) => item.id,
                Err(error) => return Some(Err(error.into())),
            };
            return match self.node.store.household(&id) {
                Ok(Some(household)) => Some(Ok(household)),
                // Removed since it was listed.
                Ok(None) => continue,
                Err(error) => Some(Err(error.into())),
            };
        }
    }
}

impl Node {
    /// The households of one area and/or CHW (all when both are `None`), read one at
    /// a time in key order (`area/chw/id`).
    pub fn stream_households(
        &self,
        area: Option<&AreaId>,
        chw: Option<&ChwId>,
    ) -> HouseholdStream<'_> {
        let filter = ListFilter {
            area: area.cloned(),
            chw: chw.cloned(),
        };
        HouseholdStream {
            node: self,
            items: self.store.list(&filter),
        }
    }
}
