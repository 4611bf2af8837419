//! Scope sets: what a certificate lets its device read (and, with a writing
//! role, write).

use std::fmt;
use std::str::FromStr;

use kafo_model::{HouseholdScope, Scope, ScopeError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::{DecodeError, DecodeErrorKind, Reader, put_bytes, put_varint};

/// At most this many scopes in one certificate.
pub const MAX_SCOPES: usize = 64;
/// The longest scope text: a 64-byte area, `/`, a 64-byte CHW id.
const MAX_SCOPE_LEN: usize = 129;

/// A set of scopes: every scope, or a list of `area` / `area/chw` prefixes.
///
/// `Only` is normalized by [`Scopes::only`] (sorted, duplicates and scopes
/// covered by another dropped); every certificate carries normalized scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scopes {
    /// Every household of the program.
    All,
    /// Households within these scopes.
    Only(Vec<Scope>),
}

impl Scopes {
    /// The normalized set of `scopes`.
    pub fn only(scopes: impl IntoIterator<Item = Scope>) -> Scopes {
        Scopes::Only(normalize(scopes.into_iter().collect()))
    }

    /// This set in normalized form.
    pub fn normalized(&self) -> Scopes {
        match self {
            Scopes::All => Scopes::All,
            Scopes::Only(list) => Scopes::Only(normalize(list.clone())),
        }
    }

    /// Whether every household of `scope` is in this set.
    pub fn covers_scope(&self, scope: &Scope) -> bool {
        match self {
            Scopes::All => true,
            Scopes::Only(list) => list.iter().any(|mine| mine.covers(scope)),
        }
    }

    /// Whether a household with this scope is in this set.
    pub fn covers_household(&self, scope: &HouseholdScope) -> bool {
        match self {
            Scopes::All => true,
            Scopes::Only(list) => list.iter().any(|mine| mine.contains(scope)),
        }
    }

    /// Whether `other` is a subset of this set (the narrowing check).
    pub fn covers_all(&self, other: &Scopes) -> bool {
        match (self, other) {
            (Scopes::All, _) => true,
            (Scopes::Only(_), Scopes::All) => false,
            (Scopes::Only(_), Scopes::Only(theirs)) => theirs.iter().all(|s| self.covers_scope(s)),
        }
    }

    /// The households in both sets (`All ∩ x = x`), normalized.
    pub fn intersect(&self, other: &Scopes) -> Scopes {
        match (self, other) {
            (Scopes::All, x) | (x, Scopes::All) => x.normalized(),
            (Scopes::Only(mine), Scopes::Only(theirs)) => {
                let mut out = Vec::new();
                for a in mine {
                    for b in theirs {
                        if a.covers(b) {
                            out.push(b.clone());
                        } else if b.covers(a) {
                            out.push(a.clone());
                        }
                    }
                }
                Scopes::Only(normalize(out))
            }
        }
    }

    /// Whether this is the empty set.
    pub fn is_empty(&self) -> bool {
        matches!(self, Scopes::Only(list) if list.is_empty())
    }

    /// The listed scopes (`None` for `All`).
    pub fn as_list(&self) -> Option<&[Scope]> {
        match self {
            Scopes::All => None,
            Scopes::Only(list) => Some(list),
        }
    }

    pub(crate) fn is_normalized(&self) -> bool {
        match self {
            Scopes::All => true,
            Scopes::Only(list) => normalize(list.clone()) == *list,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_list().map_or(0, <[Scope]>::len)
    }

    /// Tag 0 = all; tag 1, varint count, then each scope as length-prefixed text.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Scopes::All => out.push(0),
            Scopes::Only(list) => {
                out.push(1);
                put_varint(out, list.len() as u64);
                for scope in list {
                    put_bytes(out, scope.to_string().as_bytes());
                }
            }
        }
    }

    pub(crate) fn decode_from(reader: &mut Reader<'_>) -> Result<Scopes, DecodeError> {
        let start = reader.offset();
        match reader.u8("scopes.tag")? {
            0 => Ok(Scopes::All),
            1 => {
                let count = reader.count("scopes.count", MAX_SCOPES, 2)?;
                let mut list = Vec::with_capacity(count);
                for _ in 0..count {
                    let at = reader.offset();
                    let text = reader.string("scopes.scope", MAX_SCOPE_LEN)?;
                    let scope: Scope = text.parse().map_err(|e: ScopeError| {
                        DecodeError::new(
                            "scopes.scope",
                            at,
                            DecodeErrorKind::Invalid(e.to_string()),
                        )
                    })?;
                    list.push(scope);
                }
                let scopes = Scopes::Only(list);
                if scopes.is_normalized() {
                    Ok(scopes)
                } else {
                    Err(DecodeError::new(
                        "scopes",
                        start,
                        DecodeErrorKind::NotCanonical,
                    ))
                }
            }
            tag => Err(DecodeError::new(
                "scopes.tag",
                start,
                DecodeErrorKind::UnknownTag(tag),
            )),
        }
    }
}

