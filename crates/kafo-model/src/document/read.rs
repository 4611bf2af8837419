//! Reading a household document back as a typed, checked [`Household`].
//!
//! A document may come from a peer, so nothing is assumed: every field's type, every
//! id, date and word is checked, unknown fields are refused, and the record read is
//! checked against the rules of format v1 ([`validate::check_household`]). Any
//! problem is a [`DocumentError`] naming the field; no input panics.

use automerge::{ObjType, ReadDoc, ScalarValue};
use jiff::civil::Date;

use super::view::{Held, MapView};
use super::{
    DocumentError, KEY_AREA, KEY_CHW, KEY_ID, KEY_LAYOUT, KEY_LOCATION, KEY_MEMBERS, KEY_NAME,
    KEY_STATUS, KEY_VISITS, LAYOUT_VERSION,
};
use crate::fields as v1;
use crate::ids::{AreaId, ChwId, HouseholdId, IdError, PersonId, VisitId};
use crate::record::{Household, Location, PartialDate, Person, Pregnancy, Referral, Visit};
use crate::terms::Term;
use crate::validate::{self, Problem};

const ROOT_FIELDS: &[&str] = &[
    KEY_LAYOUT,
    KEY_ID,
    KEY_AREA,
    KEY_CHW,
    KEY_NAME,
    KEY_STATUS,
    KEY_LOCATION,
    KEY_MEMBERS,
    KEY_VISITS,
];

/// Reads the current winning values of a household document as a checked record.
///
/// Members and visits come out sorted by id (the order of the document's maps).
pub fn read_household(doc: &impl ReadDoc) -> Result<Household, DocumentError> {
    let root = Fields::new(doc, MapView::root(doc)?, String::new(), ROOT_FIELDS)?;
    match root.scalar(KEY_LAYOUT)? {
        None => return Err(root.missing(KEY_LAYOUT)),
        Some(ScalarValue::Uint(found)) if *found > LAYOUT_VERSION => {
            return Err(DocumentError::UnsupportedLayout { found: *found });
        }
        Some(ScalarValue::Uint(_)) => {}
        Some(_) => return Err(root.wrong_type(KEY_LAYOUT)),
    }
    let location = match root.map(KEY_LOCATION, v1::LOCATION)? {
        None => None,
        Some(location) => Some(Location {
            lat: location.required(Fields::number, "lat")?,
            lon: location.required(Fields::number, "lon")?,
        }),
    };
    let mut members = Vec::new();
    if let Some(map) = root.map(KEY_MEMBERS, &[])? {
        for key in map.view.fields.keys() {
            let id = map.key_id(key, PersonId::parse)?;
            let fields = map.required(|f, k| f.map(k, v1::without_id(v1::PERSON)), key)?;
            members.push(person(&fields, id)?);
        }
    }
    let mut visits = Vec::new();
    if let Some(map) = root.map(KEY_VISITS, &[])? {
        for key in map.view.fields.keys() {
            let id = map.key_id(key, VisitId::parse)?;
            let fields = map.required(|f, k| f.map(k, v1::without_id(v1::VISIT)), key)?;
            visits.push(visit(&fields, id)?);
        }
    }
    let household = Household {
        id: root.required_id(KEY_ID, HouseholdId::parse)?,
        area: root.required_id(KEY_AREA, AreaId::parse)?,
        chw: root.required_id(KEY_CHW, ChwId::parse)?,
        name: root.required(Fields::text, KEY_NAME)?,
        location,
        status: root.term(KEY_STATUS)?.unwrap_or_default(),
        members,
        visits,
    };
    match validate::check_household(&household).into_iter().next() {
        Some(error) => Err(error.into()),
        None => Ok(household),
    }
}

fn person(fields: &Fields<'_, impl ReadDoc>, id: PersonId) -> Result<Person, DocumentError> {
    let pregnancy = match fields.map("pregnancy", v1::PREGNANCY)? {
        None => None,
        Some(nested) => Some(Pregnancy {
            lmp: nested.date("lmp")?,
            edd: nested.date("edd")?,
        }),
    };
    Ok(Person {
        id,
        given_name: fields.required(Fields::text, "given_name")?,
        family_name: fields.required(Fields::text, "family_name")?,
        sex: fields.required(Fields::term, "sex")?,
        birth_date: fields.required(Fields::partial_date, "birth_date")?,
        birth_date_estimated: fields.boolean("birth_date_estimated")?.unwrap_or(false),
        relationship: fields.required(Fields::term, "relationship")?,
        mother_id: fields.id("mother_id", PersonId::parse)?,
        phone: fields.text("phone")?,
        pregnancy,
    })
}

