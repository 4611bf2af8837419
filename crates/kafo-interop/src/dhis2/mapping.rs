//! A program's DHIS2 mapping file (TOML), parsed and checked:
//!
//! ```toml
//! data_set = "pBOMPrpg1QX"
//! write_zeros = false          # optional: write zero counts as "0"
//! [org_units]                  # area -> orgUnit UID
//! sikoro = "DiszpKrYNg8"
//! [data_elements]              # indicator -> dataElement UID, optional categoryOptionCombo UID
//! home_visits = { data_element = "s46m5MS0hxu" }
//! doses_Penta1 = { data_element = "fbfJHSPpUQD", category_option_combo = "pq2XI5kz2BY" }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use kafo_model::AreaId;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A DHIS2 UID: 11 characters, a letter then ten letters or digits (ASCII).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Uid(String);

impl Uid {
    /// `text` as a UID, when it follows DHIS2's rule.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let valid = bytes.len() == 11
            && bytes[0].is_ascii_alphabetic()
            && bytes[1..].iter().all(u8::is_ascii_alphanumeric);
        valid.then(|| Self(text.to_owned()))
    }

    /// The UID's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where one indicator goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementMapping {
    /// The data element.
    pub data_element: Uid,
    /// The category option combo; DHIS2's default when `None`.
    pub category_option_combo: Option<Uid>,
}

/// A checked mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The data set the values belong to.
    pub data_set: Uid,
    /// Whether zero counts are written (as `"0"`) instead of left out.
    pub write_zeros: bool,
    /// Area → orgUnit.
    pub org_units: BTreeMap<AreaId, Uid>,
    /// Indicator key → where it goes; only these indicators are written.
    pub data_elements: BTreeMap<String, ElementMapping>,
}

/// Why a mapping file was refused: each names the key and, where there is one, the
/// file's line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// Not TOML of the mapping's form (a syntax error, a missing or unknown key, a
    /// value of the wrong type); the message names the line and the key.
    #[error("{0}")]
    Toml(String),
    /// A value is not a DHIS2 UID.
    #[error(
        "line {line}: {key}: {value:?} is not a DHIS2 UID (11 characters: a letter, then 10 letters or digits)"
    )]
    BadUid {
        /// The key, e.g. `data_elements.home_visits.data_element`.
        key: String,
        /// Its line (1-based).
        line: usize,
        /// The value found.
        value: String,
    },
    /// `[data_elements]` names an indicator Kafo does not count.
    #[error("line {line}: data_elements.{indicator}: no such indicator (known: {known})")]
    UnknownIndicator {
        /// The key found.
        indicator: String,
        /// Its line (1-based).
        line: usize,
        /// The keys Kafo counts, comma-separated.
        known: String,
    },
    /// `[org_units]` names something that is not an area id.
    #[error("line {line}: org_units.{area}: not an area id ({reason})")]
    BadArea {
        /// The key found.
        area: String,
        /// Its line (1-based).
        line: usize,
        /// Why.
        reason: String,
    },
    /// Two indicators go to the same data element and category option combo, so one
    /// value would overwrite the other in DHIS2.
    #[error(
        "line {line}: data_elements.{indicator}: same data element and category option combo as data_elements.{other}"
    )]
    SameTarget {
        /// The later key.
        indicator: String,
        /// Its line (1-based).
        line: usize,
        /// The earlier key.
        other: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    data_set: Spanned<String>,
    #[serde(default)]
    write_zeros: bool,
    #[serde(default)]
    org_units: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    data_elements: BTreeMap<Spanned<String>, RawElement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElement {
    data_element: Spanned<String>,
    #[serde(default)]
    category_option_combo: Option<Spanned<String>>,
}

impl Mapping {
    /// Parses and checks a mapping file's `text`; `indicators` are the keys Kafo counts
    /// (`kafo_health::indicator_keys` of the schedule in use).
    pub fn from_toml(text: &str, indicators: &[String]) -> Result<Self, MappingError> {
        let raw: RawMapping =
            toml::from_str(text).map_err(|error| MappingError::Toml(error.to_string()))?;
        let line = |span: std::ops::Range<usize>| line_of(text, span.start);
        let uid = |key: String, value: &Spanned<String>| {
            Uid::parse(value.get_ref()).ok_or_else(|| MappingError::BadUid {
                key,
                line: line(value.span()),
                value: value.get_ref().clone(),
            })
        };
        let data_set = uid("data_set".to_owned(), &raw.data_set)?;
        let mut org_units = BTreeMap::new();
        for (area, value) in &raw.org_units {
            let parsed =
                AreaId::parse(area.get_ref().as_str()).map_err(|error| MappingError::BadArea {
                    area: area.get_ref().clone(),
                    line: line(area.span()),
                    reason: error.to_string(),
                })?;
            org_units.insert(parsed, uid(format!("org_units.{}", area.get_ref()), value)?);
        }
        let mut data_elements = BTreeMap::new();
        let mut targets: BTreeMap<(Uid, Option<Uid>), String> = BTreeMap::new();
        for (indicator, element) in &raw.data_elements {
            let name = indicator.get_ref();
            let at = line(indicator.span());
            if !indicators.contains(name) {
                return Err(MappingError::UnknownIndicator {
                    indicator: name.clone(),
                    line: at,
                    known: indicators.join(", "),
                });
            }
            let mapped = ElementMapping {
                data_element: uid(
                    format!("data_elements.{name}.data_element"),
                    &element.data_element,
                )?,
                category_option_combo: element
                    .category_option_combo
                    .as_ref()
                    .map(|combo| uid(format!("data_elements.{name}.category_option_combo"), combo))
                    .transpose()?,
            };
            let target = (
                mapped.data_element.clone(),
                mapped.category_option_combo.clone(),
            );
            if let Some(other) = targets.insert(target, name.clone()) {
                return Err(MappingError::SameTarget {
                    indicator: name.clone(),
                    line: at,
                    other,
                });
            }
            data_elements.insert(name.clone(), mapped);
        }
        Ok(Self {
            data_set,
            write_zeros: raw.write_zeros,
            org_units,
            data_elements,
        })
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_follow_the_dhis2_rule() {
        for good in ["pBOMPrpg1QX", "DiszpKrYNg8", "a0000000000"] {
            assert!(Uid::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "pBOMPrpg1Q",
            "pBOMPrpg1QXX",
            "1BOMPrpg1QX",
            "pBOMPrpg1Q-",
            "pBOMPrpg1Qé",
        ] {
            assert!(Uid::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