/// Sorted, deduplicated, and without scopes covered by another.
fn normalize(mut list: Vec<Scope>) -> Vec<Scope> {
    list.sort();
    list.dedup();
    let keep: Vec<bool> = list
        .iter()
        .enumerate()
        .map(|(i, s)| !list.iter().enumerate().any(|(j, o)| i != j && o.covers(s)))
        .collect();
    list.into_iter()
        .zip(keep)
        .filter_map(|(scope, keep)| keep.then_some(scope))
        .collect()
}

impl fmt::Display for Scopes {
    /// `*` for every scope, `-` for none, else the scopes joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scopes::All => f.write_str("*"),
            Scopes::Only(list) if list.is_empty() => f.write_str("-"),
            Scopes::Only(list) => {
                for (i, scope) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{scope}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Scopes {
    type Err = ScopeError;

    /// The inverse of `Display` (whitespace around items ignored); normalizes.
    fn from_str(text: &str) -> Result<Self, ScopeError> {
        match text.trim() {
            "*" => Ok(Scopes::All),
            "-" | "" => Ok(Scopes::Only(Vec::new())),
            list => list
                .split(',')
                .map(|s| s.trim().parse())
                .collect::<Result<Vec<Scope>, _>>()
                .map(Scopes::only),
        }
    }
}

impl Serialize for Scopes {
    /// A list of scope strings; `["*"]` for every scope.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Scopes::All => vec!["*".to_owned()].serialize(serializer),
            Scopes::Only(list) => list
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<String>::deserialize(deserializer)?;
        if items.iter().any(|s| s == "*") {
            return Ok(Scopes::All);
        }
        items
            .iter()
            .map(|s| s.parse::<Scope>())
            .collect::<Result<Vec<_>, _>>()
            .map(Scopes::only)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Scopes {
        Scopes::only(list.iter().map(|s| s.parse().expect("valid scope")))
    }

    #[test]
    fn normalizing_drops_covered_and_duplicate_scopes() {
        let s = scopes(&[
            "sikoro/chw-02",
            "sikoro",
            "banconi/chw-01",
            "banconi/chw-01",
        ]);
        assert_eq!(s, scopes(&["banconi/chw-01", "sikoro"]));
        assert!(s.is_normalized());
    }

    #[test]
    fn intersection_keeps_the_narrower_side() {
        let a = scopes(&["sikoro", "banconi/chw-01"]);
        let b = scopes(&["sikoro/chw-03", "banconi"]);
        assert_eq!(
            a.intersect(&b),
            scopes(&["banconi/chw-01", "sikoro/chw-03"])
        );
        assert_eq!(Scopes::All.intersect(&a), a);
        assert!(scopes(&["kalaban"]).intersect(&a).is_empty());
    }

    #[test]
    fn covers_all_is_the_subset_relation() {
        let area = scopes(&["sikoro"]);
        let chw = scopes(&["sikoro/chw-01"]);
        assert!(area.covers_all(&chw));
        assert!(!chw.covers_all(&area));
        assert!(Scopes::All.covers_all(&area));
        assert!(!area.covers_all(&Scopes::All));
        assert_eq!(
            "sikoro , banconi/chw-01".parse::<Scopes>(),
            Ok(scopes(&["banconi/chw-01", "sikoro"]))
        );
        assert_eq!(
            scopes(&["sikoro", "banconi/chw-01"]).to_string(),
            "banconi/chw-01,sikoro"
        );
    }
}