fn visit(fields: &Fields<'_, impl ReadDoc>, id: VisitId) -> Result<Visit, DocumentError> {
    let referral = match fields.map("referral", v1::REFERRAL)? {
        None => None,
        Some(nested) => Some(Referral {
            to: nested.required(Fields::text, "to")?,
            reason: nested.required(Fields::text, "reason")?,
            urgent: nested.required(Fields::boolean, "urgent")?,
        }),
    };
    Ok(Visit {
        id,
        person_id: fields.required_id("person_id", PersonId::parse)?,
        date: fields.required(Fields::date, "date")?,
        chw: fields.required_id("chw", ChwId::parse)?,
        kind: fields.required(Fields::term, "kind")?,
        weight_kg: fields.number("weight_kg")?,
        height_cm: fields.number("height_cm")?,
        muac_mm: fields.muac("muac_mm")?,
        danger_signs: fields.strings("danger_signs")?.unwrap_or_default(),
        vaccines: fields.strings("vaccines")?.unwrap_or_default(),
        referral,
        note: fields.text("note")?,
    })
}

/// Encodes a list of strings as the compact JSON array the layout stores.
pub(crate) fn encode_strings(values: &[String]) -> String {
    // Serialising strings to JSON cannot fail; the fallback is never taken.
    serde_json::to_string(values).unwrap_or_default()
}

/// Decodes a list of strings stored as a JSON array.
pub(crate) fn decode_strings(text: &str) -> Option<Vec<String>> {
    serde_json::from_str(text).ok()
}

/// The fields of one map of the document and the path that leads to it.
struct Fields<'d, D> {
    doc: &'d D,
    view: MapView,
    path: String,
}

impl<'d, D: ReadDoc> Fields<'d, D> {
    /// A map whose keys must all be in `allowed` (an empty list allows any key: the
    /// maps keyed by id).
    fn new(
        doc: &'d D,
        view: MapView,
        path: String,
        allowed: &[&str],
    ) -> Result<Self, DocumentError> {
        let fields = Self { doc, view, path };
        if !allowed.is_empty()
            && let Some(key) = fields
                .view
                .fields
                .keys()
                .find(|k| !allowed.contains(&k.as_str()))
        {
            return Err(DocumentError::UnknownField {
                field: fields.path(key),
            });
        }
        Ok(fields)
    }

    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn missing(&self, key: &str) -> DocumentError {
        DocumentError::Missing {
            field: self.path(key),
        }
    }

    fn wrong_type(&self, key: &str) -> DocumentError {
        DocumentError::WrongType {
            field: self.path(key),
        }
    }

    fn invalid(&self, key: &str, problem: Problem) -> DocumentError {
        DocumentError::Invalid {
            field: self.path(key),
            problem,
        }
    }

    /// A required field read by `read`.
    fn required<T>(
        &self,
        read: impl FnOnce(&Self, &str) -> Result<Option<T>, DocumentError>,
        key: &str,
    ) -> Result<T, DocumentError> {
        read(self, key)?.ok_or_else(|| self.missing(key))
    }

    /// The winning scalar of `key`; an object there is the wrong type.
    fn scalar(&self, key: &str) -> Result<Option<&ScalarValue>, DocumentError> {
        match self.view.winner(key).map(|c| &c.held) {
            None => Ok(None),
            Some(Held::Scalar(value)) => Ok(Some(value)),
            Some(Held::Object(..)) => Err(self.wrong_type(key)),
        }
    }

    fn text(&self, key: &str) -> Result<Option<String>, DocumentError> {
        match self.scalar(key)? {
            None => Ok(None),
            Some(ScalarValue::Str(text)) => Ok(Some(text.to_string())),
            Some(_) => Err(self.wrong_type(key)),
        }
    }

