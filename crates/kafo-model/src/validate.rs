//! The value rules of format v1 (ranges, lengths, membership) and the errors that
//! name a field and what is wrong with it.
//!
//! The line parser ([`crate::parse`]) applies these rules while it reads a line;
//! [`check_visit`] applies them to a visit built elsewhere (e.g. from command-line
//! flags), and [`check_household`] to a typed household (before it is written to a
//! document, and after one is read back), so every way into a document applies the
//! same rules.

use std::collections::BTreeSet;
use std::fmt;

use crate::ids::IdError;
use crate::record::{Household, PartialDateError, Visit};

/// Weight, kilograms.
pub const WEIGHT_KG: Bounds = Bounds {
    min: 0.5,
    max: 200.0,
};
/// Length or height, centimetres.
pub const HEIGHT_CM: Bounds = Bounds {
    min: 30.0,
    max: 230.0,
};
/// Mid-upper arm circumference, millimetres (an integer).
pub const MUAC_MM: Bounds = Bounds {
    min: 50.0,
    max: 400.0,
};
/// Latitude, WGS84 degrees.
pub const LATITUDE: Bounds = Bounds {
    min: -90.0,
    max: 90.0,
};
/// Longitude, WGS84 degrees.
pub const LONGITUDE: Bounds = Bounds {
    min: -180.0,
    max: 180.0,
};
/// The longest note, in characters (Unicode scalar values).
pub const MAX_NOTE_CHARS: usize = 2000;

/// An inclusive range a number must fall in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
}

impl Bounds {
    /// Checks that `value` is finite and within the bounds.
    pub fn check(&self, value: f64) -> Result<(), Problem> {
        if !value.is_finite() {
            return Err(Problem::NotFinite);
        }
        if value < self.min || value > self.max {
            return Err(Problem::OutOfRange {
                found: value,
                min: self.min,
                max: self.max,
            });
        }
        Ok(())
    }
}

/// What is wrong with a field (or with a whole line).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// The line is not valid JSON.
    #[error("not valid JSON: {message}")]
    InvalidJson {
        /// What the JSON reader found, with its column.
        message: String,
    },
    /// The line is not valid UTF-8.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// An empty line before the end of the file.
    #[error("empty line (only allowed at the end of the file)")]
    EmptyLine,
    /// The line is longer than a household line can reasonably be.
    #[error("line is longer than {max} bytes")]
    LineTooLong {
        /// The bound, in bytes.
        max: usize,
    },
    /// The same key appears twice in one JSON object.
    #[error("key appears more than once in the same object")]
    DuplicateKey,
    /// A required field is absent.
    #[error("required field is missing")]
    Missing,
    /// A field format v1 does not define (a typo must not lose data).
    #[error("unknown field")]
    UnknownField,
    /// The value has the wrong JSON type.
    #[error("expected {expected}")]
    WrongType {
        /// What was expected, e.g. `a string`.
        expected: &'static str,
    },
    /// A number outside its allowed range.
    #[error("{found} is out of range, allowed {min} to {max}")]
    OutOfRange {
        /// The value found.
        found: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A number that is infinite or not a number.
    #[error("number is not finite")]
    NotFinite,
    /// A string that is not a date of the expected form.
    #[error("expected a date of the form {expected}")]
    NotADate {
        /// The accepted forms, e.g. `YYYY-MM-DD`.
        expected: &'static str,
    },
    /// A well-formed date that does not exist (e.g. `2025-02-30`, month 13).
    #[error("no such date")]
    NoSuchDate,
    /// A word outside a closed vocabulary.
    #[error("expected one of {}", allowed.join(", "))]
    UnknownValue {
        /// The accepted words.
        allowed: &'static [&'static str],
    },
    /// An identifier outside the format's alphabet or length.
    #[error("bad identifier: {0}")]
    BadId(IdError),
    /// A person id that is not a member of this household.
    #[error("not a member of this household")]
    NotAMember,
    /// A member or visit id that appears more than once in the household.
    #[error("id appears more than once in the household")]
    Duplicate,
    /// A household id already used by an earlier line of the same file.
    #[error("household id already used on line {first_line}")]
    DuplicateHousehold {
        /// The line that first used it.
        first_line: u64,
    },
    /// A string longer than allowed.
    #[error("{len} characters, at most {max} are allowed")]
    TooLong {
        /// Its length in characters.
        len: usize,
        /// The most allowed.
        max: usize,
    },
}

/// One problem and the field it is in.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path of the field from the record's root: `visits[3].weight_kg` in a line,
    /// `visits.<id>.weight_kg` in a typed record or document, empty for the whole line.
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl FieldError {
    /// A problem in `field`.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "`{}`: {}", self.field, self.problem)
        }
    }
}

impl std::error::Error for FieldError {}

/// Checks a note's length.
pub fn check_note(note: &str) -> Result<(), Problem> {
    let len = note.chars().count();
    if len > MAX_NOTE_CHARS {
        return Err(Problem::TooLong {
            len,
            max: MAX_NOTE_CHARS,
        });
    }
    Ok(())
}

