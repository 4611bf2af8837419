//! DHIS2 aggregate data: a month's indicators ([`kafo_health::monthly`]) per area, as the
//! `dataValueSets` JSON that DHIS2's Web API and its Import/Export app accept.
//!
//! A program's [`Mapping`] (TOML) names its data set, the orgUnit of each area and the
//! dataElement (and optional categoryOptionCombo) of each indicator it reports; only the
//! indicators it names are written. Every UID is checked against DHIS2's rule (11
//! characters: a letter, then 10 letters or digits) and every problem names the key and
//! the mapping file's line. A zero count is left out unless `write_zeros = true`.

mod mapping;

use kafo_health::{MonthlyIndicators, Period};
use kafo_model::AreaId;
use serde::Serialize;

pub use mapping::{ElementMapping, Mapping, MappingError, Uid};

/// A `dataValueSets` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataValueSet {
    /// The data set's UID.
    pub data_set: Uid,
    /// The period, `YYYYMM`.
    pub period: String,
    /// One value per area and mapped indicator.
    pub data_values: Vec<DataValue>,
}

/// One data value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataValue {
    /// The data element's UID.
    pub data_element: Uid,
    /// The period, `YYYYMM`.
    pub period: String,
    /// The area's orgUnit UID.
    pub org_unit: Uid,
    /// The category option combo's UID, when the mapping names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_option_combo: Option<Uid>,
    /// The count, as DHIS2 takes it: a string.
    pub value: String,
}

/// Why a payload could not be built from the counts. Nothing should be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dhis2Error {
    /// An area of the caseload has no orgUnit in the mapping.
    #[error(
        "org_units.{area}: the caseload has households in area {area:?}, which the mapping gives no orgUnit"
    )]
    MissingOrgUnit {
        /// The area.
        area: AreaId,
    },
}

/// DHIS2's monthly period of `period`: `YYYYMM`.
pub fn dhis2_period(period: Period) -> String {
    let first = period.first_day();
    format!("{:04}{:02}", first.year(), first.month())
}

/// The payload for `period` from `counts` (area → key → count), through `mapping`.
/// Areas come in order, and within an area the indicators in the mapping's key order.
pub fn data_value_set(
    mapping: &Mapping,
    period: Period,
    counts: &MonthlyIndicators,
) -> Result<DataValueSet, Dhis2Error> {
    let period = dhis2_period(period);
    let mut data_values = Vec::new();
    for (area, indicators) in counts {
        let org_unit = mapping
            .org_units
            .get(area)
            .ok_or_else(|| Dhis2Error::MissingOrgUnit { area: area.clone() })?;
        for (key, element) in &mapping.data_elements {
            let count = indicators.get(key).copied().unwrap_or(0);
            if count == 0 && !mapping.write_zeros {
                continue;
            }
            data_values.push(DataValue {
                data_element: element.data_element.clone(),
                period: period.clone(),
                org_unit: org_unit.clone(),
                category_option_combo: element.category_option_combo.clone(),
                value: count.to_string(),
            });
        }
    }
    Ok(DataValueSet {
        data_set: mapping.data_set.clone(),
        period,
        data_values,
    })
}
