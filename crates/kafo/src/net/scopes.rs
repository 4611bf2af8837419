//! Resolving [`Scopes`] to the scope list a session offers and accepts.

use std::ops::Bound;

use kafo_model::{ItemKey, Scope};
use kafo_store::{ReadError, Store};

use crate::net::config::Scopes;

/// The scopes to offer and accept now.
pub(crate) fn resolve(scopes: &Scopes, store: &Store) -> Result<Vec<Scope>, ReadError> {
    match scopes {
        Scopes::Held => held_caseloads(store),
        Scopes::Only(scopes) => Ok(scopes.clone()),
    }
}

/// Every caseload (`area/chw`) with at least one household in the store, in order.
///
/// Skips from caseload to caseload through the reconciliation index (one seek per
/// caseload, not one read per household).
pub fn held_caseloads(store: &Store) -> Result<Vec<Scope>, ReadError> {
    let mut caseloads = Vec::new();
    let mut from: Option<Vec<u8>> = None;
    loop {
        let mut items = match &from {
            None => store.items(..),
            Some(start) => store.items((Bound::Included(start.as_slice()), Bound::Unbounded)),
        };
        let Some(item) = items.next() else {
            return Ok(caseloads);
        };
        let scope = item?.scope;
        let caseload = Scope::chw(scope.area, scope.chw);
        // Every key of the caseload starts with `area/chw/`; the first key past them
        // all starts with `area/chw0` (`0` is the byte after `/`).
        let mut next = ItemKey::scope_prefix(&caseload).into_bytes();
        if let Some(last) = next.last_mut() {
            *last = b'/' + 1;
        }
        caseloads.push(caseload);
        from = Some(next);
    }
}