/// Checks a muac value (already known to be an integer).
pub fn check_muac(muac_mm: u64) -> Result<(), Problem> {
    // Any u64 above u16::MAX is far out of range; the f64 conversion only feeds the message.
    MUAC_MM.check(muac_mm as f64)
}

/// Checks a visit to be added to `household`: its measurements, its note, and that the
/// person seen is a member. Field paths are the bare field names (`weight_kg`).
pub fn check_visit(visit: &Visit, household: &Household) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    visit_values(visit, "", &mut errors);
    if !household.members.iter().any(|m| m.id == visit.person_id) {
        errors.push(FieldError::new("person_id", Problem::NotAMember));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks every value rule on a typed household: location, duplicate ids, membership
/// of mothers and of the people visited, measurements and notes. Paths name members
/// and visits by id (`visits.<id>.weight_kg`).
pub fn check_household(household: &Household) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(location) = &household.location {
        location_values(location.lat, location.lon, &mut errors);
    }
    let mut members = BTreeSet::new();
    for member in &household.members {
        if !members.insert(member.id.as_str()) {
            errors.push(FieldError::new(
                format!("members.{}", member.id),
                Problem::Duplicate,
            ));
        }
    }
    for member in &household.members {
        if let Some(mother) = &member.mother_id
            && !members.contains(mother.as_str())
        {
            errors.push(FieldError::new(
                format!("members.{}.mother_id", member.id),
                Problem::NotAMember,
            ));
        }
    }
    let mut visits = BTreeSet::new();
    for visit in &household.visits {
        let prefix = format!("visits.{}.", visit.id);
        if !visits.insert(visit.id.as_str()) {
            errors.push(FieldError::new(
                format!("visits.{}", visit.id),
                Problem::Duplicate,
            ));
        }
        visit_values(visit, &prefix, &mut errors);
        if !members.contains(visit.person_id.as_str()) {
            errors.push(FieldError::new(
                format!("{prefix}person_id"),
                Problem::NotAMember,
            ));
        }
    }
    errors
}

/// The rules on a visit's own values; `prefix` ends with `.` unless empty.
pub(crate) fn visit_values(visit: &Visit, prefix: &str, errors: &mut Vec<FieldError>) {
    let mut check = |field: &str, result: Result<(), Problem>| {
        if let Err(problem) = result {
            errors.push(FieldError::new(format!("{prefix}{field}"), problem));
        }
    };
    if let Some(weight) = visit.weight_kg {
        check("weight_kg", WEIGHT_KG.check(weight));
    }
    if let Some(height) = visit.height_cm {
        check("height_cm", HEIGHT_CM.check(height));
    }
    if let Some(muac) = visit.muac_mm {
        check("muac_mm", check_muac(muac.into()));
    }
    if let Some(note) = &visit.note {
        check("note", check_note(note));
    }
}

/// What is wrong with a string that is not a (partial) date of the `expected` form.
pub(crate) fn date_problem(err: &PartialDateError, expected: &'static str) -> Problem {
    match err {
        PartialDateError::Shape(_) => Problem::NotADate { expected },
        PartialDateError::Month(_) | PartialDateError::NoSuchDay(_) => Problem::NoSuchDate,
    }
}

/// The rules on a location.
fn location_values(lat: f64, lon: f64, errors: &mut Vec<FieldError>) {
    if let Err(problem) = LATITUDE.check(lat) {
        errors.push(FieldError::new("location.lat", problem));
    }
    if let Err(problem) = LONGITUDE.check(lon) {
        errors.push(FieldError::new("location.lon", problem));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_reject_non_finite_numbers() {
        assert_eq!(WEIGHT_KG.check(0.5), Ok(()));
        assert_eq!(WEIGHT_KG.check(200.0), Ok(()));
        assert!(matches!(
            WEIGHT_KG.check(0.49),
            Err(Problem::OutOfRange { .. })
        ));
        assert_eq!(HEIGHT_CM.check(f64::NAN), Err(Problem::NotFinite));
        assert_eq!(LATITUDE.check(f64::INFINITY), Err(Problem::NotFinite));
    }

    #[test]
    fn notes_are_counted_in_characters_not_bytes() {
        assert_eq!(check_note(&"é".repeat(MAX_NOTE_CHARS)), Ok(()));
        assert_eq!(
            check_note(&"a".repeat(MAX_NOTE_CHARS + 1)),
            Err(Problem::TooLong {
                len: MAX_NOTE_CHARS + 1,
                max: MAX_NOTE_CHARS
            })
        );
    }

    #[test]
    fn muac_is_checked_as_an_integer_range() {
        assert_eq!(check_muac(50), Ok(()));
        assert_eq!(check_muac(400), Ok(()));
        assert!(check_muac(49).is_err());
        assert!(check_muac(u64::MAX).is_err());
    }
}
