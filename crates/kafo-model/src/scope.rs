//! Scopes: the `area` or `area/chw` prefixes that caseload assignment, access
//! rules and selective sync work on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{AreaId, ChwId, IdError};

/// Where a household belongs: its area and the CHW who follows it (`area/chw`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HouseholdScope {
    /// The health area.
    pub area: AreaId,
    /// The CHW who follows the household.
    pub chw: ChwId,
}

impl fmt::Display for HouseholdScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.area, self.chw)
    }
}

/// A set of households named by prefix: a whole area (`sikoro`) or one CHW's
/// caseload in it (`sikoro/chw-07`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// The area every household in the scope belongs to.
    pub area: AreaId,
    /// When set, only that CHW's households in the area.
    pub chw: Option<ChwId>,
}

/// Why a string is not a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The area part is not a valid identifier.
    #[error("bad area in scope: {0}")]
    Area(IdError),
    /// The CHW part is not a valid identifier.
    #[error("bad chw in scope: {0}")]
    Chw(IdError),
    /// More than one `/`.
    #[error("a scope is `area` or `area/chw`, found {parts} parts")]
    TooManyParts {
        /// How many `/`-separated parts were found.
        parts: usize,
    },
}

impl Scope {
    /// The scope of one whole area.
    pub fn area(area: AreaId) -> Self {
        Self { area, chw: None }
    }

    /// The scope of one CHW's caseload in an area.
    pub fn chw(area: AreaId, chw: ChwId) -> Self {
        Self {
            area,
            chw: Some(chw),
        }
    }

    /// Whether a household in `household` falls within this scope.
    pub fn contains(&self, household: &HouseholdScope) -> bool {
        self.area == household.area && self.chw.as_ref().is_none_or(|chw| *chw == household.chw)
    }

    /// Whether every household of `other` is also in `self` (a chain of scopes can only narrow).
    pub fn covers(&self, other: &Scope) -> bool {
        self.area == other.area
            && match (&self.chw, &other.chw) {
                (None, _) => true,
                (Some(mine), Some(theirs)) => mine == theirs,
                (Some(_), None) => false,
            }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.chw {
            Some(chw) => write!(f, "{}/{}", self.area, chw),
            None => write!(f, "{}", self.area),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(value: &str) -> Result<Self, ScopeError> {
        let parts: Vec<&str> = value.split('/').collect();
        match parts.as_slice() {
            [area] => Ok(Self::area(AreaId::parse(*area).map_err(ScopeError::Area)?)),
            [area, chw] => Ok(Self::chw(
                AreaId::parse(*area).map_err(ScopeError::Area)?,
                ChwId::parse(*chw).map_err(ScopeError::Chw)?,
            )),
            _ => Err(ScopeError::TooManyParts { parts: parts.len() }),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn household(area: &str, chw: &str) -> HouseholdScope {
        HouseholdScope {
            area: AreaId::parse(area).expect("test ids are valid"),
            chw: ChwId::parse(chw).expect("test ids are valid"),
        }
    }

    #[test]
    fn an_area_scope_contains_every_chw_of_the_area_only() {
        let scope: Scope = "sikoro".parse().expect("valid scope");
        assert!(scope.contains(&household("sikoro", "chw-01")));
        assert!(scope.contains(&household("sikoro", "chw-02")));
        assert!(!scope.contains(&household("banconi", "chw-01")));
    }

    #[test]
    fn a_chw_scope_contains_only_that_caseload() {
        let scope: Scope = "sikoro/chw-01".parse().expect("valid scope");
        assert!(scope.contains(&household("sikoro", "chw-01")));
        assert!(!scope.contains(&household("sikoro", "chw-02")));
        assert_eq!(scope.to_string(), "sikoro/chw-01");
    }

    #[test]
    fn scopes_only_narrow() {
        let area: Scope = "sikoro".parse().expect("valid scope");
        let chw: Scope = "sikoro/chw-01".parse().expect("valid scope");
        assert!(area.covers(&chw));
        assert!(!chw.covers(&area));
        assert!(!area.covers(&"banconi".parse().expect("valid scope")));
    }

    #[test]
    fn malformed_scopes_are_rejected() {
        assert!("a/b/c".parse::<Scope>().is_err());
        assert!("".parse::<Scope>().is_err());
        assert!("sikoro/".parse::<Scope>().is_err());
    }
}