    fn id<T>(
        &self,
        key: &str,
        parse: fn(String) -> Result<T, IdError>,
    ) -> Result<Option<T>, DocumentError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        parse(text)
            .map(Some)
            .map_err(|source| DocumentError::BadId {
                field: self.path(key),
                source,
            })
    }

    /// A key of a map keyed by id, parsed as an id.
    fn key_id<T>(
        &self,
        key: &str,
        parse: fn(String) -> Result<T, IdError>,
    ) -> Result<T, DocumentError> {
        parse(key.to_owned()).map_err(|source| DocumentError::BadId {
            field: self.path(key),
            source,
        })
    }

    fn required_id<T>(
        &self,
        key: &str,
        parse: fn(String) -> Result<T, IdError>,
    ) -> Result<T, DocumentError> {
        self.id(key, parse)?.ok_or_else(|| self.missing(key))
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, DocumentError> {
        match self.scalar(key)? {
            None => Ok(None),
            Some(ScalarValue::Boolean(flag)) => Ok(Some(*flag)),
            Some(_) => Err(self.wrong_type(key)),
        }
    }

    /// A number; integers are accepted (another client may write `12` for `12.0`),
    /// range and finiteness are checked with the record.
    fn number(&self, key: &str) -> Result<Option<f64>, DocumentError> {
        match self.scalar(key)? {
            None => Ok(None),
            Some(ScalarValue::F64(number)) => Ok(Some(*number)),
            Some(ScalarValue::Int(number)) => Ok(Some(*number as f64)),
            Some(ScalarValue::Uint(number)) => Ok(Some(*number as f64)),
            Some(_) => Err(self.wrong_type(key)),
        }
    }

    fn muac(&self, key: &str) -> Result<Option<u16>, DocumentError> {
        let whole = match self.scalar(key)? {
            None => return Ok(None),
            Some(ScalarValue::Uint(number)) => *number,
            Some(ScalarValue::Int(number)) => match u64::try_from(*number) {
                Ok(number) => number,
                Err(_) => {
                    return Err(self.invalid(
                        key,
                        Problem::OutOfRange {
                            found: *number as f64,
                            min: validate::MUAC_MM.min,
                            max: validate::MUAC_MM.max,
                        },
                    ));
                }
            },
            Some(_) => return Err(self.wrong_type(key)),
        };
        if let Err(problem) = validate::check_muac(whole) {
            return Err(self.invalid(key, problem));
        }
        // Within 50..=400, so it fits a u16.
        Ok(u16::try_from(whole).ok())
    }

    fn term<T: Term>(&self, key: &str) -> Result<Option<T>, DocumentError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        T::from_name(&text)
            .map(Some)
            .ok_or_else(|| self.invalid(key, Problem::UnknownValue { allowed: T::NAMES }))
    }

    fn partial_date(&self, key: &str) -> Result<Option<PartialDate>, DocumentError> {
        self.parsed_date(key, "YYYY, YYYY-MM or YYYY-MM-DD")
    }

    fn date(&self, key: &str) -> Result<Option<Date>, DocumentError> {
        const FULL: &str = "YYYY-MM-DD";
        match self.parsed_date(key, FULL)? {
            None => Ok(None),
            Some(PartialDate::Day(date)) => Ok(Some(date)),
            Some(_) => Err(self.invalid(key, Problem::NotADate { expected: FULL })),
        }
    }

    fn parsed_date(
        &self,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<PartialDate>, DocumentError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        text.parse()
            .map(Some)
            .map_err(|err| self.invalid(key, validate::date_problem(&err, expected)))
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, DocumentError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        decode_strings(&text)
            .map(Some)
            .ok_or_else(|| self.wrong_type(key))
    }

    /// The map under `key` (maps created concurrently read as one).
    fn map(&self, key: &str, allowed: &[&str]) -> Result<Option<Self>, DocumentError> {
        match self.view.winner(key).map(|c| &c.held) {
            None => Ok(None),
            Some(Held::Object(ObjType::Map, _)) => match self.view.child_map(self.doc, key)? {
                Some(view) => Fields::new(self.doc, view, self.path(key), allowed).map(Some),
                None => Err(self.wrong_type(key)),
            },
            Some(_) => Err(self.wrong_type(key)),
        }
    }
}
