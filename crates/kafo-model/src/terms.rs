//! The closed vocabularies of format v1 (`status`, `sex`, `relationship`, `kind`) and
//! their spellings, shared by the line parser and the document mapping so both
//! accept and write exactly the same words.

use crate::record::{HouseholdStatus, Relationship, Sex, VisitKind};

/// A value of a closed vocabulary, spelled as format v1 spells it.
pub trait Term: Copy + PartialEq + Sized + 'static {
    /// Every value, in the order of [`Term::NAMES`].
    const VALUES: &'static [Self];
    /// Every spelling, in the order of [`Term::VALUES`].
    const NAMES: &'static [&'static str];

    /// How format v1 spells this value.
    fn name(self) -> &'static str {
        Self::VALUES
            .iter()
            .position(|value| *value == self)
            .and_then(|index| Self::NAMES.get(index))
            .copied()
            // Every value is listed in VALUES, with its name at the same index.
            .unwrap_or_default()
    }

    /// The value format v1 spells `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|known| *known == name)
            .and_then(|index| Self::VALUES.get(index))
            .copied()
    }
}

impl Term for HouseholdStatus {
    const VALUES: &'static [Self] = &[Self::Active, Self::Closed];
    const NAMES: &'static [&'static str] = &["active", "closed"];
}

impl Term for Sex {
    const VALUES: &'static [Self] = &[Self::Female, Self::Male];
    const NAMES: &'static [&'static str] = &["female", "male"];
}

impl Term for Relationship {
    const VALUES: &'static [Self] = &[Self::Head, Self::Mother, Self::Child, Self::Other];
    const NAMES: &'static [&'static str] = &["head", "mother", "child", "other"];
}

impl Term for VisitKind {
    const VALUES: &'static [Self] = &[
        Self::Routine,
        Self::Growth,
        Self::Anc,
        Self::Postnatal,
        Self::SickChild,
    ];
    const NAMES: &'static [&'static str] = &["routine", "growth", "anc", "postnatal", "sick-child"];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees_with_serde<T: Term + serde::Serialize>() {
        assert_eq!(T::VALUES.len(), T::NAMES.len());
        for value in T::VALUES {
            let json = serde_json::to_value(value).expect("a unit variant serialises");
            assert_eq!(json.as_str(), Some(value.name()));
            assert!(T::from_name(value.name()) == Some(*value));
        }
        assert!(T::from_name("nonsense").is_none());
    }

    #[test]
    fn spellings_agree_with_the_serde_names() {
        agrees_with_serde::<HouseholdStatus>();
        agrees_with_serde::<Sex>();
        agrees_with_serde::<Relationship>();
        agrees_with_serde::<VisitKind>();
    }
}
