//! The household record of interchange format v1 (`shared/formats/household-v1.md`),
//! as typed Rust values.
//!
//! A value of these types is what a line of a v1 file means once it has been
//! parsed and checked (see [`crate::parse`]); it is also what a household
//! document reads back as. Field names and defaults follow the format exactly;
//! serialising skips every field that holds its default, as the canonical
//! export requires.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{AreaId, ChwId, HouseholdId, PersonId, VisitId};
use crate::scope::HouseholdScope;

/// One household: the unit of a caseload, of access and of sync (one document each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Household {
    /// Stable identifier, unique in the program.
    pub id: HouseholdId,
    /// Health area the household belongs to.
    pub area: AreaId,
    /// CHW who follows it.
    pub chw: ChwId,
    /// Household name as the CHW knows it (usually the head's). Never logged.
    pub name: String,
    /// GPS position, WGS84 degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Whether the household is still followed.
    #[serde(default, skip_serializing_if = "HouseholdStatus::is_default")]
    pub status: HouseholdStatus,
    /// The people of the household.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Person>,
    /// Home visits to its members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visits: Vec<Visit>,
}

impl Household {
    /// The household's scope, `area/chw`.
    pub fn scope(&self) -> HouseholdScope {
        HouseholdScope {
            area: self.area.clone(),
            chw: self.chw.clone(),
        }
    }
}

/// A GPS position, WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
}

/// Whether a household is still followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HouseholdStatus {
    /// Followed (the default).
    #[default]
    Active,
    /// Kept, but no longer followed.
    Closed,
}

impl HouseholdStatus {
    fn is_default(&self) -> bool {
        *self == Self::Active
    }
}

/// A member of a household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Unique in the program.
    pub id: PersonId,
    /// Never logged.
    pub given_name: String,
    /// Never logged.
    pub family_name: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date, possibly partial.
    pub birth_date: PartialDate,
    /// True when the birth date was estimated, not documented.
    #[serde(default, skip_serializing_if = "is_false")]
    pub birth_date_estimated: bool,
    /// Relation to the household.
    pub relationship: Relationship,
    /// For children: their mother, if she is a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother_id: Option<PersonId>,
    /// Phone number. Never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Current pregnancy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pregnancy: Option<Pregnancy>,
}

/// Sex of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
}

/// Relation of a person to the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relationship {
    /// Head of the household.
    Head,
    /// A mother.
    Mother,
    /// A child.
    Child,
    /// Anyone else.
    Other,
}

/// A current pregnancy; either date may be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pregnancy {
    /// Last menstrual period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lmp: Option<Date>,
    /// Expected delivery date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edd: Option<Date>,
}

/// A home visit to a member of the household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visit {
    /// Unique in the program.
    pub id: VisitId,
    /// Who was seen: a member of this household.
    pub person_id: PersonId,
    /// When.
    pub date: Date,
    /// Who made the visit (may differ from the household's CHW).
    pub chw: ChwId,
    /// What kind of visit.
    pub kind: VisitKind,
    /// Weight, 0.5 to 200 kg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_kg: Option<f64>,
    /// Length or height, 30 to 230 cm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_cm: Option<f64>,
    /// Mid-upper arm circumference, 50 to 400 mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muac_mm: Option<u16>,
    /// Danger signs seen, e.g. `fever`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub danger_signs: Vec<String>,
    /// Antigen/dose codes given or verified, e.g. `Penta1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vaccines: Vec<String>,
    /// Referral to a health centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    /// Free text, at most 2,000 characters. Never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The kind of a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VisitKind {
    /// Routine home visit.
    Routine,
    /// Growth monitoring.
    Growth,
    /// Antenatal care.
    Anc,
    /// Postnatal care.
    Postnatal,
    /// A sick child.
    SickChild,
}

/// A referral to a health centre (CSCom).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    /// Where to, e.g. `cscom-sikoro`.
    pub to: String,
    /// Why.
    pub reason: String,
    /// Whether it is urgent.
    pub urgent: bool,
}

/// A birth date as it is known: year, year and month, or a full date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartialDate {
    /// Only the year (`YYYY`).
    Year(i16),
    /// Year and month (`YYYY-MM`), month 1 to 12.
    YearMonth(i16, i8),
    /// A full date (`YYYY-MM-DD`) that exists in the calendar.
    Day(Date),
}

/// Why a string is not a partial date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartialDateError {
    /// Not of the form `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    #[error("expected YYYY, YYYY-MM or YYYY-MM-DD, found {0:?}")]
    Shape(String),
    /// The month is not 1 to 12.
    #[error("month {0} does not exist")]
    Month(i8),
    /// Well formed, but no such day (e.g. 2025-02-30).
    #[error("{0:?} is not a date that exists")]
    NoSuchDay(String),
}

impl FromStr for PartialDate {
    type Err = PartialDateError;

    fn from_str(value: &str) -> Result<Self, PartialDateError> {
        let shape_error = || PartialDateError::Shape(value.to_owned());
        fn digits(part: &str, len: usize) -> Option<&str> {
            (part.len() == len && part.bytes().all(|b| b.is_ascii_digit())).then_some(part)
        }
        let parts: Vec<&str> = value.split('-').collect();
        let year: i16 = digits(parts[0], 4)
            .and_then(|y| y.parse().ok())
            .ok_or_else(shape_error)?;
        let month = |part: &str| -> Result<i8, PartialDateError> {
            let month: i8 = digits(part, 2)
                .and_then(|m| m.parse().ok())
                .ok_or_else(shape_error)?;
            if (1..=12).contains(&month) {
                Ok(month)
            } else {
                Err(PartialDateError::Month(month))
            }
        };
        match parts.as_slice() {
            [_] => Ok(Self::Year(year)),
            [_, m] => Ok(Self::YearMonth(year, month(m)?)),
            [_, m, d] => {
                let month = month(m)?;
                let day: i8 = digits(d, 2)
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(shape_error)?;
                Date::new(year, month, day)
                    .map(Self::Day)
                    .map_err(|_| PartialDateError::NoSuchDay(value.to_owned()))
            }
            _ => Err(shape_error()),
        }
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Year(year) => write!(f, "{year:04}"),
            Self::YearMonth(year, month) => write!(f, "{year:04}-{month:02}"),
            Self::Day(date) => write!(
                f,
                "{:04}-{:02}-{:02}",
                date.year(),
                date.month(),
                date.day()
            ),
        }
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(serde::de::Error::custom)
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_round_trip() {
        for text in ["2000", "2000-01", "2024-02-29"] {
            let date: PartialDate = text.parse().expect("valid partial date");
            assert_eq!(date.to_string(), text);
        }
    }

    #[test]
    fn partial_dates_reject_days_that_do_not_exist() {
        assert!(matches!(
            "2025-02-29".parse::<PartialDate>(),
            Err(PartialDateError::NoSuchDay(_))
        ));
        assert!(matches!(
            "2025-13".parse::<PartialDate>(),
            Err(PartialDateError::Month(13))
        ));
        for bad in [
            "",
            "25",
            "2025-1",
            "2025-01-1",
            "2025/01/01",
            "2025-01-01-01",
            "２０２５",
        ] {
            assert!(
                bad.parse::<PartialDate>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
